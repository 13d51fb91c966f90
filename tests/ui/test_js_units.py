"""The UI's pure ES modules (intention precedence and topology, 403 wording, routes, nav
gating) under node's built-in test runner; the views that use them are driven in Chromium by
test_browser*.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ASSETS = HERE.parents[1] / "pyconsul" / "ui" / "static" / "assets"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (scripts/ci.sh installs nodejs)")
def test_ui_modules_under_node(tmp_path: Path) -> None:
    # The assets are ES modules in .js files; a copy under {"type": "module"} lets any node
    # (Debian's 18 has no syntax detection) load them without a package.json in what we serve.
    shutil.copytree(ASSETS, tmp_path / "pyconsul" / "ui" / "static" / "assets")
    shutil.copytree(HERE / "js", tmp_path / "tests" / "ui" / "js")
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    units = tmp_path / "tests" / "ui" / "js" / "units.test.mjs"
    proc = subprocess.run(["node", "--test", str(units)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout
