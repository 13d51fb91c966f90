"""SSL contexts from the resolved per-interface TLS settings (`pyconsul.tls.settings`).

Every listener and dialer takes an `ssl.SSLContext`; this module is the one place that builds
them, so HTTPS, the server port and outgoing RPC apply the same rules: the interface's minimum
version and cipher suites, its CA for checking peers, and verify_incoming as a required client
certificate. Building reads the files each time, which is what reload relies on.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.tls.settings import CIPHER_SUITES, InterfaceTLS


class TLSConfigError(ValueError):
    pass


_VERSIONS = {
    "TLSv1_0": ssl.TLSVersion.TLSv1,
    "TLSv1_1": ssl.TLSVersion.TLSv1_1,
    "TLSv1_2": ssl.TLSVersion.TLSv1_2,
    "TLSv1_3": ssl.TLSVersion.TLSv1_3,
}


def server_hostname(cfg: RuntimeConfig) -> str:
    """The name a server's certificate must carry: `server.<dc>.<domain>` (domain without its dot)."""
    return f"server.{cfg.datacenter}.{cfg.domain.rstrip('.')}"


def _apply_protocol(ctx: ssl.SSLContext, iface: InterfaceTLS) -> None:
    version = _VERSIONS.get(iface.min_version)  # TLS_AUTO: the library's default
    if version is not None:
        if version < ssl.TLSVersion.TLSv1_2:
            # OpenSSL's default security level refuses TLS 1.0/1.1 outright; asking for them
            # explicitly is the operator's choice, as in Consul.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
    if iface.cipher_suites:
        try:
            ctx.set_ciphers(":".join(CIPHER_SUITES[n] for n in iface.cipher_suites))
        except ssl.SSLError as exc:
            raise TLSConfigError(f"no usable cipher suite in {', '.join(iface.cipher_suites)}: {exc}") from None


def _load_ca(ctx: ssl.SSLContext, iface: InterfaceTLS) -> None:
    if iface.has_ca:
        try:
            ctx.load_verify_locations(cafile=iface.ca_file or None, capath=iface.ca_path or None)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"Failed to load CA from {iface.ca_file or iface.ca_path}: {exc}") from None


def _load_cert(ctx: ssl.SSLContext, iface: InterfaceTLS) -> None:
    try:
        ctx.load_cert_chain(iface.cert_file, iface.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"Failed to load cert/key pair {iface.cert_file}, {iface.key_file}: {exc}") from None


def listener_context(iface: InterfaceTLS, what: str) -> ssl.SSLContext:
    """A server-side context for one interface. With verify_incoming a client certificate from
    the CA is required at the handshake; without it one is checked when offered (so the server
    port can still tell a server's certificate from a client's)."""
    if not iface.has_cert:
        raise TLSConfigError(f"{what} is set but cert_file and key_file are not")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_protocol(ctx, iface)
    _load_cert(ctx, iface)
    _load_ca(ctx, iface)
    if iface.verify_incoming:
        if not iface.has_ca:
            raise TLSConfigError("VerifyIncoming set, and no CA certificate provided!")
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif iface.has_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def https_server_context(cfg: RuntimeConfig) -> ssl.SSLContext | None:
    """The HTTPS listener's context, or None when HTTPS is off (ports.https <= 0)."""
    if cfg.ports.https <= 0:
        return None
    return listener_context(cfg.tls_settings.https, "HTTPS port")


def rpc_server_context(cfg: RuntimeConfig) -> ssl.SSLContext | None:
    """The server port's context, or None when internal RPC TLS is off (neither verify_incoming
    nor verify_outgoing: Consul does not enable TLS there at all)."""
    if not cfg.tls_settings.rpc_tls:
        return None
    return listener_context(cfg.tls_settings.internal_rpc, "TLS on the server port (verify_incoming/verify_outgoing)")


def rpc_client_context(cfg: RuntimeConfig) -> ssl.SSLContext | None:
    """What an agent dials servers with (Raft, forwarding, gossip push/pull): None unless
    verify_outgoing. The peer's chain is checked against the CA; with verify_server_hostname its
    certificate must also be valid for `server.<dc>.<domain>`. Our own certificate is offered
    so servers under verify_incoming accept us."""
    rpc = cfg.tls_settings.internal_rpc
    if not rpc.verify_outgoing:
        return None
    if not rpc.has_ca:
        raise TLSConfigError("VerifyOutgoing set, and no CA certificate provided!")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_protocol(ctx, rpc)
    _load_ca(ctx, rpc)
    if rpc.has_cert:
        _load_cert(ctx, rpc)
    ctx.check_hostname = rpc.verify_server_hostname
    return ctx


@dataclass
class RPCContexts:
    """The server port's listener context and the one agents dial servers with; None where
    internal RPC TLS is off. Mutable: a reload swaps in contexts built from the new files, and
    the listener and dialers read these at each new connection."""

    server: ssl.SSLContext | None = None
    client: ssl.SSLContext | None = None
    server_hostname: str = ""  # SNI, and the name checked under verify_server_hostname

    def swap(self, new: RPCContexts) -> None:
        self.server, self.client, self.server_hostname = new.server, new.client, new.server_hostname


def rpc_contexts(cfg: RuntimeConfig) -> RPCContexts:
    return RPCContexts(rpc_server_context(cfg) if cfg.server else None, rpc_client_context(cfg), server_hostname(cfg))


class ListenerSwitch:
    """Lets a running listener take new certificates: the listener keeps the context it was
    created with (`front`), and at each handshake the server-name callback (OpenSSL calls it
    for every ClientHello, SNI or not) moves the connection onto `current`. Connections made
    before a swap keep the context they shook hands with."""

    def __init__(self, front: ssl.SSLContext) -> None:
        self.front = front
        self.current = front
        front.sni_callback = self._pick

    def _pick(self, conn: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        current = self.current
        if current is not self.front:
            conn.context = current

    def swap(self, new: ssl.SSLContext) -> None:
        self.current = new
