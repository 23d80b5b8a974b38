"""Causal weighting (Wang et al. 2024): slab losses, weights, no gradient through the weights."""

import math

import pytest
import torch

from sciml.causal import CausalWeighting
from sciml.errors import InputError


def test_weights_follow_the_formula():
    t = torch.tensor([0.05, 0.3, 0.35, 0.6, 0.9, 0.95], dtype=torch.float64)
    x = torch.stack([t, torch.zeros_like(t)], 1)
    r = torch.tensor([1.0, 2.0, 0.0, 3.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    cw = CausalWeighting(slabs=4, epsilon=0.5, time_range=(0.0, 1.0))
    loss = cw(r, x)
    slabs = [1.0, (4.0 + 0.0) / 2, 9.0, 1.0]
    w = [math.exp(-0.5 * sum(slabs[:i])) for i in range(4)]
    assert math.isclose(float(loss.detach()), sum(a * b for a, b in zip(w, slabs)) / 4, rel_tol=1e-12)
    assert math.isclose(cw.min_weight, w[-1], rel_tol=1e-12)
    (g,) = torch.autograd.grad(loss, r)  # weights are constants: d/dr_j = w_i 2 r_j / (n_i M)
    expect = [w[0] * 2 * 1 / 4, w[1] * 2 * 2 / 8, 0.0, w[2] * 2 * 3 / 4, w[3] * 2 / 8, w[3] * 2 / 8]
    torch.testing.assert_close(g, torch.tensor(expect, dtype=torch.float64))


def test_epsilon_zero_is_the_mean_of_slab_means_and_empty_slabs_skip():
    t = torch.tensor([0.1, 0.15, 0.9])
    x = t[:, None]
    r = torch.tensor([[1.0], [3.0], [2.0]])
    loss = CausalWeighting(slabs=10, epsilon=0.0, time_range=(0, 1))(r, x)
    assert math.isclose(float(loss), ((1 + 9) / 2 + 4) / 2, rel_tol=1e-6)


@pytest.mark.parametrize("kw", [dict(slabs=0), dict(epsilon=-1.0), dict(time_range=(1.0, 0.0))])
def test_bad_arguments(kw):
    with pytest.raises(InputError):
        CausalWeighting(**kw)
