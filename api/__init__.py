"""ragmed's HTTP service and web page.

``create_app(settings, engine)`` builds the FastAPI app; ``serve(settings, host, port, index)`` runs it.
"""

from api.app import create_app, serve

__all__ = ["create_app", "serve"]
