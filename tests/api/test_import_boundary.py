"""The HTTP API depends on the agent only through `pyconsul.api.port.AgentPort`: importing any
API view (every `pyconsul.api` module, and the UI's /v1/internal/ui/* views) must not load
`pyconsul.agent`, no view names it at all, and every `ctx.agent.<name>` a view uses is part of
the port."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pyconsul.api
from pyconsul.api.port import AgentPort

API_DIR = Path(pyconsul.api.__file__).parent
ROOT = API_DIR.parent.parent
# API views outside api/: they are handed an APIContext like the api/ handlers.
OTHER_VIEWS = [ROOT / "pyconsul" / "ui" / "internal_api.py"]
VIEW_FILES = sorted(API_DIR.glob("*.py")) + OTHER_VIEWS
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts) for p in VIEW_FILES if p.stem != "__init__"
)


def test_every_api_module_and_view_is_covered() -> None:
    assert "pyconsul.api.operator" in MODULES and "pyconsul.ui.internal_api" in MODULES
    assert all(p.is_file() for p in OTHER_VIEWS)


def test_importing_every_api_module_loads_no_agent_module() -> None:
    script = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'pyconsul.agent' or m.startswith('pyconsul.agent.')))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_api_module_imports_from_agent_even_for_type_checking() -> None:
    offenders = []
    for path in VIEW_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n == "pyconsul.agent" or n.startswith("pyconsul.agent.")]
    assert offenders == []


def test_views_reach_the_agent_only_through_port_members() -> None:
    members = {n for n in dir(AgentPort) if not n.startswith("_")}
    used: dict[str, set[str]] = {}
    for path in VIEW_FILES:
        for name in re.findall(r"\bctx\.agent\.(\w+)", path.read_text()):
            used.setdefault(name, set()).add(path.name)
    unknown = {name: sorted(files) for name, files in used.items() if name not in members}
    assert used and unknown == {}
