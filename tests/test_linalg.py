"""CG / flexible CG against SciPy, the operator adapter's input checks, and Stencil assembly."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from sciml.errors import InputError
from sciml.linalg import SolveInfo, Stencil, cg, flexible_cg


def random_spd(n, seed, cond=1e2):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.geomspace(1, cond, n)) @ Q.T, rng.standard_normal(n)


def scipy_iterations(A, b, M=None, rtol=1e-8):
    count = []
    x, info = spla.cg(A, b, rtol=rtol, M=M, callback=lambda xk: count.append(1), maxiter=10 * len(b))
    assert info == 0
    return x, len(count)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cg_agrees_with_scipy_on_random_spd(seed):
    A, b = random_spd(60, seed)
    xs, its = scipy_iterations(A, b)
    x, info = cg(A, b, rtol=1e-8)
    assert isinstance(info, SolveInfo) and info.converged and info.reason == "converged"
    assert abs(info.iterations - its) <= 1
    assert np.linalg.norm(x - xs) <= 1e-6 * np.linalg.norm(xs)
    assert info.final_residual <= 1e-8 * 1.5 and len(info.residuals) == info.iterations + 1
    assert info.residuals[0] == pytest.approx(1.0)


def test_cg_with_jacobi_preconditioner_agrees_with_scipy():
    A, b = random_spd(50, 3)
    A = A + np.diag(np.linspace(1, 100, 50))
    Minv = np.diag(1 / np.diag(A))
    _, its = scipy_iterations(A, b, M=Minv)
    x, info = cg(A, b, M=Minv)
    assert info.converged and abs(info.iterations - its) <= 1
    x2, info2 = cg(A, b, M=lambda r: r / torch.as_tensor(np.diag(A).copy()))
    assert info2.iterations == info.iterations and np.allclose(x, x2)


def test_every_operator_form_gives_the_same_solution():
    st = Stencil.poisson((9, 7))
    S = st.to_sparse()
    b = np.random.default_rng(0).standard_normal(st.n)
    ref = spla.spsolve(S.tocsc(), b)
    t = torch.as_tensor(S.toarray())
    forms = [
        S,
        S.toarray(),
        t,
        t.to_sparse(),
        st,
        spla.aslinearoperator(S),
        lambda v: torch.as_tensor(S @ v.numpy()),
    ]
    for A in forms:
        x, info = cg(A, b, rtol=1e-10)
        assert info.converged and np.allclose(x, ref, rtol=0, atol=1e-8 * np.abs(ref).max()), type(A)


def test_batched_columns_are_independent_solves():
    A, _ = random_spd(40, 4)
    B = np.random.default_rng(5).standard_normal((40, 3))
    B[:, 1] *= 1e-3
    X, info = cg(torch.as_tensor(A), torch.as_tensor(B))
    assert X.shape == (40, 3) and info.residuals.shape == (info.iterations + 1, 3)
    for j in range(3):
        xj, ij = cg(A, B[:, j])
        assert np.allclose(X[:, j].numpy(), xj, atol=1e-10 * np.abs(xj).max())
        assert ij.iterations <= info.iterations


def test_float32_and_x0_and_callback():
    A, b = random_spd(30, 6, cond=50)
    x, info = cg(torch.as_tensor(A, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), rtol=1e-5)
    assert x.dtype == torch.float32 and info.converged
    xs = np.linalg.solve(A, b)
    calls = []
    x2, info2 = cg(A, b, x0=xs + 1e-3, callback=calls.append)
    assert info2.converged and len(calls) == info2.iterations and info2.iterations < 30
    x3, info3 = cg(A, np.zeros(30))
    assert info3.iterations == 0 and info3.converged and np.all(x3 == 0)


def test_indefinite_matrix_is_detected_not_nan():
    A = np.diag(np.r_[np.ones(10), -np.ones(10)])
    b = np.ones(20)
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        x, info = cg(A, b)
    assert info.reason == "indefinite" and not info.converged and np.all(np.isfinite(x))
    with pytest.warns(RuntimeWarning, match="preconditioner"):
        _, info = cg(np.eye(20) * 2, b, M=-np.eye(20))
    assert info.reason == "indefinite preconditioner"


@pytest.mark.parametrize(
    "A, b, match",
    [
        (np.ones((3, 4)), np.ones(3), "square"),
        (np.eye(4), np.ones(5), "length 4"),
        (np.array([[1.0, np.nan], [0, 1]]), np.ones(2), "NaN"),
        (sp.csr_matrix(np.array([[1.0, np.inf], [0, 1]])), np.ones(2), "NaN"),
        (np.eye(2), np.array([1.0, np.nan]), "b: contains NaN"),
        (np.eye(2), np.ones((2, 2, 2)), "shape"),
    ],
)
def test_bad_input_is_one_line_input_error(A, b, match):
    with pytest.raises(InputError, match=match) as e:
        cg(A, b)
    assert "\n" not in str(e.value)


def test_flexible_cg_equals_pcg_for_fixed_spd_preconditioner_and_handles_nonlinear_ones():
    st = Stencil.poisson((20, 20))
    b = torch.randn(st.n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    D = st.diagonal()
    _, i_cg = cg(st, b, M=lambda r: r / D)
    _, i_f = flexible_cg(st, b, M=lambda r: r / D)
    assert abs(i_cg.iterations - i_f.iterations) <= 1

    def inner_cg(r):  # a nonlinear preconditioner: 5 steps of CG
        z, _ = cg(st, r, maxiter=5)
        return z

    _, info = flexible_cg(st, b, M=inner_cg, rtol=1e-8, maxiter=200)
    assert info.converged and info.iterations < i_cg.iterations / 2


def stencil_reference(a, h, bcs):
    """Independent loop assembly of −∇·(a∇u), vertex-centred, face coefficient = mean of the nodes."""
    nodes = a.shape
    d = a.ndim
    shape = tuple(n - 2 for n in nodes)
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    A = sp.lil_matrix((idx.size, idx.size))
    for x in np.ndindex(*shape):
        row = idx[x]
        for ax in range(d):
            for s in (-1, 1):
                y = list(x)
                y[ax] += s
                w = 0.5 * (a[tuple(v + 1 for v in x)] + a[tuple(v + 1 for v in y)]) / h[ax] ** 2
                if 0 <= y[ax] < shape[ax]:
                    A[row, row] += w
                    A[row, idx[tuple(y)]] -= w
                elif bcs[2 * ax + (s > 0)] == "dirichlet":
                    A[row, row] += w
    return A.tocsr()


@pytest.mark.parametrize(
    "nodes, bcs",
    [
        ((7, 6), ("dirichlet",) * 4),
        ((6, 7), ("dirichlet", "neumann", "neumann", "dirichlet")),
        ((5, 6, 4), ("dirichlet",) * 6),
        ((5, 4, 6), ("neumann", "dirichlet") * 3),
    ],
)
def test_variable_coefficient_stencil_equals_loop_assembly(nodes, bcs):
    a = np.random.default_rng(0).uniform(0.5, 2.0, nodes)
    h = tuple(1.0 / (n - 1) for n in nodes)
    st = Stencil.diffusion(a, bc=bcs)
    R = stencil_reference(a, h, bcs)
    assert abs(st.to_sparse() - R).max() <= 1e-12 * abs(R).max()
    u = torch.randn(3, *st.shape, dtype=torch.float64)
    assert torch.allclose(st.apply(u).reshape(3, -1).T, torch.as_tensor(R @ u.reshape(3, -1).T.numpy()))
    assert torch.allclose(st.diagonal(), torch.as_tensor(R.diagonal()))


def test_stencil_equals_solvers_fd_assembly():
    fd = pytest.importorskip("solvers.fd")
    a = np.random.default_rng(1).uniform(1.0, 3.0, (9, 8))
    h = 1.0 / 8
    A = fd.assemble_diffusion(a, h, bc="dirichlet")
    st = Stencil.diffusion(a, h=h)
    assert abs(sp.csr_matrix(A) - st.to_sparse()).max() <= 1e-12 * abs(A).max()


def test_nine_point_stencil_is_mehrstellen_and_fourth_order():
    n = 5
    st = Stencil.poisson((n, n), points=9)
    row = st.to_sparse().toarray()[2 * n + 2].reshape(n, n)[1:4, 1:4] * (1 / 6) ** 2 * 6
    assert np.allclose(row, [[-1, -4, -1], [-4, 20, -4], [-1, -4, -1]])
    errs = []
    for n in (15, 31):  # −Δu = f with u = sin(πx)sin(πy): 5-point O(h²); 9-point with Collatz RHS O(h⁴)
        x = np.linspace(0, 1, n + 2)[1:-1]
        X, Y = np.meshgrid(x, x, indexing="ij")
        u = np.sin(np.pi * X) * np.sin(np.pi * Y)
        f = 2 * np.pi**2 * u
        h2 = (1 / (n + 1)) ** 2
        f9 = f * (1 - np.pi**2 * h2 / 6)  # f + h²/12 Δf
        e5 = np.abs(cg(Stencil.poisson((n, n)), f.ravel(), rtol=1e-12)[0] - u.ravel()).max()
        e9 = np.abs(cg(Stencil.poisson((n, n), points=9), f9.ravel(), rtol=1e-12)[0] - u.ravel()).max()
        errs.append((e5, e9))
    assert 3.6 < errs[0][0] / errs[1][0] < 4.4 and 14 < errs[0][1] / errs[1][1] < 18


def test_solid_cells_are_decoupled_identity_rows():
    solid = np.zeros((6, 6), bool)
    solid[2:4, 2:4] = True
    st = Stencil((6, 6), solid=solid)
    A = st.to_sparse().toarray()
    s = np.flatnonzero(solid.ravel())
    f = np.flatnonzero(~solid.ravel())
    assert np.allclose(A[np.ix_(s, s)], np.eye(4)) and np.all(A[np.ix_(s, f)] == 0) and np.allclose(A, A.T)
    assert np.all(np.linalg.eigvalsh(A) > 0)


def test_singular_all_neumann_system_is_projected():
    st = Stencil((12, 10), bc="neumann")
    N = st.nullspace_basis()
    assert N.shape == (120, 1) and torch.allclose(
        st.apply_columns(N), torch.zeros(120, 1, dtype=torch.float64)
    )
    b = np.random.default_rng(0).standard_normal(120) + 3.0  # inconsistent: has a constant part
    x, info = cg(st, b, rtol=1e-10)
    assert info.converged and "null-space" in info.message
    bp = b - b.mean()
    assert np.linalg.norm(st.to_sparse() @ x - bp) <= 1e-9 * np.linalg.norm(bp) and abs(x.mean()) < 1e-10
    solid = np.zeros((12, 10), bool)
    solid[:, 5] = True  # two separate fluid regions, each with its own constant
    assert Stencil((12, 10), bc="neumann", solid=solid).nullspace_basis().shape == (120, 2)
    assert Stencil((12, 10), bc=("neumann",) * 3 + ("dirichlet",)).nullspace_basis() is None


def test_stencil_input_errors():
    with pytest.raises(InputError, match="a: expected"):
        Stencil((4, 4), a=np.ones((4, 4)))
    with pytest.raises(InputError, match="bc"):
        Stencil((4, 4), bc="robin")
    with pytest.raises(InputError, match="points"):
        Stencil((4, 4, 4), points=9)
    with pytest.raises(InputError, match="9-point"):
        Stencil((4, 4), a=np.random.rand(6, 6) + 1, points=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Stencil.poisson((3, 3, 3))
