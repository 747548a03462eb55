"""``ragmed serve``: the HTTP API and the web page, added to the ``ragmed`` command by ``register``."""

from __future__ import annotations

import typer

from ragmed.cli import IndexOpt, _settings, console


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``ragmed`` command."""
    app.command()(serve)


def serve(
    host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default 8000)."),
    index: str | None = IndexOpt,
) -> None:
    """Serve the HTTP API and the web page."""
    from api import serve as serve_api
    from api.app import serving_name

    settings = _settings()
    url = f"http://{host or settings.api.host}:{port or settings.api.port}/"
    console.print(f"ragmed serving index '{index or serving_name(settings)}' at {url} (API docs at {url}docs)")
    serve_api(settings, host, port, index)
