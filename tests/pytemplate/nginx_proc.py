"""A real nginx on free high ports with its own prefix (see NOTES.md), for pytemplate tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.ports import free_port
from tests.support.wait import WaitTimeout, wait_until

SEED_TEMPLATE = """#定义nginx upstream一个简单模板
upstream http_backend {
  {{range service "nginx"}}
   server {{.Address}}:{{.Port}};
   {{end}}
}

#定义一个server,监听8000端口,反向代理到upstream
server {
    listen 127.0.0.1:8000;
    server_name localhost 192.168.2.102;
    access_log /var/log/nginx/kgc.com-access.log;
    index index.html index.php;
    location / {
        proxy_set_header HOST $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header Client-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_pass http://http_backend;
    }
}
"""


class Nginx:
    """nginx -c DIR/nginx.conf -p DIR/ with vhosts included from DIR/conf/vhost/*.conf."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()  # the seed's "listen 8000", moved to a free port
        self.status_port = free_port()
        for sub in ("conf/vhost", "logs", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = root / "nginx.conf"
        self.vhost_dir = root / "conf" / "vhost"
        user = "user root;\n" if os.geteuid() == 0 else ""
        temps = "".join(f"    {k}_temp_path {root}/tmp/{k};\n"
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf.write_text(
            f"{user}daemon on;\nworker_processes 1;\npid {root}/nginx.pid;\n"
            f"error_log {root}/logs/error.log notice;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {root}/logs/access.log;\n{temps}"
            f"    server {{ listen 127.0.0.1:{self.status_port}; location / {{ return 200 'up'; }} }}\n"
            f"    include {self.vhost_dir}/*.conf;\n}}\n"
        )
        self.reloads = root / "reloads"
        self.reload_script = root / "reload.sh"
        self.reload_script.write_text(
            f"#!/bin/sh\necho reload >> {self.reloads}\nexec {' '.join(self.base_cmd())} -s reload\n")
        self.reload_script.chmod(0o755)

    @staticmethod
    def available() -> bool:
        return shutil.which("nginx") is not None

    def base_cmd(self) -> list[str]:
        return ["nginx", "-c", str(self.conf), "-p", f"{self.root}/", "-e", f"{self.root}/logs/error.log"]

    def template_text(self) -> str:
        """The seed's template with only its port and log path moved into this sandbox."""
        return (SEED_TEMPLATE.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{self.port};")
                .replace("/var/log/nginx/kgc.com-access.log", f"{self.root}/logs/kgc.com-access.log"))

    def start(self) -> None:
        subprocess.run(self.base_cmd(), check=True, capture_output=True, timeout=20)
        try:
            wait_until(lambda: self.get(self.status_port) == "up", 10, what="nginx to start", interval=0.02)
        except WaitTimeout as exc:
            raise RuntimeError("nginx did not start:\n" + self.error_log()) from exc

    def reload_count(self) -> int:
        try:
            return self.reloads.read_text().count("reload")
        except FileNotFoundError:
            return 0

    def get(self, port: int | None = None, timeout: float = 2.0) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port or self.port}/", timeout=timeout) as r:
                return str(r.read().decode())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def error_log(self) -> str:
        try:
            return (self.root / "logs" / "error.log").read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        pid_file = self.root / "nginx.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)  # fast shutdown of master and workers
        except ProcessLookupError:
            return
        try:
            wait_until(lambda: not _running(pid), 10, what=f"nginx {pid} to exit", interval=0.02)
        except WaitTimeout:
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
