"""Real processes and servers for pytemplate's integration tests."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.support.agents import AgentProcess


def read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


class TemplateProcess:
    """`python -m pytemplate ...` as a real child process with its log in a file."""

    def __init__(self, workdir: Path, *args: str, name: str = "pytemplate") -> None:
        self.log_path = workdir / f"{name}.log"
        self.args = [sys.executable, "-m", "pytemplate", *args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def log(self) -> str:
        return read(self.log_path)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def register(agent: AgentProcess, name: str, sid: str, port: int, address: str = "127.0.0.1",
             tags: list[str] | None = None, check: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"Name": name, "ID": sid, "Address": address, "Port": port, "Tags": tags or []}
    if check is not None:
        body["Check"] = check
    status, _, text = agent.request("PUT", "/v1/agent/service/register", body)
    assert status == 200, (status, text)


def deregister(agent: AgentProcess, sid: str) -> None:
    status, _, text = agent.request("PUT", f"/v1/agent/service/deregister/{sid}")
    assert status == 200, (status, text)


def kv_put(agent: AgentProcess, key: str, value: str) -> None:
    status, _, text = agent.request("PUT", f"/v1/kv/{key}", value.encode())
    assert status == 200, (status, text)


class Backend:
    """A tiny real HTTP server on 127.0.0.1 answering with its own name."""

    def __init__(self, name: str) -> None:
        body = f"this is {name}\n".encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.name = name
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
