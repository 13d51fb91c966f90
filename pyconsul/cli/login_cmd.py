"""`consul login` (an auth method's bearer token exchanged for an ACL token, written to a sink
file 0600) and `consul logout` (the token given by -token & co. deleted), as Consul's CLI."""

from __future__ import annotations

import json
import os

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.output import error
from pyconsul.cli.registry import register
from pyconsul.client.errors import ConsulError


def login(argv: list[str]) -> int:
    fs = new_flags("\nUsage: consul login [options]\n\n  The login command will exchange the provided third party "
                   "credentials with the\n  requested auth method for a newly minted Consul ACL token.\n", http="client")
    fs.string("method", "", "Name of the auth method to login to.")
    fs.string("bearer-token-file", "", "Path to a file containing a secret bearer token to use with this auth method.")
    fs.string("token-sink-file", "", "The most recent token's SecretID is kept up to date in this file.")
    fs.map("meta", "Metadata to set on the token, formatted as key=value. This flag may be specified multiple times.")
    opts = fs.parse(argv)
    if opts.args:
        error("Should have no non-flag arguments.")
        return 1
    for flag in ("method", "token-sink-file", "bearer-token-file"):
        if not opts[flag]:
            error(f"Missing required '-{flag}' flag")
            return 1
    try:
        with open(opts["bearer-token-file"], encoding="utf-8") as fh:
            bearer = fh.read().strip()
    except OSError as exc:
        error(f"Error reading bearer token file: {exc}")
        return 1
    if not bearer:
        error(f"No bearer token found in {opts['bearer-token-file']}")
        return 1
    body: dict[str, object] = {"AuthMethod": opts["method"], "BearerToken": bearer}
    if opts["meta"]:
        body["Meta"] = dict(opts["meta"])
    client = connect(opts)
    try:
        token = client.request("POST", "/v1/acl/login", None, json.dumps(body)).json()
    except ConsulError as exc:
        error(f"Error logging in: {exc}")
        return 1
    try:
        sink = opts["token-sink-file"]
        tmp = f"{sink}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token["SecretID"])
        os.replace(tmp, sink)
    except OSError as exc:
        error(f"Error writing token to file sink: {exc}")
        return 1
    return 0


def logout(argv: list[str]) -> int:
    fs = new_flags("\nUsage: consul logout [options]\n\n  The logout command will destroy the provided token if it "
                   "was created from\n  'consul login'.\n", http="client")
    opts = fs.parse(argv)
    if opts.args:
        error("Should have no non-flag arguments.")
        return 1
    try:
        connect(opts).request("POST", "/v1/acl/logout")
    except ConsulError as exc:
        error(f"Error destroying token: {exc}")
        return 1
    return 0


register(("login",), login, "Login to Consul using an auth method")
register(("logout",), logout, "Destroy a Consul token created with login")
