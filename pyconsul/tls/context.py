"""SSL contexts from the resolved per-interface TLS settings (`pyconsul.tls.settings`).

Every listener and dialer takes an `ssl.SSLContext`; this module is the one place that builds
them, so HTTPS, the server port and outgoing RPC apply the same rules: the interface's minimum
version and cipher suites, its CA for checking peers, and verify_incoming as a required client
certificate. Building reads the files each time, which is what reload relies on.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass, field

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.tls.settings import CIPHER_SUITES, InterfaceTLS


class TLSConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AutoTLS:
    """What auto_encrypt brought: a certificate (kept in memory only) and the CA PEMs to trust
    beside the configured files — the roots that sign client certificates, and on a client the
    servers' own CA files (Consul's ManualCARoots)."""

    cert_pem: str = ""
    key_pem: str = ""
    ca_pems: tuple[str, ...] = ()
    verify_server_hostname: bool = False

    @property
    def has_cert(self) -> bool:
        return bool(self.cert_pem and self.key_pem)


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


def _load_ca(ctx: ssl.SSLContext, iface: InterfaceTLS, auto: AutoTLS | None = None) -> None:
    if iface.has_ca:
        try:
            ctx.load_verify_locations(cafile=iface.ca_file or None, capath=iface.ca_path or None)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"Failed to load CA from {iface.ca_file or iface.ca_path}: {exc}") from None
    for pem in auto.ca_pems if auto is not None else ():
        try:
            ctx.load_verify_locations(cadata=pem)
        except ssl.SSLError as exc:
            raise TLSConfigError(f"Failed to load an auto_encrypt CA certificate: {exc}") from None


def _has_ca(iface: InterfaceTLS, auto: AutoTLS | None) -> bool:
    return iface.has_ca or bool(auto is not None and auto.ca_pems)


def _load_cert(ctx: ssl.SSLContext, iface: InterfaceTLS, auto: AutoTLS | None = None) -> None:
    """The interface's own files; without them the auto_encrypt certificate (Consul: a
    configured certificate wins over the auto one)."""
    if not iface.has_cert and auto is not None and auto.has_cert:
        _load_cert_from_memory(ctx, auto.cert_pem, auto.key_pem)
        return
    try:
        ctx.load_cert_chain(iface.cert_file, iface.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"Failed to load cert/key pair {iface.cert_file}, {iface.key_file}: {exc}") from None


def _load_cert_from_memory(ctx: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """`ssl` loads certificates only from paths: hand it an anonymous memory file (Linux
    memfd), so an auto_encrypt key never reaches a disk; elsewhere a private temp file that is
    gone right after loading."""
    data = (cert_pem + key_pem).encode()
    memfd = getattr(os, "memfd_create", None)
    try:
        if memfd is not None:
            fd = memfd("pyconsul-auto-encrypt", 0)
            try:
                os.write(fd, data)
                ctx.load_cert_chain(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
            return
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            ctx.load_cert_chain(f.name)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"Failed to load the auto_encrypt certificate: {exc}") from None


def listener_context(iface: InterfaceTLS, what: str, auto: AutoTLS | None = None,
                     certless: bool = False) -> ssl.SSLContext:
    """A server-side context for one interface. With verify_incoming a client certificate from
    the CA is required at the handshake; without it one is checked when offered (so the server
    port can still tell a server's certificate from a client's). `certless` (a server with
    auto_encrypt.allow_tls) lets a TLS peer without a certificate finish the handshake even
    under verify_incoming: the server port then lets it ask for one and nothing else."""
    if not iface.has_cert and not (auto is not None and auto.has_cert):
        raise TLSConfigError(f"{what} is set but cert_file and key_file are not")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_protocol(ctx, iface)
    _load_cert(ctx, iface, auto)
    _load_ca(ctx, iface, auto)
    if iface.verify_incoming:
        if not _has_ca(iface, auto):
            raise TLSConfigError("VerifyIncoming set, and no CA certificate provided!")
        ctx.verify_mode = ssl.CERT_OPTIONAL if certless else ssl.CERT_REQUIRED
    elif _has_ca(iface, auto):
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def https_server_context(cfg: RuntimeConfig, auto: AutoTLS | None = None) -> ssl.SSLContext | None:
    """The HTTPS listener's context, or None when HTTPS is off (ports.https <= 0)."""
    if cfg.ports.https <= 0:
        return None
    return listener_context(cfg.tls_settings.https, "HTTPS port", auto)


def signs_for_clients(cfg: RuntimeConfig) -> bool:
    return cfg.server and cfg.auto_encrypt.allow_tls


def rpc_server_context(cfg: RuntimeConfig, auto: AutoTLS | None = None) -> ssl.SSLContext | None:
    """The server port's context, or None when internal RPC TLS is off (neither verify_incoming
    nor verify_outgoing: Consul does not enable TLS there at all)."""
    if not cfg.tls_settings.rpc_tls:
        return None
    return listener_context(cfg.tls_settings.internal_rpc, "TLS on the server port (verify_incoming/verify_outgoing)",
                            auto, certless=signs_for_clients(cfg))


def outgoing_tls(cfg: RuntimeConfig) -> bool:
    """Consul dials servers with TLS under verify_outgoing, and always with auto_encrypt.tls."""
    return cfg.tls_settings.internal_rpc.verify_outgoing or (cfg.auto_encrypt.tls and not cfg.server)


def rpc_client_context(cfg: RuntimeConfig, auto: AutoTLS | None = None) -> ssl.SSLContext | None:
    """What an agent dials servers with (Raft, forwarding): None unless verify_outgoing or
    auto_encrypt.tls. The peer's chain is checked against the CA; with verify_server_hostname
    (the agent's, or the servers' as auto_encrypt reported it) its certificate must also be
    valid for `server.<dc>.<domain>`. Our own certificate (the files, else auto_encrypt's) is
    offered so servers under verify_incoming accept us. An auto_encrypt client without a CA
    file and before its first certificate still encrypts but cannot check the server (Consul
    does the same for the Sign call)."""
    rpc = cfg.tls_settings.internal_rpc
    if not outgoing_tls(cfg):
        return None
    auto_client = cfg.auto_encrypt.tls and not cfg.server
    if not _has_ca(rpc, auto) and not auto_client:
        raise TLSConfigError("VerifyOutgoing set, and no CA certificate provided!")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_protocol(ctx, rpc)
    _load_ca(ctx, rpc, auto)
    if rpc.has_cert or (auto is not None and auto.has_cert):
        _load_cert(ctx, rpc, auto)
    if not _has_ca(rpc, auto):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx.check_hostname = rpc.verify_server_hostname or (auto is not None and auto.verify_server_hostname)
    return ctx


@dataclass
class RPCContexts:
    """The server port's listener context and the one agents dial servers with; None where
    internal RPC TLS is off. Mutable: a reload swaps in contexts built from the new files, and
    the listener and dialers read these at each new connection."""

    server: ssl.SSLContext | None = None
    client: ssl.SSLContext | None = None
    server_hostname: str = ""  # SNI, and the name checked under verify_server_hostname
    auto: AutoTLS | None = field(default=None, repr=False)  # what the contexts were built with

    def swap(self, new: RPCContexts) -> None:
        self.server, self.client, self.server_hostname = new.server, new.client, new.server_hostname
        self.auto = new.auto


def rpc_contexts(cfg: RuntimeConfig, auto: AutoTLS | None = None) -> RPCContexts:
    return RPCContexts(rpc_server_context(cfg, auto) if cfg.server else None, rpc_client_context(cfg, auto),
                       server_hostname(cfg), auto)


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
