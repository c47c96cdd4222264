"""Routers: fit on (embeddings, quality scores), predict quality, choose with score − λ·cost."""

from polyroute.routers._base import BaseRouter
from polyroute.routers._baselines import (
    BestSingleRouter,
    CheapestRouter,
    OracleRouter,
    RandomRouter,
    TaskOracleRouter,
    ZeroRouter,
)
from polyroute.routers._knn import KNNRouter
from polyroute.routers._mlp import LinearRouter, MLPRouter
from polyroute.routers._registry import available_routers, load_router, make_router, router_class
from polyroute.routers._routerdc import ContrastiveRouter
from polyroute.routers._select import rank, relative_costs, select, utility
from polyroute.routers._uniroute import ClusterRouter
from polyroute.routers._uniroute_learnedmap import LearnedMapRouter

__all__ = [
    "BaseRouter",
    "BestSingleRouter",
    "CheapestRouter",
    "ClusterRouter",
    "ContrastiveRouter",
    "KNNRouter",
    "LearnedMapRouter",
    "LinearRouter",
    "MLPRouter",
    "OracleRouter",
    "RandomRouter",
    "TaskOracleRouter",
    "ZeroRouter",
    "available_routers",
    "load_router",
    "make_router",
    "rank",
    "relative_costs",
    "router_class",
    "select",
    "utility",
]
