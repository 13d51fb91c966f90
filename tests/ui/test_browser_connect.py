"""The intentions and Connect CA views in Chromium against a real -dev agent. Each test runs
once the route table serves its endpoint (the views are written against Consul's documented
JSON; tests/ui/js/units.test.mjs checks their pure parts meanwhile)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyconsul.api.routes import ROUTES
from pyconsul.ui.settings import CA_ROOTS_ROUTE, INTENTIONS_ROUTE
from tests.support.agents import AgentProcess, start_agent
from tests.ui.test_browser import DRIVER, css, one, register, wait_for

_PATHS = {path for _, path, _ in ROUTES}
pytestmark = [pytest.mark.skipif(not os.path.exists(DRIVER), reason="needs chromium-driver (scripts/ci.sh installs it)"),
              pytest.mark.xdist_group("ui-browser")]
needs_intentions = pytest.mark.skipif(INTENTIONS_ROUTE not in _PATHS, reason="the agent does not serve intentions yet")
needs_ca = pytest.mark.skipif(CA_ROOTS_ROUTE not in _PATHS, reason="the agent does not serve the Connect CA yet")


@pytest.fixture(scope="module")
def mesh_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    a = start_agent(tmp_path_factory.mktemp("ui-mesh"), name="mesh-ui")
    for sid, name, port in (("web-1", "web", 80), ("db-1", "db", 5432), ("api-1", "api", 8080)):
        register(a, sid, name, port)
    yield a
    a.stop()


def intention(agent: AgentProcess, source: str, destination: str) -> Any:
    status, _, body = agent.request("GET", f"/v1/connect/intentions/exact?source={source}&destination={destination}")
    return json.loads(body) if status == 200 else None


@needs_intentions
def test_intentions_create_edit_delete_and_topology(mesh_agent: AgentProcess, browser: Any, shots: Path) -> None:
    d = browser
    d.get(mesh_agent.base_url + "/ui/dc1/intentions")
    one(d, 'a[data-nav="intentions"][aria-current="page"]')
    one(d, '[data-test="ixn-source"]').send_keys("web")
    one(d, '[data-test="ixn-destination"]').send_keys("db")
    one(d, '[data-test="ixn-save"]').click()
    one(d, '[data-intention="web=>db"][data-action="allow"]', timeout=8)
    assert intention(mesh_agent, "web", "db")["Action"] == "allow"
    # A partial wildcard is refused with Consul's words before anything is sent.
    one(d, '[data-test="ixn-source"]').send_keys("we*")
    one(d, '[data-test="ixn-destination"]').send_keys("db")
    one(d, '[data-test="ixn-save"]').click()
    assert "cannot be used with partial values" in one(d, '[data-test="ixn-form"] .notice-error').text
    one(d, '[data-test="ixn-source"]').clear()
    one(d, '[data-test="ixn-source"]').send_keys("*")
    one(d, '[data-test="ixn-deny"]').click()
    one(d, '[data-test="ixn-save"]').click()
    one(d, '[data-intention="*=>db"][data-action="deny"]', timeout=8)
    # The matrix: web may reach db (its own intention beats * → db), api may not.
    one(d, '[data-test="topology"] td[data-src="web"][data-dst="db"][data-allowed="true"]')
    one(d, '[data-test="topology"] td[data-src="api"][data-dst="db"][data-allowed="false"]')
    d.save_screenshot(str(shots / "intentions.png"))
    # Edit web → db to deny; the list and the matrix follow.
    one(d, '[data-intention="web=>db"] [data-test="ixn-edit"]').click()
    wait_for(d, "edit in the URL", lambda: "source=web" in d.current_url)
    assert one(d, '[data-test="ixn-source"]').get_attribute("readonly") is not None
    one(d, '[data-test="ixn-deny"]').click()
    one(d, '[data-test="ixn-save"]').click()
    one(d, '[data-intention="web=>db"][data-action="deny"]', timeout=8)
    one(d, '[data-test="topology"] td[data-src="web"][data-dst="db"][data-allowed="false"]')
    assert intention(mesh_agent, "web", "db")["Action"] == "deny"
    # Delete with confirmation.
    one(d, '[data-intention="web=>db"] [data-test="ixn-delete"]').click()
    one(d, 'dialog [data-test="confirm"]').click()
    wait_for(d, "deleted", lambda: intention(mesh_agent, "web", "db") is None)
    wait_for(d, "gone from the list", lambda: not css(d, '[data-intention="web=>db"]'))


@needs_ca
def test_ca_roots_show_the_active_root(mesh_agent: AgentProcess, browser: Any, shots: Path) -> None:
    d = browser
    roots = mesh_agent.get_json("/v1/connect/ca/roots")
    d.get(mesh_agent.base_url + "/ui/dc1/ca")
    card = one(d, f'[data-root="{roots["ActiveRootID"]}"][data-active="true"]', timeout=8)
    assert roots["TrustDomain"] in one(d, '[data-test="trust-domain"]').text
    card.find_element("css selector", "summary").click()
    assert "BEGIN CERTIFICATE" in card.find_element("css selector", '[data-test="root-pem"]').text
    d.save_screenshot(str(shots / "ca-roots.png"))
