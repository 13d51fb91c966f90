"""pytemplate end to end: registration → nginx serving the new upstream, and Consul load per change.

Part 1 (latency): a dev agent, a private nginx (own prefix, free high port) and `python -m
pytemplate` rendering the seed's nginx.ctmpl with a reload command, as in seed step 3.3. Each of
`--changes` rounds registers a fresh backend (a real HTTP server) as an `nginx` instance and
deregisters the previous one, then polls through nginx until the new backend answers. Reports
p50/p99/max of registration → first response from the new backend.

Part 2 (sharing): `--templates` templates all using `service "bench"` and `key "bench/cfg"`, run
in-process against the same agent over HTTP. Counts HTTP requests to Consul per change (the
goal is one blocking query per distinct dependency, not per template), files written and
commands run per change.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pyconsul.client.settings import ClientSettings
from pytemplate.client import HttpConsulClient  # noqa: E402
from pytemplate.config import Config, ConsulSettings, TemplateConfig  # noqa: E402
from pytemplate.runner import Runner  # noqa: E402
from tests.pytemplate.helpers import Backend, TemplateProcess  # noqa: E402
from tests.pytemplate.nginx_proc import Nginx  # noqa: E402
from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else 0.0


def register(agent: AgentProcess, sid: str, port: int, name: str = "nginx") -> None:
    status, _, body = agent.request("PUT", "/v1/agent/service/register",
                                    {"Name": name, "ID": sid, "Address": "127.0.0.1", "Port": port})
    assert status == 200, body


def latency_part(agent: AgentProcess, work: Path, changes: int) -> dict[str, object]:
    nginx = Nginx(work / "nginx")
    nginx.start()
    backends: list[Backend] = []
    proc = None
    try:
        first = Backend("b0")
        backends.append(first)
        register(agent, "b0", first.port)
        src = work / "nginx.ctmpl"
        src.write_text(nginx.template_text())
        conf = nginx.vhost_dir / "byyb.conf"
        proc = TemplateProcess(work, "-consul-addr", agent.http_addr, "-template",
                               f"{src}:{conf}:{nginx.reload_script}", "-log-level", "warn")
        wait_until(lambda: nginx.get() == "this is b0\n", timeout=20, what="first upstream")
        latencies: list[float] = []
        for i in range(1, changes + 1):
            backend = Backend(f"b{i}")
            backends.append(backend)
            want = f"this is b{i}\n"
            start = time.monotonic()
            register(agent, f"b{i}", backend.port)
            agent.request("PUT", f"/v1/agent/service/deregister/b{i - 1}")
            wait_until(lambda w=want: nginx.get(timeout=1.0) == w, timeout=20, interval=0.001,
                       what=f"backend b{i} served")
            latencies.append(time.monotonic() - start)
            backends.pop(0).close()
        reloads = nginx.reload_count()
        return {
            "changes": changes,
            "register_to_served_p50_ms": round(pct(latencies, 50) * 1000, 1),
            "register_to_served_p99_ms": round(pct(latencies, 99) * 1000, 1),
            "register_to_served_max_ms": round(max(latencies) * 1000, 1),
            "nginx_reloads": reloads,
            # each round is two catalog changes (register the new, deregister the old)
            "reloads_per_catalog_change": round((reloads - 1) / (2 * changes), 2),
        }
    finally:
        if proc is not None:
            proc.stop()
        nginx.stop()
        for b in backends:
            b.close()


async def sharing_part(agent: AgentProcess, work: Path, templates: int, changes: int) -> dict[str, object]:
    register(agent, "bench-0", 10000, name="bench")
    agent.request("PUT", "/v1/kv/bench/cfg", b"v0")
    marks = work / "marks"
    cfgs = [TemplateConfig(contents='{{ range service "bench" }}server {{ .Address }}:{{ .Port }};{{ end }}\n'
                                    f'# {{{{ key "bench/cfg" }}}} template {i}\n',
                           destination=str(work / "shared" / f"t{i}.conf"), command=f"echo x >> {marks}")
            for i in range(templates)]
    client = HttpConsulClient(agent.http_addr)
    runner = Runner(Config(consul=ConsulSettings(client=ClientSettings.at(agent.http_addr)), templates=cfgs), client,
                    out=io.StringIO())
    task = asyncio.create_task(runner.run())

    async def until(pred: object, what: str) -> None:
        deadline = time.monotonic() + 20
        while not pred():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            await asyncio.sleep(0.005)

    def marks_count() -> int:
        return marks.read_text().count("x") if marks.exists() else 0

    try:
        await until(lambda: marks_count() == 1, "first render")
        await asyncio.sleep(0.3)  # let both views park in their blocking queries
        req0, writes0, cmds0 = client.requests, runner.stats.writes, runner.stats.command_runs
        for i in range(1, changes + 1):
            if i % 2:
                await asyncio.to_thread(register, agent, f"bench-{i}", 10000 + i, "bench")
            else:
                await asyncio.to_thread(agent.request, "PUT", "/v1/kv/bench/cfg", f"v{i}".encode())
            await until(lambda n=i: marks_count() == n + 1, f"change {i}")
        await asyncio.sleep(0.3)
        requests = client.requests - req0
        return {
            "templates": templates,
            "distinct_dependencies": len(runner.watcher),
            "changes": changes,
            "consul_requests_per_change": round(requests / changes, 2),
            "files_written_per_change": round((runner.stats.writes - writes0) / changes, 2),
            "commands_run_per_change": round((runner.stats.command_runs - cmds0) / changes, 2),
        }
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--templates", type=int, default=50)
    ap.add_argument("--sharing-changes", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="template-latency-"))
    agent = start_agent(work / "agent")
    try:
        result: dict[str, object] = {"bench": "template_latency"}
        result["latency"] = latency_part(agent, work, args.changes)
        result["sharing"] = asyncio.run(sharing_part(agent, work, args.templates, args.sharing_changes))
    finally:
        agent.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
