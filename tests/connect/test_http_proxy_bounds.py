"""The `-http-proxy` listener against a real agent, in-process: a host name that is no service is
a 502 naming it, and junk names cannot grow the proxy — past MAX_WATCHED services it looks a name
up for that request only and forgets it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyconsul.client.aio import AsyncClient
from pyconsul.client.settings import ClientSettings
from pyconsul.connect import http_proxy
from pyconsul.connect.proxy import Proxy, ProxyLog
from pyconsul.connect.proxy_config import ProxyConfig
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    a = start_agent(tmp_path_factory.mktemp("http-proxy"), host=loopback(67), name="http-proxy")
    wait_until(lambda: a.get_json("/v1/connect/ca/roots")["ActiveRootID"], what="the CA's root")
    yield a
    a.stop()


async def test_junk_names_are_502_and_do_not_grow_the_proxy(agent: AgentProcess, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setattr(http_proxy, "MAX_WATCHED", 2)
    host, port = loopback(67), free_port()
    log = tmp_path / "proxy.log"
    with open(log, "w") as out:
        px = Proxy(AsyncClient(ClientSettings.at(agent.http_addr), user_agent="test", connection_limit=0),
                   ProxyConfig("web", http_proxy=(host, port)), ProxyLog("ERR", out))
        await px.start()
        try:
            for i in range(6):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET http://junk{i}/ HTTP/1.1\r\n\r\n".encode())
                answer = await asyncio.wait_for(reader.read(), 15)
                writer.close()
                assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
                assert answer.endswith(f"no healthy instances of service 'junk{i}' in the mesh\n".encode())
            assert sorted(px._ready) == sorted(px.instances) == ["junk0", "junk1"]
        finally:
            await px.close()
