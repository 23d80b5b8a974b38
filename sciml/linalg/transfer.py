"""Grid transfers between a vertex-centred grid and its coarse grid — the one place they live.

Coarse node I sits on fine node 2I + 1, so n_c = n_f // 2 on every axis (odd n_f: the classical
nested grid; even n_f: the last coarse cell is one fine cell wide, which Galerkin coarse operators
handle exactly). ``prolong`` is bi/trilinear interpolation P with zero boundary values, ``restrict`` is
full weighting R = Pᵀ/2^d. Used by :class:`~sciml.linalg.Multigrid` and MgNO's fixed transfers;
on CUDA the Triton kernels run them (:func:`sciml.kernels.backend`).
"""

from __future__ import annotations

import scipy.sparse as sp
import torch

from ..kernels import backend
from ..kernels.reference import coarse_shape


def restrict(r: torch.Tensor, cshape=None, prefer: str | None = None) -> torch.Tensor:
    """Full weighting: (B, *fine) → (B, *coarse); ``cshape`` defaults to :func:`coarse_shape`."""
    d = len(cshape) if cshape is not None else r.dim() - 1
    cshape = tuple(cshape) if cshape is not None else coarse_shape(r.shape[-d:])
    return backend(r.device, prefer).restrict(r, cshape)


def prolong(e: torch.Tensor, fshape, prefer: str | None = None) -> torch.Tensor:
    """Bi/trilinear interpolation: (B, *coarse) → (B, *fshape)."""
    return backend(e.device, prefer).prolong(e, tuple(fshape))


def prolongation_matrix(fshape) -> sp.csr_matrix:
    """P as a SciPy matrix (n_f × n_c), the Kronecker product of the 1-D interpolations."""

    def p1(nf):
        nc = nf // 2
        rows, cols, vals = [], [], []
        for i in range(nc):
            for di, w in ((-1, 0.5), (0, 1.0), (1, 0.5)):
                f = 2 * i + 1 + di
                if 0 <= f < nf:
                    rows.append(f)
                    cols.append(i)
                    vals.append(w)
        return sp.csr_matrix((vals, (rows, cols)), shape=(nf, nc))

    P = p1(fshape[0])
    for nf in fshape[1:]:
        P = sp.kron(P, p1(nf), format="csr")
    return P


def restriction_matrix(fshape) -> sp.csr_matrix:
    """R = Pᵀ / 2^d as a SciPy matrix."""
    return (prolongation_matrix(fshape).T / 2 ** len(fshape)).tocsr()


__all__ = ["coarse_shape", "restrict", "prolong", "prolongation_matrix", "restriction_matrix"]
