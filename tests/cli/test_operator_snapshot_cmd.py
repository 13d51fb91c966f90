"""`consul operator raft ...` and `consul snapshot save|restore|inspect`."""

from __future__ import annotations

from pathlib import Path

from pyconsul.snapshot_archive import build
from tests.cli.cli_run import consul
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def test_list_peers_table(shared_agent: AgentProcess) -> None:
    r = consul("operator", "raft", "list-peers", addr=shared_agent.http_addr)
    assert r.code == 0
    header, row = r.out.splitlines()
    assert header.split() == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    node_id = shared_agent.get_json("/v1/agent/self")["Config"]["NodeID"]
    assert row.split() == ["agent", node_id, f"127.0.0.1:{shared_agent.server_port}", "leader", "true", "3"]
    for col in ("ID", "Address", "State", "Voter", "RaftProtocol"):
        # Column-aligned: under each header word starts that column's value.
        value = row.split()[header.split().index(col)]
        assert row[header.index(col):].split()[0] == value, col


def test_remove_peer_needs_address_or_id(shared_agent: AgentProcess) -> None:
    r = consul("operator", "raft", "remove-peer", addr=shared_agent.http_addr)
    assert (r.code, r.err) == (1, "Error removing peer: an address or id is required for the peer to remove\n")
    r = consul("operator", "raft", "remove-peer", "-address=1.2.3.4:8300", "-id=x", addr=shared_agent.http_addr)
    assert r.err == "Error removing peer: cannot give both an address and id\n"
    r = consul("operator", "raft", "remove-peer", "-address=127.0.0.9:8300", addr=shared_agent.http_addr)
    assert r.code == 1 and r.err.startswith("Error removing peer: Unexpected response code: ")


def test_snapshot_save_and_restore(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    consul("kv", "put", "snap/keep", "before", addr=addr)
    path = tmp_path / "backup.snap"
    r = consul("snapshot", "save", str(path), addr=addr)
    assert r.code == 0, r.err
    assert r.out.startswith("Saved and verified snapshot to index ")
    assert int(r.out.split()[-1]) > 0
    assert path.stat().st_size > 0 and path.stat().st_mode & 0o777 == 0o600
    assert not Path(str(path) + ".unverified").exists()
    assert shared_agent.request("PUT", "/v1/kv/snap/keep", b"after")[0] == 200
    assert shared_agent.request("PUT", "/v1/kv/snap/new", b"x")[0] == 200
    r = consul("snapshot", "restore", str(path), addr=addr)
    assert (r.code, r.out) == (0, "Restored snapshot\n"), r.err
    wait_until(lambda: consul("kv", "get", "snap/keep", addr=addr).out == "before\n", 10,
               what="the restored value", interval=0.1)
    assert consul("kv", "get", "snap/keep", addr=addr).out == "before\n"
    assert consul("kv", "get", "snap/new", addr=addr).code == 1


def test_snapshot_argument_errors(tmp_path: Path) -> None:
    assert consul("snapshot", "save").err == "Missing FILE argument\n"
    assert consul("snapshot", "restore", "a", "b").err == "Too many arguments (expected 1, got 2)\n"
    r = consul("snapshot", "restore", str(tmp_path / "missing.snap"))
    assert r.code == 1 and r.err.startswith("Error opening snapshot file: ")


def test_inspect_consul_archive(tmp_path: Path) -> None:
    path = tmp_path / "backup.snap"
    path.write_bytes(build({"Version": 1, "ID": "2-5-1477944140022", "Index": 5, "Term": 2, "Size": 667},
                           b"state"))
    r = consul("snapshot", "inspect", str(path))
    assert r.code == 0
    assert r.out == (" ID           2-5-1477944140022\n"
                     " Size         667\n"
                     " Index        5\n"
                     " Term         2\n"
                     " Version      1\n")
    garbage = tmp_path / "garbage.snap"
    garbage.write_bytes(b"not a snapshot")
    r = consul("snapshot", "inspect", str(garbage))
    assert r.code == 1 and r.err.startswith("Error reading snapshot: ")
    # A server's raw state.bin is read with the meta.json beside it.
    raw = tmp_path / "raft" / "snapshots" / "2-5-1477944140022"
    raw.mkdir(parents=True)
    (raw / "state.bin").write_bytes(b"state")
    (raw / "meta.json").write_text('{"Version": 1, "ID": "2-5-1477944140022", "Index": 5, "Term": 2, "Size": 5}')
    r = consul("snapshot", "inspect", str(raw / "state.bin"))
    assert r.code == 0 and r.out.splitlines()[1] == " Size         5"
