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
from tests.agent_proc import AgentProcess
from tests.pytemplate.helpers import TemplateProcess, kv_put, read, wait_until

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
        wait_until(lambda: read(notes).startswith("start "), what="child started after the first render")
        pid = int(read(notes).split()[1])
        kv_put(shared_agent, "exec/v", "2")
        wait_until(lambda: "hup" in read(notes), what="reload signal")
        assert read(tmp_path / "out") == "2"
    finally:
        assert p.stop() == 0, p.log()
    assert "stop" in read(notes)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or "zombie" in read(Path(f"/proc/{pid}/status")).lower(),
               what="child gone")


def test_exec_child_without_reload_signal_is_restarted(shared_agent: AgentProcess, tmp_path: Path) -> None:
    kv_put(shared_agent, "exec3/v", "1")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "exec3/v" }}')
    child, notes = tmp_path / "child.py", tmp_path / "notes"
    child.write_text(CHILD)
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{src}:{tmp_path}/out",
                        "-exec", f"{sys.executable} {child} {notes}")
    try:
        wait_until(lambda: read(notes).count("start") == 1, what="child started")
        kv_put(shared_agent, "exec3/v", "2")
        wait_until(lambda: read(notes).count("start") == 2, what="child restarted")
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
        await _until(lambda: read(tmp_path / "out") == "0", "first render")
        for i in range(1, 6):  # a burst well inside the 400ms quiet period
            await asyncio.to_thread(kv_put, shared_agent, "quiet/v", str(i))
            await asyncio.sleep(0.05)
        await _until(lambda: read(tmp_path / "out") == "5", "render after the burst")
        assert read(marks) == "r\nr\n"  # the first render and exactly one for the burst
        assert runner.stats.writes == 2
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()


async def _until(predicate: object, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


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
        await _until(lambda: read(tmp_path / "out") == "[v1]" and read(tmp_path / "out2") == "[v1]", "render")
        assert len(runner.watcher) == 1  # both engines share the file view
        watched.write_text("version two")
        await _until(lambda: read(tmp_path / "out") == "[version two]", "file change")
        assert client.requests == 0  # a file needs no Consul
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()
