"""The replication diff (pure): rows compared by Hash; tokens only global ones, both ways."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl.replication import Status, plan


def test_new_changed_and_gone_rows() -> None:
    local = [{"ID": "a", "Hash": "1"}, {"ID": "b", "Hash": "2"}, {"ID": "c", "Hash": "3"}]
    remote = [{"ID": "a", "Hash": "1"}, {"ID": "b", "Hash": "9"}, {"ID": "d", "Hash": "4"}]
    up, gone = plan(local, remote, "ID")
    assert [r["ID"] for r in up] == ["b", "d"] and gone == ["c"]


def test_local_tokens_are_never_touched() -> None:
    local = [{"AccessorID": "mine", "Local": True, "Hash": "x"}, {"AccessorID": "old", "Hash": "y"}]
    remote = [{"AccessorID": "theirs-local", "Local": True, "Hash": "z"}, {"AccessorID": "g", "Hash": "w"}]
    up, gone = plan(local, remote, "AccessorID", lambda r: not r.get("Local"))
    assert [r["AccessorID"] for r in up] == ["g"] and gone == ["old"]


def test_status_shape_when_disabled() -> None:
    assert Status().to_json() == {
        "Enabled": False, "Running": False, "SourceDatacenter": "", "ReplicationType": "", "ReplicatedIndex": 0,
        "ReplicatedRoleIndex": 0, "ReplicatedTokenIndex": 0, "LastSuccess": "0001-01-01T00:00:00Z",
        "LastError": "0001-01-01T00:00:00Z", "LastErrorMessage": ""}


rows = st.dictionaries(st.sampled_from("abcdef"), st.sampled_from("123"), max_size=6)


@settings(deadline=None)  # a loaded machine is slow; the examples are derandomized
@given(rows, rows)
def test_applying_the_plan_makes_local_equal_remote(local: dict[str, str], remote: dict[str, str]) -> None:
    up, gone = plan([{"ID": k, "Hash": h} for k, h in local.items()], [{"ID": k, "Hash": h} for k, h in remote.items()],
                    "ID")
    after = {k: h for k, h in local.items() if k not in gone}
    after.update({r["ID"]: r["Hash"] for r in up})
    assert after == remote
