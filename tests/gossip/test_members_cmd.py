"""`consul members` against a real agent, and its table for the seed's five-machine layout."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from pyconsul.cli.members_cmd import normalise, run, sort_key, standard_rows
from pyconsul.cli.output import columnize
from pyconsul.gossip.membership import Member, member_json
from tests.support.agents import AgentProcess
from tests.support.ports import free_port


def seed_members() -> list[dict[str, object]]:
    """3 servers and 2 clients as in seed 001, in the JSON shape of /v1/agent/members."""
    out = []
    for ip, role in (("172.19.0.3", "consul"), ("172.19.0.4", "consul"), ("172.19.0.5", "consul"),
                     ("172.19.0.8", "node"), ("172.19.0.9", "node")):
        tags = {"role": role, "dc": "dc1", "segment": "", "build": "1.17.0:pyconsul", "vsn": "2", "id": ip}
        if role == "consul":
            tags["port"] = "8300"
        out.append(member_json(Member(ip, ip, 8301, tags, "alive")))
    return out


def test_seed_layout_prints_servers_first_in_aligned_columns() -> None:
    members = seed_members()
    random.Random(3).shuffle(members)
    normalise(members, "_all")
    members.sort(key=sort_key)
    assert columnize(standard_rows(members)) == "\n".join([
        "Node        Address          Status  Type    Build   Protocol  DC   Partition  Segment",
        "172.19.0.3  172.19.0.3:8301  alive   server  1.17.0  2         dc1  default    <all>",
        "172.19.0.4  172.19.0.4:8301  alive   server  1.17.0  2         dc1  default    <all>",
        "172.19.0.5  172.19.0.5:8301  alive   server  1.17.0  2         dc1  default    <all>",
        "172.19.0.8  172.19.0.8:8301  alive   client  1.17.0  2         dc1  default    <default>",
        "172.19.0.9  172.19.0.9:8301  alive   client  1.17.0  2         dc1  default    <default>",
    ])


def test_failed_and_left_members_show_their_status_words() -> None:
    members = [member_json(Member("a", "10.0.0.1", 8301, {"role": "node"}, "failed")),
               member_json(Member("b", "10.0.0.2", 8301, {"role": "node"}, "left"))]
    normalise(members, "_all")
    rows = standard_rows(members)
    assert [r[2] for r in rows[1:]] == ["failed", "left"]


def test_members_lists_the_agent_as_an_alive_server(shared_agent: AgentProcess,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-http-addr", shared_agent.http_addr]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition",
                                "Segment"]
    me = [line.split() for line in lines[1:] if line.split()[0] == "agent"]
    assert me and me[0][2:] == ["alive", "server", "1.17.0", "2", "dc1", "default", "<all>"]
    assert me[0][1] == f"127.0.0.1:{shared_agent.serf_lan_port}"


def test_detailed_shows_all_tags_sorted(shared_agent: AgentProcess, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-detailed", "-http-addr", shared_agent.http_addr]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Node", "Address", "Status", "Tags"]
    tags = dict(kv.split("=", 1) for kv in lines[1].split()[3].split(","))
    assert tags["role"] == "consul" and tags["segment"] == "<all>" and tags["ap"] == "default"
    assert list(tags) == sorted(tags)


def test_status_filter_is_a_regexp_and_no_match_exits_2(shared_agent: AgentProcess,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONSUL_HTTP_ADDR", shared_agent.http_addr)
    assert run(["-status", "fail|left"]) == 2
    assert capsys.readouterr().out == ""
    assert run(["-status=^ali"]) == 0
    assert "alive" in capsys.readouterr().out
    assert run(["-status", "("]) == 1
    assert capsys.readouterr().err.startswith("Failed to compile status regexp: ")


def test_unreachable_agent_prints_consuls_error_and_exits_1() -> None:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "pyconsul", "members", f"-http-addr=127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (f'Error retrieving members: Get "http://127.0.0.1:{port}/v1/agent/members?segment=_all": '
                           f"dial tcp 127.0.0.1:{port}: connect: connection refused\n")
