"""polyroute: route each LLM request to the right model in a changing pool, then deliver it."""

from polyroute.data import RoutingDataset
from polyroute.exceptions import DataError, PolyrouteError
from polyroute.routers import BaseRouter, make_router, select

__version__ = "0.1.0"

__all__ = [
    "BaseRouter",
    "DataError",
    "PolyrouteError",
    "RoutingDataset",
    "__version__",
    "make_router",
    "select",
]
