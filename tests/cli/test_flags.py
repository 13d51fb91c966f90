"""The Go-style flag parser every command shares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.cli.flags import (
    FlagError,
    FlagSet,
    parse_go_bool,
    parse_go_duration,
    wants_help,
    wrap_min_raggedness,
)


def make() -> FlagSet:
    fs = FlagSet("Usage: consul thing [options] ARG\n\n  Does a thing.")
    fs.bool("recurse", False, "Recurse.")
    fs.string("separator", "/", "Separator `sep` to use.")
    fs.uint("flags", 0, "Flags.")
    fs.int("n", 1, "Limit.")
    fs.duration("timeout", 0.0, "Timeout.")
    fs.list("tag", "Tag.")
    fs.map("meta", "Meta `key=value`.")
    return fs


@pytest.mark.parametrize("argv", [
    ["-separator", ":", "key"],
    ["-separator=:", "key"],
    ["--separator", ":", "key"],
    ["--separator=:", "key"],
])
def test_value_flag_spellings_are_equivalent(argv: list[str]) -> None:
    p = make().parse_args(argv)
    assert p["separator"] == ":"
    assert p.args == ["key"]


def test_bool_flag_forms() -> None:
    fs = make()
    assert fs.parse_args(["-recurse"])["recurse"] is True
    assert fs.parse_args(["-recurse=false"])["recurse"] is False
    assert fs.parse_args(["--recurse=1"])["recurse"] is True
    # Go never consumes the next word for a boolean: `false` stays positional.
    p = fs.parse_args(["-recurse", "false"])
    assert p["recurse"] is True and p.args == ["false"]


def test_parsing_stops_at_first_positional_and_after_double_dash() -> None:
    fs = make()
    p = fs.parse_args(["-n", "2", "prefix", "cmd", "-recurse"])
    assert p["n"] == 2 and p["recurse"] is False
    assert p.args == ["prefix", "cmd", "-recurse"]
    p = fs.parse_args(["--", "-recurse"])
    assert p.args == ["-recurse"]
    # A lone "-" is an argument (stdin), not a flag.
    assert fs.parse_args(["-", "x"]).args == ["-", "x"]


def test_repeatable_list_and_map_flags() -> None:
    p = make().parse_args(["-tag", "a", "-tag=b", "-meta", "k=v", "-meta=x=y=z"])
    assert p["tag"] == ["a", "b"]
    assert p["meta"] == {"k": "v", "x": "y=z"}


def test_defaults_and_was_set() -> None:
    p = make().parse_args([])
    assert p["separator"] == "/" and p["n"] == 1 and p["tag"] == [] and p["meta"] == {}
    assert not p.was_set("n")
    assert make().parse_args(["-n=1"]).was_set("n")


@pytest.mark.parametrize(("argv", "message"), [
    (["-nope"], "flag provided but not defined: -nope"),
    (["-separator"], "flag needs an argument: -separator"),
    (["-n", "x"], 'invalid value "x" for flag -n: parse error'),
    (["-flags=-1"], 'invalid value "-1" for flag -flags: parse error'),
    (["-recurse=maybe"], 'invalid boolean value "maybe" for -recurse: parse error'),
    (["-timeout=5"], 'invalid value "5" for flag -timeout: parse error'),
    (["-meta", "novalue"], 'invalid value "novalue" for flag -meta: Missing = in argument: novalue'),
    (["---x"], "bad flag syntax: ---x"),
    (["-=x"], "bad flag syntax: -=x"),
])
def test_errors_are_worded_like_go(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as exc:
        make().parse_args(argv)
    assert str(exc.value) == message


def test_go_integer_syntax() -> None:
    fs = make()
    assert fs.parse_args(["-flags=0x10"])["flags"] == 16
    assert fs.parse_args(["-n=-3"])["n"] == -3
    assert fs.parse_args(["-flags=3304740253564472344"])["flags"] == 0x2DDCCBC058A50C18


def test_help_anywhere_before_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    assert wants_help(["key", "-h"])
    assert wants_help(["-help"])
    assert not wants_help(["--", "-h"])
    with pytest.raises(SystemExit) as exc:
        make().parse(["foo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: consul thing [options] ARG")
    assert "Command Options" in out and "  -separator=<sep>\n     Separator `sep` to use." in out


def test_bad_flag_exits_1_with_error_and_help_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        make().parse(["-bogus"])
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    # Go's flag package output, as Consul's commands print it: sorted, type word, non-zero defaults.
    assert captured.err == (
        "flag provided but not defined: -bogus\n"
        "Usage:\n"
        "  -flags uint\n    \tFlags.\n"
        "  -meta key=value\n    \tMeta key=value.\n"
        "  -n int\n    \tLimit. (default 1)\n"
        "  -recurse\n    \tRecurse.\n"
        '  -separator sep\n    \tSeparator sep to use. (default "/")\n'
        "  -tag value\n    \tTag.\n"
        "  -timeout duration\n    \tTimeout.\n")


def test_help_lists_http_options_before_command_options() -> None:
    from pyconsul.cli.http import add_http_flags

    fs = make()
    add_http_flags(fs)
    text = fs.help()
    assert text.index("HTTP API Options") < text.index("Command Options")
    assert "  -http-addr=<address>" in text and "  -stale\n" in text
    assert all(len(line) <= 72 for line in text.splitlines() if line.startswith("     "))


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("15s", 15.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5h", 5400.0), ("-2s", -2.0),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "1x", "1s2", "abc"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_go_bool_words() -> None:
    for t in ("1", "t", "T", "TRUE", "true", "True"):
        assert parse_go_bool(t) is True
    for f in ("0", "f", "F", "FALSE", "false", "False"):
        assert parse_go_bool(f) is False
    with pytest.raises(ValueError):
        parse_go_bool("yes")


_words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)


@given(st.lists(_words, max_size=6), _words)
def test_positionals_after_first_non_flag_are_untouched(rest: list[str], first: str) -> None:
    # Whatever follows the first positional argument comes back verbatim.
    first = "x" + first  # never starts with "-"
    p = make().parse_args(["-n", "3", first, *rest])
    assert p.args == [first, *rest]
    assert p["n"] == 3


@given(_words.filter(lambda s: "\n" not in s))
def test_string_value_round_trips_in_both_spellings(value: str) -> None:
    assert make().parse_args([f"-separator={value}"])["separator"] == value
    assert make().parse_args(["-separator", value])["separator"] == value


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uint_accepts_full_64_bit_range(n: int) -> None:
    assert make().parse_args([f"-flags={n}"])["flags"] == n
    assert make().parse_args([f"-flags={hex(n)}"])["flags"] == n


def test_http_addr_help_block_matches_consul() -> None:
    """The block as Consul's flags package prints it (back-quotes kept, kr/text wrapping)."""
    from pyconsul.cli.http import add_http_flags

    fs = FlagSet("Usage: x")
    add_http_flags(fs)
    assert (
        "  -http-addr=<address>\n"
        "     The `address` and port of the Consul HTTP agent. The value can be\n"
        "     an IP address or DNS address, but it must also include the port.\n"
        "     This can also be specified via the CONSUL_HTTP_ADDR environment\n"
        "     variable. The default value is http://127.0.0.1:8500. The scheme\n"
        "     can also be set to HTTPS by setting the environment variable\n"
        "     CONSUL_HTTP_SSL=true.\n"
    ) in fs.help()
    names = [ln.split("=")[0].strip() for ln in fs.help().splitlines() if ln.startswith("  -")]
    assert names == sorted(names)


@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=12), min_size=1, max_size=40),
       st.integers(min_value=10, max_value=80))
def test_wrap_keeps_words_in_order_within_the_limit(words: list[str], limit: int) -> None:
    lines = wrap_min_raggedness(" ".join(words), limit)
    assert " ".join(lines).split(" ") == words
    # A line runs past the limit only around a word that alone is longer (kr/text's penalty).
    assert all(len(ln) <= limit or any(len(w) > limit for w in ln.split(" ")) for ln in lines)
