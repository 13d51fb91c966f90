"""`consul services register|deregister`: agent service (de)registration from files or flags."""

from __future__ import annotations

from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register, register_group
from pyconsul.cli.service_files import ServiceFileError, services_from_files

SERVICES_HELP = """
Usage: consul services <subcommand> [options] [args]

  This command has subcommands for interacting with services. The subcommands
  default to working with services registered with the local agent. Please see
  the "consul catalog" command for interacting with the entire catalog.

  To register a service:

      $ consul services register web.json

  To deregister a service:

      $ consul services deregister web.json

  For more examples, ask for subcommand help or view the documentation.
"""

REGISTER_HELP = """
Usage: consul services register [options] [FILE...]

  Register one or more services using the local agent API. Services can
  be registered from standard Consul configuration files (HCL or JSON) or
  using flags. The service is registered and the command returns. The caller
  must remember to call "consul services deregister" or a similar API to
  deregister the service when complete.

      $ consul services register web.json

  Additional flags and more advanced use cases are detailed below.
"""

DEREGISTER_HELP = """
Usage: consul services deregister [options] [FILE...]

  Deregister one or more services that were previously registered with
  the local agent.

      $ consul services deregister web.json db.json

  The -id flag may be used to deregister a single service by ID:

      $ consul services deregister -id=web

  Services are deregistered from the local agent catalog. This command must
  be run against the same agent where the service was registered.
"""


def _parse_service_addr(text: str) -> dict[str, Any]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return {"Address": text, "Port": 0}
    try:
        return {"Address": host.strip("[]"), "Port": int(port)}
    except ValueError:
        raise ValueError(f"Invalid Tagged Address: invalid port: {port!r}") from None


def _combine(svc: dict[str, Any], flags: dict[str, Any]) -> None:
    """Flag values fill what the file left out; meta/tagged addresses merge; tags append."""
    for key in ("ID", "Name", "Address", "Port", "Kind", "SocketPath"):
        if flags.get(key) and not svc.get(key):
            svc[key] = flags[key]
    if flags.get("Meta"):
        svc["Meta"] = {**(svc.get("Meta") or {}), **flags["Meta"]}
    if flags.get("TaggedAddresses"):
        svc["TaggedAddresses"] = {**(svc.get("TaggedAddresses") or {}), **flags["TaggedAddresses"]}
    if flags.get("Tags"):
        svc["Tags"] = [*(svc.get("Tags") or []), *flags["Tags"]]


def register_services(argv: list[str]) -> int:
    fs = new_flags(REGISTER_HELP)
    fs.string("id", "", "ID of the service to register for arg-based registration. If this isn't "
              "set, it will default to the -name value.")
    fs.string("name", "", "Name of the service to register for arg-based registration.")
    fs.string("address", "", "Address of the service to register for arg-based registration.")
    fs.int("port", 0, "Port of the service to register for arg-based registration.")
    fs.string("socket", "", "Path to the Unix domain socket to register for arg-based "
              "registration (conflicts with address and port).")
    fs.map("meta", "Metadata to set on the service, formatted as key=value. This flag may be "
           "specified multiple times to set multiple meta fields.")
    fs.list("tag", "Tag to add to the service. This flag can be specified multiple times to set "
            "multiple tags.")
    fs.map("tagged-address", "Tagged address to set on the service, formatted as key=value. This "
           "flag may be specified multiple times to set multiple addresses.")
    fs.string("kind", "", "The services 'kind'")
    opts = fs.parse(argv)
    try:
        tagged = {k: _parse_service_addr(v) for k, v in opts["tagged-address"].items()}
    except ValueError as exc:
        error(str(exc))
        return 1
    from_flags: dict[str, Any] = {
        "Kind": opts["kind"], "ID": opts["id"], "Name": opts["name"], "Address": opts["address"],
        "Port": opts["port"], "SocketPath": opts["socket"], "Tags": opts["tag"],
        "Meta": opts["meta"], "TaggedAddresses": tagged,
    }
    args = opts.args
    if not args and not opts["name"]:
        error("Service registration requires at least one argument or flags.")
        return 1
    if args and opts["name"]:
        error("Service registration requires arguments or -id, not both.")
        return 1
    if args:
        try:
            svcs = services_from_files(args)
        except ServiceFileError as exc:
            error(f"Error: {exc}")
            return 1
        for svc in svcs:
            _combine(svc, from_flags)
    else:
        svcs = [{k: v for k, v in from_flags.items() if v not in ("", 0, [], {}, None)}]
    client = connect(opts)
    for svc in svcs:
        name = svc.get("Name", "")
        try:
            client.put_json("/v1/agent/service/register", svc)
        except ConsulError as exc:
            error(f'Error registering service "{name}": {exc}')
            return 1
        info(f"Registered service: {name}")
    return 0


def deregister_services(argv: list[str]) -> int:
    fs = new_flags(DEREGISTER_HELP)
    fs.string("id", "", "ID to delete. This must not be set if arguments are given.")
    opts = fs.parse(argv)
    args = opts.args
    if not args and not opts["id"]:
        error("Service deregistration requires at least one argument or -id.")
        return 1
    if args and opts["id"]:
        error("Service deregistration requires arguments or -id, not both.")
        return 1
    svcs: list[dict[str, Any]] = [{"ID": opts["id"]}]
    if args:
        try:
            svcs = services_from_files(args)
        except ServiceFileError as exc:
            error(f"Error: {exc}")
            return 1
    client = connect(opts)
    for svc in svcs:
        sid = svc.get("ID") or svc.get("Name") or ""
        if not sid:
            continue
        try:
            client.request("PUT", f"/v1/agent/service/deregister/{sid}")
        except ConsulError as exc:
            error(f'Error registering service "{svc.get("Name", "")}": {exc}')
            return 1
        info(f"Deregistered service: {sid}")
    return 0


register_group(("services",), "Interact with services", SERVICES_HELP)
register(("services", "register"), register_services, "Register services with the local agent")
register(("services", "deregister"), deregister_services, "Deregister services with the local agent")
