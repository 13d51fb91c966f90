"""Go's flag package rules, shared by the CLI, the agent, pytemplate and pyregistrator."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.gocompat.flagscan import FlagScanner, FlagSyntaxError, HelpFlag, scan

KINDS = {"v": True, "name": False, "tag": False}


def kind_of(name: str) -> bool | None:
    return KINDS.get(name)


@pytest.mark.parametrize("argv", [
    ["-name", "x", "arg"], ["-name=x", "arg"], ["--name", "x", "arg"], ["--name=x", "arg"],
])
def test_value_spellings(argv: list[str]) -> None:
    assert scan(argv, kind_of) == ([("name", "x")], ["arg"])


def test_bools_stand_alone_and_take_inline_values_only() -> None:
    assert scan(["-v", "false"], kind_of) == ([("v", None)], ["false"])
    assert scan(["-v=false"], kind_of) == ([("v", "false")], [])


def test_repeated_flags_keep_order() -> None:
    assert scan(["-tag", "a", "-tag=b"], kind_of)[0] == [("tag", "a"), ("tag", "b")]


@pytest.mark.parametrize(("argv", "rest"), [
    (["-v", "--", "-name", "x"], ["-name", "x"]),
    (["-v", "-", "-name"], ["-", "-name"]),
    (["arg", "-v"], ["arg", "-v"]),
    (["-name", "-v"], []),  # a value flag takes the next word even if it looks like a flag
])
def test_flags_end(argv: list[str], rest: list[str]) -> None:
    assert scan(argv, kind_of)[1] == rest


@pytest.mark.parametrize(("argv", "message"), [
    (["-nope"], "flag provided but not defined: -nope"),
    (["--nope=1"], "flag provided but not defined: -nope"),
    (["-name"], "flag needs an argument: -name"),
    (["---v"], "bad flag syntax: ---v"),
    (["-=x"], "bad flag syntax: -=x"),
])
def test_errors_read_like_go(argv: list[str], message: str) -> None:
    with pytest.raises(FlagSyntaxError) as err:
        scan(argv, kind_of)
    assert str(err.value) == message


@pytest.mark.parametrize("arg", ["-h", "-help", "--help", "-help=1"])
def test_undefined_help_asks_for_help(arg: str) -> None:
    with pytest.raises(HelpFlag):
        scan([arg], kind_of)


def test_lazy_scan_stops_at_the_callers_error() -> None:
    # A caller refusing the first value never sees the later bad syntax (Go's order).
    scanner = FlagScanner(["-name", "bad", "---x"], kind_of)
    first = next(iter(scanner))
    assert first == ("name", "bad")


@given(st.lists(st.sampled_from(["a", "b", "x y", "-", "--v"]), max_size=5))
def test_positional_arguments_after_double_dash_are_untouched(tail: list[str]) -> None:
    assert scan(["-v", "--", *tail], kind_of) == ([("v", None)], tail)


WORDS = ["-v", "--v", "-v=false", "-v=maybe", "-name", "--name=x", "-n", "-n=0x10", "-n=abc", "--", "-",
         "arg", "-nope", "---v", "-=", "5"]


@given(st.lists(st.sampled_from(WORDS), max_size=6))
def test_the_cli_and_registrator_parsers_agree(argv: list[str]) -> None:
    """Two programs, one set of Go rules: the same flags give the same values, rest and errors."""
    from pyconsul.cli.flags import FlagError as CLIFlagError
    from pyconsul.cli.flags import FlagSet
    from pyregistrator import flags as reg

    fs = FlagSet("Usage: t")
    fs.bool("v", False, "")
    fs.string("name", "", "")
    fs.int("n", 0, "")
    specs = [reg.Flag("v", "bool", False, ""), reg.Flag("name", "string", "", ""), reg.Flag("n", "int", 0, "")]
    try:
        parsed = fs.parse_args(list(argv))
        cli: object = (parsed.values, parsed.args)
    except CLIFlagError as exc:
        cli = str(exc)
    try:
        registrator: object = reg.parse(specs, argv)
    except reg.FlagError as exc:
        registrator = str(exc)
    assert cli == registrator
