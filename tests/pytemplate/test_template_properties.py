"""Property tests for the template engines: rendering is a pure function of the data."""

from __future__ import annotations

import copy
import json
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pytemplate import model
from pytemplate.brain import Brain
from pytemplate.dependencies import HealthServiceQuery
from pytemplate.gotmpl import GoTemplate
from pytemplate.gotmpl.printf import go_quote
from pytemplate.template import Template
from pytemplate.textfuncs import PURE_GO_FUNCS, go_json
from tests.pytemplate.fixtures import ENV, NOW

SEED = '{{range service "nginx"}}\n   server {{.Address}}:{{.Port}};\n   {{end}}'
SEED_JINJA = '{% for s in service("nginx") %}\n   server {{s.Address}}:{{s.Port}};\n   {% endfor %}'

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
instances = st.lists(
    st.builds(
        model.HealthService,
        Node=names, ID=names,
        Address=st.from_regex(r"127\.0\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True),
        Port=st.integers(1, 65535), Tags=st.lists(names, max_size=3).map(sorted),
    ),
    max_size=8,
).map(lambda xs: sorted(xs, key=lambda s: (s.Node, s.ID)))


def brain_with(services: list[model.HealthService]) -> Brain:
    b = Brain()
    b.remember(HealthServiceQuery.parse("nginx"), services)
    return b


@given(st.text().filter(lambda s: "{{" not in s and not s.endswith("{")))
def test_text_without_actions_is_unchanged(text: str) -> None:
    assert GoTemplate("t", text).execute(None) == text


@settings(max_examples=50)
@given(instances)
def test_render_is_pure_and_deterministic(services: list[model.HealthService]) -> None:
    brain = brain_with(services)
    before = copy.deepcopy(services)
    tmpl = Template(SEED + '{{ range $t, $s := service "nginx" | byTag }}{{ $t }}{{ len $s }}{{ end }}',
                    name="seed.ctmpl")
    first = tmpl.render(brain, ENV, NOW)
    second = tmpl.render(brain, ENV, NOW)
    assert first.contents == second.contents
    assert first.used.keys() == second.used.keys() == {"health.service(nginx|passing)"}
    assert brain.recall(HealthServiceQuery.parse("nginx"))[0] == before


@settings(max_examples=50)
@given(instances)
def test_seed_template_lists_exactly_the_instances(services: list[model.HealthService]) -> None:
    out = Template(SEED, name="seed.ctmpl").render(brain_with(services), ENV, NOW).contents.decode()
    lines = re.findall(r"server (\S+);", out)
    assert lines == [f"{s.Address}:{s.Port}" for s in services]


@settings(max_examples=50)
@given(instances)
def test_go_and_jinja_agree_on_the_seed_template(services: list[model.HealthService]) -> None:
    brain = brain_with(services)
    go = Template(SEED, name="seed.ctmpl").render(brain, ENV, NOW).contents
    jinja = Template(SEED_JINJA, name="seed.j2").render(brain, ENV, NOW).contents
    assert go == jinja


@given(st.text())
def test_quoted_string_literals_round_trip(s: str) -> None:
    assert GoTemplate("t", "{{ " + go_quote(s) + " }}").execute(None) == s


@given(st.text().filter(lambda s: "`" not in s and "}}" not in s))
def test_raw_string_literals_round_trip(s: str) -> None:
    assert GoTemplate("t", "{{ `" + s + "` }}").execute(None) == s


@given(st.integers(-(2**62), 2**62))
def test_integers_print_like_go(n: int) -> None:
    assert GoTemplate("t", "{{ . }} {{ printf \"%d\" . }}").execute(n) == f"{n} {n}"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_print_shortest_and_round_trip(x: float) -> None:
    out = GoTemplate("t", "{{ . }}").execute(x)
    assert float(out) == x or (x == 0 and math.copysign(1, x) < 0)
    mantissa = out.lstrip("-").split("e")[0]
    assert len(mantissa.replace(".", "").lstrip("0")) <= len(repr(abs(x)))


@given(st.integers(-50, 50), st.integers(-50, 50), st.text(max_size=3), st.text(max_size=3))
def test_comparisons_match_python(a: int, b: int, s: str, t: str) -> None:
    text = "{{eq .a .b}} {{ne .a .b}} {{lt .a .b}} {{le .a .b}} {{gt .a .b}} {{ge .a .b}} {{lt .s .t}} {{eq .s .t}}"
    out = GoTemplate("t", text).execute({"a": a, "b": b, "s": s, "t": t}).split()
    expect = [a == b, a != b, a < b, a <= b, a > b, a >= b, s < t, s == t]
    assert out == [str(v).lower() for v in expect]


@given(st.text(alphabet=" \t\n", max_size=4), st.text(alphabet=" \t\n", max_size=4), names)
def test_trim_markers_remove_surrounding_whitespace(pre: str, post: str, word: str) -> None:
    text = "a" + pre + "{{- \"" + word + "\" -}}" + post + "b"
    assert GoTemplate("t", text).execute(None) == "a" + word + "b"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_to_json_round_trips(value: object) -> None:
    assert json.loads(go_json(value)) == value
    assert json.loads(go_json(value, "  ")) == value


@given(st.lists(names, min_size=1, max_size=5), names)
def test_split_then_join_round_trips(parts: list[str], sep_word: str) -> None:
    sep = "," if "," not in sep_word else ";"
    text = '{{ .s | split "' + sep + '" | join "' + sep + '" }}'
    joined = sep.join(parts)
    assert GoTemplate("t", text, PURE_GO_FUNCS).execute({"s": joined}, PURE_GO_FUNCS) == joined


def test_missing_data_renders_nothing_but_reports_it() -> None:
    result = Template(SEED + '{{ key "a/b" }}', name="x.ctmpl").render(Brain(), ENV, NOW)
    assert not result.complete
    assert set(result.missing) == {"health.service(nginx|passing)", "kv.block(a/b)"}
    assert "server" not in Template(SEED, name="x.ctmpl").render(Brain(), ENV, NOW).contents.decode()
