"""?filter … matches runs in linear time on a real agent (RE2, as Consul), and bad patterns are 400s."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from tests.support.agents import start_agent


def test_catastrophic_pattern_answers_fast_and_rejected_patterns_are_400(tmp_path: Path) -> None:
    agent = start_agent(tmp_path)
    try:
        # Backtracking re needs ~0.11 s at 20 characters and x4 per 2 more: minutes at 40.
        status, _, body = agent.request("PUT", "/v1/agent/service/register",
                                        {"Name": "web", "Meta": {"k": "a" * 40 + "b"}})
        assert status == 200, body
        started = time.monotonic()
        status, _, body = agent.request(
            "GET", "/v1/agent/services?filter=" + quote('Meta.k matches "^(a|a)*$"'), timeout=5)
        assert (status, body) == (200, b"{}")
        assert time.monotonic() - started < 2.0
        status, _, body = agent.request(
            "GET", "/v1/agent/services?filter=" + quote('Meta.k matches "^(a|a)*b$"'))
        assert status == 200 and b'"web"' in body
        status, _, body = agent.request(
            "GET", "/v1/agent/services?filter=" + quote('Meta.k matches "a{2000}"'))
        assert status == 400
        assert b"error parsing regexp: invalid repeat count: `{2000}`" in body
        # The agent kept serving while it answered.
        assert agent.get_json("/v1/status/leader")
    finally:
        agent.stop()
