"""TLS client contexts for checks: system trust, `TLSSkipVerify`, or the agent's own certificates.

With `enable_agent_tls_for_checks`, Consul's HTTPS, TCP+TLS, gRPC and H2 ping checks present the
agent's certificate and trust its CA (ca_file / ca_path) instead of the system store.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class AgentTLS:
    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""


@lru_cache(maxsize=32)
def client_context(agent_tls: AgentTLS | None, skip_verify: bool, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """One shared context per combination (building one reads files; checks run often)."""
    if agent_tls is not None and (agent_tls.ca_file or agent_tls.ca_path):
        ctx = ssl.create_default_context(cafile=agent_tls.ca_file or None, capath=agent_tls.ca_path or None)
    else:
        ctx = ssl.create_default_context()
    if agent_tls is not None and agent_tls.cert_file and agent_tls.key_file:
        ctx.load_cert_chain(agent_tls.cert_file, agent_tls.key_file)
    if skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx
