"""Serving the UI under its content path (ui_config.content_path, "/ui/" by default).

Every UI response carries a strict Content-Security-Policy (scripts, styles and fetches only from
the agent itself), and files carry a strong ETag so a reload revalidates with a 304. Paths that
are not files are the page's own deep links and get index.html; a missing file under assets/
is a 404, so a broken script shows as one rather than as HTML.

The options are read again at each request, so `pyconsul reload` applies a changed
ui_config.enabled or ui_config.dir (and the features the page is told about); the content path,
as in Consul, is where the routes were mounted at start and needs a restart.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from pyconsul.ui.files import StaticDir, StaticFile, etag_matches, etag_of
from pyconsul.ui.settings import FeatureSource, no_features, settings_meta

BUILTIN = Path(__file__).parent / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Files have no content hash in their names (there is no build step), so caches must revalidate
# each use; the ETag makes that a 304 without a body.
CACHE_CONTROL = "no-cache"
DISABLED_TEXT = ("Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent "
                 "configuration and restart.")
_NOT_FOUND = "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'"


@dataclass
class UIOptions:
    enabled: bool
    content_path: str = "/ui/"  # starts and ends with "/"
    dir: str = ""  # the operator's own UI files instead of the built-in ones
    features: FeatureSource = field(default=no_features)


OptionsSource = Callable[[], UIOptions]


class UIServer:
    def __init__(self, options: OptionsSource) -> None:
        self.options = options
        self.content_path = options().content_path  # fixed at start, as Consul mounts it
        self._dir = ""
        self.files = StaticDir(BUILTIN)
        self._index: tuple[str, str, StaticFile] | None = None

    @property
    def opts(self) -> UIOptions:
        """The options now; a changed ui_config.dir swaps the directory files come from."""
        opts = self.options()
        if opts.dir != self._dir:
            self._dir = opts.dir
            self.files = StaticDir(Path(opts.dir) if opts.dir else BUILTIN)
            self._index = None
        return opts

    def index(self) -> StaticFile | None:
        """index.html with the content path and settings filled in (cached per source version)."""
        opts = self.opts
        src = self.files.lookup("index.html")
        if src is None:
            return None
        meta = settings_meta(self.content_path, opts.features())
        if self._index is not None and self._index[:2] == (src.etag, meta):
            return self._index[2]
        text = src.body.decode("utf-8", errors="replace")
        text = text.replace("{{ContentPath}}", html.escape(self.content_path, quote=True))
        text = text.replace("{{Settings}}", meta)
        body = text.encode()
        page = StaticFile(body, etag_of(body), src.content_type, src.mtime)
        self._index = (src.etag, meta, page)
        return page

    async def root(self, req: web.Request) -> web.StreamResponse:
        if not self.opts.enabled:
            return web.Response(text=DISABLED_TEXT, content_type="text/plain", charset="utf-8")
        raise web.HTTPMovedPermanently(self.content_path)

    async def bare(self, req: web.Request) -> web.StreamResponse:
        if not self.opts.enabled:
            return _not_found()
        target = self.content_path + ("?" + req.query_string if req.query_string else "")
        raise web.HTTPMovedPermanently(target)

    async def serve(self, req: web.Request) -> web.StreamResponse:
        if not self.opts.enabled:
            return _not_found()
        tail = req.match_info.get("tail", "")
        f = self.files.lookup(tail) if tail else None
        if f is None and tail.split("/", 1)[0] in ("assets", "static"):
            return _not_found()
        if f is None:
            f = self.index()
        if f is None:
            return _not_found()
        headers = {**SECURITY_HEADERS, "ETag": f.etag, "Cache-Control": CACHE_CONTROL}
        if etag_matches(req.headers.get("If-None-Match"), f.etag):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = f.content_type
        return web.Response(body=f.body, headers=headers)


def _not_found() -> web.Response:
    return web.Response(status=404, text=_NOT_FOUND, content_type="text/plain", headers=SECURITY_HEADERS)


def add_ui_routes(app: web.Application, opts: UIOptions | OptionsSource) -> None:
    """`/` (a redirect, or Consul's "UI disabled" text) and the UI under its content path, which
    answers 404 while ui_config.enabled is off (it may be switched on by a reload)."""
    ui = UIServer(opts if callable(opts) else (lambda: opts))
    app.router.add_get("/", ui.root)
    path = ui.content_path
    if path.rstrip("/"):
        app.router.add_get(path.rstrip("/"), ui.bare)
    app.router.add_get(path + "{tail:.*}", ui.serve)
