"""A template in either language, rendered as a pure function of the brain.

`.ctmpl` (and anything not Jinja-named) uses consul-template's Go syntax; `.j2`, `.jinja`,
`.jinja2` (or `engine = "jinja"`) use Jinja2 with snake_case names (`service`, `key_or_default`,
`| by_tag`…). `render` returns the bytes plus the dependencies used and missing.
"""

from __future__ import annotations

import hashlib
import os
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from pytemplate import textfuncs as tf
from pytemplate.brain import Brain
from pytemplate.dependencies import Dependency
from pytemplate.funcs import GO_FUNC_NAMES, RenderContext
from pytemplate.gotmpl import GoTemplate, TemplateError

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")


@dataclass
class RenderResult:
    contents: bytes
    used: dict[str, Dependency] = field(default_factory=dict)
    missing: dict[str, Dependency] = field(default_factory=dict)
    deferred_error: TemplateError | None = None

    @property
    def complete(self) -> bool:
        return not self.missing


def _jinja_filters() -> dict[str, Callable[..., Any]]:
    return {
        "by_tag": tf.by_tag, "by_key": tf.by_key, "by_port": tf.by_port, "explode": tf.explode,
        "to_json": lambda v: tf.go_json(v), "to_json_pretty": lambda v: tf.go_json(v, "  "),
        "parse_json": tf.parse_json_native, "split": lambda s, sep: tf.split(sep, s),
        "replace_all": lambda s, old, new: s.replace(old, new),
        "contains": lambda seq, v: tf.in_(seq, v), "regex_match": lambda s, p: tf.regex_match(p, s),
        "regex_replace_all": lambda s, p, r: tf.regex_replace_all(p, r, s),
        "to_lower": str.lower, "to_upper": str.upper, "trim_space": str.strip,
        "parse_int": tf.parse_int, "parse_bool": tf.parse_bool, "parse_float": tf.parse_float,
        "base64_encode": tf.PURE_GO_FUNCS["base64Encode"], "base64_decode": tf.base64_decode,
    }


class Template:
    """A parsed template. `name` appears in errors (usually the source path)."""

    def __init__(self, text: str, name: str = "template", engine: str | None = None,
                 left_delimiter: str = "", right_delimiter: str = "",
                 error_on_missing_key: bool = False) -> None:
        self.name = name
        self.text = text
        self.engine = engine or ("jinja" if name.endswith(JINJA_SUFFIXES) else "go")
        self.id = hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()[:16]
        self._go: GoTemplate | None = None
        self._jinja: jinja2.Template | None = None
        if self.engine == "go":
            self._go = GoTemplate(name, text, GO_FUNC_NAMES, left_delimiter or "{{",
                                  right_delimiter or "}}", error_on_missing_key)
        elif self.engine == "jinja":
            env = jinja2.Environment(
                keep_trailing_newline=True, autoescape=False,
                undefined=jinja2.StrictUndefined if error_on_missing_key else jinja2.Undefined,
                variable_start_string=left_delimiter or "{{", variable_end_string=right_delimiter or "}}",
            )
            env.filters.update(_jinja_filters())
            try:
                self._jinja = env.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                line = exc.lineno or 1
                raise TemplateError(name, line, _first_col(text, line), exc.message or str(exc)) from None
            # Jinja reports runtime errors against this filename.
            self._jinja_filename = self._jinja.filename or "<template>"
        else:
            raise ValueError(f"unknown template engine {engine!r} (want 'go' or 'jinja')")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> Template:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise TemplateError(str(p), 0, 0, f"cannot read template: {exc.strerror or exc}") from None
        return cls(text, name=str(p), **options)

    def render(self, brain: Brain, env: Mapping[str, str], now: float) -> RenderResult:
        ctx = RenderContext(brain, env, now)
        try:
            if self._go is not None:
                text = self._go.execute(None, ctx.go_funcs())
            else:
                assert self._jinja is not None
                text = self._render_jinja(ctx)
        except TemplateError as exc:
            if ctx.missing:
                # Placeholders for data not fetched yet (nil node, empty list) can trip the
                # template; that is not an error until the data is there.
                return RenderResult(b"", ctx.used, ctx.missing, deferred_error=exc)
            raise
        return RenderResult(text.encode(), ctx.used, ctx.missing)

    def _render_jinja(self, ctx: RenderContext) -> str:
        assert self._jinja is not None
        try:
            return self._jinja.render(**ctx.jinja_globals())
        except TemplateError:
            raise
        except Exception as exc:  # any failure inside the template becomes a positioned error
            line = _jinja_line(exc.__traceback__, self._jinja_filename)
            raise TemplateError(self.name, line, _first_col(self.text, line),
                                f"{type(exc).__name__}: {exc}") from None


def _first_col(text: str, line: int) -> int:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return 1
    src = lines[line - 1]
    return len(src) - len(src.lstrip()) + 1


def _jinja_line(tb: types.TracebackType | None, filename: str) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line or 1
