"""The PIG / LPINN benchmark problems: exact solutions satisfy their residuals and conditions."""

import numpy as np
import pytest
import torch

import problems.convection as convection
import problems.flow_mixing as flow_mixing
import problems.klein_gordon as klein_gordon


@pytest.mark.parametrize("make", [klein_gordon.problem, lambda: klein_gordon.problem(velocity=True),
                                  flow_mixing.problem,
                                  lambda: convection.problem(beta=40.0),
                                  lambda: convection.problem(5.0, nu=0.1)])
def test_exact_solutions_have_zero_residual(make):
    pb = make()
    x = pb.domain.sample(300, np.random.default_rng(0)).requires_grad_()
    r = next(iter(pb.equations.values()))(pb.solution(x), x)
    assert float(r.detach().abs().max()) < 1e-10
    for name, c in zip(pb.condition_names, pb.conditions):
        batch = c.sample(50, np.random.default_rng(1))
        batch = {k: (v.requires_grad_() if k.startswith("x") else v) for k, v in batch.items()}
        res = c.residual(lambda p: pb.solution(p), batch, 1)
        assert float(res.detach().abs().max()) < 1e-10, name


def test_flow_mixing_rotation_rate_is_smooth_at_the_centre():
    x = torch.tensor([0.0, 1e-8, 1e-3], dtype=torch.float64)
    w = flow_mixing._rotation_rate(x, torch.zeros_like(x))
    torch.testing.assert_close(w, torch.full_like(w, 1 / flow_mixing.V_MAX), rtol=1e-5, atol=0)
