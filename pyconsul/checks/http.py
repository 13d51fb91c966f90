"""HTTP(S) checks: 2xx passing, 429 warning, anything else critical (Consul's CheckHTTP).

Output is `HTTP <METHOD> <url>: <code> <reason> Output: <body>` with the body capped to the last
`output_max_size` bytes; a transport error's text is the output (worded like Go's net/http).
Connections are not kept alive between runs, as Consul's check client disables keep-alives.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from multidict import CIMultiDict

from pyconsul.checks.base import CRITICAL, PASSING, WARNING, CheckResult, CheckSpec, TailBuffer
from pyconsul.checks.tls import AgentTLS, client_context

USER_AGENT = "Consul Health Check"
ACCEPT = "text/plain, text/*, */*"


def status_for_code(code: int) -> str:
    if 200 <= code <= 299:
        return PASSING
    if code == 429:
        return WARNING
    return CRITICAL


def make_session() -> aiohttp.ClientSession:
    """One session shared by all HTTP checks of a scheduler."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True, ttl_dns_cache=10)
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar())


def _headers(defn: dict[str, Any]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, values in (defn.get("Header") or {}).items():
        for v in values if isinstance(values, list) else [values]:
            headers.add(name, str(v))
    headers.setdefault("User-Agent", USER_AGENT)
    headers.setdefault("Accept", ACCEPT)
    return headers


async def run_http(spec: CheckSpec, session: aiohttp.ClientSession, agent_tls: AgentTLS | None = None) -> CheckResult:
    defn = spec.definition
    url = str(defn["HTTP"])
    method = str(defn.get("Method") or "GET").upper()
    body = defn.get("Body") or None
    kwargs: dict[str, Any] = {
        "headers": _headers(defn),
        "data": body.encode() if isinstance(body, str) else body,
        "allow_redirects": not defn.get("DisableRedirects"),
        "timeout": aiohttp.ClientTimeout(total=spec.timeout),
    }
    if url.startswith("https:"):
        if defn.get("TLSSkipVerify") or agent_tls is not None:
            kwargs["ssl"] = client_context(agent_tls, bool(defn.get("TLSSkipVerify")))
        if defn.get("TLSServerName"):
            kwargs["server_hostname"] = str(defn["TLSServerName"])
    buf = TailBuffer(spec.output_max_size)
    try:
        async with session.request(method, url, **kwargs) as resp:
            async for chunk in resp.content.iter_chunked(16384):
                buf.write(chunk)
            reason = resp.reason or ""
            status_line = f"{resp.status} {reason}".rstrip()
            return CheckResult(
                status_for_code(resp.status), f"HTTP {method} {url}: {status_line} Output: {buf.text()}"
            )
    except TimeoutError:
        return CheckResult(
            CRITICAL,
            f'{method.capitalize()} "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except aiohttp.ClientConnectorError as exc:
        return CheckResult(CRITICAL, f'{method.capitalize()} "{url}": {_dial_error(exc)}')
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return CheckResult(CRITICAL, f'{method.capitalize()} "{url}": {exc or type(exc).__name__}')
    except asyncio.CancelledError:
        raise


def _dial_error(exc: aiohttp.ClientConnectorError) -> str:
    host, port = exc.host, exc.port
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_err = exc.certificate_error
        reason = getattr(cert_err, "verify_message", "") or str(cert_err)
        return f"tls: failed to verify certificate: x509: {reason}"
    os_err = exc.os_error
    if isinstance(os_err, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(os_err, ssl.SSLError) or isinstance(exc, aiohttp.ClientSSLError):
        return f"tls: {os_err or exc}"
    return f"dial tcp {host}:{port}: {os_err.strerror if os_err and os_err.strerror else exc}"
