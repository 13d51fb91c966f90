"""The agent's log outputs: log_file in Consul's JSON shape, log_level, monitor's level and JSON."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from tests.support.agents import start_agent


def _wait_for(pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_log_file_json_and_monitor(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    agent = start_agent(tmp_path, "-log-file", str(logdir) + "/", "-log-json", "-log-level", "warn")
    try:
        url = agent.base_url + "/v1/agent/monitor?loglevel=debug&logjson=true"
        with urllib.request.urlopen(url, timeout=10) as stream:
            assert agent.request("PUT", "/v1/agent/reload")[0] == 200
            seen = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                doc = json.loads(stream.readline())
                seen.append(doc)
                if doc["@message"] == "reload complete":
                    break
        assert seen[-1]["@message"] == "reload complete", seen
        assert set(seen[-1]) >= {"@level", "@message", "@module", "@timestamp"}
        assert seen[-1]["@level"] == "info"
        assert agent.request("GET", "/v1/agent/monitor?loglevel=loud")[0] == 400
        # The file gets what stdout gets: warn and above (config warnings, here), as JSON.
        log_file = logdir / "consul.log"
        assert _wait_for(log_file.exists)
        lines = [json.loads(line) for line in log_file.read_text().splitlines() if line]
        assert all(doc["@level"] in ("warn", "error") for doc in lines), lines
        assert "reload complete" not in log_file.read_text()
    finally:
        agent.stop()


def test_unwritable_log_file_stops_the_agent_with_a_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    agent = start_agent(tmp_path, "-log-file", str(blocker / "x.log"), wait=False)
    assert agent.proc.wait(20) == 1
    assert "cannot open log_file" in agent.log() and "writable" in agent.log()
