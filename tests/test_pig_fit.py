"""Short training runs (fixed seeds): PIG beats a same-budget MLP PINN on Helmholtz (1, 4); boundary
derivatives from jets equal autograd."""

import numpy as np
import pytest
import torch

import problems.helmholtz2d as helmholtz2d
import sciml as sm
from sciml.nn.pig import PIG


def _fit(model, weights, lr):
    return sm.fit(model, helmholtz2d.problem(1.0, 4.0), steps=150, optimizer="adam", lr=lr, points=500,
                  boundary_points=200, resample_every=1, weights=weights, seed=0, progress=False,
                  test_points=2000)


def test_pig_beats_mlp_on_helmholtz_same_budget():
    sm.seed_everything(0)
    pig = _fit(PIG(2, n_gaussians=50, sigma=0.1), {"pde": 1e-4}, 1e-2)  # paper's residual weight, lr
    sm.seed_everything(0)
    mlp = _fit(sm.nn.MLP(2, 1, width=50, depth=4), None, 1e-3)
    assert pig.metrics["rel_l2"] < 0.5
    assert pig.metrics["rel_l2"] < 0.5 * mlp.metrics["rel_l2"]


def _boundary_derivative_problems():
    st = sm.TimeDomain(0.0, 1.0) * sm.Interval(-1.0, 1.0)
    heat = sm.Problem(st, equations=lambda u, p: sm.partial(u, p, 0) - 0.1 * sm.partial(u, p, 1, 1),
                      conditions=[sm.Initial(st, lambda p: p[:, 1] ** 2),
                                  sm.Initial(st, lambda p: p[:, 1], derivative=1),
                                  sm.Periodic(st, axis=1, derivatives=2)])
    sq = sm.Rectangle((-1.0, -1.0), (1.0, 1.0))
    poisson = sm.Problem(sq, equations=lambda u, x: sm.laplacian(u, x) + 1.0,
                         conditions=[sm.Neumann(sq.boundary["left"], 0.5), sm.Robin(sq.boundary["right"], 1.0, 2.0),
                                     sm.Dirichlet(sq.boundary["top"], 0.0)])
    return heat, poisson


@pytest.mark.parametrize("model", ["pig", "mlp"])
def test_boundary_derivatives_from_jets_equal_autograd(model):
    """Conditions that differentiate (Neumann, Robin, ∂u/∂t initial data, periodic u_x and u_xx) take
    their derivatives from the forward jets inside fit: every loss term equals the autograd one."""
    for problem in _boundary_derivative_problems():
        histories = []
        for derivatives in ("auto", "autograd"):
            sm.seed_everything(0)
            net = PIG(2, n_gaussians=20, sigma=0.3, bounds=problem.domain.bounds) if model == "pig" else \
                sm.nn.MLP(2, 1, width=16, depth=2)
            res = sm.fit(net, problem, steps=4, optimizer="adam", lr=1e-2, points=64, boundary_points=32,
                         dtype=torch.float64, derivatives=derivatives, seed=1, progress=False)
            histories.append(res.history)
        keys = [k for k in histories[0].keys() if k.startswith(("loss", "periodic", "initial", "neumann", "robin"))]
        assert len(keys) >= 3
        for k in keys:
            np.testing.assert_allclose(histories[0][k], histories[1][k], rtol=1e-10, err_msg=k)
