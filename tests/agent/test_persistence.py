"""An acknowledged write survives `kill -9` and restart (single server with -data-dir)."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

from tests.support.agents import start_agent


def _server(tmp_path: Path, data: Path, ports: dict[str, int] | None = None):  # noqa: ANN202
    return start_agent(tmp_path, "-server", "-bootstrap", "-data-dir", str(data), dev=False,
                       name="persist", ports=ports)


def test_acknowledged_writes_survive_kill9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = _server(tmp_path, data)
    ports = {"http": a.http_port, "dns": a.dns_port, "server": a.server_port, "serf_lan": a.serf_lan_port}
    acked: dict[str, bytes] = {}
    try:
        def put(i: int) -> tuple[str, bytes, bool]:
            key, val = f"p/{i:04d}", f"v{i}".encode()
            try:
                status, _, body = a.request("PUT", f"/v1/kv/{key}", val, timeout=10)
            except OSError:
                return key, val, False
            return key, val, status == 200 and body == b"true"

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futs = [pool.submit(put, i) for i in range(400)]
            for n, fut in enumerate(concurrent.futures.as_completed(futs)):
                key, val, ok = fut.result()
                if ok:
                    acked[key] = val
                if n == 300:
                    a.kill9()  # some writes are still in flight: those may be lost, acked ones not
    finally:
        if a.alive():
            a.kill9()
    assert len(acked) >= 300
    b = _server(tmp_path, data, ports)
    try:
        status, _, body = b.request("GET", "/v1/kv/p/?recurse")
        assert status == 200
        stored = {row["Key"] for row in json.loads(body)}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
    finally:
        b.stop()


def test_agent_services_and_catalog_survive_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = _server(tmp_path, data)
    status, _, body = a.request("PUT", "/v1/agent/service/register",
                                {"Name": "keeper", "ID": "keeper1", "Port": 7000, "Tags": ["t"]})
    assert status == 200, body
    a.kill9()
    b = a.restart()  # same ports and data dir
    try:
        assert "keeper1" in b.get_json("/v1/agent/services")
        inst = b.get_json("/v1/catalog/service/keeper")
        assert [(i["ServiceID"], i["ServicePort"]) for i in inst] == [("keeper1", 7000)]
    finally:
        b.stop()
