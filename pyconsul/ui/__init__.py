"""The web UI under /ui/: static files that read the HTTP API (a view like any other)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"


async def _index(req: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _root(req: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/ui/")


def add_ui_routes(app: web.Application) -> None:
    app.router.add_get("/", _root)
    app.router.add_get("/ui", _root)
    app.router.add_get("/ui/", _index)
    app.router.add_static("/ui/static/", STATIC)
    # Client-side routes (/ui/dc1/services/web ...) all load the same page.
    app.router.add_get("/ui/{tail:.+}", _index)
