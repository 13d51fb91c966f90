"""Only the client core reads Consul's client environment variables."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "pyconsul" / "client" / "settings.py"
CLIENT_VARIABLES = frozenset({
    "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_SSL",
    "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH", "CONSUL_CLIENT_CERT",
    "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME", "CONSUL_HTTP_AUTH", "CONSUL_NAMESPACE",
    "CONSUL_TOKEN", "CONSUL_TLSCERT", "CONSUL_TLSKEY",
})


def named_variables(path: Path) -> set[str]:
    """Every string literal in the module that is exactly one of the variable names (help texts
    that mention a name in a sentence are not reads)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CLIENT_VARIABLES}


def sources() -> list[Path]:
    return sorted(p for pkg in ("pyconsul", "pytemplate", "pyregistrator") for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_outside_the_core_names_a_client_variable() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(found) for p in sources()
                 if p != CORE and (found := named_variables(p))}
    assert offenders == {}


def test_the_core_reads_every_one() -> None:
    assert named_variables(CORE) == CLIENT_VARIABLES


def test_no_program_builds_its_own_tls_context() -> None:
    # The agent's listeners and health checks have their own TLS; the three Consul clients don't.
    programs = [p for p in sources() if p.parts[len(ROOT.parts)] in ("pytemplate", "pyregistrator")
                or p.is_relative_to(ROOT / "pyconsul" / "cli")]
    assert programs
    for path in programs:
        text = path.read_text(encoding="utf-8")
        assert "SSLContext(" not in text and "create_default_context" not in text, path
