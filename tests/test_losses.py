"""Losses exact on analytic cases: relative L2/H1, the FD Darcy residual, the CSRBF weak form."""

import math

import numpy as np
import pytest
import torch

from sciml.errors import InputError
from sciml.linalg.stencil import Stencil
from sciml.losses import (
    MSE,
    DarcyResidualFD,
    RelativeH1,
    RelativeL2,
    WeakFormResidual,
    ball_quadrature,
    wendland,
    zero_boundary,
)


def sines(s, k, periodic=False):
    x = torch.arange(s, dtype=torch.float64) / (s if periodic else s - 1)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    return (torch.sin(k * math.pi * X) * torch.sin(k * math.pi * Y))[None, None]


def test_relative_l2_and_mse_exact():
    u = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    assert RelativeL2()(1.1 * u, {"u": u}).item() == pytest.approx(0.1, abs=1e-14)
    assert MSE("s")(u + 0.5, {"s": u}).item() == pytest.approx(0.25, abs=1e-14)
    with pytest.raises(InputError, match="target 'u' is missing"):
        RelativeL2()(u, {"s": u})
    with pytest.raises(InputError, match="pred: expected the shape"):
        RelativeL2()(u[:, :, :4], {"u": u})


def test_relative_h1_fd_converges_to_the_analytic_value():
    # u = sin(πx)sin(πy), e = ε sin(2πx)sin(2πy) on [0,1]²: |e|²_H1/|u|²_H1 = ε²(1/4 + 2π²)/(1/4 + π²/2)
    eps = 0.1
    exact = eps * math.sqrt((0.25 + 2 * math.pi**2) / (0.25 + math.pi**2 / 2))
    errors = []
    for s in (65, 129):
        u, e = sines(s, 1), eps * sines(s, 2)
        errors.append(abs(RelativeH1()(u + e, {"u": u}).item() - exact))
    assert errors[1] < 2e-3 * exact and errors[0] / errors[1] > 3.5  # second order


def test_relative_h1_fourier_matches_mgno_hsloss_on_modes():
    # periodic modes |k| = (1,1) and (2,2): weights sqrt(1+2), sqrt(1+8) → ratio ε·3/√3 = ε√3
    u, e = sines(64, 2, periodic=True), 0.1 * sines(64, 4, periodic=True)
    assert RelativeH1(method="fourier")(u + e, {"u": u}).item() == pytest.approx(
        0.1 * math.sqrt(3), rel=1e-12
    )
    # beyond the truncation the gradient part is dropped: modes |k| = 24 weigh like L2
    e_high = 0.1 * sines(64, 48, periodic=True)
    assert RelativeH1(method="fourier")(u + e_high, {"u": u}).item() == pytest.approx(
        0.1 / math.sqrt(3), rel=1e-12
    )


def darcy_case(s=33, n=2):
    from sciml.data.fields import darcy_coefficient
    from solvers.fd import darcy

    a = np.stack([darcy_coefficient(np.random.default_rng(i), s, "smooth") for i in range(n)])
    u = np.stack([darcy(ai) for ai in a])
    return torch.tensor(a[:, None]), torch.tensor(u[:, None])


def test_darcy_fd_residual_vanishes_on_the_solver_solution():
    a, u = darcy_case()
    loss = DarcyResidualFD()
    assert loss(u, {"a": a}).item() < 1e-12
    assert loss(1.01 * u, {"a": a}).item() > 1e-3
    # energy form: E(u + δ) − E(u) = h²·½ δᵀAδ exactly at the solution (it is the minimiser)
    delta = zero_boundary(torch.randn_like(u)) * 1e-2
    energy = DarcyResidualFD(form="energy")
    h2 = 1.0 / 32**2
    quad = torch.stack(
        [
            (d[0, 1:-1, 1:-1] * Stencil.diffusion(ai[0].numpy(), h=1 / 32).apply(d[0, 1:-1, 1:-1])).sum()
            for ai, d in zip(a, delta)
        ]
    )
    gain = energy(u + delta, {"a": a}) - energy(u, {"a": a})
    assert gain.item() == pytest.approx((0.5 * h2 * quad).mean().item(), rel=1e-8)



def test_darcy_multigrid_form_measures_the_relative_error_and_differentiates():
    """‖B(Au − f)‖/‖Bf‖ with B one V-cycle ≈ A⁻¹: zero at the solver's solution, within a few percent of
    the relative L2 error for smooth and rough perturbations, and gradients pass through B (a small
    gradient step on u lowers it)."""
    a, u = darcy_case(s=33, n=3)
    loss = DarcyResidualFD(form="multigrid")
    assert loss(u, {"a": a}).item() < 1e-9
    assert loss(torch.zeros_like(u), {"a": a}).item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(0)
    norm = lambda v: v[..., 1:-1, 1:-1].flatten(1).norm(dim=1)[:, None, None, None]  # interior nodes
    for smooth in (True, False):
        d = zero_boundary(torch.randn(u.shape, generator=g, dtype=u.dtype))
        if smooth:
            d = zero_boundary(d.cumsum(-1).cumsum(-2))
        for eps in (0.3, 0.01):
            up = u + eps * d * norm(u) / norm(d)
            rel = (norm(up - u) / norm(u)).mean()
            assert loss(up, {"a": a}).item() == pytest.approx(rel.item(), rel=0.1)  # measured: within 4%
    x = (u + 0.1 * zero_boundary(torch.randn(u.shape, generator=g, dtype=u.dtype))).requires_grad_(True)
    before = loss(x, {"a": a})
    (grad,) = torch.autograd.grad(before, x)
    assert loss(x.detach() - 1e-3 * grad, {"a": a}).item() < before.item()
    assert len(loss._multigrids) == 3  # one cached hierarchy per coefficient field

def test_wendland_and_ball_quadrature_exact_on_polynomials():
    r = torch.linspace(0.01, 0.99, 40, dtype=torch.float64, requires_grad=True)
    for d in (1, 2):
        phi, dphi_over_r = wendland(r, d)
        (dphi,) = torch.autograd.grad(phi.sum(), r)
        assert torch.allclose(dphi / r, dphi_over_r, atol=1e-12)
    z, w = ball_quadrature(2, 5)
    x, y = z[:, 0], z[:, 1]
    # means over the unit disk: x² → 1/4, x²y² → 1/24, x⁴ → 1/8, x y³ → 0
    for g, mean in ((x**2, 1 / 4), (x**2 * y**2, 1 / 24), (x**4, 1 / 8), (x * y**3, 0.0), (x**0, 1.0)):
        assert (w * g).sum().item() == pytest.approx(mean, abs=1e-14)
    z1, w1 = ball_quadrature(1, 5)
    assert (w1 * z1[:, 0] ** 8).sum().item() == pytest.approx(1 / 9, abs=1e-14)
    assert (w1 * z1[:, 0].abs() ** 3).sum().item() == pytest.approx(1 / 4, abs=1e-14)


class Quadratic(torch.nn.Module):
    """u(y) = c Σ y_i² (the 'model' of the weak-form test): −Δu = −2 d c."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, a, y):
        return self.c * (y**2).sum(-1) + 0 * a.sum()


@pytest.mark.parametrize("d", [1, 2])
def test_weak_form_residual_is_zero_for_the_exact_solution(d):
    a_value, f = 3.0, 1.0
    loss = WeakFormResidual(f=f, d=d, centers=12, radius=0.05)
    shape = (2, 1) + (17,) * d
    batch = loss.prepare(
        {"a": torch.full(shape, a_value, dtype=torch.float64)}, torch.Generator().manual_seed(0)
    )
    c = -f / (2 * d * a_value)  # −∇·(a∇u) = −2 d a c = f
    exact = Quadratic(c)(batch["a"], batch["y"])
    assert loss(exact, batch).item() < 1e-24
    # u = 2c Σ y²: mean[a∇u·∇φ] = 2 mean[fφ] on every ball, so r = mean[fφ] = f·mean(φ) exactly
    wrong = Quadratic(2 * c)(batch["a"], batch["y"])
    z, w = ball_quadrature(d, loss.nodes)
    mean_phi = (w * wendland(z.norm(dim=-1), d)[0]).sum()
    assert torch.allclose(loss.residuals(wrong, batch), f * mean_phi * torch.ones(2, 12, dtype=torch.float64))
    assert batch["y"].shape[1] == 12 * z.shape[0]
    assert ((batch["y_center"] > 0.05 - 1e-12) & (batch["y_center"] < 0.95 + 1e-12)).all()


def test_mixed_weak_form_is_zero_for_the_exact_pair_and_exact_on_a_wrong_flux():
    """DGNO's mixed form on a two-valued coefficient: (u, s = a∇u) with a jump in a.

    With u = c|y|² and s = a·2c·y where a is the (interpolated) coefficient at each point, the
    constitutive misfit is 0; the per-ball residual mean[s·∇φ] − mean[fφ] of the flux s = 2c'y
    (constant divergence 2dc') is computed in closed form.
    """
    f, d = 1.0, 2
    loss = WeakFormResidual(f=f, d=d, centers=10, radius=0.05, mixed=True)
    a = torch.full((2, 1, 17, 17), 3.0, dtype=torch.float64)
    a[:, :, :, 8:] = 12.0  # a jump across x₂ = 1/2, as in the two-valued Darcy data
    batch = loss.prepare({"a": a}, torch.Generator().manual_seed(0))
    y = batch["y"]
    a_at_y = loss._coefficient(batch, y)

    def pair(c_u, c_s):
        u = c_u * (y**2).sum(-1)
        return torch.cat([u[..., None], 2 * c_s * y], dim=-1)

    c = 0.1
    exact = torch.cat([pair(c, c)[..., :1], a_at_y[..., None] * 2 * c * y], dim=-1)
    assert loss.constitutive(exact, batch).abs().max().item() < 1e-24
    # s = 2c' y: ∫ s·∇φ = −∫ (∇·s) φ = −2 d c' ∫ φ (φ vanishes on the sphere), so r = −(2dc' + f) mean φ
    z, w = ball_quadrature(d, loss.nodes)
    mean_phi = (w * wendland(z.norm(dim=-1), d)[0]).sum()
    wrong = pair(c, 0.3)
    expected = -(2 * d * 0.3 + f) * mean_phi * torch.ones(2, 10, dtype=torch.float64)
    assert torch.allclose(loss.residuals(wrong, batch), expected, rtol=1e-12)
    # divergence-free-balanced flux s = −f y / d: r = 0, only the misfit remains
    balanced = pair(c, -f / (2 * d))
    assert loss.residuals(balanced, batch).abs().max().item() < 1e-14
    misfit = ((balanced[..., 1:] - a_at_y[..., None] * 2 * c * y) ** 2).sum(-1).mean()
    assert loss(balanced, batch).item() == pytest.approx(misfit.item(), rel=1e-12)
    with pytest.raises(InputError, match=r"pred: expected \(u, s\) at the points y"):
        loss(wrong[..., :1], batch)


def test_loss_bad_inputs():
    with pytest.raises(InputError, match="method"):
        RelativeH1(method="spectral")
    with pytest.raises(InputError, match="radius"):
        WeakFormResidual(radius=0.0)
    with pytest.raises(InputError, match="constitutive: defined for mixed=True only"):
        WeakFormResidual().constitutive(torch.zeros(1, 1), {"y": torch.zeros(1, 1, 2)})
    with pytest.raises(InputError, match="form: expected one of"):
        DarcyResidualFD(form="weak")
    with pytest.raises(InputError, match="cache: expected a positive"):
        DarcyResidualFD(form="multigrid", cache=0)
    with pytest.raises(InputError, match="pred: expected the shape of the coefficient"):
        DarcyResidualFD()(torch.zeros(2, 1, 8, 8), {"a": torch.ones(2, 1, 9, 9)})
