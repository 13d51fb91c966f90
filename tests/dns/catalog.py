"""A real StateStore filled through the FSM, the way the agent fills it (no fakes)."""

from __future__ import annotations

from typing import Any

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore


class Catalog:
    """Write helpers over a real StateStore; each write is one applied raft-style command."""

    def __init__(self, datacenter: str = "dc1") -> None:
        self.store = StateStore()
        self.fsm = StateMachine(self.store)
        self.dc = datacenter
        self.index = 0

    def _apply(self, cmd: c.Command) -> Any:
        self.index += 1
        out = self.fsm.apply_command(self.index, cmd)
        if isinstance(out, Exception):
            raise out
        return out

    def node(self, name: str, address: str, meta: dict[str, str] | None = None) -> None:
        self._apply(c.Register(node={"Node": name, "Address": address, "Datacenter": self.dc, "Meta": meta or {}}))

    def service(
        self, node: str, address: str, name: str, port: int = 80, *, sid: str = "", tags: list[str] | None = None,
        service_address: str = "", status: str | None = None, weights: dict[str, int] | None = None,
    ) -> None:
        svc: dict[str, Any] = {"Service": name, "ID": sid or name, "Port": port, "Tags": tags or [],
                               "Address": service_address}
        if weights:
            svc["Weights"] = weights
        checks = []
        if status is not None:
            checks.append({"CheckID": f"service:{sid or name}", "Name": "svc", "Status": status,
                           "ServiceID": sid or name})
        self._apply(c.Register(node={"Node": node, "Address": address, "Datacenter": self.dc},
                               service=svc, checks=checks))

    def node_check(self, node: str, status: str, check_id: str = "serfHealth") -> None:
        self._apply(c.Register(node={"Node": node}, checks=[{"CheckID": check_id, "Name": check_id,
                                                             "Status": status}], skip_node_update=True))

    def deregister(self, node: str, service_id: str = "") -> None:
        self._apply(c.Deregister(node=node, service_id=service_id))
