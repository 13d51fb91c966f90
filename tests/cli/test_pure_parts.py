"""Pure pieces of the CLI: table layout, Go JSON, watch plans, service files, locks, snapshots."""

from __future__ import annotations

import base64
import gzip
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.cli.info_cmd import format_stats
from pyconsul.cli.lock_kv import (
    SEMAPHORE_FLAG_VALUE,
    LockError,
    SemaphoreDoc,
    decode_semaphore,
    join_key,
    prune_dead_holders,
)
from pyconsul.cli.operator_cmd import peers_table
from pyconsul.cli.output import columnize, go_json, tabwrite
from pyconsul.cli.watch_plan import WatchError, event_index, new_events, plan_for
from pyconsul.snapshot_archive import SnapshotError, build, verify


def test_columnize_matches_consul_members_layout() -> None:
    rows = [["Node", "Address", "Status"], ["172.19.0.3", "172.19.0.3:8301", "alive"],
            ["c", "172.19.0.9:8301", "alive"]]
    assert columnize(rows) == ("Node        Address          Status\n"
                               "172.19.0.3  172.19.0.3:8301  alive\n"
                               "c           172.19.0.9:8301  alive")


def test_columnize_keeps_padding_before_an_empty_last_cell() -> None:
    # Go's columnize only drops the final newline; a row ending in an empty cell keeps its glue.
    assert columnize([["Node", "Meta"], ["web-1", ""]]) == "Node   Meta\nweb-1  "


@given(st.lists(st.lists(st.text(alphabet="abcxyz:.-", min_size=1, max_size=6), min_size=3, max_size=3),
                min_size=1, max_size=6))
def test_columnize_aligns_every_column(rows: list[list[str]]) -> None:
    lines = columnize(rows).splitlines()
    assert len(lines) == len(rows)
    for col in range(1, 3):
        starts = {len("  ".join(c.ljust(max(len(r[i]) for r in rows)) for i, c in enumerate(row[:col]))) + 2
                  for row in rows}
        assert len(starts) == 1  # every row's column `col` starts at the same offset
        start = starts.pop()
        assert all(line[start:].startswith(row[col]) for line, row in zip(lines, rows, strict=True))


def test_tabwrite_padding() -> None:
    assert tabwrite([("Key", "a"), ("CreateIndex", "1")]) == "Key              a\nCreateIndex      1"


def test_go_json_escapes_like_encoding_json() -> None:
    assert go_json({"a": "<&>", "b": "é"}) == '{"a":"\\u003c\\u0026\\u003e","b":"é"}'
    assert go_json([], indent="\t") == "[]"
    assert go_json({"k": [1]}, indent="    ") == '{\n    "k": [\n        1\n    ]\n}'


def test_info_format() -> None:
    text = format_stats({"raft": {"state": "Leader", "applied_index": "3"}, "agent": {"checks": "0"}})
    assert text == "agent:\n\tchecks = 0\nraft:\n\tapplied_index = 3\n\tstate = Leader"


def test_peers_table_old_servers_show_protocol_le_1() -> None:
    text = peers_table([{"Node": "n1", "ID": "id1", "Address": "a:8300", "Leader": False, "Voter": True,
                         "ProtocolVersion": ""}])
    assert text.splitlines()[1].split() == ["n1", "id1", "a:8300", "follower", "true", "<=1"]


def test_event_index_is_xor_of_uuid_halves() -> None:
    eid = "0b141a82-881b-4152-89c2-f7cbc2f6003b"
    assert event_index(eid) == 0x0B141A82881B4152 ^ 0x89C2F7CBC2F6003B
    assert event_index("not-a-uuid") == 0


def test_new_events_are_those_after_the_last_index() -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    events = [{"ID": i} for i in ids]
    assert new_events(events, 0) == events
    assert new_events(events, event_index(ids[1])) == events[2:]
    assert new_events(events, event_index(ids[2])) == []


def test_watch_plan_endpoints() -> None:
    assert plan_for({"type": "service", "service": "web", "tag": "v1", "passingonly": True}).params == \
        {"tag": "v1", "passing": "1"}
    assert plan_for({"type": "checks"}).path == "/v1/health/state/any"
    assert plan_for({"type": "checks", "service": "web"}).path == "/v1/health/checks/web"
    assert plan_for({"type": "keyprefix", "prefix": "a/"}).params == {"recurse": ""}
    with pytest.raises(WatchError, match="Must specify a single prefix to watch"):
        plan_for({"type": "keyprefix"})


def test_semaphore_document_rules() -> None:
    assert join_key("svc/", ".lock") == "svc/.lock" and join_key("", ".lock") == ".lock"
    doc = SemaphoreDoc(2, {"alive": True, "dead": True})
    prune_dead_holders(doc, [{"Key": "p/alive", "Session": "alive"}, {"Key": "p/dead", "Session": ""}])
    assert doc.holders == {"alive": True}
    pair = {"Flags": SEMAPHORE_FLAG_VALUE, "Value": base64.b64encode(doc.encode()).decode()}
    assert decode_semaphore(pair, 2) == doc
    assert decode_semaphore(None, 3) == SemaphoreDoc(3)
    with pytest.raises(LockError, match="Existing key does not match semaphore use"):
        decode_semaphore({"Flags": 0, "Value": None}, 2)


def test_snapshot_archive_verify_detects_tampering() -> None:
    data = build({"ID": "1-2-3", "Index": 2, "Term": 1, "Version": 1, "Size": 5}, b"state")
    assert verify(data)["Index"] == 2
    import io
    import tarfile

    raw = io.BytesIO(gzip.decompress(data))
    out = io.BytesIO()
    with tarfile.open(fileobj=raw) as src, tarfile.open(fileobj=out, mode="w:") as dst:
        for m in src.getmembers():
            content = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == "state.bin":
                content = b"STATE"
            m.size = len(content)
            dst.addfile(m, io.BytesIO(content))
    with pytest.raises(SnapshotError, match="sha256 hash mismatch"):
        verify(gzip.compress(out.getvalue()))
    with pytest.raises(SnapshotError):
        verify(b"plain bytes")


@given(st.text(min_size=1, max_size=30).filter(lambda s: s[0] != "@" and s != "-"))
def test_data_argument_is_literal_unless_file_or_stdin(data: str) -> None:
    from pyconsul.cli.common import read_data_arg

    assert read_data_arg(data) == data.encode()
