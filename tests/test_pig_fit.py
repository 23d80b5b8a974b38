"""Short training runs (fixed seeds): PIG beats a same-budget MLP PINN on Helmholtz (1, 4)."""

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
