"""Routing datasets: prompts x models quality matrices with costs and splits, and their loaders."""

from polyroute.data._dataset import RoutingDataset
from polyroute.data._generic import read_routing_file
from polyroute.data._registry import DatasetInfo, available_datasets, load_dataset, register_dataset
from polyroute.data._routerbench import load_routerbench_responses

__all__ = [
    "DatasetInfo",
    "RoutingDataset",
    "available_datasets",
    "load_dataset",
    "load_routerbench_responses",
    "read_routing_file",
    "register_dataset",
]
