"""Snapshots on an agent without ACLs (issue 17 item 14, the part that does not wait on the ACL
system): as in Consul, any token or none is accepted for save and restore, and the image carries
prepared queries and coordinates. Requiring a management token once ACLs are enabled is the
route's permission declaration in the ACL work."""

from __future__ import annotations

import urllib.request

from tests.support.agents import AgentProcess


def snapshot(a: AgentProcess, method: str, body: bytes | None = None, token: str = "") -> tuple[int, bytes]:
    req = urllib.request.Request(a.base_url + "/v1/snapshot", data=body, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.status, resp.read()


def test_any_token_or_none_may_save_and_restore(shared_agent: AgentProcess) -> None:
    a = shared_agent
    assert a.request("PUT", "/v1/catalog/register", {"Node": "snap-n", "Address": "10.9.0.1"})[0] == 200
    coord = {"Vec": [0.003] + [0.0] * 7, "Error": 0.4, "Adjustment": 0.0, "Height": 1e-5}
    assert a.request("PUT", "/v1/coordinate/update", {"Node": "snap-n", "Coord": coord})[0] == 200
    for token in ("", "not-a-real-token"):
        status, image = snapshot(a, "GET", token=token)
        assert status == 200 and image[:2] == b"\x1f\x8b"
    moved = {**coord, "Vec": [0.009] + [0.0] * 7}
    assert a.request("PUT", "/v1/coordinate/update", {"Node": "snap-n", "Coord": moved})[0] == 200
    assert snapshot(a, "PUT", image, token="not-a-real-token")[0] == 200
    assert a.get_json("/v1/coordinate/node/snap-n")[0]["Coord"] == coord
