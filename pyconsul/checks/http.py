"""HTTP(S) checks: 2xx passing, 429 warning, anything else critical (Consul's CheckHTTP).

Output is `HTTP <METHOD> <url>: <code> <reason> Output: <body>` with the body capped to the last
`output_max_size` bytes; a transport error's text is the output (worded like Go's net/http).
Connections are not kept alive between runs, as Consul's check client disables keep-alives.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from pyconsul.checks.base import CRITICAL, PASSING, WARNING, CheckResult, CheckSpec, TailBuffer
from pyconsul.checks.http_lean import lean_request
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
    op = method.capitalize()  # Go's url.Error wording: `Get "http://...": ...`
    started = asyncio.get_running_loop().time()
    if url.startswith("http:"):
        try:
            lean = await asyncio.wait_for(
                lean_request(url, method, kwargs["headers"], kwargs["data"], spec.output_max_size,
                             kwargs["allow_redirects"]),
                spec.timeout,
            )
        except TimeoutError:
            return CheckResult(CRITICAL, f'{op} "{url}": {_TIMEOUT}')
        except OSError as exc:
            return CheckResult(CRITICAL, f'{op} "{url}": {_lean_dial_error(url, exc)}')
        if lean is not None:
            status_line = f"{lean.status} {lean.reason}".rstrip()
            return CheckResult(status_for_code(lean.status), f"HTTP {method} {url}: {status_line} Output: {lean.body}")
        remaining = spec.timeout - (asyncio.get_running_loop().time() - started)
        kwargs["timeout"] = aiohttp.ClientTimeout(total=max(remaining, 0.001))
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
        return CheckResult(CRITICAL, f'{op} "{url}": {_TIMEOUT}')
    except aiohttp.ClientConnectorError as exc:
        return CheckResult(CRITICAL, f'{op} "{url}": {_dial_error(exc)}')
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return CheckResult(CRITICAL, f'{op} "{url}": {exc or type(exc).__name__}')
    except asyncio.CancelledError:
        raise


_TIMEOUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"


def _lean_dial_error(url: str, exc: OSError) -> str:
    parts = urlsplit(url)
    addr = f"{parts.hostname}:{parts.port or 80}"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {addr}: connect: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup {parts.hostname}: no such host"
    if isinstance(exc, ConnectionResetError):
        return f"read tcp {addr}: read: connection reset by peer"
    return f"dial tcp {addr}: {exc.strerror or exc}"


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
