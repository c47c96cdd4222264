"""Routers: fit on (embeddings, quality scores), predict quality, choose with score − λ·cost."""

from polyroute.routers._base import BaseRouter
from polyroute.routers._registry import available_routers, load_router, make_router, router_class
from polyroute.routers._select import select

__all__ = [
    "BaseRouter",
    "available_routers",
    "load_router",
    "make_router",
    "router_class",
    "select",
]
