"""pyregistrator against a real Docker engine and a real agent (walkthrough step 3.2).

Needs DOCKER_HOST pointing at an engine with the `nginx`/`httpd` busybox images
(scripts/dockerd.sh start). Latency bounds are the issue's user-visible promises (1 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pyregistrator.docker_env import (
    Containers,
    catalog,
    docker,
    engine_lock,
    http_get,
    inspect_ip,
    restart_engine,
    skip_reason,
    start_registrator,
)
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until

REASON = skip_reason()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

HOST = socket.gethostname()


@pytest.fixture
def containers() -> Iterator[Containers]:
    c = Containers()
    with engine_lock():
        try:
            yield c
        finally:
            c.remove_all()


def registered_within(agent: AgentProcess, prefix: str, want: set[str], timeout: float = 1.0) -> float:
    """Seconds until the catalog's services of `prefix` containers are exactly `want`."""
    start = time.monotonic()
    wait_until(lambda: set(catalog(agent, prefix)) == want, timeout, what=f"catalog == {sorted(want)}", interval=0.02)
    return time.monotonic() - start


def test_walkthrough_containers_register_and_deregister_within_a_second(
    tmp_path: Path, agent: AgentProcess, containers: Containers
) -> None:
    reg = start_registrator(tmp_path, agent, "-ip=127.0.0.1")
    try:
        ports: dict[str, int] = {}
        for n, image in (("test-01", "nginx"), ("test-02", "nginx"), ("test-03", "httpd"), ("test-04", "httpd")):
            ports[n] = free_port()
            containers.run(n, "-p", f"{ports[n]}:80", "-h", n.replace("-", ""), image=image)
            wait_until(lambda n=n: f"{HOST}:{containers.name(n)}:80" in catalog(agent, containers.prefix), 1.0, what=f"{n} in the catalog", interval=0.02)
        entries = catalog(agent, containers.prefix)
        for n, port in ports.items():
            e = entries[f"{HOST}:{containers.name(n)}:80"]
            assert (e["ServiceName"], e["ServiceAddress"], e["ServicePort"]) == (
                "nginx" if n in ("test-01", "test-02") else "httpd", "127.0.0.1", port
            )
            assert http_get(e["ServiceAddress"], e["ServicePort"]).strip() == "hello"
        containers.stop("test-02")
        registered_within(agent, containers.prefix, set(entries) - {f"{HOST}:{containers.name('test-02')}:80"})
    finally:
        reg.stop()


def test_ports_udp_overrides_and_ignore(tmp_path: Path, agent: AgentProcess, containers: Containers) -> None:
    reg = start_registrator(tmp_path, agent, "-ip", "127.0.0.1", "-tags", "dc1")
    try:
        p80, p53 = free_port(), free_port()
        containers.run(
            "multi", "-p", f"{p80}:80", "-p", f"{p53}:53/udp",
            "-e", "SERVICE_80_NAME=web", "-e", "SERVICE_TAGS=from-env", "-l", "SERVICE_TAGS=blue,green",
            "-e", "SERVICE_VERSION=3", "-l", "SERVICE_53_ID=dns-" + containers.prefix,
        )
        containers.run("ignored", "-p", f"{free_port()}:80", "-e", "SERVICE_IGNORE=true")
        containers.run("marker", "-p", f"{free_port()}:80")
        ids = {f"{HOST}:{containers.name('multi')}:80", "dns-" + containers.prefix, f"{HOST}:{containers.name('marker')}:80"}
        registered_within(agent, containers.prefix, ids)
        entries = catalog(agent, containers.prefix)
        web = entries[f"{HOST}:{containers.name('multi')}:80"]
        assert (web["ServiceName"], web["ServicePort"], web["ServiceTags"], web["ServiceMeta"]) == (
            "web", p80, ["blue", "green", "dc1"], {"version": "3"}
        )
        dns = entries["dns-" + containers.prefix]
        assert (dns["ServiceName"], dns["ServicePort"], dns["ServiceTags"]) == ("nginx-53", p53, ["blue", "green", "dc1", "udp"])
        assert entries[f"{HOST}:{containers.name('marker')}:80"]["ServiceName"] == "nginx"
    finally:
        reg.stop()


def test_internal_registers_container_address_and_exposed_port(
    tmp_path: Path, agent: AgentProcess, containers: Containers
) -> None:
    reg = start_registrator(tmp_path, agent, "-internal")
    try:
        name = containers.run("inner", "--expose", "9000")
        want = f"{HOST}:{name}:9000"
        # Port 80 is not exposed by the image, so 9000 is the only service: no -port suffix.
        wait_until(lambda: want in catalog(agent, containers.prefix), 1.0, what="the internal service", interval=0.02)
        e = catalog(agent, containers.prefix)[want]
        assert (e["ServiceName"], e["ServiceAddress"], e["ServicePort"]) == ("nginx", inspect_ip(name), 9000)
    finally:
        reg.stop()


def test_kill_9_then_changes_then_restart_leaves_no_zombie(
    tmp_path: Path, agent: AgentProcess, containers: Containers
) -> None:
    flags = ("-ip", "127.0.0.1", "-cleanup")
    reg = start_registrator(tmp_path, agent, *flags)
    sid = {s: f"{HOST}:{containers.name(s)}:80" for s in ("a", "b", "c")}
    try:
        for s in ("a", "b"):
            containers.run(s, "-p", f"{free_port()}:80")
        registered_within(agent, containers.prefix, {sid["a"], sid["b"]})
        reg.kill9()
        containers.stop("a")
        containers.run("c", "-p", f"{free_port()}:80")
        reg = start_registrator(tmp_path, agent, *flags)
        # The first sync already happened: no wait beyond polling the catalog.
        registered_within(agent, containers.prefix, {sid["b"], sid["c"]}, timeout=2.0)
    finally:
        reg.stop()


def test_agent_outage_loses_nothing(tmp_path: Path, containers: Containers) -> None:
    agent = start_agent(tmp_path / "agent")
    reg = None
    try:
        reg = start_registrator(tmp_path, agent, "-ip", "127.0.0.1")
        sid = {s: f"{HOST}:{containers.name(s)}:80" for s in ("a", "b", "c")}
        for s in ("a", "b"):
            containers.run(s, "-p", f"{free_port()}:80")
        registered_within(agent, containers.prefix, {sid["a"], sid["b"]})
        agent.stop()
        containers.stop("a")
        containers.run("c", "-p", f"{free_port()}:80")
        ports = {"http": agent.http_port, "dns": agent.dns_port, "server": agent.server_port,
                 "serf_lan": agent.serf_lan_port}
        agent = start_agent(tmp_path / "agent", ports=ports)  # -dev: it comes back empty
        registered_within(agent, containers.prefix, {sid["b"], sid["c"]}, timeout=3.0)
    finally:
        if reg is not None:
            reg.stop()
        agent.stop()


def test_engine_restart_leaves_catalog_matching_what_runs(tmp_path: Path, agent: AgentProcess) -> None:
    c = Containers()
    with engine_lock(exclusive=True):
        reg = start_registrator(tmp_path, agent, "-ip", "127.0.0.1")
        try:
            sid = {s: f"{HOST}:{c.name(s)}:80" for s in ("keep", "gone", "new")}
            c.run("keep", "--restart=always", "-p", f"{free_port()}:80")
            c.run("gone", "-p", f"{free_port()}:80")
            registered_within(agent, c.prefix, {sid["keep"], sid["gone"]})
            restart_engine()
            # `keep` comes back by its restart policy, `gone` stays stopped.
            registered_within(agent, c.prefix, {sid["keep"]}, timeout=10.0)
            c.run("new", "-p", f"{free_port()}:80")
            registered_within(agent, c.prefix, {sid["keep"], sid["new"]})
        finally:
            reg.stop()
            c.remove_all()


def test_pause_and_on_success_policy(tmp_path: Path, agent: AgentProcess, containers: Containers) -> None:
    reg = start_registrator(tmp_path, agent, "-ip", "127.0.0.1", "-deregister", "on-success")
    # `sh` as the service: SIGTERM from `docker stop` ends it with the trapped exit status.
    sid = {s: f"{HOST}:{containers.name(s)}:80" for s in ("paused", "fails", "succeeds")}
    try:
        for s, code in (("paused", 0), ("fails", 3), ("succeeds", 0)):
            command = ("sh", "-c", f"trap 'exit {code}' TERM; sleep 1000 & wait")
            containers.run(s, "-p", f"{free_port()}:80", command=command)
        registered_within(agent, containers.prefix, set(sid.values()))
        docker("pause", containers.name("paused"))
        registered_within(agent, containers.prefix, {sid["fails"], sid["succeeds"]})
        docker("unpause", containers.name("paused"))
        registered_within(agent, containers.prefix, set(sid.values()))
        containers.stop("fails")
        containers.stop("succeeds")
        # A failed container stays registered (its checks would show it), a clean exit does not.
        registered_within(agent, containers.prefix, {sid["paused"], sid["fails"]})
        docker("rm", containers.name("fails"))
        registered_within(agent, containers.prefix, {sid["paused"]})
    finally:
        reg.stop()


def test_resync_repairs_both_ways_with_cleanup(tmp_path: Path, agent: AgentProcess, containers: Containers) -> None:
    reg = start_registrator(tmp_path, agent, "-ip", "127.0.0.1", "-resync", "1", "-cleanup")
    try:
        name = containers.run("web", "-p", f"{free_port()}:80")
        want = f"{HOST}:{name}:80"
        registered_within(agent, containers.prefix, {want})
        # Someone removes ours, and a zombie of this host's registrator shows up.
        status, _, body = agent.request("PUT", "/v1/agent/service/deregister/" + want)
        assert status == 200, body
        zombie = {"ID": f"{HOST}:{containers.prefix}-zombie:80", "Name": "nginx", "Port": 1}
        status, _, body = agent.request("PUT", "/v1/agent/service/register", zombie)
        assert status == 200, body
        other = {"ID": f"{containers.prefix}-not-ours", "Name": "db", "Port": 2}
        agent.request("PUT", "/v1/agent/service/register", other)
        registered_within(agent, containers.prefix, {want, other["ID"]}, timeout=3.0)
    finally:
        reg.stop()


def test_same_compose_project_outside_a_compose_container_refuses_to_start(
    tmp_path: Path, agent: AgentProcess
) -> None:
    """The flag promises a filter it can only know from its own container; run on the host (no
    such container), registrator says so and exits 2 instead of registering everything."""
    with engine_lock():
        reg = start_registrator(tmp_path, agent, "-ip=127.0.0.1", "-same-compose-project", wait=False)
        try:
            wait_until(lambda: reg.proc.poll() is not None, 20, what="registrator exiting")
        finally:
            reg.stop()
    assert reg.proc.returncode == 2
    assert "-same-compose-project" in reg.log() and "com.docker.compose.project" in reg.log()
    assert "synced" not in reg.log()
