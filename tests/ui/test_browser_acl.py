"""The UI's ACL, intentions and CA views in headless Chromium against a default-deny agent:
the login box, what anonymous and a management token see, a 403 worded as the right it lacks,
tokens / policies / roles, and the nav telling only the features the agent serves.

Screenshots go to $UI_SCREENSHOT_DIR like those of test_browser.py.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyconsul.api.routes import ROUTES
from tests.support.agents import AgentProcess, start_agent
from tests.ui.test_browser import DRIVER, css, heading, one, wait_for

pytestmark = [pytest.mark.skipif(not os.path.exists(DRIVER), reason="needs chromium-driver (scripts/ci.sh installs it)"),
              pytest.mark.xdist_group("ui-browser")]

ROOT = "5d2c8a7e-ui-root-secret"
_PATHS = {path for _, path, _ in ROUTES}


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("ui-acl")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    a = start_agent(work, f"-config-file={conf}", name="acl-ui")
    assert call(a, "PUT", "/v1/agent/service/register", {"Name": "billing", "Port": 8080, "Tags": ["secret-tag"]})[0] == 200
    assert call(a, "PUT", "/v1/kv/secret/db-password", b"hunter2")[0] == 200
    yield a
    a.stop()


def call(agent: AgentProcess, method: str, path: str, body: Any = None, token: str = ROOT) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode()


def fresh(d: Any, agent: AgentProcess, path: str) -> None:
    """Open `path` logged out (the token is this browser's localStorage)."""
    d.get(agent.base_url + "/ui/")
    d.execute_script("localStorage.clear()")
    d.get(agent.base_url + path)


def log_in(d: Any, token: str) -> None:
    one(d, '[data-test="login-open"]').click()
    one(d, '[data-test="login-token"]').send_keys(token)
    one(d, '[data-test="login-submit"]').click()


def test_anonymous_sees_nothing_protected_and_a_management_token_sees_everything(
        acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    d = browser
    fresh(d, acl_agent, "/ui/dc1/services")
    one(d, '[data-test="login-open"]')
    wait_for(d, "services answered", lambda: css(d, '[data-test="services"] .empty') or css(d, ".notice-error"))
    assert not css(d, '[data-service="billing"]')
    assert "billing" not in d.find_element("css selector", "main").text
    # The anonymous token lacks the right to read keys: said in words, not an empty page.
    d.get(acl_agent.base_url + "/ui/dc1/kv/secret/db-password/edit")
    assert "You lack key:read" in one(d, ".notice-error").text
    assert "hunter2" not in d.page_source
    d.save_screenshot(str(shots / "acl-anonymous.png"))
    # A wrong token is refused by the login box and not kept.
    d.get(acl_agent.base_url + "/ui/dc1/services")
    log_in(d, "not-a-real-token")
    assert "ACL not found" in one(d, '[data-test="login-error"]').text
    assert d.execute_script("return localStorage.getItem('pyconsul:token')") is None
    one(d, '[data-test="login-cancel"]').click()
    log_in(d, ROOT)
    one(d, '[data-service="billing"]')  # the open view remounts with the token
    # Consul stores the initial-management token under this description; a store without it
    # still resolves the token, and the box says so rather than refusing the login.
    who = one(d, '[data-test="whoami"]')
    wait_for(d, "who am I", lambda: who.text != "…")
    assert who.text in ("Initial Management Token", "configured token"), who.text
    assert d.execute_script("return localStorage.getItem('pyconsul:token')") == ROOT
    d.get(acl_agent.base_url + "/ui/dc1/kv/secret/db-password/edit")
    box = one(d, '[data-test="kv-value"]')
    wait_for(d, "secret value shown", lambda: box.get_attribute("value") == "hunter2")
    # Log out: back to what anonymous sees.
    d.get(acl_agent.base_url + "/ui/dc1/services")
    one(d, '[data-service="billing"]')
    d.save_screenshot(str(shots / "acl-logged-in.png"))
    one(d, '[data-test="logout"]').click()
    wait_for(d, "billing hidden again", lambda: not css(d, '[data-service="billing"]'))
    one(d, '[data-test="login-open"]')


def test_a_403_names_the_permission_a_limited_token_lacks(acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    status, pol = call(acl_agent, "PUT", "/v1/acl/policy", {"Name": "ui-read-services", "Rules": 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }'})
    assert status == 200, pol
    status, tok = call(acl_agent, "PUT", "/v1/acl/token", {"Description": "services reader", "Policies": [{"ID": pol["ID"]}]})
    assert status == 200, tok
    d = browser
    fresh(d, acl_agent, "/ui/dc1/services")
    log_in(d, tok["SecretID"])
    one(d, '[data-service="billing"]')
    assert one(d, '[data-test="whoami"]').text == "services reader"
    d.get(acl_agent.base_url + "/ui/dc1/acls/tokens")
    text = one(d, ".notice-error").text
    assert text.startswith("You lack acl:read"), text
    assert not css(d, "[data-token]")
    d.save_screenshot(str(shots / "acl-you-lack.png"))


def test_policies_create_with_consuls_parse_error_edit_and_delete(acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    d = browser
    fresh(d, acl_agent, "/ui/dc1/acls/policies")
    log_in(d, ROOT)
    one(d, '[data-test="policies"] > *')
    assert one(d, 'a[data-nav="acls"][aria-current="page"]')
    one(d, '[data-test="policy-create"]').click()
    one(d, '[data-test="policy-name"]').send_keys("ui-app-read")
    one(d, '[data-test="policy-rules"]').send_keys('key_prefix "app/" { policy = "reed" }')
    one(d, '[data-test="policy-save"]').click()
    problem = one(d, '[data-test="policy-form"] .notice-error').text
    assert problem.startswith("Failed to parse ACL rules"), problem
    assert "reed" in problem
    assert call(acl_agent, "GET", "/v1/acl/policy/name/ui-app-read")[0] != 200
    rules = one(d, '[data-test="policy-rules"]')
    rules.clear()
    rules.send_keys('key_prefix "app/" { policy = "read" }')
    one(d, '[data-test="policy-save"]').click()
    wait_for(d, "on the policy page", lambda: "/ui/dc1/acls/policies/" in d.current_url and "create" not in d.current_url)
    status, pol = call(acl_agent, "GET", "/v1/acl/policy/name/ui-app-read")
    assert status == 200 and 'policy = "read"' in pol["Rules"]
    # Edit the rules and the description.
    rules = one(d, '[data-test="policy-rules"]')
    wait_for(d, "rules loaded", lambda: 'policy = "read"' in rules.get_attribute("value"))
    rules.clear()
    rules.send_keys('key_prefix "app/" { policy = "write" }')
    one(d, '[data-test="policy-description"]').send_keys("app config")
    one(d, '[data-test="policy-save"]').click()
    one(d, '[data-test="policy-banner"] .notice-info')
    status, pol = call(acl_agent, "GET", f"/v1/acl/policy/{pol['ID']}")
    assert 'policy = "write"' in pol["Rules"] and pol["Description"] == "app config"
    d.save_screenshot(str(shots / "acl-policy.png"))
    one(d, '[data-test="policy-delete"]').click()
    one(d, 'dialog [data-test="confirm"]').click()
    wait_for(d, "back on the list", lambda: d.current_url.endswith("/ui/dc1/acls/policies"))
    wait_for(d, "policy deleted", lambda: call(acl_agent, "GET", f"/v1/acl/policy/{pol['ID']}")[0] == 404)
    wait_for(d, "gone from the list", lambda: not css(d, '[data-policy="ui-app-read"]'))


def test_tokens_list_create_with_a_policy_read_and_delete(acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    status, pol = call(acl_agent, "PUT", "/v1/acl/policy", {"Name": "ui-kv-read", "Rules": 'key_prefix "" { policy = "read" }'})
    assert status == 200, pol
    d = browser
    fresh(d, acl_agent, "/ui/dc1/acls/tokens")
    log_in(d, ROOT)
    one(d, '[data-test="tokens"] > *')
    one(d, '[data-test="token-create"]').click()
    one(d, '[data-test="token-description"]').send_keys("made in the UI")
    one(d, '[data-test="pick-policy"][data-name="ui-kv-read"]').click()
    one(d, '[data-test="token-save"]').click()
    accessor = one(d, '[data-test="token-accessor"]').text
    status, tok = call(acl_agent, "GET", f"/v1/acl/token/{accessor}")
    assert status == 200 and tok["Description"] == "made in the UI"
    assert [p["Name"] for p in tok["Policies"]] == ["ui-kv-read"]
    assert [a.text for a in css(d, '[data-test="policies-links"] a')] == ["ui-kv-read"]
    d.save_screenshot(str(shots / "acl-token.png"))
    # The list shows it too (it polls, ACL lists carry no blocking index).
    one(d, 'a.crumb').click()
    one(d, f'[data-token="{accessor}"]')
    d.save_screenshot(str(shots / "acl-tokens.png"))
    one(d, f'a[data-key="token:{accessor}"]').click()
    one(d, '[data-test="token-delete"]').click()
    one(d, 'dialog [data-test="confirm"]').click()
    wait_for(d, "back on the list", lambda: d.current_url.endswith("/ui/dc1/acls/tokens"))
    wait_for(d, "token deleted", lambda: call(acl_agent, "GET", f"/v1/acl/token/{accessor}")[0] != 200)
    wait_for(d, "gone from the list", lambda: not css(d, f'[data-token="{accessor}"]'))


def test_roles_view_lists_roles_or_says_not_available(acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    d = browser
    fresh(d, acl_agent, "/ui/dc1/acls/roles")
    log_in(d, ROOT)
    served = call(acl_agent, "GET", "/v1/acl/roles")[0] == 200
    if not served:
        assert "not available" in one(d, '[data-test="roles-unavailable"]').text
        assert not css(d, '[data-test="role-create"]:not([hidden])')
        return
    status, pol = call(acl_agent, "PUT", "/v1/acl/policy", {"Name": "ui-role-policy", "Rules": 'node_prefix "" { policy = "read" }'})
    assert status == 200, pol
    status, role = call(acl_agent, "PUT", "/v1/acl/role", {"Name": "ui-role", "Description": "from the test",
                                                             "Policies": [{"ID": pol["ID"]}]})
    assert status == 200, role
    one(d, '[data-role="ui-role"]', timeout=8)
    one(d, f'a[data-key="role:{role["ID"]}"]').click()
    one(d, '[data-test="policies-links"] a')
    assert [a.text for a in css(d, '[data-test="policies-links"] a')] == ["ui-role-policy"]
    d.save_screenshot(str(shots / "acl-role.png"))


def test_nav_reports_exactly_the_features_this_agent_serves(acl_agent: AgentProcess, browser: Any) -> None:
    d = browser
    fresh(d, acl_agent, "/ui/dc1/services")
    one(d, '[data-test="login-open"]')
    expected = ["services", "nodes", "kv"]
    if "/v1/connect/intentions" in _PATHS:
        expected.append("intentions")
    expected.append("acls")
    if "/v1/connect/ca/roots" in _PATHS:
        expected.append("ca")
    assert [a.get_attribute("data-nav") for a in css(d, "a[data-nav]")] == expected
    if "/v1/connect/intentions" not in _PATHS:
        d.get(acl_agent.base_url + "/ui/dc1/intentions")
        assert heading(d) == "Not available"


def test_acl_views_fit_a_phone_and_keep_to_the_csp(acl_agent: AgentProcess, browser: Any, shots: Path) -> None:
    assert call(acl_agent, "PUT", "/v1/acl/policy", {"Name": "ui-phone-policy-with-a-long-name", "Rules": ""})[0] == 200
    d = browser
    fresh(d, acl_agent, "/ui/dc1/acls/tokens")
    log_in(d, ROOT)
    one(d, '[data-test="tokens"] > *')
    d.get_log("browser")  # drop what came before
    d.set_window_size(390, 844)
    try:
        for path, ready, name in (("/ui/dc1/acls/tokens", '[data-test="tokens"] > *', "phone-tokens"),
                                  ("/ui/dc1/acls/tokens/create", '[data-test="pick-policy"]', None),
                                  ("/ui/dc1/acls/policies", '[data-policy]', None),
                                  ("/ui/dc1/acls/policies/create", '[data-test="policy-rules"]', "phone-policy"),
                                  ("/ui/dc1/acls/roles", '[data-test="roles"] > *', None)):
            d.get(acl_agent.base_url + path)
            one(d, ready)
            width = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (path, width)
            if name:
                d.save_screenshot(str(shots / f"{name}.png"))
    finally:
        d.set_window_size(1280, 900)
    assert [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]] == []
