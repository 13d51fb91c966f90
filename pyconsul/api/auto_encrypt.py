"""`AutoEncrypt.Sign` (Consul's agent/consul/auto_encrypt_endpoint.go) as a server-port request.

A client agent with `auto_encrypt { tls = true }` posts `{"Datacenter", "CSR"}` with its agent
token to `POST /v1/internal/server/auto-encrypt/sign` on a server's server port, over TLS and
possibly without a client certificate yet (agent/server_port.py lets such a connection make this
request only). The server answers Consul's SignedResponse: the issued certificate, the roots
that sign client certificates (`ConnectCARoots`), its own CA files (`ManualCARoots`) and whether
it checks server hostnames. The refusals are Consul's texts. Asked anywhere but on the server
port (the HTTP API, or relayed by a client agent) it is a 404.

The Connect CA signs (`connect/agent_signer.py`); a follower that has no CA yet relays the
request to the leader (api/leader_relay.py). Where Connect is off the built-in agent CA signs,
made by the leader on first use through Raft.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Protocol

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.leader_relay import relay_to_leader
from pyconsul.api.params import QueryOptions
from pyconsul.tls.auto_encrypt import SIGN_PATH as SIGN_PATH  # the route's path
from pyconsul.tls.certs import CertError
from pyconsul.tls.signer import AgentCertSigner, BuiltinCASigner, SignerNotReady

NOT_ALLOWED = "AutoEncrypt.AllowTLS must be enabled in order to use this endpoint"


class AutoEncryptServer(Protocol):
    """A server's side of auto_encrypt (the agent has one when it is a server)."""

    @property
    def signer(self) -> AgentCertSigner | None:
        """None unless auto_encrypt.allow_tls."""

    def server_port_number(self) -> int:
        """The port forwarded requests arrive on (0 when there is none)."""


def _on_server_port(req: web.Request, server: AutoEncryptServer | None) -> bool:
    sockname = req.transport.get_extra_info("sockname") if req.transport is not None else None
    return server is not None and bool(sockname) and sockname[1] == server.server_port_number()


def manual_ca_roots(ca_file: str, ca_path: str) -> list[str]:
    """The server's own CA PEMs (ca_file, then each file in ca_path), for the client to trust."""
    out: list[str] = []
    paths = [ca_file] if ca_file else []
    if ca_path and os.path.isdir(ca_path):
        paths += sorted(os.path.join(ca_path, n) for n in os.listdir(ca_path))
    for path in paths:
        try:
            with open(path) as f:
                out.append(f.read())
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _now(ctx: APIContext) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ctx.store.clock.time(), datetime.UTC)


async def sign(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    server: AutoEncryptServer | None = getattr(ctx.agent, "auto_encrypt_server", None)
    if not _on_server_port(req, server):
        raise HTTPError(404, "404 page not found")
    assert server is not None
    signer = server.signer
    if signer is None:
        raise HTTPError(400, NOT_ALLOWED)
    body = await read_json(req)
    if not isinstance(body, dict) or not isinstance(body.get("CSR"), str):
        raise HTTPError(400, "Request decode failed: expected {\"Datacenter\": \"...\", \"CSR\": \"...\"}")
    cfg = ctx.agent.config
    dc = str(body.get("Datacenter") or "")
    if dc and dc != cfg.datacenter:
        raise HTTPError(400, f"mismatched datacenter (client_dc='{dc}' server_dc='{cfg.datacenter}'); "
                             "check client has same datacenter set as servers")
    try:
        issued = signer.sign(body["CSR"], cfg.datacenter, _now(ctx))
    except SignerNotReady:
        relayed = await relay_to_leader(ctx, req)
        if relayed is not None:
            return relayed
        if not isinstance(signer, BuiltinCASigner):
            # the leader makes the Connect CA when it takes office; the client asks again
            raise HTTPError(500, "CA has not finished initializing") from None
        await signer.create(ctx.agent.write, _now(ctx))
        issued = signer.sign(body["CSR"], cfg.datacenter, _now(ctx))
    except CertError as exc:
        raise HTTPError(400, str(exc)) from None
    rpc = cfg.tls_settings.internal_rpc
    roots: list[dict[str, Any]] = [{"RootCert": pem, "Active": True} for pem in signer.roots()]
    node = str(body.get("Node") or "")
    return json_reply({
        "IssuedCert": {
            "SerialNumber": issued.serial_hex, "CertPEM": issued.cert_pem, "Agent": node,
            "ValidAfter": issued.valid_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ValidBefore": issued.valid_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "ConnectCARoots": {"Roots": roots},
        "ManualCARoots": manual_ca_roots(rpc.ca_file, rpc.ca_path),
        "VerifyServerHostname": rpc.verify_server_hostname,
    }, q=q)
