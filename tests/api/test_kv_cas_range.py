"""?cas= out of the unsigned 64-bit range is the client's error (400), never a 500 (found by the
fuzz campaign: DELETE /v1/kv/k?cas=<2**64> failed to encode the Raft command)."""

from __future__ import annotations

import pytest

from tests.support.agents import AgentProcess


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("cas", [str(2**64), str(10**30), "-1"])
def test_cas_out_of_range_is_a_400(shared_agent: AgentProcess, method: str, cas: str) -> None:
    status, _, body = shared_agent.request(method, f"/v1/kv/casrange?cas={cas}", b"v" if method == "PUT" else None)
    assert status == 400, body
    assert b"Invalid cas" in body


def test_cas_at_the_top_of_the_range_is_answered(shared_agent: AgentProcess) -> None:
    status, _, body = shared_agent.request("DELETE", f"/v1/kv/casrange?cas={2**64 - 1}")
    assert (status, body.strip()) == (200, b"false")
