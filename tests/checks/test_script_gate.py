"""Program-running checks over HTTP: refused unless enable_script_checks, whatever else they carry."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pyconsul.agent.local_state import LocalState
from pyconsul.api.validate import check_from_request
from pyconsul.checks.base import CheckSpec, check_kind
from tests.support.agents import start_agent

REMOTE_REFUSED = b"Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"


def _payload(marker: Path, **extra: Any) -> dict[str, Any]:
    return {"ID": "service:web", "Name": "x", "ServiceID": "web", "Args": ["sh", "-c", f"id > {marker}"],
            "Interval": "1s", **extra}


@pytest.mark.parametrize("extra", [
    {"AliasService": "web"}, {"AliasNode": "n"}, {"TTL": "10s"}, {"DockerContainerID": "c1"}, {},
])
def test_http_and_scheduler_type_a_check_the_same_way(extra: dict[str, Any]) -> None:
    raw = _payload(Path("/nonexistent"), **extra)
    api_kind = check_from_request(raw)["Type"]
    assert api_kind in ("script", "docker")
    assert check_kind(raw) == api_kind
    if "TTL" not in extra:  # Interval with TTL is refused as a definition, not typed differently
        assert CheckSpec.from_definition(raw).kind == api_kind


def test_config_file_check_id_reregistered_over_http_with_a_script_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    conf = tmp_path / "consul.d"
    conf.mkdir()
    # A config-file service whose check is a local script check (allowed by enable_local_script_checks).
    (conf / "web.json").write_text(json.dumps({"service": {
        "name": "web", "port": 80, "check": {"id": "service:web", "args": ["true"], "interval": "10s"}}}))
    agent = start_agent(tmp_path, "-enable-local-script-checks", "-config-dir", str(conf))
    try:
        for extra in ({"AliasService": "web"}, {"TTL": "10s"}, {"DockerContainerID": "c1"}, {}):
            status, _, body = agent.request("PUT", "/v1/agent/check/register", _payload(marker, **extra))
            assert status == 400, (extra, status, body)
            assert REMOTE_REFUSED in body
        status, _, body = agent.request("PUT", "/v1/agent/service/register", {
            "Name": "api", "Check": {"Args": ["sh", "-c", f"id > {marker}"], "Interval": "1s",
                                     "AliasService": "web"}})
        assert status == 400 and REMOTE_REFUSED in body, (status, body)
        # The config-file check is still the one scheduled; nothing ran the injected script.
        checks = agent.get_json("/v1/agent/checks")
        assert checks["service:web"]["Name"] != "x"
        deadline = time.monotonic() + 1.5  # longer than the injected interval
        while time.monotonic() < deadline:
            assert not marker.exists()
            time.sleep(0.1)
    finally:
        agent.stop()


def test_http_reregistration_of_a_config_check_id_is_no_longer_local(tmp_path: Path) -> None:
    async def main() -> None:
        async def write(cmd: Any) -> None:
            return None

        local = LocalState("n1", write, lambda: {"Node": "n1"}, persist_dir=str(tmp_path))
        await local.add_service({"ID": "web", "Service": "web"}, [
            {"CheckID": "service:web", "Name": "c", "ServiceID": "web", "Args": ["true"], "Interval": "10s"}],
            from_config=True)
        assert "service:web" in local.config_checks and "web" in local.config_services
        await local.add_check({"CheckID": "service:web", "Name": "x", "ServiceID": "web", "TTL": "10s"})
        await local.add_service({"ID": "web", "Service": "web", "Port": 81}, [])
        assert "service:web" not in local.config_checks and "web" not in local.config_services
        # Remote registrations are persisted (config ones are not): the HTTP one survives a restart.
        saved = json.loads((tmp_path / "local-state.json").read_text())
        assert "service:web" in saved["checks"] and "web" in saved["services"]

    asyncio.run(main())


def test_http_check_method_or_header_with_crlf_is_refused_at_registration(tmp_path: Path) -> None:
    agent = start_agent(tmp_path)
    try:
        base = {"Name": "h", "HTTP": "http://127.0.0.1:1/", "Interval": "10s"}
        for bad in ({"Method": "GET / HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET"}, {"Method": "GE T"},
                    {"Header": {"X-A": ["v\r\nX-Evil: 1"]}}, {"Header": {"X A": ["v"]}}):
            status, _, body = agent.request("PUT", "/v1/agent/check/register", {**base, **bad})
            assert status == 400, (bad, status, body)
            assert b"Invalid check: net/http: invalid" in body
        assert "h" not in agent.get_json("/v1/agent/checks")
        status, _, body = agent.request("PUT", "/v1/agent/check/register", {**base, "Method": "PURGE"})
        assert status == 200, body
    finally:
        agent.stop()


def test_local_state_file_is_owner_only(tmp_path: Path) -> None:
    async def main() -> None:
        async def write(cmd: Any) -> None:
            return None

        state_dir = tmp_path / "state"
        local = LocalState("n1", write, lambda: {"Node": "n1"}, persist_dir=str(state_dir))
        await local.add_check({"CheckID": "h", "Name": "h", "HTTP": "http://x/", "Interval": "10s",
                               "Header": {"Authorization": ["Bearer secret"]}})
        assert (state_dir / "local-state.json").stat().st_mode & 0o777 == 0o600
        assert state_dir.stat().st_mode & 0o777 == 0o700

    asyncio.run(main())
