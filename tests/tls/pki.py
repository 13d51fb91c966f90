"""Certificates for tests, made with the same code as `tls ca create` / `tls cert create`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from pyconsul.tls.certs import build_ca, build_leaf, leaf_names


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(d: Path, name: str = "consul-agent-ca") -> Pair:
    d.mkdir(parents=True, exist_ok=True)
    pem = build_ca(now() - datetime.timedelta(minutes=1), 30)
    cert, key = d / f"{name}.pem", d / f"{name}-key.pem"
    cert.write_text(pem.cert)
    key.write_text(pem.key)
    return Pair(cert, key)


def make_leaf(ca: Pair, d: Path, kind: str, name: str, dc: str = "dc1", start: datetime.datetime | None = None,
              days: int = 30) -> Pair:
    """A `server`, `client` or `cli` certificate signed by `ca` (valid from `start` for `days`)."""
    pem = build_leaf(ca.cert.read_bytes(), ca.key.read_bytes(), leaf_names(kind, dc, "consul"),
                     start or now() - datetime.timedelta(minutes=1), days)
    cert, key = d / f"{name}.pem", d / f"{name}-key.pem"
    cert.write_text(pem.cert)
    key.write_text(pem.key)
    return Pair(cert, key)
