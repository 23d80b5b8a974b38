"""LPINN: shapes, periodicity, jets, Lagrangian residuals of exact solutions, Eulerian interpolation."""

import math

import pytest
import torch

from sciml import ops
from sciml.errors import InputError
from sciml.nn.lpinn import LPINN, LagrangianEquation, lagrangian_form, lagrangian_residuals, to_eulerian

TWO_PI = 2 * math.pi
DIMS = [(0,), (1,), (1, 1), (0, 0)]


def _points(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g, dtype=torch.float64)
    x = TWO_PI * torch.rand(n, generator=g, dtype=torch.float64)
    return torch.stack([t, x], 1).requires_grad_()


def _model():
    torch.manual_seed(0)
    return LPINN(width=12, state_depth=3, characteristic_depth=2, speed_scale=5.0).double()


def test_shapes_and_initial_position():
    m = _model()
    tx = _points()
    out = m(tx)
    assert out.shape == (40, 2)
    tx0 = torch.stack([torch.zeros(9, dtype=torch.float64), torch.linspace(0, 6, 9, dtype=torch.float64)], 1)
    torch.testing.assert_close(m(tx0)[:, 0], tx0[:, 1])  # X(0, x0) = x0 exactly


def test_periodic_in_the_label():
    m = _model()
    tx = _points().detach()
    shifted = tx + torch.tensor([0.0, TWO_PI], dtype=torch.float64)
    a, b = m(tx), m(shifted)
    torch.testing.assert_close(b[:, 1], a[:, 1], rtol=1e-12, atol=1e-12)  # w periodic
    torch.testing.assert_close(b[:, 0], a[:, 0] + TWO_PI, rtol=1e-12, atol=1e-12)  # X − x0 periodic


def test_jets_equal_autograd():
    m = _model()
    tx = _points()
    with ops.forward_derivatives():
        u = m(tx)
        jet = [ops.partial(u, tx, *dims) for dims in DIMS]
    v = m(tx)
    auto = [ops.partial(v, tx, *dims) for dims in DIMS]
    torch.testing.assert_close(u, v, rtol=1e-13, atol=1e-13)
    for a, b in zip(jet, auto):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def _eval(fn, tx):
    out = fn(tx)
    assert out.shape == (tx.shape[0], 2)
    return out


def test_residuals_vanish_on_exact_convection_diffusion():
    beta, nu = 30.0, 0.05
    tx = _points()
    out = _eval(lambda p: torch.stack([p[:, 1] + beta * p[:, 0],
                                       torch.exp(-nu * p[:, 0]) * torch.sin(p[:, 1])], 1), tx)
    r_x, r_w = lagrangian_residuals(out, tx, LagrangianEquation.convection(beta, nu))
    assert r_x.abs().max() < 1e-12 and r_w.abs().max() < 1e-12


def test_residuals_vanish_on_inviscid_burgers_before_the_shock():
    tx = _points()
    w0 = lambda x: 0.5 * torch.sin(x)  # characteristics cross at t = 2
    out = _eval(lambda p: torch.stack([p[:, 1] + w0(p[:, 1]) * p[:, 0], w0(p[:, 1])], 1), tx)
    r_x, r_w = lagrangian_residuals(out, tx, lagrangian_form("burgers", nu=0.0))
    assert r_x.abs().max() < 1e-12 and r_w.abs().max() < 1e-12


def test_moving_frame_second_derivative_is_exact():
    # X = x0 + 0.3 t sin x0 (a diffeomorphism for t ≤ 1), w = g(X) ⇒ w_XX = g''(X) = −sin X
    nu = 1.0
    tx = _points()
    X = lambda p: p[:, 1] + 0.3 * p[:, 0] * torch.sin(p[:, 1])
    out = _eval(lambda p: torch.stack([X(p), torch.sin(X(p))], 1), tx)
    eq = LagrangianEquation("test", lambda x, t, w: torch.zeros_like(w), nu)
    _, r_w = lagrangian_residuals(out, tx, eq)
    w_t = torch.cos(X(tx)) * 0.3 * torch.sin(tx[:, 1])
    torch.testing.assert_close(r_w, w_t + torch.sin(X(tx)), rtol=1e-12, atol=1e-12)
    _, r_label = lagrangian_residuals(out, tx, eq, label_diffusion=True)
    assert (r_label - r_w).abs().max() > 1e-2  # the released code's approximation differs here


def test_to_eulerian_is_second_order_and_periodic():
    errs = []
    for n in (64, 128):
        labels = TWO_PI * torch.arange(n, dtype=torch.float64) / n
        t = torch.linspace(0, 1, 5, dtype=torch.float64)[:, None]
        X = labels + 7.3 * t + 0.2 * torch.sin(labels) * t  # moving, wrapping positions
        w = torch.sin(X)  # value carried at each position
        grid = TWO_PI * torch.arange(50, dtype=torch.float64) / 50
        errs.append((to_eulerian(X, w, grid, TWO_PI) - torch.sin(grid)).abs().max())
    assert errs[1] < 1e-3 and 3.5 < errs[0] / errs[1] < 4.5


def test_equations_without_lagrangian_form_are_rejected():
    with pytest.raises(InputError, match="cannot rewrite 'helmholtz2d'"):
        lagrangian_form("helmholtz2d")
    with pytest.raises(InputError, match="needs parameter"):
        lagrangian_form("burgers")
    with pytest.raises(InputError, match="period"):
        LPINN(period=0.0)
    with pytest.raises(InputError, match="x: expected points"):
        LPINN()(torch.zeros(3, 3))


def test_task_rejects_problems_without_lagrangian_form():
    import problems.convection as convection
    import problems.heat1d as heat1d
    from sciml.tasks.lpinn import LPINNTask

    with pytest.raises(InputError, match="cannot rewrite 'heat1d'"):
        LPINNTask(heat1d.problem())
    task = LPINNTask(convection.problem(beta=30.0, nu=0.01), n_x=8, n_t=4)
    assert task.equation.nu == 0.01 and task.equation.speed_scale == 30.0
