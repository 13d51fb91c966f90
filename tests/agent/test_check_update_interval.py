"""check_update_interval on a real agent: a check's output-only changes reach the catalog at most
once per interval (the agent's own view is current at once); a status change goes out at once,
with its output. The catalog is read right after the update call returns: an update that syncs
has been written by then."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until


def catalog_check(a: AgentProcess, cid: str) -> dict[str, str]:
    rows = a.get_json("/v1/health/node/agent")
    return next(r for r in rows if r["CheckID"] == cid)


def update(a: AgentProcess, verb: str, cid: str, note: str) -> None:
    status, _, body = a.request("PUT", f"/v1/agent/check/{verb}/{cid}?note={note}")
    assert status == 200, body


def test_output_only_updates_are_held_back_status_changes_are_not(tmp_path: Path) -> None:
    a = start_agent(tmp_path, "-hcl", 'check_update_interval = "10m"')
    try:
        status, _, body = a.request("PUT", "/v1/agent/check/register",
                                    json.dumps({"ID": "job", "Name": "job", "TTL": "10m"}).encode())
        assert status == 200, body
        update(a, "pass", "job", "run-1")
        wait_until(lambda: catalog_check(a, "job")["Output"] == "run-1", 10, what="first output in the catalog")
        update(a, "pass", "job", "run-2")
        update(a, "pass", "job", "run-3")
        local = a.get_json("/v1/agent/checks")["job"]
        assert (local["Status"], local["Output"]) == ("passing", "run-3")  # the agent knows at once
        cat = catalog_check(a, "job")
        assert (cat["Status"], cat["Output"]) == ("passing", "run-1")  # the catalog waits out the interval
        update(a, "fail", "job", "broken")
        cat = catalog_check(a, "job")
        assert (cat["Status"], cat["Output"]) == ("critical", "broken")
    finally:
        a.stop()


def test_zero_interval_syncs_every_output_change(tmp_path: Path) -> None:
    a = start_agent(tmp_path, "-hcl", 'check_update_interval = "0s"')
    try:
        status, _, body = a.request("PUT", "/v1/agent/check/register",
                                    json.dumps({"ID": "job", "Name": "job", "TTL": "10m"}).encode())
        assert status == 200, body
        for n in range(1, 4):
            update(a, "pass", "job", f"run-{n}")
            assert catalog_check(a, "job")["Output"] == f"run-{n}"
    finally:
        a.stop()
