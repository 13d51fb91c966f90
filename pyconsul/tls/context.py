"""SSL contexts from the agent config (ca_file/ca_path, cert_file, key_file, verify_*).

Every listener takes an `ssl.SSLContext`; this module is the one place that builds them, so the
same settings apply to HTTPS, the server port and outgoing connections.
"""

from __future__ import annotations

import ssl

from pyconsul.config.runtime import RuntimeConfig


class TLSConfigError(ValueError):
    pass


def _load_ca(ctx: ssl.SSLContext, cfg: RuntimeConfig) -> None:
    if cfg.ca_file or cfg.ca_path:
        try:
            ctx.load_verify_locations(cafile=cfg.ca_file or None, capath=cfg.ca_path or None)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"Failed to load CA from {cfg.ca_file or cfg.ca_path}: {exc}") from None


def https_server_context(cfg: RuntimeConfig) -> ssl.SSLContext | None:
    """The HTTPS listener's context, or None when HTTPS is off or has no certificate."""
    if cfg.ports.https <= 0:
        return None
    if not (cfg.cert_file and cfg.key_file):
        raise TLSConfigError("HTTPS port is set but cert_file and key_file are not")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"Failed to load cert/key pair {cfg.cert_file}, {cfg.key_file}: {exc}") from None
    _load_ca(ctx, cfg)
    if cfg.verifies_incoming_https():
        if not (cfg.ca_file or cfg.ca_path):
            raise TLSConfigError("VerifyIncoming set, and no CA certificate provided!")
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
