"""Quick mode (fixed seeds, small): LPINN beats the vanilla PINN on convection β = 30."""

import torch

import problems.convection as convection
import sciml as sm
from sciml.nn.lpinn import LPINN
from sciml.tasks.lpinn import LPINNTask


def test_lpinn_beats_pinn_on_convection_beta30():
    problem = convection.problem(beta=30.0)
    sm.seed_everything(0)
    amsgrad = lambda params: torch.optim.Adam(params, lr=1e-2, amsgrad=True)  # reference optimizer
    lpinn = sm.fit(LPINN(width=20, state_depth=3, speed_scale=30.0), LPINNTask(problem, n_x=64, n_t=25),
                   steps=200, optimizer=amsgrad, seed=0, progress=False)
    sm.seed_everything(0)
    pinn = sm.fit(sm.nn.MLP(2, 1, width=20, depth=4), problem, steps=200, optimizer="adam", lr=1e-3,
                  points=1600, boundary_points=200, seed=0, progress=False, test_points=2000)
    assert lpinn.metrics["rel_l2"] < 0.15
    assert pinn.metrics["rel_l2"] > 0.5
    assert lpinn.metrics["rel_l2"] < 0.3 * pinn.metrics["rel_l2"]
