"""The rules for when a client agent stops waiting on the server it asked."""

from __future__ import annotations

import pytest

from pyconsul.consensus.held_requests import leader_elsewhere, needs_leader

S, A, B = "10.0.0.1:8300", "10.0.0.2:8300", "10.0.0.3:8300"


@pytest.mark.parametrize(("method", "path", "want"), [
    ("PUT", "/v1/kv/k", True), ("DELETE", "/v1/kv/k?cas=3", True), ("GET", "/v1/kv/k?consistent", True),
    ("GET", "/v1/kv/k", True), ("GET", "/v1/kv/k?stale", False), ("GET", "/v1/kv/k?index=7&wait=1s", False),
    ("HEAD", "/v1/catalog/nodes?stale=", False),
])
def test_which_requests_are_watched(method: str, path: str, want: bool) -> None:
    assert needs_leader(method, path) is want


def test_cut_off_server_is_left_once_the_others_agree_on_a_leader_it_does_not_name() -> None:
    assert leader_elsewhere(S, {S: "", A: B, B: B}, read=False) == B
    assert leader_elsewhere(S, {S: S, A: B, B: B}, read=True) == B  # an old leader still in its lease
    assert leader_elsewhere(S, {S: "", A: S, B: B}, read=True) == B  # one still names the old leader


def test_keep_waiting_while_the_asked_server_knows_the_leader_or_nothing_is_agreed() -> None:
    assert leader_elsewhere(S, {S: B, A: B, B: B}, read=False) == ""  # it forwards to the leader
    assert leader_elsewhere(S, {S: "", A: S, B: S}, read=True) == ""  # it is the leader
    assert leader_elsewhere(S, {S: "", A: "", B: ""}, read=True) == ""  # no leader yet
    assert leader_elsewhere(S, {S: "", A: A, B: B}, read=True) == ""  # no agreement


def test_a_silent_server_counts_as_cut_off_for_a_read_only() -> None:
    assert leader_elsewhere(S, {S: None, A: B, B: B}, read=True) == B
    assert leader_elsewhere(S, {S: None, A: B, B: B}, read=False) == ""
