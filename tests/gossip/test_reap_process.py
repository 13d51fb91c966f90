"""reconnect_timeout with real agents: a client that stays dead is reaped from members and catalog."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.gossip.test_seed_layout import FAST_GOSSIP
from tests.support.agents import start_agent
from tests.support.wait import wait_until


def test_failed_client_is_reaped_after_reconnect_timeout(tmp_path: Path) -> None:
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps({**FAST_GOSSIP, "reconnect_timeout": "3s"}))
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         "-config-file", str(conf), dev=False, name="srv", host="127.0.0.1")
    client = None
    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-config-file", str(conf),
                             "-retry-join", f"127.0.0.1:{server.serf_lan_port}", "-retry-interval", "200ms",
                             dev=False, name="cli", host="127.0.0.2", need_leader=False)

        def members() -> dict[str, int]:
            return {m["Name"]: m["Status"] for m in server.get_json("/v1/agent/members")}

        assert wait_until(lambda: members().get("cli") == 1, 15)
        assert wait_until(lambda: any(n["Node"] == "cli" for n in server.get_json("/v1/catalog/nodes")), 15)
        killed_at = time.monotonic()
        client.kill9()
        assert wait_until(lambda: members().get("cli") == 4, 15)
        assert wait_until(lambda: "cli" not in members(), 15)
        # Reaped only after failure detection plus the whole reconnect_timeout.
        assert time.monotonic() - killed_at >= 3.0
        assert wait_until(lambda: all(n["Node"] != "cli" for n in server.get_json("/v1/catalog/nodes")), 40)
    finally:
        if client is not None:
            client.stop()
        server.stop()
