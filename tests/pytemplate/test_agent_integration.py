"""pytemplate against a real `pyconsul agent -dev` over HTTP blocking queries."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pyconsul.client.settings import ClientSettings
from pytemplate.client import HttpConsulClient
from pytemplate.config import Config, ConsulSettings, TemplateConfig
from pytemplate.runner import Runner
from tests.pytemplate.helpers import TemplateProcess, deregister, kv_put, read, register
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.support.wait import async_wait_until, wait_until

SERVERS = '{{ range service "%s" }}server {{ .Address }}:{{ .Port }};\n{{ end }}'


def test_once_renders_runs_the_command_and_exits(shared_agent: AgentProcess, tmp_path: Path) -> None:
    register(shared_agent, "once-web", "once-web-1", 9001)
    register(shared_agent, "once-web", "once-web-2", 9002, address="127.0.0.2")
    kv_put(shared_agent, "once/greeting", "hello")
    src = tmp_path / "in.ctmpl"
    src.write_text(SERVERS % "once-web" + '{{ key "once/greeting" }}\n')
    out, marks = tmp_path / "out.conf", tmp_path / "marks"
    proc = subprocess.run(
        [sys.executable, "-m", "pytemplate", "once", "-consul-addr", shared_agent.http_addr,
         "-template", f"{src}:{out}:echo ran >> {marks}"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "server 127.0.0.1:9001;\nserver 127.0.0.2:9002;\nhello\n"
    assert marks.read_text() == "ran\n"


def test_watch_blocks_on_a_missing_key_then_follows_changes(shared_agent: AgentProcess, tmp_path: Path) -> None:
    src = tmp_path / "in.ctmpl"
    src.write_text('max {{ key "watch/max" }};\n' + SERVERS % "watch-web")
    out = tmp_path / "out.conf"
    register(shared_agent, "watch-web", "watch-web-1", 9101)
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{src}:{out}",
                        "-log-level", "debug")
    try:
        # Not rendered while the key is missing (consul-template's `key` blocks).
        wait_until(lambda: "kv.block(watch/max): value absent" in p.log(), 20.0, what="blocking on the key")
        assert not out.exists()
        kv_put(shared_agent, "watch/max", "10")
        wait_until(lambda: read(out) == "max 10;\nserver 127.0.0.1:9101;\n", 20.0, what="first render")
        register(shared_agent, "watch-web", "watch-web-2", 9102)
        wait_until(lambda: "9102" in read(out), 20.0, what="new instance")
        deregister(shared_agent, "watch-web-1")
        wait_until(lambda: "9101" not in read(out), 20.0, what="instance gone")
        kv_put(shared_agent, "watch/max", "20")
        wait_until(lambda: read(out) == "max 20;\nserver 127.0.0.1:9102;\n", 20.0, what="key change")
        assert p.alive()
    finally:
        assert p.stop() == 0, p.log()


def test_critical_instances_are_left_out(shared_agent: AgentProcess, tmp_path: Path) -> None:
    register(shared_agent, "health-web", "health-ok", 9201)
    register(shared_agent, "health-web", "health-bad", 9202, check={"TTL": "30s", "Status": "critical"})
    src = tmp_path / "in.ctmpl"
    src.write_text(SERVERS % "health-web" + '{{ range service "health-web" "any" }}{{ .ID }}={{ .Status }} {{ end }}')
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", shared_agent.http_addr,
                           "-template", f"{src}:{out}"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "server 127.0.0.1:9201;\nhealth-bad=critical health-ok=passing "


async def test_templates_share_one_view_per_dependency_and_one_command_per_pass(
        shared_agent: AgentProcess, tmp_path: Path) -> None:
    register(shared_agent, "share-web", "share-web-1", 9301)
    marks = tmp_path / "marks"
    templates = [
        TemplateConfig(contents=SERVERS % "share-web" + f"# file {i}\n", destination=str(tmp_path / f"{i}.conf"),
                       command=f"echo pass >> {marks}")
        for i in range(20)
    ]
    cfg = Config(consul=ConsulSettings(client=ClientSettings.at(shared_agent.http_addr)), templates=templates, max_stale=0)
    client = HttpConsulClient(shared_agent.http_addr)
    runner = Runner(cfg, client, out=io.StringIO())
    task = asyncio.create_task(runner.run())
    try:
        await async_wait_until(lambda: read(marks) == "pass\n", 20.0, what="first pass")
        assert len(runner.watcher) == 1  # twenty templates, one blocking query
        assert runner.stats.writes == 20 and runner.stats.command_runs == 1
        register(shared_agent, "share-web", "share-web-2", 9302)
        await async_wait_until(lambda: read(marks) == "pass\npass\n", 20.0, what="second pass")
        assert all("9302" in read(tmp_path / f"{i}.conf") for i in range(20))
        assert runner.stats.command_runs == 2 and runner.stats.writes == 40
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()


def test_failing_command_is_logged_and_retried_on_the_next_change(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "fail/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "fail/v" }}')
    out, attempts, gate = tmp_path / "out", tmp_path / "attempts", tmp_path / "gate-open"
    # The command fails until the gate file exists.
    cmd = f"echo try >> {attempts}; test -e {gate}"
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{src}:{out}:{cmd}")
    try:
        wait_until(lambda: read(attempts).count("try") == 1, 20.0, what="first attempt")
        wait_until(lambda: "failed" in p.log(), 20.0, what="failure logged")
        assert p.alive()
        gate.touch()
        kv_put(shared_agent, "fail/other", "x")  # unrelated: no pass, no retry
        kv_put(shared_agent, "fail/v", "2")
        wait_until(lambda: read(attempts).count("try") == 2, 20.0, what="retry")
        kv_put(shared_agent, "fail/v", "2")  # same value: no rewrite, and the command now succeeded
        kv_put(shared_agent, "fail/v", "3")
        wait_until(lambda: read(attempts).count("try") == 3 and read(out) == "3", 20.0, what="next change")
        assert p.alive()
    finally:
        assert p.stop() == 0


def test_command_timeout_kills_a_hung_command(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "hang/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "hang/v" }}')
    cfg = tmp_path / "c.hcl"
    cfg.write_text(f'template {{\n source = "{src}"\n destination = "{tmp_path}/out"\n'
                   f' command = "sleep 30"\n command_timeout = "300ms"\n}}\n')
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-config", str(cfg))
    try:
        wait_until(lambda: "timed out" in p.log(), 20.0, what="timeout logged")
        kv_put(shared_agent, "hang/v", "2")
        wait_until(lambda: read(tmp_path / "out") == "2", 20.0, what="watcher still rendering")
    finally:
        assert p.stop() == 0


def test_sighup_reloads_and_sigterm_stops_cleanly(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "hup/v", "v")
    src, src2 = tmp_path / "in.ctmpl", tmp_path / "in2.ctmpl"
    src.write_text('one {{ key "hup/v" }}')
    src2.write_text('second {{ key "hup/v" }}')
    out, out2, pid, conf_dir = tmp_path / "out", tmp_path / "out2", tmp_path / "pt.pid", tmp_path / "conf.d"
    conf_dir.mkdir()
    (conf_dir / "a.hcl").write_text(f'template {{\n  source = "{src}"\n  destination = "{out}"\n}}\n')
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-config", str(conf_dir),
                        "-pid-file", str(pid))
    try:
        wait_until(lambda: read(out) == "one v", 20.0, what="first render")
        assert read(pid).strip() == str(p.proc.pid)
        src.write_text('two {{ key "hup/v" }}')
        (conf_dir / "b.json").write_text(json.dumps({"template": {"source": str(src2), "destination": str(out2)}}))
        p.signal(signal.SIGHUP)
        wait_until(lambda: read(out) == "two v" and read(out2) == "second v", 20.0, what="reloaded templates and config")
        (conf_dir / "c.hcl").write_text("template {\n  broken")
        p.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed, keeping the old configuration" in p.log(), 20.0, what="bad reload refused")
        kv_put(shared_agent, "hup/v", "w")
        wait_until(lambda: read(out) == "two w" and read(out2) == "second w", 20.0, what="still watching")
    finally:
        assert p.stop() == 0, p.log()
    assert not pid.exists()


def test_dry_prints_instead_of_writing(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "dry/v", "x")
    src = tmp_path / "in.j2"
    src.write_text("value={{ key('dry/v') }} default={{ key_or_default('dry/none', 'd') }}\n")
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-dry", "-consul-addr",
                           shared_agent.http_addr, "-template", f"{src}:{tmp_path}/out"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"> {tmp_path}/out\nvalue=x default=d\n"
    assert not (tmp_path / "out").exists()


def test_survives_an_agent_restart_whose_index_goes_backwards(tmp_path: Path) -> None:
    ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
    agent = start_agent(tmp_path / "a1", ports=ports)
    try:
        for i in range(30):  # push the index well past what a fresh agent will report
            kv_put(agent, f"restart/filler{i}", "x")
        kv_put(agent, "restart/v", "before")
        src = tmp_path / "in.ctmpl"
        src.write_text('{{ key "restart/v" }}')
        out = tmp_path / "out"
        p = TemplateProcess(tmp_path, "-consul-addr", agent.http_addr, "-template", f"{src}:{out}",
                            "-consul-retry-backoff", "50ms", "-consul-retry-max-backoff", "200ms",
                            "-consul-retry-attempts", "0",
                            "-log-level", "debug")
        try:
            wait_until(lambda: read(out) == "before", 20.0, what="first render")
            agent.kill9()  # a crash; the restarted -dev agent has an empty store and a small index
            agent = start_agent(tmp_path / "a2", ports=ports)
            kv_put(agent, "restart/v", "after")
            wait_until(lambda: read(out) == "after", 20.0, what="render after restart")
            assert p.alive()
            assert "index went backwards; resetting" in p.log()
        finally:
            assert p.stop() == 0
    finally:
        agent.stop()


def test_environment_address_is_used(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "envaddr/v", "ok")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "envaddr/v" }} {{ env "PT_TEST_VAR" }}')
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-template", f"{src}:{tmp_path}/out"],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "CONSUL_HTTP_ADDR": shared_agent.http_addr, "PT_TEST_VAR": "v"})
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "out") == "ok v"


@pytest.mark.parametrize("engine_suffix", [".ctmpl", ".j2"])
def test_node_nodes_services_and_tree(shared_agent: AgentProcess, tmp_path: Path, engine_suffix: str) -> None:
    register(shared_agent, "tree-web", "tree-web-1", 9401, tags=["blue"])
    kv_put(shared_agent, "tree/a", "1")
    kv_put(shared_agent, "tree/sub/b", "2")
    if engine_suffix == ".ctmpl":
        text = ('{{ with node }}{{ .Node.Node }}{{ end }}|{{ range nodes }}{{ .Node }}{{ end }}|'
                '{{ range services }}{{ if eq .Name "tree-web" }}{{ .Name }}{{ .Tags }}{{ end }}{{ end }}|'
                '{{ range tree "tree" }}{{ .Key }}={{ .Value }};{{ end }}|{{ range ls "tree" }}{{ .Key }}{{ end }}|'
                '{{ datacenters }}')
    else:
        text = ("{{ node().Node.Node }}|{% for n in nodes() %}{{ n.Node }}{% endfor %}|"
                "{% for s in services() if s.Name == 'tree-web' %}{{ s.Name }}{{ s.Tags }}{% endfor %}|"
                "{% for p in tree('tree') %}{{ p.Key }}={{ p.Value }};{% endfor %}|"
                "{% for p in ls('tree') %}{{ p.Key }}{% endfor %}|{{ datacenters() }}")
    src = tmp_path / f"in{engine_suffix}"
    src.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", shared_agent.http_addr,
                           "-template", f"{src}:{tmp_path}/out"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    tags = "[blue]" if engine_suffix == ".ctmpl" else "['blue']"
    dcs = "[dc1]" if engine_suffix == ".ctmpl" else "['dc1']"
    assert read(tmp_path / "out") == f"agent|agent|tree-web{tags}|a=1;sub/b=2;|a|{dcs}"


def test_sigint_stops_cleanly(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "int/v", "v")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "int/v" }}')
    p = TemplateProcess(tmp_path, "watch", "-consul-addr", shared_agent.http_addr, "-template",
                        f"{src}:{tmp_path}/out")
    try:
        wait_until(lambda: read(tmp_path / "out") == "v", 20.0, what="render")
        p.signal(signal.SIGINT)
        assert p.proc.wait(10) == 0
        assert "Traceback" not in p.log()
    finally:
        p.stop()
