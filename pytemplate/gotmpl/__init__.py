"""A Go text/template engine: lexer, parser and executor for consul-template's `.ctmpl` files."""

from pytemplate.gotmpl.errors import TemplateError
from pytemplate.gotmpl.exec import GoTemplate
from pytemplate.gotmpl.values import MISSING

__all__ = ["MISSING", "GoTemplate", "TemplateError"]
