"""Every catalogue problem builds, and its exact solution satisfies its own equations and conditions."""

import numpy as np
import pytest
import torch

import sciml as sm
from sciml.registry import load_problem, problem_names

FOUNDATION = ["poisson2d", "poisson_lshape", "helmholtz2d", "heat1d", "burgers1d"]


def test_registry_lists_problems_and_rejects_unknown():
    assert set(FOUNDATION) <= set(problem_names())
    with pytest.raises(sm.InputError, match="unknown name 'nope'; known: .*poisson2d"):
        load_problem("nope")


@pytest.mark.parametrize("name", [n for n in FOUNDATION if n != "burgers1d"])
def test_exact_solution_has_zero_residual(name):
    problem = load_problem(name)
    x = problem.domain.sample(256, np.random.default_rng(0)).requires_grad_(True)
    u = problem._exact(x)
    for eq in problem.equations.values():
        r = eq(u, x)
        scale = max(1.0, float(u.abs().max()))
        assert float(r.abs().max()) < 1e-9 * scale * 1e3, name
    for cname, c in zip(problem.condition_names, problem.conditions):
        batch = {k: v.requires_grad_(True) if k.startswith("x") else v
                 for k, v in c.sample(64, np.random.default_rng(1)).items()}
        r = c.residual(problem._exact, batch, problem.output_dim)
        assert float(r.abs().max()) < 1e-10, (name, cname)


def test_burgers_reference_is_consistent():
    problem = load_problem("burgers1d")
    ref = problem.solution
    assert ref.points.shape == (100 * 256, 2) and ref.values.shape == (100 * 256, 1)
    t0 = ref.points[:, 0] == 0
    np.testing.assert_allclose(ref.values[t0, 0], -np.sin(np.pi * ref.points[t0, 1]), atol=1e-12)
    assert float(ref.values.abs().max()) <= 1.0 + 1e-9


def test_lshape_solution_is_singular_at_the_corner():
    problem = load_problem("poisson_lshape")
    assert abs(problem.domain.volume - 3.0) < 1e-9
    x = torch.tensor([[1e-6, 1e-6]], dtype=torch.float64, requires_grad=True)
    g = sm.grad(problem._exact(x), x)
    assert float(g.norm()) > 50  # |∇u| ~ r^(-1/3)
