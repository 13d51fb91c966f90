"""Template errors name the file, line and column, and never escape as Python tracebacks."""

from __future__ import annotations

import pytest

from pytemplate.gotmpl import GoTemplate, TemplateError
from pytemplate.template import Template
from tests.pytemplate.fixtures import ENV, NOW, sample_brain

PARSE_ERRORS = [
    ("{{range service \"nginx\"}}\n  server;\n", 1, 3, "unexpected EOF in range"),
    ("ok\n\n  {{ nosuch \"x\" }}", 3, 6, 'function "nosuch" not defined'),
    ("{{ $x }}", 1, 4, 'undefined variable "$x"'),
    ("a\n{{end}}", 2, 3, "unexpected {{end}}"),
    ("{{ if }}{{ end }}", 1, 7, "missing value for command"),
    ("{{ \"unterminated }}", 1, 4, "unterminated quoted string"),
    ("line1\n{{ (1 }}", 2, 7, "unclosed left paren"),
    ("{{ 1 }}{{ else }}", 1, 11, "unexpected {{else}}"),
    ("x {{ 3x }}", 1, 6, "bad number syntax"),
    ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
    ("{{/* open comment }}", 1, 1, "unclosed comment"),
    ('{{ 1 | printf "%d" | 2 }}', 1, 22, "non executable command in pipeline stage 3"),
    ("{{ .a", 1, 1, "unclosed action"),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), PARSE_ERRORS)
def test_parse_errors_carry_position(text: str, line: int, col: int, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        GoTemplate("conf/nginx.ctmpl", text, {"service"})
    err = info.value
    assert (err.name, err.line, err.col) == ("conf/nginx.ctmpl", line, col)
    assert message in err.message
    assert str(err).startswith(f"conf/nginx.ctmpl:{line}:{col}: ")


EXEC_ERRORS = [
    ('{{ range service "bad name!" }}{{ end }}', 1, 10, "invalid format"),
    ("first\n{{ with node \"node-b\" }}{{ .Node.Nope }}{{ end }}", 2, 28, "can't evaluate field Nope"),
    ('{{ index (service "nginx") 9 }}', 1, 4, "index out of range: 9"),
    ('{{ lt 1 "a" }}', 1, 4, "incompatible types for comparison"),
    ('{{ 1 | printf "%d" | len 2 }}', 1, 22, "wrong number of args for len"),
    ('{{ range 1.5 }}{{ end }}', 1, 4, "range can't iterate over 1.5"),
    ('{{ template "nope" }}', 1, 4, 'no such template "nope"'),
    ('{{ timestamp "a" "b" }}', 1, 4, "wrong number of arguments"),
    ('{{ join "," 5 }}', 1, 4, "expected []string"),
    ('{{ "x" | parseJSON }}', 1, 10, "error calling parseJSON"),
    ('{{ timestamp 1 2 3 4 5 6 }}', 1, 4, "timestamp"),
    ('{{ mustEnv "NOT_SET_ANYWHERE" }}', 1, 4, "not set"),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), EXEC_ERRORS)
def test_execution_errors_carry_position(text: str, line: int, col: int, message: str) -> None:
    tmpl = Template(text, name="web.ctmpl")
    with pytest.raises(TemplateError) as info:
        tmpl.render(sample_brain(), ENV, NOW)
    err = info.value
    assert (err.name, err.line, err.col) == ("web.ctmpl", line, col), str(err)
    assert message in err.message


def test_missing_map_key_is_no_value_unless_error_on_missing_key() -> None:
    text = '{{ with node "node-b" }}{{ .Node.Meta.nope }}{{ end }}'
    assert Template(text, name="a.ctmpl").render(sample_brain(), ENV, NOW).contents == b"<no value>"
    with pytest.raises(TemplateError, match=r'a\.ctmpl:1:28: .*map has no entry for key "nope"'):
        Template(text, name="a.ctmpl", error_on_missing_key=True).render(sample_brain(), ENV, NOW)


def test_jinja_errors_name_file_and_line() -> None:
    with pytest.raises(TemplateError, match=r"^site\.j2:2:1: "):
        Template("ok\n{% for x in %}\n", name="site.j2")
    tmpl = Template("line one\n  {{ service('nginx')[7].Address }}\n", name="site.j2")
    with pytest.raises(TemplateError, match=r"^site\.j2:2:3: UndefinedError"):
        tmpl.render(sample_brain(), ENV, NOW)


def test_custom_delimiters() -> None:
    text = '[[ range service "nginx" ]][[ .Port ]] [[ end ]]{{ not an action }}'
    out = Template(text, name="d.ctmpl", left_delimiter="[[", right_delimiter="]]").render(sample_brain(), ENV, NOW)
    assert out.contents == b"8080 8081 80 {{ not an action }}"
