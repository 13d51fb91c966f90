"""The one place an outgoing TLS context to Consul is built (CLI, pytemplate, pyregistrator)."""

from __future__ import annotations

import os
import ssl

from pyconsul.client.errors import ConfigError
from pyconsul.client.settings import ClientSettings, os_error_text


def build_ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    """TLS as Consul's api package sets it up: TLS 1.2 or later; a CA file and/or every PEM file
    under a CA path replace the system roots (not added to them); a client certificate needs its
    key; insecure_skip_verify turns off both the chain and the host name check. Bad files are a
    ConfigError worded as Consul's. SNI and the name check use tls_server_name when set (the
    transports pass it as the server host name)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    loading = ""  # the file being read, for the error: OpenSSL's errors do not always name it
    try:
        if settings.ca_file:
            loading = settings.ca_file
            ctx.load_verify_locations(cafile=settings.ca_file)
        if settings.ca_path:
            _load_ca_path(ctx, settings.ca_path)
        if not (settings.ca_file or settings.ca_path):
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if settings.cert_file or settings.key_file:
            if not (settings.cert_file and settings.key_file):
                raise ConfigError("Both client cert and client key must be provided")
            loading = settings.cert_file
            ctx.load_cert_chain(settings.cert_file, settings.key_file)
    except ssl.SSLError as exc:  # before OSError: SSLError is one
        raise ConfigError(f"tls: failed to load certificates: {exc.reason or exc}") from None
    except OSError as exc:
        raise ConfigError(os_error_text(exc, exc.filename or loading)) from None
    if settings.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_ca_path(ctx: ssl.SSLContext, ca_path: str) -> None:
    """Every file under the directory is a PEM bundle (Go's rootcerts), no c_rehash names needed."""
    if not os.path.isdir(ca_path):
        raise ConfigError(f"Error loading CA Path: lstat {ca_path}: no such file or directory")
    for root, _dirs, files in sorted(os.walk(ca_path)):
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                with open(path, encoding="ascii", errors="replace") as fh:
                    ctx.load_verify_locations(cadata=fh.read())
            except ssl.SSLError:  # before OSError: SSLError is one
                raise ConfigError(f"Error loading CA Path: couldn't parse PEM in: {path}") from None
            except OSError as exc:
                raise ConfigError(f"Error loading file from CAPath: {exc}") from None
