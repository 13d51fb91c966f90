"""Real servers the check tests make healthy and unhealthy, and a notifier that records results."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyconsul.checks import CheckScheduler
from pyconsul.clock import FakeClock


@dataclass
class Recorder:
    """The agent side of the scheduler, recording what it is told."""

    updates: list[tuple[str, str, str]] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)

    def update_check(self, check_id: str, status: str, output: str) -> None:
        self.updates.append((check_id, status, output))

    def critical_too_long(self, check_id: str) -> None:
        self.reaped.append(check_id)

    def last(self, check_id: str) -> tuple[str, str]:
        for cid, status, output in reversed(self.updates):
            if cid == check_id:
                return status, output
        raise AssertionError(f"no update for {check_id}: {self.updates}")

    def count(self, check_id: str) -> int:
        return sum(1 for cid, _, _ in self.updates if cid == check_id)


class HealthServer:
    """A real HTTP(S) server on 127.0.0.1 whose answer the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"ok"
        self.hold: asyncio.Event | None = None  # when set, requests wait for it
        self.requests: list[dict[str, object]] = []
        self.sni: list[str | None] = []
        self.port = 0
        self.scheme = "http"
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {"method": request.method, "path": request.path_qs, "headers": dict(request.headers),
             "body": await request.read()}
        )
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status, body=self.body)

    async def start(self, tls: ssl.SSLContext | None = None) -> HealthServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.scheme = "https" if tls else "http"
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        return self

    def url(self, path: str = "/health") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def http_server() -> AsyncIterator[HealthServer]:
    srv = await HealthServer().start()
    yield srv
    await srv.stop()


def self_signed_context(tmp: Path, name: str = "health.test") -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def scheduler(recorder: Recorder, clock: FakeClock) -> AsyncIterator[CheckScheduler]:
    s = CheckScheduler(recorder, clock=clock)
    yield s
    await s.stop()


async def run_once(s: CheckScheduler, clock: FakeClock, interval: float) -> None:
    """Move the fake clock one full interval (past any stagger) and run what became due."""
    clock.advance(interval)
    await s.run_due()
