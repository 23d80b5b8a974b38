"""Laplace on the L-shaped mesh (−1, 1)² minus [0, 1) × (−1, 0] shipped in data/meshes/lshape.msh.

Δu = 0 with Dirichlet data from the exact solution u = r^(2/3) sin(2θ/3), θ ∈ [0, 3π/2]:
the classic re-entrant-corner singularity at the origin (∇u ~ r^(−1/3)).
"""

import math
from pathlib import Path

import torch

import sciml as sm

MESH = Path(__file__).resolve().parents[1] / "data" / "meshes" / "lshape.msh"


def exact(x: torch.Tensor) -> torch.Tensor:
    r = torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2)
    theta = torch.remainder(torch.atan2(x[:, 1], x[:, 0]), 2 * math.pi)
    return (r ** (2.0 / 3.0) * torch.sin(2.0 * theta / 3.0))[:, None]


def problem(mesh: str | None = None) -> sm.Problem:
    domain = sm.Mesh.read(mesh or MESH)

    def pde(u, x):
        return sm.laplacian(u, x)

    return sm.Problem(domain, equations=pde, conditions=[sm.Dirichlet(domain.boundary, exact)],
                      solution=exact, name="poisson_lshape")
