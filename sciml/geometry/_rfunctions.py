"""Approximate distance functions for hard Dirichlet conditions (torch, twice differentiable inside).

Follows N. Sukumar & A. Srivastava, "Exact imposition of boundary conditions with distance functions
in physics-informed deep neural networks", CMAME 389 (2022): signed functions (> 0 inside, = 0 on
the boundary, < 0 outside) normalized to first order (|grad phi| = 1 on smooth parts of the boundary),
combined by the R0 conjunction / disjunction of Rvachev, and the trimmed-segment functions joined by
R-equivalence (m = 1) for polygons.
"""

from __future__ import annotations

import torch


def safe_sqrt(z: torch.Tensor) -> torch.Tensor:
    """sqrt(z) for z >= 0 whose derivatives at z = 0 are 0 instead of inf/NaN."""
    positive = z > 0
    root = torch.sqrt(torch.where(positive, z, torch.ones_like(z)))
    return torch.where(positive, root, torch.zeros_like(z))


def r_and(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R0 conjunction: >= 0 exactly where both are (intersection), zero on the boundary of that set."""
    return a + b - safe_sqrt(a * a + b * b)


def r_or(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R0 disjunction: >= 0 exactly where either is (union)."""
    return a + b + safe_sqrt(a * a + b * b)


def interval(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """(x - a)(b - x)/(b - a): zero at a and b, slope 1 there, positive in between."""
    return (x - a) * (b - x) / (b - a)


def segments(x: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Trimmed distance phi_i (n, k) of points x (n, 2) to the segments start[i] -> end[i] (k, 2).

    f = signed distance to the line, t = trimming disk function, phi = sqrt(f^2 + ((sqrt(t^2+f^4)-t)/2)^2)
    (Sukumar & Srivastava eq. 20): zero exactly on the segment, positive elsewhere, ~|f| near it.
    """
    d = end - start  # (k, 2)
    length = torch.linalg.norm(d, dim=1)
    rel = x[:, None, :] - start[None]  # (n, k, 2)
    f = (rel[..., 0] * d[:, 1] - rel[..., 1] * d[:, 0]) / length
    centre = x[:, None, :] - 0.5 * (start + end)[None]
    t = ((0.5 * length) ** 2 - (centre * centre).sum(-1)) / length
    varphi = safe_sqrt(t * t + f ** 4)
    return safe_sqrt(f * f + (0.5 * (varphi - t)) ** 2)


def r_equivalence(phis: torch.Tensor) -> torch.Tensor:
    """1 / sum_i 1/phi_i over the last axis (m = 1); exactly 0 where any phi_i is 0."""
    zero = (phis == 0).any(dim=-1)
    safe = torch.where(phis > 0, phis, torch.ones_like(phis))
    return torch.where(zero, torch.zeros_like(zero, dtype=phis.dtype), 1.0 / (1.0 / safe).sum(-1))
