"""Exec supervision and quiescence, end to end against a real agent."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

from pyconsul.client.settings import ClientSettings
from pytemplate.client import HttpConsulClient
from pytemplate.config import Config, ConsulSettings, TemplateConfig, WaitConfig
from pytemplate.runner import Runner
from tests.pytemplate.helpers import TemplateProcess, kv_put, read
from tests.support.agents import AgentProcess
from tests.support.wait import async_wait_until, wait_until

CHILD = """
import os, signal, sys, time
out = sys.argv[1]
def note(word):
    with open(out, "a") as f:
        f.write(word + "\\n")
signal.signal(signal.SIGHUP, lambda *_: note("hup"))
signal.signal(signal.SIGINT, lambda *_: (note("stop"), sys.exit(0)))  # the default kill signal
note(f"start {os.getpid()}")
while True:
    time.sleep(0.05)
"""


def test_exec_child_is_started_signalled_and_stopped(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "exec/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "exec/v" }}')
    child, notes = tmp_path / "child.py", tmp_path / "notes"
    child.write_text(CHILD)
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{src}:{tmp_path}/out",
                        "-exec", f"{sys.executable} {child} {notes}", "-exec-reload-signal", "SIGHUP")
    try:
        wait_until(lambda: read(notes).startswith("start "), 20.0, what="child started after the first render")
        pid = int(read(notes).split()[1])
        kv_put(shared_agent, "exec/v", "2")
        wait_until(lambda: "hup" in read(notes), 20.0, what="reload signal")
        assert read(tmp_path / "out") == "2"
    finally:
        assert p.stop() == 0, p.log()
    assert "stop" in read(notes)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or "zombie" in read(Path(f"/proc/{pid}/status")).lower(), 20.0, what="child gone")


def test_exec_child_without_reload_signal_is_restarted(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "exec3/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "exec3/v" }}')
    child, notes = tmp_path / "child.py", tmp_path / "notes"
    child.write_text(CHILD)
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{src}:{tmp_path}/out",
                        "-exec", f"{sys.executable} {child} {notes}")
    try:
        wait_until(lambda: read(notes).count("start") == 1, 20.0, what="child started")
        kv_put(shared_agent, "exec3/v", "2")
        wait_until(lambda: read(notes).count("start") == 2, 20.0, what="child restarted")
        first, second = (line.split()[1] for line in read(notes).splitlines() if line.startswith("start"))
        assert first != second and "stop" in read(notes)
        assert p.alive()
    finally:
        assert p.stop() == 0, p.log()


def test_exec_child_exit_ends_pytemplate_with_its_status(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "exec2/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "exec2/v" }}')
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-consul-addr", shared_agent.http_addr,
                           "-template", f"{src}:{tmp_path}/out", "-exec", "sh -c 'exit 3'"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3, proc.stderr
    assert read(tmp_path / "out") == "1"


async def test_quiescence_collapses_a_burst_into_one_render(shared_agent: AgentProcess, tmp_path: Path) -> None:
    await asyncio.to_thread(kv_put, shared_agent, "quiet/v", "0")
    marks = tmp_path / "marks"
    cfg = Config(consul=ConsulSettings(client=ClientSettings.at(shared_agent.http_addr)), templates=[
        TemplateConfig(contents='{{ key "quiet/v" }}', destination=str(tmp_path / "out"),
                       command=f"echo r >> {marks}", wait=WaitConfig(0.4, 3.0)),
    ])
    client = HttpConsulClient(shared_agent.http_addr)
    runner = Runner(cfg, client, out=io.StringIO())
    task = asyncio.create_task(runner.run())
    try:
        await async_wait_until(lambda: read(tmp_path / "out") == "0", 20.0, what="first render")
        for i in range(1, 6):  # a burst well inside the 400ms quiet period
            await asyncio.to_thread(kv_put, shared_agent, "quiet/v", str(i))
            await asyncio.sleep(0.05)
        await async_wait_until(lambda: read(tmp_path / "out") == "5", 20.0, what="render after the burst")
        # The command runs after the file is written: wait for it before counting its marks.
        await async_wait_until(lambda: read(marks).count("r") >= 2, 20.0, what="the burst's command")
        assert read(marks) == "r\nr\n"  # the first render and exactly one for the burst
        assert runner.stats.writes == 2
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()


async def test_file_dependency_follows_the_file(shared_agent: AgentProcess, tmp_path: Path) -> None:
    watched = tmp_path / "motd"
    watched.write_text("v1")
    cfg = Config(consul=ConsulSettings(client=ClientSettings.at(shared_agent.http_addr)), templates=[
        TemplateConfig(contents=f'[{{{{ file "{watched}" }}}}]', destination=str(tmp_path / "out")),
        TemplateConfig(contents=f"[{{{{ file('{watched}') }}}}]", destination=str(tmp_path / "out2"),
                       engine="jinja"),
    ])
    client = HttpConsulClient(shared_agent.http_addr)
    runner = Runner(cfg, client, out=io.StringIO())
    task = asyncio.create_task(runner.run())
    try:
        await async_wait_until(lambda: read(tmp_path / "out") == "[v1]" and read(tmp_path / "out2") == "[v1]", 20.0, what="render")
        assert len(runner.watcher) == 1  # both engines share the file view
        watched.write_text("version two")
        await async_wait_until(lambda: read(tmp_path / "out") == "[version two]", 20.0, what="file change")
        assert client.requests == 0  # a file needs no Consul
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()
