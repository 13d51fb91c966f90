"""Golden tests: consul-template `.ctmpl` files (and Jinja2 `.j2` ones) against fixed Consul data.

Each `golden/NAME.ctmpl` must render exactly to `golden/NAME.out` (outputs written to match
Go text/template + consul-template semantics: whitespace trimming, map ordering, %v printing).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytemplate.template import Template
from tests.pytemplate.fixtures import ENV, NOW, sample_brain

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.suffix in (".ctmpl", ".j2"))


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    # `timestamp` formats local time, as consul-template does; pin the zone.
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    result = Template.from_file(GOLDEN / name).render(sample_brain(), ENV, NOW)
    assert result.complete, f"missing data: {sorted(result.missing)}"
    expected = (GOLDEN / name).with_suffix(".out").read_text()
    assert result.contents.decode() == expected


def test_seed_template_lists_every_passing_instance_in_consul_template_order() -> None:
    out = Template.from_file(GOLDEN / "seed_nginx.ctmpl").render(sample_brain(), ENV, NOW).contents.decode()
    servers = [line.strip() for line in out.splitlines() if re.fullmatch(r"\s*server \S+:\d+;", line)]
    assert servers == ["server 10.0.0.1:8080;", "server 10.0.0.1:8081;", "server 10.0.0.2:80;"]
