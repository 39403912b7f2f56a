"""``/docs`` from Swagger UI files shipped in a Python package, never from a CDN.

FastAPI's own ``/docs`` page loads Swagger UI from jsDelivr: it breaks offline and air-gapped,
and tells a third party each time someone opens it. The page here loads the same UI from
``/docs/static`` (the ``openapi-ui-bundles`` package's Swagger UI 5, which renders the OpenAPI
3.1 that FastAPI writes; ``swagger-ui-bundle`` ships Swagger UI 4, which refuses 3.1), and
turns off the UI's online validator badge, which would send the schema's address out.
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from openapi_ui_bundles import swagger_ui

DOCS = "/docs"
STATIC = "/docs/static"


def serve_docs(app: FastAPI) -> None:
    """Mount ``/docs`` and its static files on ``app``, replacing FastAPI's CDN docs and
    ReDoc (create the app with ``docs_url=None, redoc_url=None``)."""
    app.docs_url = app.redoc_url = None
    app.router.routes[:] = [route for route in app.router.routes
                            if not str(getattr(route, "path", "")).startswith(("/docs", "/redoc"))]
    app.mount(STATIC, StaticFiles(directory=swagger_ui.static_path), name="swagger-ui")
    title = f"{app.title} - docs"

    @app.get(DOCS, include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=title,
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})
