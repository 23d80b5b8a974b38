"""Jacobi and IC(0) preconditioners: IC(0) equals the textbook pattern-restricted Cholesky on
5- and 7-point stencils, both are SPD preconditioners for cg, bad input is named."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sciml.errors import InputError
from sciml.linalg import Stencil, cg, ichol, jacobi


def textbook_ic0(A: np.ndarray) -> np.ndarray:
    """Cholesky with every fill entry outside the pattern of A dropped (Golub & Van Loan, Alg. 11.5.1)."""
    n = A.shape[0]
    L = np.tril(A).astype(float)
    pattern = A != 0
    for k in range(n):
        L[k, k] = np.sqrt(L[k, k])
        L[k + 1 :, k] /= L[k, k]
        for j in range(k + 1, n):
            for i in range(j, n):
                if pattern[i, j]:
                    L[i, j] -= L[i, k] * L[j, k]
    return L


def ic0_matrix(M) -> np.ndarray:
    """The matrix (D + L) D⁻¹ (D + L)ᵀ whose inverse M applies."""
    T = M._lower.toarray()
    return T @ np.diag(1.0 / M.pivots) @ T.T


@pytest.mark.parametrize(
    "st",
    [
        Stencil.poisson((5, 4)),
        Stencil.poisson((3, 4, 3)),
        Stencil((6, 5), np.random.default_rng(0).uniform(1.0, 12.0, (8, 7))),
    ],
    ids=["poisson2d", "poisson3d", "variable2d"],
)
def test_ic0_equals_textbook_incomplete_cholesky(st):
    A = st.to_sparse().toarray()
    L = textbook_ic0(A)
    M = ichol(st)
    np.testing.assert_allclose(ic0_matrix(M), L @ L.T, rtol=1e-12, atol=1e-12)
    # IC(0) reproduces A on its pattern
    np.testing.assert_allclose(np.where(A != 0, L @ L.T, 0.0), A, rtol=1e-12, atol=1e-12)


def test_preconditioners_apply_their_inverse_to_numpy_and_batched_torch():
    st = Stencil.poisson((7, 6))
    A = st.to_sparse()
    M, J = ichol(A), jacobi(A)
    r = np.random.default_rng(1).standard_normal((st.n, 3))
    np.testing.assert_allclose(ic0_matrix(M) @ M(r), r, atol=1e-11)
    np.testing.assert_allclose(J(r[:, 0]), r[:, 0] / A.diagonal())
    z = M(torch.tensor(r, dtype=torch.float32))
    assert z.dtype == torch.float32 and z.shape == (st.n, 3)
    np.testing.assert_allclose(z.numpy(), M(r), rtol=1e-5, atol=1e-5)


def test_pcg_with_ic0_and_jacobi_converges_in_fewer_iterations():
    a = np.exp(np.random.default_rng(2).standard_normal((34, 34)))  # rough coefficient: Jacobi helps here
    st = Stencil((32, 32), a)
    A = st.to_sparse()
    b = np.random.default_rng(3).standard_normal(st.n)
    its = {}
    for name, M in (("cg", None), ("jacobi", jacobi(st)), ("ic0", ichol(st))):
        x, info = cg(A, b, M=M, rtol=1e-10)
        assert info.converged
        assert np.linalg.norm(A @ x - b) <= 1e-9 * np.linalg.norm(b)
        its[name] = info.iterations
    assert its["ic0"] < 0.5 * its["cg"]
    assert its["jacobi"] < its["cg"]


def test_bad_input():
    with pytest.raises(InputError, match="not SPD"):
        ichol(sp.csr_matrix(np.array([[1.0, 2.0], [2.0, 1.0]])))
    with pytest.raises(InputError, match="positive diagonal"):
        jacobi(sp.csr_matrix(np.array([[1.0, 0.0], [0.0, -1.0]])))
    with pytest.raises(InputError, match="square"):
        ichol(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(InputError, match="NaN"):
        jacobi(sp.csr_matrix(np.array([[np.nan, 0.0], [0.0, 1.0]])))
    with pytest.raises(InputError, match="length"):
        ichol(Stencil.poisson((3, 3)))(np.ones(5))
