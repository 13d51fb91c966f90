"""`consul watch`: print once without a handler; with one, run it on every change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def test_key_watch_prints_once_with_four_space_indent(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    assert shared_agent.request("PUT", "/v1/kv/watch/one", b"1")[0] == 200
    r = consul("watch", "-type=key", "-key=watch/one", addr=addr)
    assert r.code == 0
    assert r.out.startswith('{\n    "Key": "watch/one",\n    "CreateIndex": ')
    data = json.loads(r.out)
    assert list(data) == ["Key", "CreateIndex", "ModifyIndex", "LockIndex", "Flags", "Value", "Session"]
    assert data["Value"] == "MQ=="
    assert consul("watch", "-type=key", "-key=watch/absent", addr=addr).out == "null\n"


@pytest.mark.parametrize(("args", "check"), [
    (["-type=keyprefix", "-prefix=watch/"], lambda d: any(p["Key"] == "watch/one" for p in d)),
    (["-type=services"], lambda d: "consul" in d),
    (["-type=nodes"], lambda d: d[0]["Node"] == "agent"),
    (["-type=service", "-service=consul", "-passingonly=true"], lambda d: d[0]["Service"]["Service"] == "consul"),
    (["-type=checks", "-state=passing"], lambda d: any(c["CheckID"] == "serfHealth" for c in d)),
])
def test_each_watch_type_without_handler(shared_agent: AgentProcess, args: list[str], check) -> None:  # type: ignore[no-untyped-def]
    assert shared_agent.request("PUT", "/v1/kv/watch/one", b"1")[0] == 200
    r = consul("watch", *args, addr=shared_agent.http_addr)
    assert r.code == 0, r.err
    assert check(json.loads(r.out))


def test_event_watch_lists_fired_events(shared_agent: AgentProcess) -> None:
    consul("event", "-name=watched", "payload", addr=shared_agent.http_addr)
    r = consul("watch", "-type=event", "-name=watched", addr=shared_agent.http_addr)
    events = json.loads(r.out)
    assert events[-1]["Name"] == "watched" and events[-1]["Payload"] == "cGF5bG9hZA=="


def test_handler_gets_json_on_stdin_for_each_change(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    assert shared_agent.request("PUT", "/v1/kv/watch/h", b"first")[0] == 200
    out = tmp_path / "calls"
    out.mkdir()
    handler = f'cat > {out}/call.$CONSUL_INDEX.$$'
    proc = subprocess.Popen([sys.executable, "-m", "pyconsul", "watch", "-type=key", "-key=watch/h", handler],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(CONSUL_HTTP_ADDR=addr))
    try:
        def calls() -> list[dict]:  # type: ignore[type-arg]
            found = []
            for f in sorted(out.iterdir(), key=lambda p: int(p.name.split(".")[1])):
                text = f.read_text()
                if text.endswith("\n"):
                    found.append(json.loads(text))
            return found

        wait_until(lambda: len(calls()) >= 1, 20, what="the first handler call")
        assert calls()[0]["Value"] == "Zmlyc3Q="  # "first"
        assert shared_agent.request("PUT", "/v1/kv/watch/h", b"second")[0] == 200
        wait_until(lambda: len(calls()) >= 2, 20, what="the second handler call")
        seen = calls()
        assert seen[-1]["Value"] == "c2Vjb25k"  # "second"
        # CONSUL_INDEX is the blocking index of that result: the key's ModifyIndex here.
        newest = max(out.iterdir(), key=lambda p: int(p.name.split(".")[1]))
        assert int(newest.name.split(".")[1]) == seen[-1]["ModifyIndex"]
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_failing_handler_stops_the_watch(shared_agent: AgentProcess) -> None:
    r = consul("watch", "-type=services", "exit 1", addr=shared_agent.http_addr)
    assert (r.code, r.err) == (1, "Error executing handler: exit status 1\n")


def test_handler_without_shell(shared_agent: AgentProcess, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    r = consul("watch", "-type=nodes", "-shell=false", sys.executable, "-c",
               f"import sys; open({str(target)!r}, 'w').write(sys.stdin.read()); sys.exit(1)",
               addr=shared_agent.http_addr)
    assert r.code == 1
    assert json.loads(target.read_text())[0]["Node"] == "agent"


def test_argument_errors(shared_agent: AgentProcess) -> None:
    r = consul("watch")
    assert r.code == 1 and r.err.startswith("Watch type must be specified\n\nUsage: consul watch")
    assert consul("watch", "-type=key").err == "Must specify a single key to watch\n"
    assert consul("watch", "-type=service").err == "Must specify a single service to watch\n"
    assert consul("watch", "-type=checks", "-service=a", "-state=any").err == "Cannot specify service and state\n"
    assert consul("watch", "-type=nope").err == "Unsupported watch type: nope\n"
    r = consul("watch", "-type=service", "-service=x", "-passingonly=maybe")
    assert r.err.startswith("Failed to parse passingonly flag: ")
