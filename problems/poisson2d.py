"""Poisson on the unit square: −Δu = 2π² sin(πx) sin(πy), u = 0 on the boundary.

Exact solution u = sin(πx) sin(πy).
"""

import math

import torch

import sciml as sm


def exact(x: torch.Tensor) -> torch.Tensor:
    return (torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1]))[:, None]


def problem(hard: bool = False) -> sm.Problem:
    """``hard``: impose u = 0 through the distance-function ansatz instead of a penalty."""
    domain = sm.Rectangle((0.0, 0.0), (1.0, 1.0))

    def pde(u, x):
        return sm.laplacian(u, x) + 2 * math.pi**2 * exact(x)

    return sm.Problem(domain, equations=pde, conditions=[sm.Dirichlet(domain.boundary, 0.0, hard=bool(hard))],
                      solution=exact, name="poisson2d", parameters={"hard": bool(hard)})
