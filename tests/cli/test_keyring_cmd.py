"""`pyconsul keyring` argument handling, as Consul's CLI refuses it (no agent needed)."""

from __future__ import annotations

import subprocess
import sys

from pyconsul.cli.keyring_cmd import format_response


def keyring(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyconsul", "keyring", "-http-addr=127.0.0.1:1", *args],
                          capture_output=True, text=True, timeout=30)


def test_one_action_exactly() -> None:
    r = keyring("-list", "-install", "a2V5")
    assert (r.returncode, r.stderr) == (1, "Only a single action is allowed\n")
    r = keyring()
    assert r.returncode == 1 and r.stderr.startswith("Usage: consul keyring [options]")
    r = keyring("-relay-factor", "9", "-list")
    assert (r.returncode, r.stderr) == (1, "Error parsing relay factor: Relay factor must be in range: [0, 5]\n")
    r = keyring("-local-only", "-use", "a2V5")
    assert r.returncode == 1 and "Local-only can only be set for list queries" in r.stderr


def test_an_unreachable_agent_is_an_error_after_the_banner() -> None:
    r = keyring("-install", "a2V5")
    assert r.returncode == 1
    assert r.stdout == "==> Installing new gossip encryption key...\n" and r.stderr.startswith("error: ")


def test_pool_block_shows_messages_then_keys_with_counts() -> None:
    block = format_response({"WAN": False, "Datacenter": "dc1", "NumNodes": 3, "Messages": {"n3": "boom"}},
                            {"kb": 2, "ka": 3})
    assert block == "\ndc1 (LAN):\n  ===> n3: boom\n  ka [3/3]\n  kb [2/3]"
