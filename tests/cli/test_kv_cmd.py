"""`consul kv ...` as a user runs it, against a real agent."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.cli.cli_run import consul
from tests.support.agents import AgentProcess


def put(agent: AgentProcess, key: str, value: str) -> None:
    """Test setup through the HTTP API; the CLI is what each test then checks."""
    assert agent.request("PUT", f"/v1/kv/{key}", value.encode())[0] == 200


def test_put_get_round_trip(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    r = consul("kv", "put", "redis/config/connections", "5", addr=addr)
    assert (r.code, r.out, r.err) == (0, "Success! Data written to: redis/config/connections\n", "")
    r = consul("kv", "get", "redis/config/connections", addr=addr)
    assert (r.code, r.out) == (0, "5\n")
    # A leading slash is stripped, as Consul does for reads.
    assert consul("kv", "get", "/redis/config/connections", addr=addr).out == "5\n"


def test_get_missing_key(shared_agent: AgentProcess) -> None:
    r = consul("kv", "get", "no/such/key", addr=shared_agent.http_addr)
    assert (r.code, r.out, r.err) == (1, "", "Error! No key exists at: no/such/key\n")


def test_missing_key_argument() -> None:
    assert consul("kv", "get").err == "Error! Missing KEY argument\n"
    assert consul("kv", "put").err == "Error! Missing KEY argument\n"
    r = consul("kv", "put", "a", "b", "c")
    assert (r.code, r.err) == (1, "Error! Too many arguments (expected 1 or 2, got 3)\n")


def test_detailed_output(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    consul("kv", "put", "-flags=42", "detail/key", "value", addr=addr)
    r = consul("kv", "get", "-detailed", "detail/key", addr=addr)
    assert r.code == 0
    lines = r.out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["CreateIndex", "Flags", "Key", "LockIndex",
                                                "ModifyIndex", "Session", "Value"]
    # tabwriter: widest label (11 chars) plus 6 spaces of padding.
    assert lines[1] == "Flags            42"
    assert lines[2] == "Key              detail/key"
    assert lines[5] == "Session          -"
    assert lines[6] == "Value            value"
    assert lines[0].split()[1] == lines[4].split()[1]  # CreateIndex == ModifyIndex on first write


def test_recurse_keys_and_separator(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    for key, value in (("tree/a", "1"), ("tree/b/c", "2"), ("tree/b/d", "3")):
        assert consul("kv", "put", key, value, addr=addr).code == 0
    r = consul("kv", "get", "-recurse", "tree", addr=addr)
    assert r.out == "tree/a:1\ntree/b/c:2\ntree/b/d:3\n"
    r = consul("kv", "get", "-keys", "tree/", addr=addr)
    assert r.out == "tree/a\ntree/b/\n"
    r = consul("kv", "get", "-keys", "-separator=", "tree/", addr=addr)
    assert r.out == "tree/a\ntree/b/c\ntree/b/d\n"
    r = consul("kv", "get", "-recurse", "-base64", "tree/b/", addr=addr)
    assert r.out == "tree/b/c:Mg==\ntree/b/d:Mw==\n"


def test_recurse_detailed_blocks_are_separated_by_blank_lines(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    put(shared_agent, "blocks/1", "x")
    put(shared_agent, "blocks/2", "y")
    r = consul("kv", "get", "-recurse", "-detailed", "blocks/", addr=addr)
    blocks = r.out.split("\n\n")
    assert len(blocks) == 2
    assert "Key              blocks/1" in blocks[0] and "Value            y" in blocks[1]


def test_data_from_file_stdin_and_base64(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    lic = tmp_path / "license.lic"
    lic.write_bytes(b"line1\nline2")
    assert consul("kv", "put", "config/program/license", f"@{lic}", addr=addr).code == 0
    assert consul("kv", "get", "config/program/license", addr=addr).out == "line1\nline2\n"
    assert consul("kv", "put", "from/stdin", "-", addr=addr, stdin="abcd1234\n").code == 0
    assert consul("kv", "get", "from/stdin", addr=addr).out == "abcd1234\n\n"
    assert consul("kv", "put", "-base64", "from/b64", base64.b64encode(b"\x00\x01bin").decode(),
                  addr=addr).code == 0
    assert consul("kv", "get", "-base64", "from/b64", addr=addr).out == base64.b64encode(b"\x00\x01bin").decode() + "\n"
    assert consul("kv", "put", "webapp/beta/active", addr=addr).code == 0
    assert consul("kv", "get", "webapp/beta/active", addr=addr).out == "\n"
    r = consul("kv", "put", "x", f"@{tmp_path / 'missing'}", addr=addr)
    assert r.code == 1 and r.err.startswith("Error! Failed to read file: open ")


def test_check_and_set(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    put(shared_agent, "cas/key", "one")
    index = consul("kv", "get", "-detailed", "cas/key", addr=addr).out.splitlines()[4].split()[1]
    r = consul("kv", "put", "-cas", "-modify-index=1", "cas/key", "two", addr=addr)
    assert (r.code, r.err) == (1, "Error! Did not write to cas/key: CAS failed\n")
    r = consul("kv", "put", "-cas", f"-modify-index={index}", "cas/key", "two", addr=addr)
    assert (r.code, r.out) == (0, "Success! Data written to: cas/key\n")
    r = consul("kv", "put", "-cas", "cas/key", "three", addr=addr)
    assert (r.code, r.err) == (1, "Must specify -modify-index with -cas!\n")
    r = consul("kv", "delete", "-cas", "-modify-index=1", "cas/key", addr=addr)
    assert (r.code, r.err) == (1, "Error! Did not delete key cas/key: CAS failed\n")
    index = consul("kv", "get", "-detailed", "cas/key", addr=addr).out.splitlines()[4].split()[1]
    r = consul("kv", "delete", "-cas", f"-modify-index={index}", "cas/key", addr=addr)
    assert (r.code, r.out) == (0, "Success! Deleted key: cas/key\n")


def test_acquire_and_release_with_session(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    status, _, body = shared_agent.request("PUT", "/v1/session/create", {"Name": "cli-test"})
    assert status == 200
    session = json.loads(body)["ID"]
    r = consul("kv", "put", "-acquire", "locks/a", "held", addr=addr)
    assert (r.code, r.err) == (1, "Error! Missing -session (required with -acquire and -release)\n")
    r = consul("kv", "put", "-acquire", f"-session={session}", "locks/a", "held", addr=addr)
    assert (r.code, r.out) == (0, "Success! Lock acquired on: locks/a\n")
    detailed = consul("kv", "get", "-detailed", "locks/a", addr=addr).out
    assert f"Session          {session}" in detailed and "LockIndex        1" in detailed
    status, _, body = shared_agent.request("PUT", "/v1/session/create", {"Name": "other"})
    other = json.loads(body)["ID"]
    r = consul("kv", "put", "-acquire", f"-session={other}", "locks/a", addr=addr)
    assert (r.code, r.err) == (1, "Error! Did not acquire lock\n")
    r = consul("kv", "put", "-release", f"-session={session}", "locks/a", addr=addr)
    assert (r.code, r.out) == (0, "Success! Lock released on: locks/a\n")


def test_delete_and_recursive_delete(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    for key in ("del/a", "del/b/c", "delta"):
        put(shared_agent, key, "v")
    r = consul("kv", "delete", "-recurse", "del/", addr=addr)
    assert (r.code, r.out) == (0, "Success! Deleted keys with prefix: del/\n")
    assert consul("kv", "get", "-recurse", "del", addr=addr).out == "delta:v\n"
    assert consul("kv", "delete", "delta", addr=addr).out == "Success! Deleted key: delta\n"
    # Deleting a key that is not there succeeds, as in Consul.
    assert consul("kv", "delete", "never-was", addr=addr).code == 0
    assert consul("kv", "delete", addr=addr).err == "Error! Missing KEY argument\n"
    r = consul("kv", "delete", "-recurse", "-cas", "-modify-index=3", "x", addr=addr)
    assert r.err == "Cannot specify both -cas and -recurse!\n"


def test_export_import_round_trip(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    consul("kv", "put", "-flags=7", "vault/core/a", "<secret & more>", addr=addr)
    put(shared_agent, "vault/core/b", "béta")
    r = consul("kv", "export", "vault/", addr=addr)
    assert r.code == 0
    assert r.out.startswith('[\n\t{\n\t\t"key": "vault/core/a",\n\t\t"flags": 7,\n\t\t"value": ')
    exported = json.loads(r.out)
    assert [base64.b64decode(e["value"]).decode() for e in exported] == ["<secret & more>", "béta"]
    dump = tmp_path / "vault.json"
    dump.write_text(r.out)
    consul("kv", "delete", "-recurse", "vault/", addr=addr)
    r = consul("kv", "import", f"@{dump}", addr=addr)
    assert (r.code, r.out) == (0, "Imported: vault/core/a\nImported: vault/core/b\n")
    assert consul("kv", "get", "vault/core/a", addr=addr).out == "<secret & more>\n"
    assert consul("kv", "get", "-detailed", "vault/core/a", addr=addr).out.splitlines()[1] == "Flags            7"
    # From stdin, under a new prefix.
    r = consul("kv", "import", "-prefix=copy/", "-", addr=addr, stdin=dump.read_text())
    assert r.out == "Imported: copy/vault/core/a\nImported: copy/vault/core/b\n"
    assert consul("kv", "export", "nothing-here/", addr=addr).out == "[]\n"


def test_import_rejects_bad_json(shared_agent: AgentProcess) -> None:
    r = consul("kv", "import", "{not json", addr=shared_agent.http_addr)
    assert r.code == 1 and r.err.startswith("Cannot unmarshal data: ")
    assert consul("kv", "import", addr=shared_agent.http_addr).err == "Error! Missing DATA argument\n"


def test_datacenter_and_token_flags_reach_the_agent(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    r = consul("kv", "put", "-datacenter=dc1", "-token=anything", "dcflag", "ok", addr=addr)
    assert r.code == 0
    r = consul("kv", "get", "-datacenter=nope", "dcflag", addr=addr)
    assert r.code == 1 and r.err.startswith("Error querying Consul agent: Unexpected response code: ")
    assert consul("kv", "get", "-stale", "dcflag", addr=addr).out == "ok\n"
