"""HTTP/1.x message heads for the proxy's `-http-proxy` listener (pure: bytes in, values out).

What an app configured with `http_proxy=` sends, and which Connect service it names:

- absolute-form `GET http://hello/path HTTP/1.1` (curl, requests, Go, every client that honours
  `http_proxy`), or origin-form `GET /path` with `Host: hello` (an app pointed at the listener
  directly); `CONNECT hello:443` (curl -p, `https_proxy`) tunnels bytes to the service.
- The host names the service: `hello`, or Consul's DNS names for it — `hello.service.consul`,
  `hello.connect.consul`, `hello.virtual.consul`, with an optional datacenter label before the
  domain (`hello.service.dc1.consul`) that must be the proxy's own. A port (`hello:8080`) is the
  app's idea of where the service listens and is ignored: the mesh reaches the instance's proxy,
  which dials the service's own port. Anything else (an IP, `example.com`) is not a service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Consul's service names as DNS can carry them (letters, digits, dashes; underscores tolerated).
NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})$")
DNS_KINDS = ("service", "connect", "virtual")
# Not forwarded: meant for us (RFC 9110's proxy hop), or answered by us (Expect).
DROPPED = {"proxy-connection", "proxy-authorization", "expect"}


class HeadError(ValueError):
    """A request we cannot route; `status` is what the app is answered."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), "")

    def tokens(self, name: str) -> set[str]:
        """A comma-list header's tokens, lowercased (all occurrences)."""
        name = name.lower()
        return {t.strip().lower() for k, v in self.headers if k.lower() == name for t in v.split(",") if t.strip()}


@dataclass(frozen=True)
class Response:
    status: int
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), "")

    def tokens(self, name: str) -> set[str]:
        name = name.lower()
        return {t.strip().lower() for k, v in self.headers if k.lower() == name for t in v.split(",") if t.strip()}


def _fields(lines: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise HeadError(400, f"malformed header line {line[:80]!r}")
        out.append((name, value.strip()))
    return tuple(out)


def _split(head: bytes) -> list[str]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HeadError(400, "undecodable head") from None
    lines = text.split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise HeadError(400, "empty request")
    return lines


def parse_request(head: bytes) -> Request:
    """The head up to and including its blank line."""
    lines = _split(head)
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HeadError(400, f"malformed request line {lines[0][:80]!r}")
    method, target, version = parts
    return Request(method, target, version, _fields(lines[1:]))


def parse_response(head: bytes) -> Response:
    lines = _split(head)
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise HeadError(502, f"the service answered a malformed status line {lines[0][:80]!r}")
    return Response(int(code), version, _fields(lines[1:]))


def service_name(host: str, datacenter: str, domains: tuple[str, ...] = ("consul",)) -> str:
    """The Connect service a host (without port) names; HeadError(502) when it names none."""
    host = host.lower().rstrip(".")
    labels = host.split(".")
    if len(labels) == 1 and NAME.match(host):
        return host
    for domain in domains:
        d = domain.lower().strip(".").split(".")
        if labels[-len(d):] != d:
            continue
        rest = labels[:-len(d)]
        if len(rest) == 3 and rest[2] != datacenter.lower():
            raise HeadError(502, f"{host} is in datacenter {rest[2]}; this proxy reaches only {datacenter}")
        if len(rest) in (2, 3) and rest[1] in DNS_KINDS and NAME.match(rest[0]):
            return rest[0]
    raise HeadError(502, f"{host!r} is not a Connect service name (send http://<service>/, "
                         f"or <service>.service.consul)")


def split_authority(authority: str) -> str:
    """`hello:8080` → `hello`; `[::1]:80` → `::1`."""
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


@dataclass(frozen=True)
class Route:
    service: str
    path: str  # origin-form target to send on ("" for CONNECT)
    host: str  # the Host header to send (the app's authority)


def route(req: Request, datacenter: str, domains: tuple[str, ...] = ("consul",)) -> Route:
    if req.method == "CONNECT":
        return Route(service_name(split_authority(req.target), datacenter, domains), "", req.target)
    target = req.target
    if "://" in target:
        scheme, _, rest = target.partition("://")
        if scheme.lower() != "http":
            raise HeadError(400, f"{scheme}:// is not proxied as a request; use CONNECT (https_proxy)")
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, path = rest[:cut].rpartition("@")[2], rest[cut:]  # the path exactly as sent
        if not authority:
            raise HeadError(400, "absolute URI without a host")
        path = path if path.startswith("/") else "/" + path
        return Route(service_name(split_authority(authority), datacenter, domains), path, authority)
    if not target.startswith("/"):
        raise HeadError(400, f"request target {target[:80]!r} is neither absolute nor a path")
    host = req.header("host")
    if not host:
        raise HeadError(400, "an origin-form request needs a Host header naming the service")
    return Route(service_name(split_authority(host), datacenter, domains), target, host)


def upstream_head(req: Request, rt: Route) -> bytes:
    """The request as the service gets it: origin-form, Host the app's authority, proxy hop
    headers dropped."""
    lines = [f"{req.method} {rt.path} {req.version}", f"Host: {rt.host}"]
    lines += [f"{k}: {v}" for k, v in req.headers if k.lower() not in DROPPED and k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def body_length(headers: Request | Response) -> int | None:
    """-1: chunked; n: Content-Length; None: no framing header."""
    if "chunked" in headers.tokens("transfer-encoding"):
        return -1
    value = headers.header("content-length")
    if not value:
        return None
    if not value.isdigit():
        raise HeadError(400 if isinstance(headers, Request) else 502, f"bad Content-Length {value[:40]!r}")
    return int(value)


def response_has_body(method: str, status: int) -> bool:
    return method != "HEAD" and not (100 <= status < 200 or status in (204, 304))


def client_keeps_alive(req: Request) -> bool:
    conn = req.tokens("connection") | req.tokens("proxy-connection")
    if "close" in conn:
        return False
    return req.version != "HTTP/1.0" or "keep-alive" in conn


def error_response(status: int, text: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 431:
              "Request Header Fields Too Large", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(status, "Error")
    body = (text.rstrip("\n") + "\n").encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
