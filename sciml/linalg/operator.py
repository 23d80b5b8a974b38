"""The one place that turns user input into matvecs on torch tensors and validates it.

:func:`as_operator` accepts a SciPy sparse matrix or ``LinearOperator``, a NumPy or torch dense matrix,
a torch sparse tensor, a :class:`~sciml.linalg.Stencil`, or any callable (given (n,) for one column,
else (n, k)); :func:`as_rhs` turns b into an (n, k) torch tensor; :func:`as_preconditioner` turns
``M`` (matrix, callable, ``Multigrid``, ``amg(A)``, anything with ``.aspreconditioner()``) into a map on
(n, k) tensors. Bad input raises :class:`~sciml.errors.InputError` with one line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..errors import InputError, check

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Operator:
    """A square linear map on columns: ``matvec(X)`` for X of shape (n, k).

    ``nullspace``: (n, m) orthonormal basis of the known null space (singular Neumann stencils), or None.
    """

    n: int
    matvec: Matvec
    nullspace: torch.Tensor | None = None
    source: object = None


def _float_dtype(dtype) -> torch.dtype:
    return dtype if dtype in (torch.float32, torch.float64) else torch.float64


def as_rhs(b, name: str = "b") -> tuple[torch.Tensor, bool, bool]:
    """``b`` as a (n, k) float tensor; returns (B, was_1d, was_numpy). NaN/Inf → InputError."""
    was_numpy = not isinstance(b, torch.Tensor)
    if was_numpy:
        try:
            arr = np.asarray(b)
        except Exception:
            raise InputError(f"{name}: expected an array of numbers, got {type(b).__name__}") from None
        check(arr.dtype.kind in "fiu", f"{name}: expected a real numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(
            np.ascontiguousarray(arr, dtype=np.float32 if arr.dtype == np.float32 else np.float64)
        )
    else:
        check(not b.is_complex(), f"{name}: complex tensors are not supported")
        t = b.detach()
        t = t.to(_float_dtype(t.dtype))
    check(t.dim() in (1, 2), f"{name}: expected shape (n,) or (n, k), got {tuple(t.shape)}")
    check(t.shape[0] > 0, f"{name}: is empty")
    check(bool(torch.isfinite(t).all()), f"{name}: contains NaN or Inf")
    one = t.dim() == 1
    return (t[:, None] if one else t), one, was_numpy


def as_operator(A, n: int | None = None, dtype=torch.float64, device="cpu", name: str = "A") -> Operator:
    """Wrap ``A`` as an :class:`Operator` on (n, k) tensors of ``dtype`` on ``device``.

    ``n`` (the length of b) is checked against A's size. A callable receives and returns tensors of
    shape (n,) for a single right-hand side, (n, k) for k columns.
    """
    from .stencil import Stencil

    device = torch.device(device)
    if isinstance(A, Operator):
        op = A
    elif isinstance(A, Stencil):
        st = A.to(dtype, device)
        op = Operator(A.n, st.apply_columns, A.nullspace_basis(dtype, device), A)
    elif sp.issparse(A):
        _check_square(A.shape, name)
        check(bool(np.all(np.isfinite(A.data))), f"{name}: contains NaN or Inf")
        op = Operator(A.shape[0], _sparse_matvec(A, dtype, device), None, A)
    elif isinstance(A, spla.LinearOperator):
        _check_square(A.shape, name)
        op = Operator(A.shape[0], _linear_operator_matvec(A, dtype, device), None, A)
    elif isinstance(A, torch.Tensor):
        _check_square(tuple(A.shape), name)
        if A.layout == torch.strided:
            check(bool(torch.isfinite(A).all()), f"{name}: contains NaN or Inf")
            M = A.detach().to(device=device, dtype=dtype)
        else:
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                M = A.detach().to(device=device, dtype=dtype).to_sparse_csr()
            check(bool(torch.isfinite(M.values()).all()), f"{name}: contains NaN or Inf")
        op = Operator(A.shape[0], lambda X: M @ X, None, A)
    elif isinstance(A, np.ndarray):
        check(A.dtype.kind in "fiu", f"{name}: expected a real numeric matrix, got dtype {A.dtype}")
        _check_square(A.shape, name)
        check(bool(np.all(np.isfinite(A))), f"{name}: contains NaN or Inf")
        M = torch.as_tensor(A, dtype=dtype, device=device)
        op = Operator(A.shape[0], lambda X: M @ X, None, A)
    elif callable(A):
        check(n is not None, f"{name}: a callable operator needs b to know its size")
        op = Operator(n, _checked_callable(A, n, name), None, A)
    else:
        raise InputError(
            f"{name}: expected a sparse/dense matrix, Stencil or callable, got {type(A).__name__}"
        )
    if n is not None:
        check(op.n == n, f"b: expected length {op.n} to match {name} ({op.n}×{op.n}), got {n}")
    return op


def _check_square(shape, name: str) -> None:
    check(len(shape) == 2, f"{name}: expected a 2-D matrix, got shape {tuple(shape)}")
    check(shape[0] == shape[1], f"{name}: expected a square matrix, got shape {tuple(shape)}")
    check(shape[0] > 0, f"{name}: is empty")


def _sparse_matvec(A, dtype, device) -> Matvec:
    if device.type == "cpu":  # SciPy's CSR kernels beat torch's on the CPU; zero-copy through numpy
        csr = sp.csr_matrix(A, dtype=np.float32 if dtype == torch.float32 else np.float64)
        return lambda X: torch.from_numpy(np.asarray(csr @ X.numpy()))
    coo = sp.coo_matrix(A)
    idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.int64)
    M = torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data), coo.shape).to(dtype=dtype, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        M = M.coalesce().to_sparse_csr()
    return lambda X: M @ X


def _linear_operator_matvec(A, dtype, device) -> Matvec:
    def mv(X):
        Y = A.matmat(X.detach().cpu().numpy().astype(np.float64))
        return torch.as_tensor(np.asarray(Y), dtype=dtype, device=device)

    return mv


def _checked_callable(f, n: int, name: str) -> Matvec:
    """A user callable gets (n,) when there is one column, else (n, k); it returns the same shape."""

    def mv(X):
        one = X.shape[1] == 1
        Y = f(X[:, 0] if one else X)
        if not isinstance(Y, torch.Tensor):
            Y = torch.as_tensor(np.asarray(Y), dtype=X.dtype, device=X.device)
        Y = Y.reshape(-1, 1) if one and Y.dim() == 1 else Y
        if Y.shape != X.shape:
            raise InputError(f"{name}: callable returned shape {tuple(Y.shape)} for input {tuple(X.shape)}")
        return Y.to(X.dtype)

    return mv


def as_preconditioner(M, op: Operator, dtype, device) -> Matvec | None:
    """``M`` (None, matrix, callable, object with ``aspreconditioner()``) as a map on (n, k) tensors."""
    if M is None:
        return None
    if getattr(M, "is_preconditioner", False):  # sciml objects: torch in, torch out, (n, k) columns
        return lambda X: M(X)
    if (
        hasattr(M, "aspreconditioner")
        and not isinstance(M, (torch.Tensor, np.ndarray))
        and not sp.issparse(M)
    ):
        M = M.aspreconditioner()
    if callable(M) and not isinstance(M, (spla.LinearOperator, torch.Tensor)):
        return _checked_callable(M, op.n, "M")
    return as_operator(M, op.n, dtype, device, name="M").matvec


def restore(X: torch.Tensor, one: bool, numpy: bool):
    """Back to the caller's layout: (n,) if b was 1-D, NumPy if b was NumPy."""
    X = X[:, 0] if one else X
    return X.cpu().numpy() if numpy else X


def to_scipy(A, name: str = "A"):
    """``A`` (SciPy sparse, dense array, torch dense/sparse, Stencil) as a validated SciPy CSR matrix."""
    import scipy.sparse as sp

    from .stencil import Stencil

    if isinstance(A, Stencil):
        return A.to_sparse()
    if isinstance(A, torch.Tensor):
        if A.layout != torch.strided:
            coo = A.detach().cpu().to_sparse_coo().coalesce()
            i = coo.indices().numpy()
            A = sp.csr_matrix((coo.values().double().numpy(), (i[0], i[1])), shape=tuple(coo.shape))
        else:
            A = A.detach().cpu().double().numpy()
    if isinstance(A, np.ndarray):
        check(A.dtype.kind in "fiu", f"{name}: expected a real numeric matrix, got dtype {A.dtype}")
        A = sp.csr_matrix(A)
    check(sp.issparse(A), f"{name}: expected a matrix or Stencil, got {type(A).__name__}")
    _check_square(A.shape, name)
    A = sp.csr_matrix(A, dtype=np.float64)
    check(bool(np.all(np.isfinite(A.data))), f"{name}: contains NaN or Inf")
    return A
