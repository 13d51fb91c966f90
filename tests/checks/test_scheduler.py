"""Scheduler rules on a fake clock: stagger, no overlap, TTL expiry, thresholds, deregister-after, alias."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.checks import CheckDefinitionError, CheckResult, CheckScheduler
from pyconsul.checks.thresholds import Thresholds
from pyconsul.clock import FakeClock
from tests.checks.conftest import HealthServer, Recorder, run_once
from tests.support.ports import free_port
from tests.support.wait import async_wait_until


async def test_ttl_check_expires_without_updates(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    scheduler.add({"CheckID": "app", "TTL": "30s"})
    assert scheduler.status("app") == ("critical", "")
    scheduler.ttl_update("app", "passing", "all good")
    assert recorder.last("app") == ("passing", "all good")
    clock.advance(29)
    await scheduler.run_due()
    assert recorder.last("app") == ("passing", "all good")
    scheduler.ttl_update("app", "warning", "busy")  # an update restarts the TTL
    clock.advance(29)
    await scheduler.run_due()
    assert recorder.last("app") == ("warning", "busy")
    clock.advance(2)
    await scheduler.run_due()
    assert recorder.last("app") == ("critical", "TTL expired (last output before timeout follows): busy")
    n = recorder.count("app")
    clock.advance(120)
    await scheduler.run_due()
    assert recorder.count("app") == n  # expiry is reported once, until the next update


async def test_ttl_expiry_without_any_output_and_bad_updates(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    scheduler.add({"CheckID": "quiet", "TTL": "5s", "Status": "passing"})
    assert scheduler.status("quiet")[0] == "passing"
    clock.advance(6)
    await scheduler.run_due()
    assert recorder.last("quiet") == ("critical", "TTL expired")
    with pytest.raises(KeyError):
        scheduler.ttl_update("nope", "passing", "")
    with pytest.raises(ValueError, match="Unknown check status"):
        scheduler.ttl_update("quiet", "fine", "")
    scheduler.add({"CheckID": "tcp", "TCP": "127.0.0.1:1", "Interval": "10s"})
    with pytest.raises(ValueError, match='CheckID "tcp" does not have associated TTL'):
        scheduler.ttl_update("tcp", "passing", "")
    long = "x" * 5000
    scheduler.ttl_update("quiet", "passing", long)
    assert recorder.last("quiet")[1] == "x" * 4096 + " ... (captured 4096 of 5000 bytes)"


async def test_first_runs_are_staggered_within_one_interval(recorder: Recorder, clock: FakeClock) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    addr = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    s = CheckScheduler(recorder, clock=clock, rng=random.Random(7))
    try:
        for i in range(40):
            s.add({"CheckID": f"c{i}", "TCP": addr, "Interval": "10s"})
        ran_per_second = []
        for _ in range(10):
            clock.advance(1)
            ran_per_second.append(await s.run_due())
        assert sum(ran_per_second) == 40  # each ran exactly once in its first interval...
        assert max(ran_per_second) < 40  # ...and not all at once
        assert sum(1 for n in ran_per_second if n) >= 5
        clock.advance(10)
        assert await s.run_due() == 40
    finally:
        await s.stop()
        server.close()


async def test_a_check_never_overlaps_itself(recorder: Recorder, clock: FakeClock, http_server: HealthServer) -> None:
    http_server.hold = asyncio.Event()
    s = CheckScheduler(recorder, clock=clock)
    try:
        s.add({"CheckID": "slow", "HTTP": http_server.url(), "Interval": "1s", "Timeout": "30s"})
        clock.advance(1)
        assert await s.run_due(wait=False) == 1
        for _ in range(5):
            clock.advance(1)
            assert await s.run_due(wait=False) == 0
        await async_wait_until(lambda: http_server.requests, 5, what="the slow check's request")
        assert len(http_server.requests) == 1
        assert s.skipped_runs == 5
        http_server.hold.set()
        await async_wait_until(lambda: recorder.count("slow"), 5, what="the slow check's result")
        assert recorder.last("slow")[0] == "passing"
        clock.advance(1)
        assert await s.run_due() == 1
        assert len(http_server.requests) == 2
    finally:
        await s.stop()


async def test_thresholds_hold_back_flapping(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock,
                                             http_server: HealthServer) -> None:
    scheduler.add({
        "CheckID": "web", "HTTP": http_server.url(), "Interval": "10s",
        "SuccessBeforePassing": 2, "FailuresBeforeWarning": 1, "FailuresBeforeCritical": 3,
    })
    await run_once(scheduler, clock, 10)
    assert recorder.count("web") == 0  # one success is not enough
    await run_once(scheduler, clock, 10)
    assert recorder.last("web")[0] == "passing"
    http_server.status = 500
    seen = []
    for _ in range(3):
        await run_once(scheduler, clock, 10)
        seen.append(recorder.last("web")[0])
    assert seen == ["warning", "warning", "critical"]


async def test_critical_too_long_is_reported_once_per_spell(recorder: Recorder, clock: FakeClock,
                                                            http_server: HealthServer) -> None:
    s = CheckScheduler(recorder, clock=clock, deregister_min=60, reap_interval=3)
    try:
        # below Consul's one-minute floor: raised to it
        s.add({"CheckID": "svc", "ServiceID": "web", "HTTP": http_server.url(), "Interval": "10s",
               "DeregisterCriticalServiceAfter": "30s"})
        http_server.status = 500
        for _ in range(5):
            await run_once(s, clock, 10)
        assert recorder.reaped == []
        for _ in range(3):
            await run_once(s, clock, 10)
        assert recorder.reaped == ["svc"]
        for _ in range(10):
            await run_once(s, clock, 10)
        assert recorder.reaped == ["svc"]
        http_server.status = 200
        await run_once(s, clock, 10)
        http_server.status = 500
        for _ in range(8):
            await run_once(s, clock, 10)
        assert recorder.reaped == ["svc", "svc"]
    finally:
        await s.stop()


async def test_remove_and_replace(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock,
                                  http_server: HealthServer) -> None:
    scheduler.add({"CheckID": "a", "HTTP": http_server.url(), "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    assert scheduler.status("a")[0] == "passing"
    # Re-adding (a reload) keeps the current status instead of resetting to critical.
    scheduler.add({"CheckID": "a", "HTTP": http_server.url("/other"), "Interval": "10s"})
    assert scheduler.status("a")[0] == "passing"
    assert scheduler.remove("a") is True
    n = recorder.count("a")
    await run_once(scheduler, clock, 10)
    assert recorder.count("a") == n and scheduler.check_ids() == []
    assert scheduler.remove("a") is False


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"CheckID": "x", "HTTP": "http://127.0.0.1/"}, "Interval must be > 0"),
        ({"CheckID": "x", "TTL": "10s", "Interval": "10s"}, "Interval and TTL cannot both be specified"),
        ({"CheckID": "x"}, "TTL must be > 0"),
        ({"CheckID": "x", "TCP": "127.0.0.1:1", "Interval": "soon"}, "Interval"),
        ({"CheckID": "x", "TTL": "10s", "Status": "fine"}, "Status must be one of"),
        ({"TTL": "10s"}, "missing CheckID"),
    ],
)
def test_invalid_definitions(recorder: Recorder, definition: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckDefinitionError, match=message):
        CheckScheduler(recorder).add(definition)


class LocalHealth:
    """The agent's view of its checks, as the alias check reads it."""

    def __init__(self) -> None:
        self.checks: dict[str, list[dict[str, Any]]] = {}

    def checks_of(self, node: str, service_id: str) -> list[dict[str, Any]] | None:
        return self.checks.get(service_id)


async def test_alias_check_mirrors_the_aliased_service(recorder: Recorder, clock: FakeClock) -> None:
    health = LocalHealth()
    s = CheckScheduler(recorder, clock=clock, alias_source=health)
    try:
        s.add({"CheckID": "alias", "AliasService": "db"})
        await s.run_due()
        assert recorder.last("alias")[0] == "critical"
        health.checks["db"] = [{"CheckID": "c1", "Name": "db ping", "ServiceID": "db", "Status": "passing"}]
        s.notify_state_changed()
        await s.run_due()
        assert recorder.last("alias") == ("passing", "All checks passing.")
        health.checks["db"].append({"CheckID": "c2", "Name": "disk", "ServiceID": "db", "Status": "warning",
                                    "Output": "80% full"})
        s.notify_state_changed()
        await s.run_due()
        assert recorder.last("alias") == ("warning", "Aliased check 'disk' failing: 80% full")
    finally:
        await s.stop()


async def test_start_runs_checks_on_the_real_clock(recorder: Recorder, http_server: HealthServer) -> None:
    s = CheckScheduler(recorder)
    s.add({"CheckID": "live", "HTTP": http_server.url(), "Interval": "1s"})
    s.add({"CheckID": "down", "TCP": f"127.0.0.1:{free_port()}", "Interval": "1s"})
    await s.start()
    try:
        await async_wait_until(lambda: recorder.count("live") >= 2 and recorder.count("down") >= 1, 10,
                               what="two live results and one down result", interval=0.05)
        assert recorder.count("live") >= 2
        assert recorder.last("down")[0] == "critical"
    finally:
        await s.stop()


@settings(deadline=None)
@given(
    st.integers(0, 4), st.integers(0, 4), st.integers(0, 4),
    st.lists(st.sampled_from(["passing", "warning", "critical"]), max_size=30),
)
def test_thresholds_report_only_after_enough_agreeing_results(
    sbp: int, fbw: int, fbc: int, results: list[str]
) -> None:
    t = Thresholds(sbp, fbw, fbc)
    warn_at = fbw if fbw > 0 else fbc
    ok_run = bad_run = 0
    for status in results:
        got = t.apply(CheckResult(status, "out"))
        if status == "critical":
            bad_run, ok_run = bad_run + 1, 0
            if bad_run >= fbc:
                assert got == CheckResult("critical", "out")
            elif bad_run >= warn_at:
                assert got == CheckResult("warning", "out")
            else:
                assert got is None
        else:
            ok_run, bad_run = ok_run + 1, 0
            assert got == (CheckResult(status, "out") if ok_run >= sbp else None)


async def test_from_config_applies_the_agents_check_settings(recorder: Recorder, clock: FakeClock) -> None:
    from pyconsul.config.loader import load_agent_config

    rc = load_agent_config(["-dev", "-enable-local-script-checks", "-hcl",
                            'check_output_max_size = 10\ncheck_deregister_interval_min = "5s"\ncheck_reap_interval = "1s"'])
    s = CheckScheduler.from_config(recorder, rc, clock=clock)
    try:
        s.add({"CheckID": "s", "ServiceID": "svc", "Args": ["sh", "-c", "echo 0123456789abcdef; exit 2"],
               "Interval": "10s", "DeregisterCriticalServiceAfter": "1s"})
        with pytest.raises(CheckDefinitionError, match="from remote calls"):
            s.add({"CheckID": "r", "Args": ["true"], "Interval": "10s"}, local=False)
        await run_once(s, clock, 10)
        assert recorder.last("s") == ("critical", "Captured 10 of 17 bytes\n...\n789abcdef\n")
        clock.advance(1)
        await s.run_due()
        assert recorder.reaped == ["s"]  # critical (its initial status) for longer than the 5 s floor
    finally:
        await s.stop()

    quiet = CheckScheduler.from_config(recorder, load_agent_config(["-dev", "-hcl", "discard_check_output = true"]),
                                       clock=clock)
    quiet.add({"CheckID": "q", "TTL": "10s"})
    quiet.ttl_update("q", "passing", "noisy output")
    assert recorder.last("q") == ("passing", "")


@pytest.mark.parametrize(
    ("definition", "timeout"),
    [
        ({"HTTP": "http://x/", "Interval": "3s"}, 3.0),
        ({"HTTP": "http://x/", "Interval": "1m"}, 10.0),
        ({"TCP": "x:1", "Interval": "500ms"}, 1.0),  # the interval itself is raised to Consul's 1 s floor
        ({"Args": ["true"], "Interval": "3s"}, 30.0),
        ({"GRPC": "x:1", "Interval": "10s", "Timeout": "250ms"}, 0.25),
    ],
)
def test_default_timeouts_follow_consul(definition: dict[str, Any], timeout: float) -> None:
    from pyconsul.checks import CheckSpec

    assert CheckSpec.from_definition({"CheckID": "c", **definition}).timeout == timeout


check_values = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.text(max_size=8) | st.lists(
    st.text(max_size=4), max_size=2) | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
CHECK_KEYS = ["CheckID", "ID", "Name", "HTTP", "TCP", "UDP", "TTL", "Args", "ScriptArgs", "GRPC", "H2PING",
              "DockerContainerID", "AliasService", "Interval", "Timeout", "Status", "SuccessBeforePassing",
              "FailuresBeforeWarning", "FailuresBeforeCritical", "DeregisterCriticalServiceAfter", "OutputMaxSize",
              "Header", "Method"]


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(CHECK_KEYS), check_values, max_size=8))
def test_any_definition_is_scheduled_or_refused_with_a_reason(definition: dict[str, Any]) -> None:
    s = CheckScheduler(Recorder(), clock=FakeClock(), enable_script_checks=True)
    try:
        s.add(definition)
    except CheckDefinitionError as exc:
        assert str(exc)
    else:
        assert s.check_ids() == [str(definition.get("CheckID") or definition.get("ID"))]
