"""Go's strconv.ParseBool and ParseInt(s, 0, 64) as the programs' flags read them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.gocompat.strconv import FALSE_WORDS, TRUE_WORDS, parse_bool, parse_int


@pytest.mark.parametrize("word", sorted(TRUE_WORDS))
def test_true_words(word: str) -> None:
    assert parse_bool(word) is True


@pytest.mark.parametrize("word", sorted(FALSE_WORDS))
def test_false_words(word: str) -> None:
    assert parse_bool(word) is False


@given(st.text(max_size=6).filter(lambda s: s not in TRUE_WORDS | FALSE_WORDS))
def test_anything_else_is_refused_with_gos_text(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_bool(text)
    assert str(err.value) == f'strconv.ParseBool: parsing "{text}": invalid syntax'


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("-7", -7), ("+7", 7), ("0x1F", 31), ("0o17", 15), ("017", 15),
    ("0b101", 5), ("0x_1f", 31), ("1_000", None), ("0_17", 15), ("08", None), ("", None),
    ("0x", None), ("1__0", None), ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None),
    (" 1", None),
])
def test_parse_int_like_go(text: str, value: int | None) -> None:
    if value is None:
        with pytest.raises(ValueError, match=r"^strconv\.ParseInt: parsing "):
            parse_int(text)
    else:
        assert parse_int(text) == value


def test_unsigned_refuses_a_sign() -> None:
    assert parse_int("5", unsigned=True) == 5
    with pytest.raises(ValueError, match="ParseUint"):
        parse_int("-5", unsigned=True)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_decimal_round_trip(n: int) -> None:
    assert parse_int(str(n)) == n
    assert parse_int(hex(n)) == n and parse_int(oct(n)) == n and parse_int(bin(n)) == n
