"""Training right-hand sides for learned solvers: Ritz vectors of the training operator by Lanczos
with full re-orthogonalisation, and the spectrum-biased mixtures of DCDM (reference §1.4).

Memory is the (m, n) Lanczos basis, never an n × n matrix: m = 10,000 at 64³ (the paper) would be
21 GB, so m is a parameter (a few hundred suffice for the 2-D tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import check


@dataclass(frozen=True)
class RitzBasis:
    """Ritz values (m,) ascending and vectors (m, n) (float32 rows) of a symmetric operator."""

    values: torch.Tensor
    vectors: torch.Tensor


def lanczos_ritz(
    matvec, n: int, m: int, seed: int = 0, mask: torch.Tensor | None = None, dtype=torch.float64
) -> RitzBasis:
    """m Lanczos steps from A·g (g ~ N(0, I): in range(A) also for singular A) with full
    re-orthogonalisation (two Gram–Schmidt passes); Ritz pairs from the tridiagonal matrix, values
    below 1e-8·max dropped. ``matvec`` maps (n,) → (n,); ``mask`` (n,) bool restricts to fluid cells."""
    check(1 <= m <= n, f"m: expected 1 <= m <= n = {n}, got {m}")
    g = torch.Generator().manual_seed(seed)
    fl = None if mask is None else mask.to(dtype)
    A = (lambda v: matvec(v)) if fl is None else (lambda v: fl * matvec(fl * v))
    q = A(torch.randn(n, generator=g, dtype=dtype))
    q = q / q.norm()
    W = torch.zeros(m, n, dtype=dtype)
    alphas, betas = [], []
    prev, beta = torch.zeros_like(q), 0.0
    for j in range(m):
        W[j] = q
        w = A(q)
        a = float(q @ w)
        w = w - a * q - beta * prev
        for _ in range(2):
            w = w - W[: j + 1].T @ (W[: j + 1] @ w)
        alphas.append(a)
        beta = float(w.norm())
        if beta < 1e-10 * abs(a) or j == m - 1:
            break
        betas.append(beta)
        prev, q = q, w / beta
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
    vals, Y = np.linalg.eigh(T)
    keep = vals > 1e-8 * vals.max()
    V = torch.as_tensor(Y[:, keep].T, dtype=dtype) @ W[:k]
    return RitzBasis(torch.as_tensor(vals[keep]), V.to(torch.float32))


def spectrum_biased_rhs(
    basis: RitzBasis,
    batch: int,
    generator: torch.Generator,
    low_fraction: float = 0.55,
    low_weight: float = 9.0,
) -> torch.Tensor:
    """(batch, n) unit vectors Σ_j c_j v_j with c_j = 9·N(0,1) on the lowest ``low_fraction`` of the
    Ritz vectors (DCDM: m/2 + θ of m) and N(0,1) on the rest."""
    m = basis.vectors.shape[0]
    c = torch.randn(batch, m, generator=generator)
    c[:, : int(round(low_fraction * m))] *= low_weight
    r = c @ basis.vectors
    return r / r.norm(dim=1, keepdim=True)
