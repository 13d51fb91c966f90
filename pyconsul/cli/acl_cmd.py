"""`consul acl`: bootstrap and set-agent-token here; `policy …`, `token …` and `role …` in their
own modules (imported below so their commands register) — with Consul's pretty output (labels
padded to 18 columns) or -format=json. The token comes from -token, -token-file,
CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.acl_format import acl_flags, format_token, show
from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register, register_group

Row = dict[str, Any]

GROUP_HELP = """
Usage: consul acl <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's ACLs.
"""


def bootstrap(argv: list[str]) -> int:
    opts = acl_flags("\nUsage: consul acl bootstrap [options]\n\n  Bootstraps Consul's ACL system.\n").parse(argv)
    try:
        tok = connect(opts).request("PUT", "/v1/acl/bootstrap").json()
    except ConsulError as exc:
        error(f"Failed ACL bootstrapping: {exc}")
        return 1
    tok.pop("ID", None)
    show(opts, tok, format_token(tok))
    return 0


def set_agent_token(argv: list[str]) -> int:
    opts = new_flags("\nUsage: consul acl set-agent-token [options] TYPE TOKEN\n", http="client").parse(argv)
    if not opts.args:
        error("Missing TYPE and TOKEN arguments")
        return 1
    if len(opts.args) < 2:
        error("Missing TOKEN argument")
        return 1
    kind, token = opts.args[0], opts.args[1]
    if kind not in ("default", "agent", "recovery", "agent_recovery", "replication", "dns",
                    "config_file_service_registration", "master", "agent_master"):
        error("Unknown token type")
        return 1
    path_kind = {"recovery": "agent_recovery", "master": "agent_recovery"}.get(kind, kind)
    try:
        connect(opts).request("PUT", f"/v1/agent/token/{path_kind}", None, json.dumps({"Token": token}))
    except ConsulError as exc:
        error(f'Failed to set ACL token "{kind}": {exc}')
        return 1
    info(f'ACL token "{kind}" set successfully')
    return 0


register_group(("acl",), "Interact with Consul's ACLs", GROUP_HELP)
register_group(("acl", "policy"), "Manage Consul's ACL policies", "\nUsage: consul acl policy <subcommand> [options] [args]\n")
register_group(("acl", "token"), "Manage Consul's ACL tokens", "\nUsage: consul acl token <subcommand> [options] [args]\n")
register_group(("acl", "role"), "Manage Consul's ACL roles", "\nUsage: consul acl role <subcommand> [options] [args]\n")
register_group(("acl", "auth-method"), "Manage Consul's ACL auth methods",
               "\nUsage: consul acl auth-method <subcommand> [options] [args]\n")
register_group(("acl", "binding-rule"), "Manage Consul's ACL binding rules",
               "\nUsage: consul acl binding-rule <subcommand> [options] [args]\n")
register(("acl", "bootstrap"), bootstrap, "Bootstrap Consul's ACL system")
register(("acl", "set-agent-token"), set_agent_token, "Assign tokens for the Consul agent's usage")

# The subcommand groups register their commands on import.
from pyconsul.cli import acl_auth_cmd, acl_policy_cmd, acl_role_cmd, acl_token_cmd  # noqa: E402, F401
