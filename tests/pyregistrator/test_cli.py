"""Command line as registrator takes it (Go flag syntax), registry URIs, Docker event parsing."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyregistrator import flags
from pyregistrator.__main__ import FLAGS, settings_from_args
from pyregistrator.consul_client import UsageError, parse_registry_uri
from pyregistrator.events import Backoff, ContainerEvent, parse_event
from tests.support.wait import wait_until


def test_walkthrough_command_line() -> None:
    s = settings_from_args(["--ip=192.168.2.103", "consul://192.168.2.102:8500"], hostname="vm")
    assert s.mapping.host_ip == "192.168.2.103"
    assert s.uri.base_url == "http://192.168.2.102:8500"


def test_all_registrator_flags() -> None:
    s = settings_from_args(
        [
            "-ip", "10.0.0.1", "-internal", "-explicit", "-tags=a,b", "-ttl", "30", "-ttl-refresh", "10",
            "-resync", "60", "-cleanup", "-deregister", "on-success", "-retry-attempts", "-1",
            "-retry-interval", "500", "-useIpFromLabel", "ip", "consul-unix:///run/consul.sock",
        ],
        hostname="vm",
    )
    m, o = s.mapping, s.options
    assert (m.host_ip, m.internal, m.explicit, m.force_tags, m.use_ip_from_label) == ("10.0.0.1", True, True, "a,b", "ip")
    assert (o.resync, o.refresh, o.cleanup, o.deregister) == (60, 10, True, "on-success")
    assert (s.retry_attempts, s.retry_interval) == (-1, 0.5)
    assert (s.uri.scheme, s.uri.address) == ("consul-unix", "/run/consul.sock")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "Missing required argument"),
        (["consul://", "-ip", "1.2.3.4"], "Extra unparsed arguments"),  # Go stops at the URI
        (["-nope", "consul://"], "flag provided but not defined: -nope"),
        (["-ttl", "x", "consul://"], 'invalid value "x" for flag -ttl'),
        (["-cleanup=maybe", "consul://"], "invalid boolean value"),
        (["consul://", "-ip"], "Extra unparsed arguments"),
        (["-ip"], "flag needs an argument: -ip"),
    ],
)
def test_bad_command_lines(argv: list[str], message: str) -> None:
    with pytest.raises(flags.FlagError, match=message):
        settings_from_args(argv, hostname="vm")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-ttl", "5", "consul://"], "must be specified together"),
        (["-ttl", "5", "-ttl-refresh", "5", "consul://"], "-ttl must be greater than -ttl-refresh"),
        (["-deregister", "never", "consul://"], '"always" or "on-success"'),
        (["-retry-interval", "0", "consul://"], "greater than 0"),
        (["etcd://127.0.0.1:2379"], "unrecognized adapter"),
        (["consul://host:99999"], "bad port"),
    ],
)
def test_bad_values(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        settings_from_args(argv, hostname="vm")


def test_bad_command_line_exits_2_with_usage_and_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pyregistrator", "-deregister", "sometimes", "consul://"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2
    assert "-deregister must be" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "pyregistrator"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "-retry-attempts int" in proc.stderr
    assert "-script-checks" in proc.stderr and "sh -c on this host" in proc.stderr


def test_unreachable_agent_at_startup_exits_1() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pyregistrator", "-retry-attempts", "1", "-retry-interval", "50", "consul://127.0.0.1:9"],
        capture_output=True, text=True, timeout=30, env={"DOCKER_HOST": "unix:///nonexistent.sock", "PATH": "/bin"},
    )
    assert proc.returncode == 1
    assert "Connecting to backend (1/1)" in proc.stderr
    assert "cannot reach the Consul agent" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("uri", "base"),
    [
        ("consul://", "http://127.0.0.1:8500"),
        ("consul://10.0.0.1:8500", "http://10.0.0.1:8500"),
        ("consul://consul.local", "http://consul.local:8500"),
        ("consul-tls://10.0.0.1:8501", "https://10.0.0.1:8501"),
    ],
)
def test_registry_uris(uri: str, base: str) -> None:
    assert parse_registry_uri(uri).base_url == base


@given(st.lists(st.sampled_from(["-internal", "-cleanup", "-explicit", "--internal", "-cleanup=false"])))
def test_bool_flags_take_no_separate_value(argv: list[str]) -> None:
    values, rest = flags.parse(FLAGS, [*argv, "consul://"])
    assert rest == ["consul://"]
    last = {a.lstrip("-").split("=")[0]: not a.endswith("=false") for a in argv}
    for name, value in last.items():
        assert values[name] is value


def test_docker_events_are_parsed() -> None:
    start = {"status": "start", "id": "abc", "Type": "container", "Action": "start",
             "Actor": {"ID": "abc", "Attributes": {"name": "x"}}, "timeNano": 5}
    assert parse_event(start) == ContainerEvent("start", "abc", 5)
    health = {"Type": "container", "Action": "health_status: healthy", "Actor": {"ID": "abc"}}
    assert parse_event(health) == ContainerEvent("health_status", "abc", 0)
    assert parse_event({"Type": "network", "Action": "connect", "Actor": {"ID": "n"}}) is None
    die = parse_event({"Type": "container", "Action": "die", "Actor": {"ID": "abc", "Attributes": {"exitCode": "137"}}})
    assert die is not None and die.final_state() == {"Running": False, "Paused": False, "Restarting": False, "ExitCode": 137}
    assert parse_event(start).final_state() is None  # only a death is known without inspecting
    assert parse_event({"Type": "container", "Action": "exec_start: sh", "Actor": {"ID": "abc"}}) is None


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    b = Backoff(0.1, 0.5)
    assert [b.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.next_delay() == 0.1


def test_sigterm_while_waiting_for_the_agent_exits_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "reg.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyregistrator", "-retry-attempts", "-1", "-retry-interval", "50", "consul://127.0.0.1:9"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "Connecting to backend (1/-1)" in log.read_text(), 20, what="a retry", interval=0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
