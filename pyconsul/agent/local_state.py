"""LocalState: the services and checks registered with this agent, and their sync to the catalog.

The agent's own definitions are authoritative (anti-entropy): every change is pushed to the catalog
at once through the agent's write path, and `full_sync` periodically re-pushes everything and removes
catalog entries for this node that the agent no longer knows.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.fsm import commands as c
from pyconsul.maintenance import MAINT_DEFAULT_NOTE, NODE_MAINT, SERVICE_MAINT_PREFIX, SVC_MAINT_DEFAULT_NOTE

log = logging.getLogger("pyconsul.local_state")

Row = dict[str, Any]

# Checks and services the agent keeps in the catalog itself, never removed by anti-entropy.
RESERVED_CHECKS = {"serfHealth"}
RESERVED_SERVICES = {"consul"}



class LocalState:
    def __init__(
        self,
        node_name: str,
        write: Callable[[c.Command], Awaitable[Any]],
        node_row: Callable[[], Row],
        persist_dir: str = "",
        clock: Clock = SYSTEM_CLOCK,
        check_update_interval: float = 300.0,
    ) -> None:
        self.node_name = node_name
        self._write = write
        self._node_row = node_row
        self.services: dict[str, Row] = {}
        self.checks: dict[str, Row] = {}
        # ids that came from config files (reload replaces them; they are not persisted).
        self.config_services: set[str] = set()
        self.config_checks: set[str] = set()
        # parent service id -> the id of the sidecar registered with it (removed with the parent)
        self.sidecars: dict[str, str] = {}
        self._persist = Path(persist_dir) if persist_dir else None
        self._sync_lock = asyncio.Lock()
        # False until the agent can write to the catalog; until then changes are kept locally and
        # the first full sync pushes them all.
        self.syncing = False
        self.clock = clock
        # Output-only check changes reach the catalog at most once per interval (Consul's
        # check_update_interval); status changes always go out at once.
        self.check_update_interval = check_update_interval
        self._last_check_sync: dict[str, float] = {}
        self._deferred: dict[str, asyncio.TimerHandle] = {}
        self.on_check_added: Callable[[Row], None] = lambda chk: None
        self.on_check_removed: Callable[[str], None] = lambda cid: None

    # ------------------------------------------------------------------ persistence
    def load(self) -> None:
        if self._persist is None:
            return
        path = self._persist / "local-state.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        self.services.update(data.get("services", {}))
        self.sidecars.update(data.get("sidecars", {}))
        for chk in data.get("checks", {}).values():
            self.checks[chk["CheckID"]] = chk
            self.on_check_added(chk)

    def _save(self) -> None:
        if self._persist is None:
            return
        # Check headers (tokens, credentials) live here: owner-only, like Consul's data dir files.
        self._persist.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._persist, 0o700)
        data = {
            "services": {k: v for k, v in self.services.items() if k not in self.config_services},
            "checks": {k: v for k, v in self.checks.items() if k not in self.config_checks},
            "sidecars": {k: v for k, v in self.sidecars.items() if k not in self.config_services},
        }
        tmp = self._persist / "local-state.json.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            os.fchmod(f.fileno(), 0o600)  # a leftover tmp file keeps its old mode otherwise
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._persist / "local-state.json")

    # ------------------------------------------------------------------ services
    async def add_service(
        self, svc: Row, checks: list[Row], replace_existing_checks: bool = False, from_config: bool = False
    ) -> None:
        sid = svc["ID"]
        if replace_existing_checks:
            for cid in [k for k, v in self.checks.items() if v.get("ServiceID") == sid]:
                if not any(ch["CheckID"] == cid for ch in checks):
                    self._drop_check(cid)
        self.services[sid] = copy.deepcopy(svc)
        # The latest registration decides where an ID came from: an HTTP re-registration of a
        # config-file ID is remote from then on (persisted, and never "local" for script gating).
        if from_config:
            self.config_services.add(sid)
        else:
            self.config_services.discard(sid)
        for chk in checks:
            self._put_check(chk, from_config)
        self._save()
        if self.syncing:
            await self.sync_service(sid)

    def mark_sidecar(self, parent_id: str, sidecar_id: str) -> None:
        """`sidecar_id` was registered by `parent_id`'s sidecar_service: it goes when the parent goes."""
        self.sidecars[parent_id] = sidecar_id
        self._save()

    async def remove_service(self, sid: str) -> bool:
        if sid not in self.services:
            return False
        sidecar = self.sidecars.pop(sid, None)
        if sidecar is not None and sidecar in self.services:
            await self.remove_service(sidecar)
        del self.services[sid]
        self.config_services.discard(sid)
        for cid in [k for k, v in self.checks.items() if v.get("ServiceID") == sid]:
            self._drop_check(cid)
        self._save()
        if self.syncing:
            await self._write(c.Deregister(node=self.node_name, service_id=sid))
        return True

    # ------------------------------------------------------------------ checks
    def _put_check(self, chk: Row, from_config: bool = False) -> None:
        row = copy.deepcopy(chk)
        row["Node"] = self.node_name
        row.setdefault("Status", "critical")
        row.setdefault("Output", "")
        old = self.checks.get(row["CheckID"])
        if old is not None:
            self.on_check_removed(row["CheckID"])
            # Re-registering keeps the last known status unless a new one is given.
            if "Status" not in chk:
                row["Status"] = old["Status"]
        self.checks[row["CheckID"]] = row
        if from_config:
            self.config_checks.add(row["CheckID"])
        else:
            self.config_checks.discard(row["CheckID"])
        self.on_check_added(row)

    def _drop_check(self, cid: str) -> None:
        handle = self._deferred.pop(cid, None)
        if handle is not None:
            handle.cancel()
        self._last_check_sync.pop(cid, None)
        if self.checks.pop(cid, None) is not None:
            self.on_check_removed(cid)
        self.config_checks.discard(cid)

    async def add_check(self, chk: Row, from_config: bool = False) -> None:
        self._put_check(chk, from_config)
        self._save()
        if self.syncing:
            await self.sync_check(chk["CheckID"])

    async def remove_check(self, cid: str) -> bool:
        if cid not in self.checks:
            return False
        self._drop_check(cid)
        self._save()
        if self.syncing:
            await self._write(c.Deregister(node=self.node_name, check_id=cid))
        return True

    async def update_check(self, cid: str, status: str, output: str) -> bool:
        chk = self.checks.get(cid)
        if chk is None:
            return False
        if chk["Status"] == status and chk["Output"] == output:
            return True
        output_only = chk["Status"] == status
        chk["Status"] = status
        chk["Output"] = output
        now = self.clock.monotonic()
        last = self._last_check_sync.get(cid)
        if output_only and last is not None and now - last < self.check_update_interval:
            if cid not in self._deferred:
                delay = self.check_update_interval - (now - last)
                self._deferred[cid] = asyncio.get_running_loop().call_later(delay, self._deferred_sync, cid)
            return True
        if self.syncing:
            await self._sync_check_now(cid, now)
        return True

    async def _sync_check_now(self, cid: str, now: float) -> None:
        handle = self._deferred.pop(cid, None)
        if handle is not None:
            handle.cancel()
        self._last_check_sync[cid] = now
        await self.sync_check(cid)

    def _deferred_sync(self, cid: str) -> None:
        self._deferred.pop(cid, None)
        if cid in self.checks:
            asyncio.ensure_future(self._sync_check_now(cid, self.clock.monotonic()))

    # ------------------------------------------------------------------ maintenance
    async def node_maintenance(self, enable: bool, reason: str) -> None:
        if enable:
            if NODE_MAINT in self.checks:
                return
            await self.add_check({
                "CheckID": NODE_MAINT, "Name": "Node Maintenance Mode", "Notes": reason or MAINT_DEFAULT_NOTE,
                "Status": "critical", "Type": "maintenance", "ServiceID": "",
            })
        else:
            await self.remove_check(NODE_MAINT)

    async def service_maintenance(self, sid: str, enable: bool, reason: str) -> bool:
        if sid not in self.services:
            return False
        cid = SERVICE_MAINT_PREFIX + sid
        if enable:
            if cid not in self.checks:
                await self.add_check({
                    "CheckID": cid, "Name": "Service Maintenance Mode", "Notes": reason or SVC_MAINT_DEFAULT_NOTE,
                    "Status": "critical", "Type": "maintenance", "ServiceID": sid,
                })
        else:
            await self.remove_check(cid)
        return True

    # ------------------------------------------------------------------ sync
    def _catalog_check(self, chk: Row) -> Row:
        keep = ("CheckID", "Name", "Status", "Notes", "Output", "ServiceID", "Type", "Interval", "Timeout")
        row = {k: chk.get(k, "") for k in keep}
        row["Definition"] = {}
        return row

    async def sync_service(self, sid: str, check_ids: list[str] | None = None) -> None:
        """Register the service with its checks (`check_ids`, when the caller has them indexed:
        a full sync of thousands of services must not scan every check per service)."""
        svc = self.services.get(sid)
        if svc is None:
            return
        if check_ids is None:
            check_ids = [cid for cid, ch in self.checks.items() if ch.get("ServiceID") == sid]
        checks = [self._catalog_check(self.checks[cid]) for cid in check_ids if cid in self.checks]
        await self._write(c.Register(node=self._node_row(), service=svc, checks=checks))

    async def sync_check(self, cid: str) -> None:
        chk = self.checks.get(cid)
        if chk is None:
            return
        sid = chk.get("ServiceID") or ""
        if sid and sid in self.services:
            await self.sync_service(sid)
            return
        await self._write(c.Register(node=self._node_row(), checks=[self._catalog_check(chk)]))

    async def full_sync(self, catalog_services: dict[str, Row], catalog_checks: dict[str, Row]) -> int:
        """Make this node's catalog entries match local state; returns how many writes it made."""
        writes = 0
        start = self.clock.monotonic()
        async with self._sync_lock:
            for sid in list(catalog_services):
                if sid not in self.services and sid not in RESERVED_SERVICES:
                    await self._write(c.Deregister(node=self.node_name, service_id=sid))
                    writes += 1
            for cid, chk in list(catalog_checks.items()):
                if cid not in self.checks and cid not in RESERVED_CHECKS:
                    if chk.get("ServiceID") and chk["ServiceID"] not in self.services:
                        continue  # went with its service
                    await self._write(c.Deregister(node=self.node_name, check_id=cid))
                    writes += 1
            # Registrations may arrive while the writes below are awaited: walk copies.
            by_service: dict[str, list[str]] = {}
            for cid, chk in list(self.checks.items()):
                if chk.get("ServiceID"):
                    by_service.setdefault(chk["ServiceID"], []).append(cid)
            for sid, svc in list(self.services.items()):
                if sid not in self.services:
                    continue  # removed meanwhile
                have = catalog_services.get(sid)
                if have is None or not _same_service(have, svc) or any(
                    not self._check_in_sync(cid, catalog_checks.get(cid)) for cid in by_service.get(sid, ())
                ):
                    await self.sync_service(sid, by_service.get(sid, []))
                    writes += 1
            for cid, chk in list(self.checks.items()):
                if chk.get("ServiceID") or cid not in self.checks:
                    continue
                if not self._check_in_sync(cid, catalog_checks.get(cid)):
                    await self.sync_check(cid)
                    writes += 1
        took = self.clock.monotonic() - start
        log.debug("anti-entropy: full sync done", extra={
            "writes": writes, "seconds": round(took, 3), "services": len(self.services), "checks": len(self.checks)})
        return writes

    def _check_in_sync(self, cid: str, catalog: Row | None) -> bool:
        local = self.checks.get(cid)
        if local is None:
            return True  # removed meanwhile: its own deregistration went out
        if catalog is None:
            return False
        # An output-only change waiting out check_update_interval is not a difference yet (as in
        # Consul): the deferred sync sends it; a full sync must not defeat the rate limit.
        fields = _CHECK_FIELDS_BUT_OUTPUT if cid in self._deferred else _CHECK_FIELDS
        return all(catalog.get(k, "") == local.get(k, "") for k in fields)


def _same_service(catalog: Row, local: Row) -> bool:
    return (
        catalog.get("Service") == local.get("Service")
        and catalog.get("Tags") == list(local.get("Tags") or [])
        and catalog.get("Port") == int(local.get("Port") or 0)
        and catalog.get("Address") == (local.get("Address") or "")
        and catalog.get("Meta") == dict(local.get("Meta") or {})
    )


_CHECK_FIELDS = ("Status", "Output", "Name", "ServiceID")
_CHECK_FIELDS_BUT_OUTPUT = ("Status", "Name", "ServiceID")
