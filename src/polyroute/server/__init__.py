"""The OpenAI-compatible gateway: ``create_app(settings)`` builds the ASGI app."""

from polyroute.server._app import Gateway, GatewayApp, create_app
from polyroute.server._auth import Authenticator, hash_key
from polyroute.server._errors import HTTPError, to_http_error

__all__ = [
    "Authenticator",
    "Gateway",
    "GatewayApp",
    "HTTPError",
    "create_app",
    "hash_key",
    "to_http_error",
]
