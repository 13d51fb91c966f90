"""Build Docker inspection documents shaped like the engine's (`docker inspect` output)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def inspection(
    name: str = "web",
    image: str = "nginx",
    published: Mapping[str, str | None] | None = None,
    exposed: list[str] | None = None,
    env: list[str] | None = None,
    labels: Mapping[str, str] | None = None,
    network_mode: str = "default",
    ip: str = "172.17.0.5",
    container_id: str = "0123456789abcdef" * 4,
    running: bool = True,
    paused: bool = False,
    exit_code: int = 0,
) -> dict[str, Any]:
    """`published` maps "80/tcp" to a host port (None: exposed but not published)."""
    published = dict(published or {})
    exposed_ports = {k: {} for k in [*(exposed or []), *published]}
    ports: dict[str, Any] = {}
    if network_mode != "host":
        for key in exposed_ports:
            host_port = published.get(key)
            ports[key] = (
                [{"HostIp": "0.0.0.0", "HostPort": host_port}, {"HostIp": "::", "HostPort": host_port}]
                if host_port
                else None
            )
    net_name = "bridge" if network_mode == "default" else network_mode
    return {
        "Id": container_id,
        "Name": "/" + name,
        "State": {"Running": running, "Paused": paused, "Restarting": False, "ExitCode": exit_code},
        "Config": {
            "Hostname": container_id[:12],
            "Env": ["PATH=/bin", *(env or [])],
            "Labels": dict(labels or {}),
            "Image": image,
            "ExposedPorts": exposed_ports,
        },
        "HostConfig": {"NetworkMode": network_mode},
        "NetworkSettings": {
            "Ports": ports,
            "IPAddress": ip if network_mode == "default" else "",
            "Networks": {net_name: {"IPAddress": "" if network_mode == "host" else ip}},
        },
    }
