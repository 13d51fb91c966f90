"""Top-level behaviour of the `consul` program: help, unknown commands, groups, autocomplete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_run import clean_env, consul, installed_script

SCRIPT = Path(installed_script())


def test_no_command_prints_usage_and_exits_127() -> None:
    r = consul()
    assert r.code == 127
    assert r.out.startswith("Usage: consul [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n")
    for word in ("agent", "kv", "catalog", "lock", "watch", "snapshot", "operator", "members"):
        assert f"\n    {word} " in r.out


def test_help_flag_exits_0() -> None:
    r = consul("-help")
    assert r.code == 0 and r.out.startswith("Usage: consul")


def test_unknown_command_and_seed_typo() -> None:
    # `consul -leave` appears in a walkthrough: Consul has no such flag and shows its usage.
    for args in (["-leave"], ["frobnicate"]):
        r = consul(*args)
        assert r.code == 127 and "Available commands are:" in r.out


def test_group_help() -> None:
    r = consul("kv")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("Usage: consul kv <subcommand> [options] [args]")
    assert "Subcommands:\n    delete    Removes data from the KV store\n" in r.err
    r = consul("operator", "raft", "-h")
    assert r.code == 0 and "list-peers     Display the current Raft peer configuration" in r.out
    r = consul("catalog", "bogus")
    assert r.code == 1 and "Subcommands:" in r.err


@pytest.mark.parametrize("words", [
    ["info"], ["join"], ["leave"], ["force-leave"], ["reload"], ["monitor"], ["version"],
    ["kv", "get"], ["kv", "put"], ["kv", "delete"], ["kv", "export"], ["kv", "import"],
    ["catalog", "datacenters"], ["catalog", "nodes"], ["catalog", "services"],
    ["services", "register"], ["services", "deregister"], ["operator", "raft", "list-peers"],
    ["operator", "raft", "remove-peer"], ["snapshot", "save"], ["snapshot", "restore"],
    ["snapshot", "inspect"], ["lock"], ["watch"], ["event"], ["keygen"],
])
def test_every_command_has_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # In-process through the same entry point as the script (a subprocess per command is slow).
    from pyconsul.__main__ import main

    assert main([*words, "-help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: consul {' '.join(words)}")
    if words[0] not in ("version", "keygen"):
        assert "HTTP API Options" in out or words == ["snapshot", "inspect"]


def test_autocomplete_install_writes_rc_files_like_consul(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / ".bashrc").write_text("# bash\n")
    (tmp_path / ".zshrc").write_text("# zsh\n")
    (tmp_path / ".config" / "fish").mkdir(parents=True)
    env = clean_env(HOME=str(tmp_path))
    r = subprocess.run([str(SCRIPT), "-autocomplete-install"], env=env, capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert (tmp_path / ".bashrc").read_text() == f"# bash\n\ncomplete -C {SCRIPT} pyconsul\n"
    assert (tmp_path / ".zshrc").read_text() == (
        f"# zsh\n\nautoload -U +X bashcompinit && bashcompinit\ncomplete -o nospace -C {SCRIPT} pyconsul\n")
    fish = (tmp_path / ".config" / "fish" / "completions" / "pyconsul.fish").read_text()
    assert f"    {SCRIPT}\n" in fish and 'complete -f -c pyconsul -a "(__complete_pyconsul)"' in fish
    r = subprocess.run([str(SCRIPT), "-autocomplete-install"], env=env, capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith(f"Error executing CLI: 3 errors occurred:\n\t* already installed in {tmp_path}/.bashrc\n")
    r = subprocess.run([str(SCRIPT), "-autocomplete-uninstall"], env=env, capture_output=True, text=True)
    assert r.returncode == 0
    assert "complete -C" not in (tmp_path / ".bashrc").read_text()
    assert not (tmp_path / ".config" / "fish" / "completions" / "pyconsul.fish").exists()


def test_autocomplete_install_without_any_shell_rc(tmp_path: Path) -> None:
    import subprocess

    r = subprocess.run([str(SCRIPT), "-autocomplete-install"], env=clean_env(HOME=str(tmp_path)),
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (1, "Error executing CLI: Did not find any shells to install\n")


def test_bash_completion_protocol() -> None:
    # bash runs `complete -C` programs with COMP_LINE/COMP_POINT and reads one word per line.
    r = consul(env={"COMP_LINE": "pyconsul k", "COMP_POINT": "10"})
    assert (r.code, r.out) == (0, "keygen\nkeyring\nkv\n")
    r = consul(env={"COMP_LINE": "pyconsul kv ", "COMP_POINT": "12"})
    assert r.out.split() == ["delete", "export", "get", "import", "put"]
    r = consul(env={"COMP_LINE": "pyconsul operator raft l", "COMP_POINT": "24"})
    assert r.out == "list-peers\n"


def test_seed001_autocomplete_install_as_consul(tmp_path: Path) -> None:
    """`consul -autocomplete-install` → `complete -C /usr/local/bin/consul consul` in ~/.bashrc,
    with pyconsul installed under the name `consul`."""
    import subprocess

    bin_dir = tmp_path / "usr-local-bin"
    bin_dir.mkdir()
    (bin_dir / "consul").symlink_to(SCRIPT)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("")
    env = clean_env(HOME=str(home), PATH=f"{bin_dir}:/usr/bin:/bin")
    r = subprocess.run(["sh", "-c", "consul -autocomplete-install"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (home / ".bashrc").read_text() == f"\ncomplete -C {bin_dir}/consul consul\n"
    # And bash's completion call to that program answers.
    r = subprocess.run(["sh", "-c", "consul"], env={**env, "COMP_LINE": "consul ca", "COMP_POINT": "9"},
                       capture_output=True, text=True)
    assert r.stdout == "catalog\n"
