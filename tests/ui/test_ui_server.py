"""Serving the UI: content path, -ui-dir, the / redirect, CSP, ETag revalidation, deep links, and
the /v1/internal/ui/* summaries the list views read — all against real agent processes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from pyconsul.config.builder import build, ui_content_path
from pyconsul.config.errors import ConfigError
from pyconsul.ui.server import CSP, DISABLED_TEXT
from tests.support.agents import AgentProcess, start_agent


def _no_redirect(agent: AgentProcess, path: str) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(agent.base_url + path, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _get(agent: AgentProcess, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(agent.base_url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_root_redirects_and_deep_links_serve_the_page_under_csp(shared_agent: AgentProcess) -> None:
    status, headers, _ = _no_redirect(shared_agent, "/")
    assert status == 301 and headers["Location"] == "/ui/"
    status, headers, _ = _no_redirect(shared_agent, "/ui?x=1")
    assert status == 301 and headers["Location"] == "/ui/?x=1"
    for path in ("/ui/", "/ui/dc1/services/web", "/ui/dc1/kv/a/b/edit"):
        status, headers, body = _get(shared_agent, path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert headers["Content-Security-Policy"] == CSP and headers["X-Content-Type-Options"] == "nosniff"
        page = body.decode()
        # No inline script or style: the strict CSP would refuse them.
        assert '<script type="module" src="/ui/assets/app.js"></script>' in page
        assert "<style" not in page and "style=" not in page and "{{" not in page
        settings = page.split('name="pyconsul-ui-settings" content="')[1].split('"')[0]
        assert json.loads(settings.replace("&quot;", '"'))["ContentPath"] == "/ui/"


def test_etag_revalidates_with_304_and_missing_assets_are_404(shared_agent: AgentProcess) -> None:
    status, headers, body = _get(shared_agent, "/ui/assets/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and body
    etag = headers["ETag"]
    assert etag.startswith('"') and headers["Cache-Control"] == "no-cache"
    status, headers, body = _get(shared_agent, "/ui/assets/app.js", {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["ETag"] == etag
    status, _, _ = _get(shared_agent, "/ui/assets/app.js", {"If-None-Match": '"stale"'})
    assert status == 200
    _, headers, _ = _get(shared_agent, "/ui/")
    assert _get(shared_agent, "/ui/dc1/nodes", {"If-None-Match": headers["ETag"]})[0] == 304
    assert _get(shared_agent, "/ui/assets/nope.js")[0] == 404
    assert _get(shared_agent, "/ui/assets/../../../etc/passwd")[0] in (200, 404)  # never the file
    assert b"root:" not in _get(shared_agent, "/ui/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd")[2]


def test_internal_ui_summaries(shared_agent: AgentProcess) -> None:
    for sid, port in (("ui-web-1", 80), ("ui-web-2", 81)):
        assert shared_agent.request("PUT", "/v1/agent/service/register", {
            "ID": sid, "Name": "ui-web", "Port": port, "Tags": ["t1", sid],
            "Check": {"TTL": "1h", "Name": "ttl"}})[0] == 200
    assert shared_agent.request("PUT", "/v1/agent/check/pass/service:ui-web-1")[0] == 200
    summary = {s["Name"]: s for s in shared_agent.get_json("/v1/internal/ui/services")}
    web = summary["ui-web"]
    assert web["InstanceCount"] == 2 and web["Nodes"] == ["agent"]
    assert web["Tags"] == ["t1", "ui-web-1", "ui-web-2"]
    # Each instance counts its own check and the node's serfHealth, as Consul does.
    assert (web["ChecksPassing"], web["ChecksWarning"], web["ChecksCritical"]) == (3, 0, 1)
    nodes = shared_agent.get_json("/v1/internal/ui/nodes")
    assert {s["ID"] for s in nodes[0]["Services"]} >= {"ui-web-1", "ui-web-2"}
    node = shared_agent.get_json("/v1/internal/ui/node/agent")
    assert node["Node"] == "agent" and any(c["CheckID"] == "serfHealth" for c in node["Checks"])
    status, _, body = shared_agent.request("GET", "/v1/internal/ui/node/no-such-node")
    assert status == 404 and body == b""


def test_blocking_summary_wakes_on_a_check_change(shared_agent: AgentProcess) -> None:
    shared_agent.request("PUT", "/v1/agent/service/register",
                         {"ID": "ui-block", "Name": "ui-block", "Check": {"TTL": "1h", "Name": "ttl"}})
    _, headers, _ = shared_agent.request("GET", "/v1/internal/ui/services")
    index = headers["X-Consul-Index"]
    import threading

    threading.Timer(0.3, lambda: shared_agent.request("PUT", "/v1/agent/check/pass/service:ui-block")).start()
    status, headers, body = shared_agent.request("GET", f"/v1/internal/ui/services?index={index}&wait=10s", timeout=15)
    assert status == 200 and int(headers["X-Consul-Index"]) > int(index)
    row = next(s for s in json.loads(body) if s["Name"] == "ui-block")
    assert row["ChecksCritical"] == 0 and row["ChecksPassing"] == 2


def test_ui_off_and_custom_content_path_and_dir(tmp_path: Path) -> None:
    off = start_agent(tmp_path / "off", "-server", "-bootstrap", "-data-dir", str(tmp_path / "off-data"),
                      dev=False, name="off")
    try:
        status, headers, body = _get(off, "/")
        assert status == 200 and body.decode() == DISABLED_TEXT
        assert _get(off, "/ui/")[0] == 404
    finally:
        off.stop()
    own = tmp_path / "own-ui"
    (own / "assets").mkdir(parents=True)
    (own / "index.html").write_text("<!doctype html><p>mine at {{ContentPath}}</p>")
    (own / "assets" / "x.css").write_text("p{}")
    a = start_agent(tmp_path / "dir", "-ui-dir", str(own), "-ui-content-path", "dash", name="dir")
    try:
        assert _no_redirect(a, "/")[1]["Location"] == "/dash/"
        status, _, body = _get(a, "/dash/somewhere/deep")
        assert status == 200 and body == b"<!doctype html><p>mine at /dash/</p>"
        assert _get(a, "/dash/assets/x.css")[2] == b"p{}"
        assert _get(a, "/ui/")[0] == 404
    finally:
        a.stop()


def test_ui_config_rules() -> None:
    assert ui_content_path("") == "/ui/" and ui_content_path("a/b") == "/a/b/" and ui_content_path("/x/") == "/x/"
    rc = build({"ui_dir": "/srv/ui", "ui_content_path": "/legacy", "data_dir": "/tmp/x"}, dev=False)
    assert (rc.ui_config.enabled, rc.ui_config.dir, rc.ui_config.content_path) == (True, "/srv/ui", "/legacy/")
    rc = build({"ui_config": {"content_path": "new"}, "ui_content_path": "old"}, dev=True)
    assert rc.ui_config.content_path == "/new/"
    with pytest.raises(ConfigError, match="Both the ui_config.enabled and ui_config.dir"):
        build({"ui_config": {"enabled": True, "dir": "/srv/ui"}}, dev=True)


def test_ui_config_is_read_again_on_reload(tmp_path: Path) -> None:
    own = tmp_path / "own-ui"
    own.mkdir()
    (own / "index.html").write_text("<!doctype html><p>operator's own</p>")
    conf = tmp_path / "ui.hcl"
    conf.write_text("ui_config { enabled = false }\n")
    a = start_agent(tmp_path / "reload", "-server", "-bootstrap", "-data-dir", str(tmp_path / "data"),
                    f"-config-file={conf}", dev=False, name="reload")
    try:
        assert _get(a, "/ui/")[0] == 404 and _get(a, "/")[2].decode() == DISABLED_TEXT
        conf.write_text("ui_config { enabled = true }\n")
        assert a.request("PUT", "/v1/agent/reload")[0] == 200
        status, _, body = _get(a, "/ui/dc1/services")
        assert status == 200 and b'name="pyconsul-ui-settings"' in body
        assert _no_redirect(a, "/")[1]["Location"] == "/ui/"
        conf.write_text(f'ui_config {{ dir = "{own}" }}\n')  # a dir turns the UI on by itself
        assert a.request("PUT", "/v1/agent/reload")[0] == 200
        assert _get(a, "/ui/")[2] == b"<!doctype html><p>operator's own</p>"
        conf.write_text("ui_config { enabled = false }\n")
        assert a.request("PUT", "/v1/agent/reload")[0] == 200
        assert _get(a, "/ui/")[0] == 404 and _get(a, "/")[2].decode() == DISABLED_TEXT
    finally:
        a.stop()


def test_features_follow_the_route_table_and_the_acl_switch() -> None:
    from pyconsul.ui.settings import CA_ROOTS_ROUTE, INTENTIONS_ROUTE, UIFeatures, features_served

    assert features_served(["/v1/acl/{path:.*}", "/v1/kv/{key:.*}"], acl_enabled=False) == UIFeatures()
    assert features_served(["/v1/acl/{path:.*}"], acl_enabled=True) == UIFeatures(ACLsEnabled=True)
    assert features_served([INTENTIONS_ROUTE, CA_ROOTS_ROUTE], acl_enabled=True) == UIFeatures(
        IntentionsEnabled=True, ConnectCAEnabled=True)
