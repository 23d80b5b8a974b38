"""Helmholtz on [−1, 1]²: Δu + k²u = q, u = 0 on the boundary (the PIG / PIXEL benchmark).

Exact solution u = sin(a₁πx) sin(a₂πy), q = (k² − (a₁² + a₂²)π²) u. Main case (a₁, a₂) = (1, 4),
high-frequency case (10, 10); k = 1. Reference: Kang et al., ICLR 2025 (arXiv 2412.05994).
"""

import math

import torch

import sciml as sm


def problem(a1: float = 1.0, a2: float = 4.0, k: float = 1.0, hard: bool = False) -> sm.Problem:
    domain = sm.Rectangle((-1.0, -1.0), (1.0, 1.0))

    def exact(x):
        return (torch.sin(a1 * math.pi * x[:, 0]) * torch.sin(a2 * math.pi * x[:, 1]))[:, None]

    coef = k**2 - (a1**2 + a2**2) * math.pi**2

    def pde(u, x):
        return sm.laplacian(u, x) + k**2 * u - coef * exact(x)

    return sm.Problem(domain, equations=pde, conditions=[sm.Dirichlet(domain.boundary, 0.0, hard=bool(hard))],
                      solution=exact, name="helmholtz2d", parameters={"a1": a1, "a2": a2, "k": k})
