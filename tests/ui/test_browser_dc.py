"""The datacenter selector and a node's lock sessions in headless Chromium, against two real
WAN-joined servers (dc1 and dc2, each with its own UI): the selector lists both, choosing dc2
shows dc2's catalog through `?dc=`, and a session created or destroyed on a node shows live."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until
from tests.ui.test_browser import DRIVER, LIVE_DEADLINE, css, heading, one, register, wait_for

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.support.ui import Select  # noqa: E402

pytestmark = [pytest.mark.skipif(not Path(DRIVER).exists(), reason="needs chromium-driver (scripts/ci.sh installs it)"),
              pytest.mark.xdist_group("ui-browser-dc")]


@pytest.fixture(scope="module")
def dcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, AgentProcess]]:
    tmp = tmp_path_factory.mktemp("ui-dcs")
    wan1, wan2 = free_port(), free_port()
    started: list[AgentProcess] = []
    try:
        s1 = start_agent(tmp / "s1", "-server", "-bootstrap", "-ui", "-datacenter", "dc1", "-data-dir", str(tmp / "s1" / "d"),
                         dev=False, name="ui-dc1-server", host=loopback(41), ports={"serf_wan": wan1}, wait=False)
        started.append(s1)
        s2 = start_agent(tmp / "s2", "-server", "-bootstrap", "-ui", "-datacenter", "dc2", "-data-dir", str(tmp / "s2" / "d"),
                         "-retry-join-wan", f"{s1.host}:{wan1}", "-retry-interval-wan", "1s",
                         dev=False, name="ui-dc2-server", host=loopback(42), ports={"serf_wan": wan2}, wait=False)
        started.append(s2)
        for a in started:
            a.wait_ready(timeout=60)
        wait_until(lambda: s1.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"], 30, "dc1 to know dc2")
        register(s2, "far-1", "only-in-dc2", 7070, ["far"])
        yield s1, s2
    finally:
        for a in reversed(started):
            a.stop()


def test_the_selector_lists_both_datacenters_and_switches_to_dc2(dcs: tuple[AgentProcess, AgentProcess],
                                                                  browser: Any, shots: Path) -> None:
    s1, _ = dcs
    d = browser
    d.get(s1.base_url + "/ui/dc1/services")
    one(d, '[data-service="consul"]')
    assert not css(d, '[data-service="only-in-dc2"]')
    select = wait_for(d, "both datacenters in the selector",
                      lambda: len(Select(one(d, "#dc")).options) == 2 and Select(one(d, "#dc")))
    assert [o.text for o in select.options] == ["dc1", "dc2"]
    select.select_by_visible_text("dc2")
    wait_for(d, "dc2's services", lambda: d.current_url.endswith("/ui/dc2/services"))
    one(d, 'a[data-key="svc:only-in-dc2"]').click()
    wait_for(d, "the dc2 service page", lambda: heading(d) == "only-in-dc2")
    one(d, '[data-instance="far-1"]')
    d.save_screenshot(str(shots / "dc2-service.png"))
    # a deep link into dc2 works on a fresh load, and dc1's own catalog is unchanged
    d.get(s1.base_url + "/ui/dc2/services/only-in-dc2")
    one(d, '[data-instance="far-1"]')
    d.get(s1.base_url + "/ui/dc1/services")
    one(d, '[data-service="consul"]')
    assert not css(d, '[data-service="only-in-dc2"]')


def test_a_nodes_lock_sessions_show_and_go_live(dcs: tuple[AgentProcess, AgentProcess], browser: Any, shots: Path) -> None:
    s1, _ = dcs
    d = browser
    d.get(s1.base_url + "/ui/dc1/nodes/ui-dc1-server")
    wait_for(d, "no sessions yet", lambda: "Lock sessions (0)" in d.page_source)
    status, _, body = s1.request("PUT", "/v1/session/create", {"Node": "ui-dc1-server", "Name": "ui-lock", "Checks": []})
    assert status == 200, body
    sid = json.loads(body)["ID"]
    row = one(d, f'[data-session="{sid}"]', timeout=LIVE_DEADLINE)
    assert "ui-lock" in row.text
    d.save_screenshot(str(shots / "node-sessions.png"))
    status, _, body = s1.request("PUT", f"/v1/session/destroy/{sid}")
    assert status == 200, body
    wait_for(d, "the destroyed session gone", lambda: not css(d, f'[data-session="{sid}"]'), timeout=LIVE_DEADLINE)
