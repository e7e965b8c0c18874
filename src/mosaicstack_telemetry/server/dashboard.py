"""``GET /dashboard``: the reference server's dashboard, a static page that reads the ``/v1/stats/...`` API.

The page and its assets (``server/dashboard/``: HTML, CSS and JavaScript, no build step, no third-party code, no
request leaving the server) are read from the package once, when the app is created, and served as they are: no
secret and nothing of any instance is ever rendered into them. The page asks for the api key, keeps it in the tab's
``sessionStorage`` only, and sends it as ``Authorization: Bearer`` — never in a URL. Charts are SVG drawn by the
page from the API's JSON.

Every response carries a strict Content-Security-Policy (scripts, styles and fetches from this server only, no
inline script or style, no framing) and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["ASSETS_PATH", "DASHBOARD_PATH", "dashboard_paths", "dashboard_routes"]

DASHBOARD_PATH = "/dashboard"
ASSETS_PATH = "/dashboard/assets"

#: File → media type: the page's whole content (anything else under the paths is a 404).
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "format.js": "text/javascript; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _read(name: str) -> bytes:
    return resources.files("mosaicstack_telemetry.server").joinpath("dashboard").joinpath(name).read_bytes()


def dashboard_paths() -> tuple[str, ...]:
    """Every path the dashboard serves (exempt from fault injection, as ``/healthz``: the page is not the API)."""
    return (DASHBOARD_PATH, f"{DASHBOARD_PATH}/", *(f"{ASSETS_PATH}/{name}" for name in _FILES if name != "index.html"))


def dashboard_routes() -> list[Route]:
    """Routes serving the page at :data:`DASHBOARD_PATH` and its assets under :data:`ASSETS_PATH`."""
    bodies = {name: _read(name) for name in _FILES}

    def serve(name: str) -> Route:
        path = DASHBOARD_PATH if name == "index.html" else f"{ASSETS_PATH}/{name}"
        body, media_type = bodies[name], _FILES[name]

        async def endpoint(request: Request) -> Response:
            return Response(body, media_type=media_type, headers=_HEADERS)

        return Route(path, endpoint, methods=["GET", "HEAD"])

    routes = [serve(name) for name in _FILES]
    page = routes[0]  # index.html, also with the trailing slash a user may type (assets' paths are absolute)
    return [*routes, Route(f"{DASHBOARD_PATH}/", page.endpoint, methods=["GET", "HEAD"])]
