"""A client agent's side of auto_encrypt: get a certificate from a server, keep it, renew it.

Consul's flow (agent/auto-config/auto_encrypt.go): make a key and a CSR for
`spiffe://unknown/agent/client/dc/<dc>/id/<node>`, send it with the agent token to
`AutoEncrypt.Sign` on one server after another (the ones gossip knows, else the join addresses
on the server port), and on success use the issued certificate with the key it never sent. Each
failure is logged as `AutoEncrypt.Sign RPC failed`; when every server failed, `No servers
successfully responded to the auto-encrypt request`, and it tries again after a backoff, for as
long as it takes. The certificate lives in memory only; it is renewed at a random point between
60 % and 90 % of its life (`agent_leaf.renew_at`), with the same retries.

`AutoEncryptClient` does the exchange; the agent hands every new `AutoTLS` to its listeners
and dialers (agent/tls_wiring.py).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.tls.agent_leaf import agent_csr, renew_at, validity
from pyconsul.tls.context import AutoTLS

log = logging.getLogger("pyconsul.auto_encrypt")

SIGN_PATH = "/v1/internal/server/auto-encrypt/sign"
NO_SERVERS = "No servers successfully responded to the auto-encrypt request"
MIN_BACKOFF, MAX_BACKOFF = 1.0, 30.0


class AutoEncryptFailed(Exception):
    pass


@dataclass(frozen=True)
class Signed:
    tls: AutoTLS
    valid_after: datetime.datetime
    valid_before: datetime.datetime


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after `attempt` (1, 2, …) rounds in which every server failed: doubling
    from 1 s to 30 s, with up to 25 % jitter so a fleet restarted at once spreads out."""
    base = min(MAX_BACKOFF, MIN_BACKOFF * 2 ** max(0, attempt - 1))
    return base * (1 + rng.uniform(0, 0.25))


def signed_from_reply(reply: dict[str, Any], key_pem: str) -> Signed:
    """The SignedResponse's parts this agent keeps: its certificate and key, and every root it
    should trust beside its own CA files (the roots that sign client certificates, then the
    servers' CA files)."""
    cert_pem = str(reply["IssuedCert"]["CertPEM"])
    roots = [str(r["RootCert"]) for r in (reply.get("ConnectCARoots") or {}).get("Roots") or []]
    manual = [str(p) for p in reply.get("ManualCARoots") or []]
    after, before = validity(cert_pem)
    tls = AutoTLS(cert_pem, key_pem, tuple(dict.fromkeys(roots + manual)), bool(reply.get("VerifyServerHostname")))
    return Signed(tls, after, before)


class AutoEncryptClient:
    def __init__(self, datacenter: str, node: str, token: str, servers: Callable[[], list[str]],
                 context: Callable[[], ssl.SSLContext | None], server_hostname: str,
                 dns_san: tuple[str, ...] = (), ip_san: tuple[str, ...] = (),
                 clock: Clock = SYSTEM_CLOCK, rng: random.Random | None = None) -> None:
        """`servers` gives server-port addresses in the order to try; `context` the TLS context
        to dial them with (read at each attempt: it carries the current certificate)."""
        self._dc, self._node, self._token = datacenter, node, token
        self._servers, self._context, self._server_hostname = servers, context, server_hostname
        self._dns_san, self._ip_san = dns_san, ip_san
        self._clock = clock
        self._rng = rng or random.Random()

    async def sign_once(self, timeout: float = 10.0) -> Signed:
        """One round over the servers; AutoEncryptFailed when none signed."""
        csr = agent_csr(self._dc, self._node, self._dns_san, self._ip_san)
        body = json.dumps({"Datacenter": self._dc, "Node": self._node, "CSR": csr.csr_pem}).encode()
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["X-Consul-Token"] = self._token
        servers = list(dict.fromkeys(self._servers()))
        ctx = self._context()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            for server in servers:
                try:
                    async with session.post(f"https://{server}{SIGN_PATH}", data=body, headers=headers,
                                            ssl=ctx if ctx is not None else False,
                                            server_hostname=self._server_hostname) as resp:
                        text = await resp.read()
                        if resp.status != 200:
                            raise AutoEncryptFailed(text.decode(errors="replace").strip() or f"HTTP {resp.status}")
                        return signed_from_reply(json.loads(text), csr.key_pem)
                except (AutoEncryptFailed, aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError,
                        ValueError, KeyError, TypeError) as exc:
                    log.warning("AutoEncrypt.Sign RPC failed", extra={"addr": server, "error": str(exc) or
                                                                      type(exc).__name__})
        raise AutoEncryptFailed(NO_SERVERS)

    async def sign(self, stop: asyncio.Event | None = None) -> Signed:
        """Rounds until one signs (Consul retries forever), waiting a backoff between them."""
        attempt = 0
        while True:
            try:
                return await self.sign_once()
            except AutoEncryptFailed as exc:
                attempt += 1
                wait = backoff(attempt, self._rng)
                log.error(str(exc), extra={"retry_in": f"{wait:.1f}s"})
            if stop is not None and stop.is_set():
                raise AutoEncryptFailed(NO_SERVERS)
            await asyncio.sleep(wait)

    def renew_delay(self, signed: Signed) -> float:
        """Seconds from now until this certificate should be replaced (0 when already due)."""
        when = renew_at(signed.valid_after, signed.valid_before, self._rng)
        return max(0.0, when.timestamp() - self._clock.time())

    async def keep_renewed(self, signed: Signed, on_new: Callable[[Signed], None]) -> None:
        """Forever: wait until renewal is due, get a new certificate, hand it over."""
        while True:
            await asyncio.sleep(self.renew_delay(signed))
            signed = await self.sign()
            log.info("auto_encrypt certificate renewed", extra={"valid_before": signed.valid_before.isoformat()})
            on_new(signed)
