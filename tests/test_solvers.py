"""Reference solvers: observed convergence orders, exact solutions, matrix properties, bad input.

The refinement ladders live in :mod:`solvers.studies` (the benchmark tabulates the same ones).
"""

import numpy as np
import pytest
import scipy.sparse as sp

import solvers
from sciml.errors import InputError
from solvers import studies


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Two shared cores: multi-threaded OpenBLAS stalls the small AMG/BLAS-1 work here under load."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (a scikit-learn dependency): run with the default threads
        yield
        return
    with threadpool_limits(1):
        yield


# ---------------------------------------------------------------- observed convergence orders

ORDER_TOLERANCE = {"antiderivative_rk45": (-0.2, 1.2)}  # spline-error cancellation: observed 4.5-4.9


@pytest.mark.parametrize("name", [n for n in studies.STUDIES if n != "burgers_space"])
def test_observed_order(name):
    study = studies.STUDIES[name]()
    low, high = ORDER_TOLERANCE.get(name, (-0.2, 0.2))
    deviation = study.orders - study.expected
    assert len(study.errors) >= 3, study
    assert np.all((deviation > low) & (deviation < high)), (study.orders, study.errors)


def test_burgers_spectral_accuracy_against_cole_hopf():
    errors = studies.burgers_space().errors  # n = 64, 128, 256: measured 1.5e-3, 5e-6, 4e-11
    assert errors[0] / errors[1] > 100 and errors[1] / errors[2] > 1000 and errors[2] < 1e-10, errors


# --------------------------------------------------------------------------- finite differences


def test_poisson_absolute_accuracy_and_solver_agreement():
    # 5-point scheme on sin(πx)sin(πy): error ≈ (π²h²/12)·max|u| = 2.0e-4 at h = 1/64
    assert studies.poisson_sine().errors[-1] < 2.2e-4
    X, Y = np.meshgrid(np.linspace(0, 1, 33), np.linspace(0, 1, 33), indexing="ij")
    exact, a = np.exp(X + 0.5 * Y), 1.0 + X**2 * Y
    f = -(1.25 * a + 2 * X * Y + 0.5 * X**2) * exact
    amg = solvers.solve_poisson(f, 1 / 32, bc_values=exact, a=a)
    assert np.array_equal(amg[0], exact[0]) and np.array_equal(amg[:, -1], exact[:, -1])
    direct = solvers.solve_poisson(f, 1 / 32, bc_values=exact, a=a, method="direct")
    assert np.max(np.abs(amg - direct)) < 1e-9
    with pytest.raises(InputError, match="k2"):
        solvers.solve_poisson(np.zeros((5, 5)), 0.25, k2=40.0, method="amg")


def test_assembled_matrix_is_symmetric_positive_definite_and_matches_stencil():
    rng = np.random.default_rng(0)
    a = np.exp(rng.standard_normal((7, 6)))
    h = (0.3, 0.2)
    A = solvers.assemble_diffusion(a, h)
    assert sp.isspmatrix_csr(A) and A.shape == (20, 20)
    assert abs(A - A.T).max() == 0.0
    assert np.linalg.eigvalsh(A.toarray()).min() > 0
    # row-major (C) order over the interior nodes, equal to the matrix-free stencil
    u = np.zeros_like(a)
    u[1:-1, 1:-1] = rng.standard_normal((5, 4))
    stencil = solvers.apply_diffusion(a, h, u).ravel()
    np.testing.assert_allclose(A @ u[1:-1, 1:-1].ravel(), stencil, rtol=1e-13)


def test_constant_coefficient_gives_the_kronecker_laplacian_in_2d_and_3d():
    def second_difference(n, h):
        return sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) / h**2

    shape, h = (3, 4, 5), (0.5, 0.25, 0.2)
    T = [second_difference(n, hk) for n, hk in zip(shape, h)]
    eye = [sp.identity(n) for n in shape]
    kron3 = sp.kron(sp.kron(T[0], eye[1]), eye[2]) + sp.kron(sp.kron(eye[0], T[1]), eye[2]) \
        + sp.kron(sp.kron(eye[0], eye[1]), T[2])
    assert abs(solvers.laplacian(shape, h) - kron3).max() < 1e-12
    kron2 = sp.kron(T[0], eye[1]) + sp.kron(eye[0], T[1])
    assert abs(solvers.laplacian(shape[:2], h[:2]) - kron2).max() < 1e-12


def test_darcy_piecewise_constant_batch_solves_the_fno_system():
    rng = np.random.default_rng(1)
    a = np.where(rng.standard_normal((3, 64, 64)) > 0, 12.0, 3.0)
    u = solvers.darcy(a)
    assert u.shape == a.shape
    assert np.all(u[:, [0, -1], :] == 0) and np.all(u[:, :, [0, -1]] == 0)
    assert np.all(u[:, 1:-1, 1:-1] > 0)  # discrete maximum principle for f = 1 > 0
    for coef, sol in zip(a, u):
        residual = solvers.assemble_diffusion(coef, 1 / 63) @ sol[1:-1, 1:-1].ravel() - 1.0
        assert np.max(np.abs(residual)) < 1e-9
    np.testing.assert_allclose(solvers.darcy(a[1]), u[1], rtol=0, atol=1e-14)


def test_nonlinear_diffusion_output_times_and_sign():
    x = np.linspace(-1, 1, 21)
    u0 = studies.pinnacle_u0(*np.meshgrid(x, x, indexing="ij"))
    t, (xs, ys), u = solvers.nonlinear_diffusion(u0, 1.0, 20, t_eval=[0.0, 0.5, 1.0])
    assert u.shape == (3, 21, 21) and np.allclose(t, [0, 0.5, 1]) and xs[0] == -1 and ys[-1] == 1
    assert np.all(u[:, [0, -1], :] == 0) and np.array_equal(u[0, 1:-1, 1:-1], u0[1:-1, 1:-1])
    assert np.min(u) > -1e-12 and np.max(u[-1]) < np.max(u[1]) < np.max(u[0])  # no new extrema


# --------------------------------------------------------------------------- spectral


@pytest.mark.parametrize("beta", [30.0, 50.0])
def test_convection_matches_exact_translation(beta):
    x = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    t = np.linspace(0, 1, 100)
    u = solvers.convection_diffusion(np.sin, x, t, beta)
    assert np.max(np.abs(u - np.sin(x[None, :] - beta * t[:, None]))) < 1e-12
    damped = solvers.convection_diffusion(np.sin(x), x, t, beta, nu=0.1)
    exact = np.exp(-0.1 * t[:, None]) * np.sin(x[None, :] - beta * t[:, None])
    assert np.max(np.abs(damped - exact)) < 1e-12


def test_allen_cahn_grid_and_initial_condition():
    t, x, u = solvers.allen_cahn(n_t=11, n_x=64, n=256, dt=0.01)
    assert u.shape == (11, 64) and t[0] == 0 and t[-1] == 1 and x[0] == -1 and np.isclose(x[1] - x[0], 2 / 64)
    np.testing.assert_allclose(u[0], x**2 * np.cos(np.pi * x), atol=1e-14)
    assert np.max(np.abs(u)) < 1.0 + 1e-6  # bounded by the stable states ±1
    with pytest.raises(InputError, match="n_x"):
        solvers.allen_cahn(n_x=500, n=1024)


def test_burgers1d_cole_hopf_is_exact_and_matches_the_spectral_solver():
    nu = 0.01 / np.pi
    t, x, u = solvers.burgers_dirichlet()
    assert u.shape == (100, 256) and x[0] == -1 and x[-1] == 1 and np.isclose(t[-1], 0.99)
    assert np.all(u[:, [0, -1]] == 0.0)
    np.testing.assert_allclose(u[0], -np.sin(np.pi * x), atol=1e-15)
    np.testing.assert_allclose(u, -u[:, ::-1], atol=1e-12)  # odd in x
    # quadrature converged: 10x more nodes changes nothing
    finer = solvers.burgers_sine_exact(x, t[[30, 99]], nu, amplitude=-1.0, wavenumber=np.pi, n_quad=4000)
    assert np.max(np.abs(finer - u[[30, 99]])) < 1e-13
    # an independent method (Fourier + ETDRK4: the odd periodic problem equals the Dirichlet one)
    ts, xs, us = solvers.burgers(lambda s: -np.sin(np.pi * s), (-1, 1), nu, [0.0, 0.25, 0.5], n=2048, dt=1e-3)
    exact = solvers.burgers_sine_exact(xs, ts, nu, amplitude=-1.0, wavenumber=np.pi)
    assert np.max(np.abs(us - exact)) < 1e-7  # measured 1.9e-8 (time error of ETDRK4 at dt = 1e-3)
    # Basdevant et al. (1986): the steepest slope, at x = 0 and t = 1.6037/π, is −152.00516
    delta = 1e-6
    u_pm = solvers.burgers_sine_exact([-delta, delta], [1.6037 / np.pi], nu, -1.0, np.pi)[0]
    assert abs((u_pm[1] - u_pm[0]) / (2 * delta) + 152.00516) < 1e-4


# --------------------------------------------------------------------------- heat, antiderivative


def test_heat_series_is_exact_for_a_finite_sine_sum():
    u0 = lambda s: np.sin(np.pi * s / 3) - 0.2 * np.sin(4 * np.pi * s / 3)
    x, t = np.linspace(0, 3, 50), np.array([0.0, 0.1, 1.0])
    exact = (np.exp(-2 * (np.pi / 3) ** 2 * t)[:, None] * np.sin(np.pi * x / 3)
             - 0.2 * np.exp(-2 * (4 * np.pi / 3) ** 2 * t)[:, None] * np.sin(4 * np.pi * x / 3))
    assert np.max(np.abs(solvers.heat_exact(u0, x, t, kappa=2.0, length=3.0, n_modes=8) - exact)) < 1e-13


def test_antiderivative_batch_shape_and_origin():
    x = np.linspace(0, 1, 11)
    u = np.ones((2, 3, 11))
    for method in ("simpson", "rk45"):
        s = solvers.antiderivative(u, x, method=method)
        assert s.shape == u.shape and np.all(s[..., 0] == 0)
        np.testing.assert_allclose(s, np.broadcast_to(x, u.shape), atol=1e-10)


# --------------------------------------------------------------------------- bad input


def _raises_one_line(fn, *args, match, **kwargs):
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_input_raises_one_line_input_errors():
    a = np.ones((6, 6))
    nan_a = a.copy()
    nan_a[2, 3] = np.nan
    _raises_one_line(solvers.assemble_diffusion, nan_a, 0.2, match="^a: contains NaN")
    _raises_one_line(solvers.darcy, nan_a, match="^a: contains NaN")
    _raises_one_line(solvers.darcy, -a, match="^a: must be strictly positive")
    zero_diagonal = np.where(np.eye(6) > 0, 0.0, 1.0)
    _raises_one_line(solvers.assemble_diffusion, zero_diagonal, 0.2, match="^a: must be strictly")
    _raises_one_line(solvers.darcy, np.ones((6, 7)), match="^a: expected square")
    _raises_one_line(solvers.darcy, a, f=np.ones((5, 5)), match="^f: expected")
    _raises_one_line(solvers.solve_poisson, np.zeros((6, 6)), 0.2, a=np.ones((7, 7)), match="^a: expected sh")
    _raises_one_line(solvers.solve_poisson, np.zeros((6, 6)), (0.2, 0.1, 0.1), match="^h:")
    _raises_one_line(solvers.solve_poisson, np.zeros((6, 6)), 0.2, bc_values=np.ones(3), match="^bc_values:")
    _raises_one_line(solvers.solve_poisson, np.zeros((6, 6)), 0.2, method="cg", match="^method:")
    _raises_one_line(solvers.assemble_diffusion, a, 0.2, bc="neumann", match="^bc:")
    _raises_one_line(solvers.laplacian, (3, 0), 0.1, match="^shape:")
    _raises_one_line(solvers.apply_diffusion, a, 0.2, np.ones((5, 5)), match="^u: expected shape")
    _raises_one_line(solvers.nonlinear_diffusion, np.ones((5, 5)), 1.0, 10, t_eval=[0.05], match="^t_eval:")
    _raises_one_line(solvers.nonlinear_diffusion, np.ones((5, 5)), 1.0, 0, match="^n_steps:")
    x = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    _raises_one_line(solvers.convection_diffusion, np.ones(15), x, [0.0], 1.0, match="^u0: expected 16")
    _raises_one_line(solvers.convection_diffusion, np.sin, x**2, [0.0], 1.0, match="^x: expected a uniform")
    _raises_one_line(solvers.burgers, np.sin, (0, 1), -0.1, [0, 1], match="^nu:")
    _raises_one_line(solvers.burgers, np.sin, (1, 0), 0.1, [0, 1], match="^x_domain:")
    _raises_one_line(solvers.burgers, np.sin, (0, 1), 0.1, [1, 0], match="^t_eval:")
    _raises_one_line(solvers.heat_crank_nicolson, np.ones(4), 8, 1.0, 4, match="^u0: expected 9")
    _raises_one_line(solvers.antiderivative, np.ones(5), np.linspace(0, 1, 6), match="^u_values:")
    _raises_one_line(solvers.antiderivative, np.ones(3), np.array([0.0, 2.0, 1.0]), match="^x: expected str")
