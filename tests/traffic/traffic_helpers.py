"""Shared by the traffic tests: the models, their costs and the math/poetry prompts."""

from __future__ import annotations

import numpy as np

MODELS = ("math-pro", "poet", "cheap")
COSTS = np.array([0.01, 0.005, 0.0001])


def prompts(n: int, offset: int = 0) -> list[str]:
    out = []
    for i in range(offset, offset + n):
        if i % 2:
            out.append(f"solve the equation x + {i} = {2 * i} and compute the integral")
        else:
            out.append(f"write a poem about the moon and the sea number {i}")
    return out
