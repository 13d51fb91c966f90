"""Service and check definitions from config files, applied to the local state (start and reload)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyconsul.api.errors import HTTPError
from pyconsul.api.proxy_defs import connect_problems, validation_error
from pyconsul.api.validate import check_from_request, service_from_request
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.mesh.sidecar import Sidecar, SidecarError, expand_sidecar, ports_in_use, sidecar_id

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent

log = logging.getLogger("pyconsul.agent")


class DefinitionError(Exception):
    """A service or check definition the agent must refuse (start fails, reload fails)."""


SCRIPTS_DISABLED = ("Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or "
                    "'enable_local_script_checks' to true")


def _has_script(check: Any) -> bool:
    return isinstance(check, dict) and any(
        check.get(k) for k in ("Args", "ScriptArgs", "args", "script_args", "Script", "script"))


def check_definitions_allowed(cfg: RuntimeConfig) -> None:
    """Script checks in config files need enable_script_checks or enable_local_script_checks."""
    if cfg.enable_script_checks or cfg.enable_local_script_checks:
        return
    for svc in cfg.services:
        checks = list(svc.get("Checks") or [])
        if svc.get("Check"):
            checks.append(svc["Check"])
        if any(_has_script(ch) for ch in checks):
            name = svc.get("Name") or svc.get("Service") or svc.get("ID") or ""
            raise DefinitionError(f'Failed to register service "{name}": {SCRIPTS_DISABLED}')
    for chk in cfg.checks:
        if _has_script(chk):
            raise DefinitionError(f'Failed to register check "{chk.get("Name") or chk.get("CheckID")}": {SCRIPTS_DISABLED}')


def _checks(svc: dict[str, Any], raw_checks: list[Any]) -> list[dict[str, Any]]:
    """A service's checks with Consul's ids (`service:<id>`, `service:<id>:<n>` when several)."""
    checks = []
    for i, rc in enumerate(raw_checks):
        chk = check_from_request(rc, "structs.CheckType", name_as_id=False)
        chk["ServiceID"] = svc["ID"]
        chk.setdefault("CheckID", "")
        if not chk["CheckID"]:
            chk["CheckID"] = f"service:{svc['ID']}" + (f":{i + 1}" if len(raw_checks) > 1 else "")
        if not chk.get("Name"):
            chk["Name"] = f"Service '{svc['Service']}' check"
        checks.append(chk)
    return checks


def _sidecar(agent: Agent, svc: dict[str, Any], wanted: dict[str, tuple[dict[str, Any], Any]]) -> Sidecar | None:
    """The sidecar a config-file service asks for; its port stays clear of every local service's
    and of the ports this load already handed out."""
    ports = agent.config.ports
    side_id = sidecar_id(svc["ID"])
    in_use = ports_in_use(agent.local.services, side_id) | ports_in_use({k: v[0] for k, v in wanted.items()}, side_id)
    try:
        return expand_sidecar(svc, (ports.sidecar_min_port, ports.sidecar_max_port), in_use,
                              agent.local.services.get(side_id))
    except SidecarError as exc:
        raise HTTPError(400, f"Invalid SidecarService: {exc}") from None


async def load_definitions(agent: Agent) -> None:
    """Make the config-defined services/checks of the local state match agent.config."""
    local = agent.local
    cfg = agent.config
    wanted_services: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    sidecars: dict[str, str] = {}
    for raw in cfg.services:
        try:
            svc = service_from_request(dict(raw), "structs.ServiceDefinition")
            raw_checks = []
            if svc.get("Check"):
                raw_checks.append(svc["Check"])
            raw_checks.extend(svc.get("Checks") or [])
            svc.pop("Check", None)
            svc.pop("Checks", None)
            if problems := connect_problems(svc):
                raise validation_error(problems)
            sidecar = _sidecar(agent, svc, wanted_services)
            if sidecar is not None:
                svc = sidecar.parent
                wanted_services[sidecar.service["ID"]] = (sidecar.service, _checks(sidecar.service, sidecar.checks))
                sidecars[svc["ID"]] = sidecar.service["ID"]
            checks = _checks(svc, raw_checks)
        except HTTPError as exc:
            log.error("invalid service definition", extra={"error": exc.message})
            continue
        wanted_services[svc["ID"]] = (svc, checks)
    wanted_checks: dict[str, dict[str, Any]] = {}
    for raw in cfg.checks:
        try:
            chk = check_from_request(dict(raw), "structs.CheckDefinition")
        except HTTPError as exc:
            log.error("invalid check definition", extra={"error": exc.message})
            continue
        wanted_checks[chk["CheckID"]] = chk
    for sid in list(local.config_services):
        if sid not in wanted_services:
            await local.remove_service(sid)
    for cid in list(local.config_checks):
        if cid not in wanted_checks and not any(cid == ch["CheckID"] for _, chs in wanted_services.values() for ch in chs):
            await local.remove_check(cid)
    for svc, checks in wanted_services.values():
        await local.add_service(svc, checks, replace_existing_checks=True, from_config=True)
    for parent, side in sidecars.items():
        local.mark_sidecar(parent, side)
    for chk in wanted_checks.values():
        await local.add_check(chk, from_config=True)
