"""The web UI is served under /ui/ (and / redirects there) when the UI is enabled (-dev)."""

from __future__ import annotations

import urllib.request

from tests.support.agents import AgentProcess


def test_ui_served_and_root_redirects(shared_agent: AgentProcess) -> None:
    with urllib.request.urlopen(shared_agent.base_url + "/") as resp:  # follows the redirect
        assert resp.url.endswith("/ui/")
        page = resp.read().decode()
    assert "<title>pyconsul</title>" in page and "catalog/services" in page
    with urllib.request.urlopen(shared_agent.base_url + "/ui/dc1/services") as resp:
        assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
