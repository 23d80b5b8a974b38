"""Classical preconditioners for :func:`~sciml.linalg.cg`: Jacobi and incomplete Cholesky IC(0).

Both are symmetric positive definite for an SPD A and act on (n,) or (n, k) torch or NumPy inputs, so
they go as ``M=`` to any Krylov method, beside :class:`~sciml.linalg.Multigrid` and
:func:`~sciml.linalg.amg`. They live on the CPU (SciPy triangular solves); tensors on another device
make a round trip through host memory.

IC(0) (Meijerink & van der Vorst 1977) is computed in the form M = (D + L) D⁻¹ (D + L)ᵀ, L the strictly
lower triangle of A and D diagonal with d_i = a_ii − Σ_{j<i} a_ij² / d_j. For 5- and 7-point stencil
matrices this *is* IC(0) (no two lower neighbours of a row are coupled, so nothing of the pattern is
dropped); for other patterns it is the diagonal-modified variant (D-ILU) of the same cost.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..errors import InputError, check
from .operator import as_rhs, restore, to_scipy


class _Preconditioner:
    """Torch/NumPy, (n,) or (n, k) in and out around a subclass's ``_apply`` on (n, k) float64 arrays."""

    is_preconditioner = True
    symmetric = True
    n: int

    def aspreconditioner(self):
        return self

    def __call__(self, r):
        R, one, numpy = as_rhs(r, "r")
        check(R.shape[0] == self.n, f"r: expected length {self.n}, got {R.shape[0]}")
        Z = self._apply(R.detach().cpu().double().numpy())
        return restore(torch.as_tensor(Z, dtype=R.dtype, device=R.device), one, numpy)


class Jacobi(_Preconditioner):
    """M = diag(A): ``M(r)`` returns r / diag(A). A: SciPy/torch matrix or Stencil with a positive diagonal."""

    def __init__(self, A):
        t0 = time.perf_counter()
        A = to_scipy(A)
        self.n = A.shape[0]
        diag = A.diagonal()
        bad = np.flatnonzero(diag <= 0)
        if bad.size:
            raise InputError(f"A: Jacobi needs a positive diagonal; a[{bad[0]}, {bad[0]}] = {diag[bad[0]]:g}")
        self.inv_diag = 1.0 / diag
        self.setup_time = time.perf_counter() - t0

    def _apply(self, R):
        return R * self.inv_diag[:, None]

    def __repr__(self) -> str:
        return f"Jacobi(n={self.n})"


class IncompleteCholesky(_Preconditioner):
    """IC(0) of an SPD sparse A (see the module docstring): ``M(r)`` solves (D + L) D⁻¹ (D + L)ᵀ z = r.

    Setup is a sequential O(nnz) pass (Python, ~1 s per million unknowns); each application is two
    sparse triangular solves. A pivot d_i <= 0 (A not SPD) raises :class:`~sciml.errors.InputError`.
    """

    def __init__(self, A):
        t0 = time.perf_counter()
        A = to_scipy(A)
        self.n = A.shape[0]
        lower = sp.tril(A, k=-1, format="csr")
        lower.sort_indices()
        d = _ic0_pivots(A.diagonal(), lower.indptr, lower.indices, lower.data)
        self.pivots = d
        factor = (lower + sp.diags(d)).tocsr()
        self._lower, self._upper = factor, factor.T.tocsr()
        self.setup_time = time.perf_counter() - t0

    def _apply(self, R):
        u = spla.spsolve_triangular(self._lower, R, lower=True)
        return spla.spsolve_triangular(self._upper, u * self.pivots[:, None], lower=False)

    def __repr__(self) -> str:
        return f"IncompleteCholesky(n={self.n}, nnz(L)={self._lower.nnz})"


def _ic0_pivots(diag: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> np.ndarray:
    """d_i = a_ii − Σ_{j<i} a_ij² / d_j over the strictly lower CSR triangle (indptr, indices, data)."""
    diag, ptr, idx, val = diag.tolist(), indptr.tolist(), indices.tolist(), data.tolist()
    d = [0.0] * len(diag)
    for i, a_ii in enumerate(diag):
        s = a_ii
        for k in range(ptr[i], ptr[i + 1]):
            s -= val[k] * val[k] / d[idx[k]]
        if not s > 0:
            raise InputError(f"A: incomplete Cholesky broke down at row {i} (pivot {s:.3g} <= 0); A is not SPD")
        d[i] = s
    return np.asarray(d)


def jacobi(A) -> Jacobi:
    """Jacobi (diagonal) preconditioner of A, for ``cg(A, b, M=jacobi(A))``."""
    return Jacobi(A)


def ichol(A) -> IncompleteCholesky:
    """IC(0) preconditioner of an SPD A, for ``cg(A, b, M=ichol(A))``."""
    return IncompleteCholesky(A)
