"""Catalog tables: nodes, services, checks, with per-service indexes.

Index tables used: "nodes", "services", "checks" and "service.<name>" (bumped whenever anything a
health/catalog query for that service returns changes: the instance, its node, or a check on it),
and "connect.<name>" likewise for the mesh view of `name` (its proxies and native instances).
Watch topics: watch.node, watch.service, watch.connect_service, watch.nodes, watch.services,
watch.check_state.

A check that turns critical or goes away, and a node that goes away, end the sessions bound to
them: the catalog tells its `SessionInvalidator` (the store wires in its session table).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from pyconsul.state import watch
from pyconsul.state.catalog_rows import (
    CHECK_STATES,
    CRITICAL,
    NODE_FIELDS,
    normalize_check,
    normalize_service,
    same_apart_from_indexes,
)
from pyconsul.state.connect_rows import connect_table, connect_targets
from pyconsul.state.errors import StateError
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

NODES, SERVICES, CHECKS = "nodes", "services", "checks"


def service_table(name: str) -> str:
    """The index table of one service's catalog and health answers."""
    return "service." + name


class SessionInvalidator(Protocol):
    def invalidate_for_node(self, idx: int, node: str) -> None: ...

    def invalidate_for_check(self, idx: int, node: str, check_id: str) -> None: ...


class _NoSessions:
    def invalidate_for_node(self, idx: int, node: str) -> None:
        pass

    def invalidate_for_check(self, idx: int, node: str, check_id: str) -> None:
        pass


class CatalogTable:
    """Nodes, services and checks. Writes take the log index of the command being applied."""

    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.sessions: SessionInvalidator = _NoSessions()
        self.clear()

    def clear(self) -> None:
        self.nodes_by_name: dict[str, Row] = {}
        self.services_by_node: dict[str, dict[str, Row]] = {}
        self.checks_by_node: dict[str, dict[str, Row]] = {}
        # service name -> {(node, service id): None}, insertion-ordered
        self.service_instances: dict[str, dict[tuple[str, str], None]] = {}
        # destination service name -> {(node, proxy or native instance id): None}
        self.connect_instances: dict[str, dict[tuple[str, str], None]] = {}

    # ---------------------------------------------------------------- writes
    def ensure_registration(
        self, idx: int, node: Row, service: Row | None, checks: list[Row], skip_node_update: bool
    ) -> None:
        name = node.get("Node") or ""
        if not name:
            raise StateError("Must provide node")
        existing_node = self.nodes_by_name.get(name)
        self._validate_registration(name, existing_node, service, checks)
        if not skip_node_update or existing_node is None:
            if not node.get("Address") and existing_node is None:
                raise StateError("Must provide address")
            self._ensure_node(idx, node)
        if service is not None:
            self._ensure_service(idx, name, service)
        for chk in checks:
            self._ensure_check(idx, name, chk)

    def _validate_registration(
        self, name: str, existing_node: Row | None, service: Row | None, checks: list[Row]
    ) -> None:
        """Refuse the whole registration up front, so nothing is half-applied."""
        known = set(self.services_by_node.get(name, {})) if existing_node is not None else set()
        if service is not None:
            if not service.get("Service"):
                raise StateError("Must provide service name")
            known.add(service.get("ID") or service["Service"])
        for chk in checks:
            if not (chk.get("CheckID") or chk.get("Name")):
                raise StateError("Missing check ID")
            if (chk.get("Status") or CRITICAL) not in CHECK_STATES:
                raise StateError(f"Invalid check status: {chk.get('Status')!r}")
            sid = chk.get("ServiceID") or ""
            if sid and sid not in known:
                raise StateError(f"Missing service registration for ServiceID {sid!r}")

    def _ensure_node(self, idx: int, node: Row) -> None:
        name = node["Node"]
        existing = self.nodes_by_name.get(name)
        row: Row = {
            "ID": node.get("ID", "") or "",
            "Node": name,
            "Address": node.get("Address") or (existing or {}).get("Address", ""),
            "Datacenter": node.get("Datacenter", "") or "",
            "TaggedAddresses": copy.deepcopy(node.get("TaggedAddresses") or {}),
            "Meta": copy.deepcopy(node.get("Meta") or {}),
        }
        if existing is not None:
            if row["Datacenter"] == "":
                row["Datacenter"] = existing["Datacenter"]
            if same_apart_from_indexes({k: existing[k] for k in NODE_FIELDS}, row):
                return
            row["CreateIndex"] = existing["CreateIndex"]
        else:
            row["CreateIndex"] = idx
        row["ModifyIndex"] = idx
        self.nodes_by_name[name] = row
        self.services_by_node.setdefault(name, {})
        self.checks_by_node.setdefault(name, {})
        self.txn.bump(idx, NODES)
        self.txn.touch(watch.nodes(), watch.node(name))
        # Catalog and health answers for every service on this node embed the node.
        for svc in self.services_by_node[name].values():
            self._bump_service(idx, svc)

    def _bump_service(self, idx: int, svc: Row) -> None:
        """Something an answer for this instance's service (or the services it fronts) embeds changed."""
        name = svc["Service"]
        self.txn.bump(idx, service_table(name))
        self.txn.touch(watch.service(name))
        for target in connect_targets(svc):
            self.txn.bump(idx, connect_table(target))
            self.txn.touch(watch.connect_service(target))

    def _link_connect(self, node: str, svc: Row) -> None:
        for target in connect_targets(svc):
            self.connect_instances.setdefault(target, {})[(node, svc["ID"])] = None

    def _unlink_connect(self, node: str, svc: Row) -> None:
        for target in connect_targets(svc):
            inst = self.connect_instances.get(target)
            if inst is not None:
                inst.pop((node, svc["ID"]), None)
                if not inst:
                    del self.connect_instances[target]

    def _ensure_service(self, idx: int, node: str, svc: Row) -> None:
        if node not in self.nodes_by_name:
            raise StateError(f"Missing node registration for {node}")
        row = normalize_service(svc)
        if not row["Service"]:
            raise StateError("Must provide service name")
        services = self.services_by_node[node]
        existing = services.get(row["ID"])
        if existing is not None:
            if same_apart_from_indexes(existing, row):
                return
            row["CreateIndex"] = existing["CreateIndex"]
            if existing["Service"] != row["Service"]:
                self._unlink_instance(idx, node, existing)
            elif connect_targets(existing) != connect_targets(row):
                self._unlink_connect(node, existing)
                self._bump_service(idx, existing)
        else:
            row["CreateIndex"] = idx
        row["ModifyIndex"] = idx
        services[row["ID"]] = row
        self.service_instances.setdefault(row["Service"], {})[(node, row["ID"])] = None
        self._link_connect(node, row)
        self.txn.bump(idx, SERVICES)
        self._bump_service(idx, row)
        self.txn.touch(watch.services(), watch.node(node))
        # Checks of this service carry its name and tags.
        for chk in self.checks_by_node[node].values():
            if chk["ServiceID"] == row["ID"] and (
                chk["ServiceName"] != row["Service"] or chk["ServiceTags"] != row["Tags"]
            ):
                chk = dict(chk, ServiceName=row["Service"], ServiceTags=list(row["Tags"]), ModifyIndex=idx)
                self.checks_by_node[node][chk["CheckID"]] = chk
                self.txn.bump(idx, CHECKS)
                self.txn.touch(watch.check_state(chk["Status"]), watch.check_state("any"))

    def _unlink_instance(self, idx: int, node: str, svc: Row) -> None:
        inst = self.service_instances.get(svc["Service"])
        if inst is not None:
            inst.pop((node, svc["ID"]), None)
            if not inst:
                del self.service_instances[svc["Service"]]
        self._unlink_connect(node, svc)
        self._bump_service(idx, svc)

    def _ensure_check(self, idx: int, node: str, chk: Row) -> None:
        if node not in self.nodes_by_name:
            raise StateError(f"Missing node registration for {node}")
        row = normalize_check(chk, node)
        if not row["CheckID"]:
            raise StateError("Missing check ID")
        if row["Status"] not in CHECK_STATES:
            raise StateError(f"Invalid check status: {row['Status']!r}")
        svc: Row | None = None
        if row["ServiceID"]:
            svc = self.services_by_node[node].get(row["ServiceID"])
            if svc is None:
                raise StateError(f"Missing service registration for ServiceID {row['ServiceID']!r}")
            row["ServiceName"] = svc["Service"]
            row["ServiceTags"] = list(svc["Tags"])
        checks = self.checks_by_node[node]
        existing = checks.get(row["CheckID"])
        if existing is not None:
            if same_apart_from_indexes(existing, row):
                return
            row["CreateIndex"] = existing["CreateIndex"]
            self.txn.touch(watch.check_state(existing["Status"]))
            if existing["ServiceID"] and existing["ServiceID"] != row["ServiceID"]:
                old = self.services_by_node[node].get(existing["ServiceID"])
                if old is not None:
                    self._bump_service(idx, old)
        else:
            row["CreateIndex"] = idx
        row["ModifyIndex"] = idx
        checks[row["CheckID"]] = row
        self.txn.bump(idx, CHECKS)
        self.txn.touch(watch.check_state(row["Status"]), watch.check_state("any"), watch.node(node))
        self._bump_check_services(idx, node, row)
        if row["Status"] == CRITICAL:
            self.sessions.invalidate_for_check(idx, node, row["CheckID"])

    def _bump_check_services(self, idx: int, node: str, chk: Row) -> None:
        if chk["ServiceID"]:
            svc = self.services_by_node[node].get(chk["ServiceID"])
            if svc is not None:
                self._bump_service(idx, svc)
        else:  # a node-level check affects the health of every service on the node
            for svc in self.services_by_node[node].values():
                self._bump_service(idx, svc)

    def delete_node(self, idx: int, node: str) -> None:
        if node not in self.nodes_by_name:
            return
        for sid in list(self.services_by_node.get(node, {})):
            self.delete_service(idx, node, sid)
        for cid in list(self.checks_by_node.get(node, {})):
            self.delete_check(idx, node, cid)
        del self.nodes_by_name[node]
        self.services_by_node.pop(node, None)
        self.checks_by_node.pop(node, None)
        self.txn.bump(idx, NODES)
        self.txn.touch(watch.nodes(), watch.node(node))
        self.sessions.invalidate_for_node(idx, node)

    def delete_service(self, idx: int, node: str, service_id: str) -> None:
        services = self.services_by_node.get(node)
        if not services or service_id not in services:
            return
        svc = services.pop(service_id)
        for cid, chk in list(self.checks_by_node.get(node, {}).items()):
            if chk["ServiceID"] == service_id:
                self.delete_check(idx, node, cid)
        self._unlink_instance(idx, node, svc)
        self.txn.bump(idx, SERVICES)
        self.txn.touch(watch.services(), watch.node(node))

    def delete_check(self, idx: int, node: str, check_id: str) -> None:
        checks = self.checks_by_node.get(node)
        if not checks or check_id not in checks:
            return
        chk = checks.pop(check_id)
        self.txn.bump(idx, CHECKS)
        self.txn.touch(watch.check_state(chk["Status"]), watch.check_state("any"), watch.node(node))
        self._bump_check_services(idx, node, chk)
        self.sessions.invalidate_for_check(idx, node, check_id)

    # ---------------------------------------------------------------- reads
    def max_index(self, *tables: str) -> int:
        """The highest index among `tables` (what DNS uses as its zone serial)."""
        return self.indexes.max(*tables)

    def nodes(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.nodes())
        return self.indexes.get(NODES), [self.nodes_by_name[n] for n in sorted(self.nodes_by_name)]

    def get_node(self, ws: WatchSet | None, name: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.node(name))
        return self.indexes.get(NODES), self.nodes_by_name.get(name)

    def node_services(self, ws: WatchSet | None, node: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.node(node))
        svcs = self.services_by_node.get(node, {})
        return self.indexes.max(NODES, SERVICES), [svcs[k] for k in sorted(svcs)]

    def node_checks(self, ws: WatchSet | None, node: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.node(node))
        checks = self.checks_by_node.get(node, {})
        return self.indexes.get(CHECKS), [checks[k] for k in sorted(checks)]

    def services(self, ws: WatchSet | None) -> tuple[int, dict[str, list[str]]]:
        """Service name → union of tags (catalog/services)."""
        if ws is not None:
            ws.add(watch.services())
        out: dict[str, list[str]] = {}
        for name in sorted(self.service_instances):
            tags: dict[str, None] = {}
            for node, sid in self.service_instances[name]:
                for t in self.services_by_node[node][sid]["Tags"]:
                    tags[t] = None
            out[name] = list(tags)
        return self.indexes.get(SERVICES), out

    def service_index(self, name: str) -> int:
        return self.indexes.get(service_table(name)) or self.indexes.max(NODES, SERVICES)

    def service_instances_rows(self, name: str) -> list[tuple[Row, Row]]:
        """(node row, service row) for every instance of `name`, ordered by node then ID."""
        inst = self.service_instances.get(name)
        if not inst:
            return []
        out = [(self.nodes_by_name[n], self.services_by_node[n][sid]) for n, sid in inst]
        out.sort(key=lambda p: (p[0]["Node"], p[1]["ID"]))
        return out

    def connect_index(self, name: str) -> int:
        return self.indexes.get(connect_table(name)) or self.indexes.max(NODES, SERVICES)

    def connect_instances_rows(self, name: str) -> list[tuple[Row, Row]]:
        """(node row, service row) for every proxy of `name` and native instance of it."""
        inst = self.connect_instances.get(name)
        if not inst:
            return []
        out = [(self.nodes_by_name[n], self.services_by_node[n][sid]) for n, sid in inst]
        out.sort(key=lambda p: (p[0]["Node"], p[1]["ID"]))
        return out

    def _health_entries(self, pairs: list[tuple[Row, Row]], tags: list[str] | None) -> list[Row]:
        out: list[Row] = []
        for node, svc in pairs:
            if tags and not all(t in svc["Tags"] for t in tags):
                continue
            checks = self.checks_by_node.get(node["Node"], {})
            mine = [c for c in checks.values() if c["ServiceID"] in ("", svc["ID"])]
            mine.sort(key=lambda c: (c["ServiceID"] != "", c["CheckID"]))
            out.append({"Node": node, "Service": svc, "Checks": mine})
        return out

    def check_service_nodes(
        self, ws: WatchSet | None, service: str, tags: list[str] | None = None
    ) -> tuple[int, list[Row]]:
        """health/service/:name — {"Node", "Service", "Checks"} per instance (node checks first)."""
        if ws is not None:
            ws.add(watch.service(service))
        return self.service_index(service), self._health_entries(self.service_instances_rows(service), tags)

    def check_connect_service_nodes(
        self, ws: WatchSet | None, service: str, tags: list[str] | None = None
    ) -> tuple[int, list[Row]]:
        """health/connect/:name — the same entries for the proxies of `service` and its native instances."""
        if ws is not None:
            ws.add(watch.connect_service(service))
        return self.connect_index(service), self._health_entries(self.connect_instances_rows(service), tags)

    def service_checks(self, ws: WatchSet | None, service: str) -> tuple[int, list[Row]]:
        """health/checks/:service — checks attached to instances of the service."""
        if ws is not None:
            ws.add(watch.service(service))
        out: list[Row] = []
        for node, svc in self.service_instances_rows(service):
            for c in self.checks_by_node.get(node["Node"], {}).values():
                if c["ServiceID"] == svc["ID"]:
                    out.append(c)
        return self.service_index(service), out

    def checks_in_state(self, ws: WatchSet | None, state: str) -> tuple[int, list[Row]]:
        """health/state/:state — 'any' or one status."""
        if ws is not None:
            ws.add(watch.check_state(state))
        out: list[Row] = []
        for node in sorted(self.checks_by_node):
            for cid in sorted(self.checks_by_node[node]):
                c = self.checks_by_node[node][cid]
                if state == "any" or c["Status"] == state:
                    out.append(c)
        return self.indexes.get(CHECKS), out

    # ---------------------------------------------------------------- snapshot
    def snapshot(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes_by_name.values()),
            "services": [[n, s] for n, svcs in self.services_by_node.items() for s in svcs.values()],
            "checks": [c for checks in self.checks_by_node.values() for c in checks.values()],
        }

    def capture(self, every: int = 0) -> Iterator[None | dict[str, Callable[[], list[Any]]]]:
        """snapshot() later. Yields None every `every` nodes (0: never) so a caller that applies
        nothing meanwhile can let other work run, then the parts: the per-node tables, which
        writes change in place, are copied; rows are shared (replaced on write, never changed);
        the lists are built when a part is called, from another thread if need be."""
        nodes = list(self.nodes_by_name.values())
        services: dict[str, dict[str, Row]] = {}
        checks: dict[str, dict[str, Row]] = {}
        for i, (n, svcs) in enumerate(list(self.services_by_node.items()), 1):
            services[n] = svcs.copy()
            if every and i % every == 0:
                yield None
        for i, (n, chks) in enumerate(list(self.checks_by_node.items()), 1):
            checks[n] = chks.copy()
            if every and i % every == 0:
                yield None
        yield {
            "nodes": lambda: nodes,
            "services": lambda: [[n, s] for n, svcs in services.items() for s in svcs.values()],
            "checks": lambda: [c for chks in checks.values() for c in chks.values()],
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        for n in snap["nodes"]:
            self.nodes_by_name[n["Node"]] = n
            self.services_by_node[n["Node"]] = {}
            self.checks_by_node[n["Node"]] = {}
        for node, s in snap["services"]:
            self.services_by_node[node][s["ID"]] = s
            self.service_instances.setdefault(s["Service"], {})[(node, s["ID"])] = None
            self._link_connect(node, s)
        for c in snap["checks"]:
            self.checks_by_node[c["Node"]][c["CheckID"]] = c
