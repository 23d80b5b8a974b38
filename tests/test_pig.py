"""PIG: analytic Gaussian-embedding jets equal autograd, chunking, parameter count, bad input."""

import pytest
import torch

from sciml import ops
from sciml.errors import InputError
from sciml.nn.pig import PIG, _DiagonalGaussianJet, gaussian_jet


def _points(n, lo, hi, seed=0):
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.as_tensor(lo, dtype=torch.float64), torch.as_tensor(hi, dtype=torch.float64)
    return (lo + (hi - lo) * torch.rand(n, lo.numel(), generator=g, dtype=torch.float64)).requires_grad_()


def _pig(full_cov, in_dim=2, **kw):
    torch.manual_seed(1)
    m = PIG(in_dim, n_gaussians=25, sigma=0.4, full_cov=full_cov, **kw).double()
    if full_cov:
        with torch.no_grad():
            m.offdiag.normal_(0.0, 0.7)
    return m


@pytest.mark.parametrize("full_cov", [False, True])
@pytest.mark.parametrize("in_dim", [2, 3])
def test_jets_equal_autograd(full_cov, in_dim):
    lo, hi = [-1.0, 0.0, 2.0][:in_dim], [1.0, 3.0, 2.5][:in_dim]
    m = _pig(full_cov, in_dim, bounds=(lo, hi), chunk_size=7)
    x = _points(30, lo, hi)
    with ops.forward_derivatives():
        u = m(x)
        jet = (u, ops.grad(u, x), ops.laplacian(u, x), ops.partial(u, x, in_dim - 1, in_dim - 1))
    assert getattr(u, "_sciml_jet", None) is not None
    v = m(x)
    auto = (v, ops.grad(v, x), ops.laplacian(v, x), ops.partial(v, x, in_dim - 1, in_dim - 1))
    for a, b in zip(jet, auto):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # parameter (and input) gradients of a residual loss agree too
    lj = sum((t ** 2).sum() for t in jet)
    la = sum((t ** 2).sum() for t in auto)
    wrt = [p for p in m.parameters() if p.requires_grad] + [x]
    for a, b in zip(torch.autograd.grad(lj, wrt), torch.autograd.grad(la, wrt)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_closed_form_jet_equals_autograd_of_value():
    torch.manual_seed(0)
    k, n_g, d = 2, 6, 3
    means, w = torch.randn(k, n_g, d, dtype=torch.float64), torch.randn(k, n_g, dtype=torch.float64)
    a = torch.randn(k, n_g, d, d, dtype=torch.float64).triu() + 2 * torch.eye(d, dtype=torch.float64)
    x = _points(5, [-1] * d, [1] * d)
    jet = gaussian_jet(x, means, a, w)
    value = gaussian_jet(x, means, a, w, derivatives=False)[0]
    for c in range(k):
        (g,) = torch.autograd.grad(value[:, c].sum(), x, create_graph=True)
        torch.testing.assert_close(jet[1 : 1 + d, :, c].T, g, rtol=1e-12, atol=1e-13)
        for j in range(d):
            (h,) = torch.autograd.grad(g[:, j].sum(), x, retain_graph=True)
            torch.testing.assert_close(jet[1 + d + j, :, c], h[:, j], rtol=1e-12, atol=1e-13)


def test_custom_backward_gradcheck():
    torch.manual_seed(0)
    x = _points(5, [-1, -1, -1], [1, 1, 1])
    means = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    s = (1 + torch.rand(2, 3, 3, dtype=torch.float64)).requires_grad_()
    w = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    f = lambda *a: _DiagonalGaussianJet.apply(*a, 3)  # two chunks of 3 and 2 points
    assert torch.autograd.gradcheck(f, (x, means, s, w))
    assert torch.autograd.gradgradcheck(f, (x, means, s, w))


@pytest.mark.parametrize("full_cov", [False, True])
def test_chunked_equals_unchunked(full_cov):
    x = _points(50, [-1, -1], [1, 1])
    outs = []
    for chunk in (50, 8):
        m = _pig(full_cov, chunk_size=chunk)
        with ops.forward_derivatives():
            u = m(x)
            lap = ops.laplacian(u, x)
        (gp,) = torch.autograd.grad((lap ** 2).sum(), [m.features])
        outs.append((u, lap, gp, m(x.detach())))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("d,n", [(2, 800), (3, 4000), (3, 100)])
def test_parameter_count_matches_paper(d, n):
    m = PIG(d, n_gaussians=n)
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == 4 * n * (2 * d + 1) + 97


def test_ablation_options():
    m = PIG(2, n_gaussians=10, hidden=None, learn_means=False)
    assert not m.means.requires_grad and m.layers is None
    x = _points(7, [-1, -1], [1, 1]).float()
    assert torch.allclose(m(x.detach()), m.embedding(x.detach()).mean(1, keepdim=True), atol=1e-7)
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == 4 * 10 * (2 + 1)


def test_sigma_stays_positive_and_starts_at_init():
    m = PIG(2, n_gaussians=5, sigma=0.1)
    torch.testing.assert_close(m.sigma, torch.full_like(m.sigma, 0.1))
    with torch.no_grad():
        m.sigma_raw.fill_(-5.0)
    assert bool((m.sigma > 0).all())


def test_raw_sigma_is_the_parameter_and_jets_match_autograd():
    m = _pig(False, 3, bounds=([0.0, -1.0, -1.0], [10.0, 1.0, 1.0]), sigma_param="raw", chunk_size=7)
    torch.testing.assert_close(m.sigma, torch.full_like(m.sigma, 0.4))
    with torch.no_grad():  # trained directly, as in the authors' code: the sign is irrelevant
        m.sigma_raw[0, 0, 0] = -0.4
    torch.testing.assert_close(m.sigma, torch.full_like(m.sigma, 0.4))
    x = _points(20, [0.0, -1.0, -1.0], [10.0, 1.0, 1.0])
    with ops.forward_derivatives(True):
        u = m(x)
        lap = ops.laplacian(u, x)
    x2 = x.detach().clone().requires_grad_()
    lap2 = ops.laplacian(m(x2), x2)
    torch.testing.assert_close(lap, lap2)
    lap.sum().backward()
    g_jet = m.sigma_raw.grad.clone()
    m.zero_grad()
    lap2.sum().backward()
    torch.testing.assert_close(g_jet, m.sigma_raw.grad)
    with pytest.raises(InputError, match="sigma_param"):
        PIG(2, sigma_param="exp")


def test_raw_sigma_collapsed_to_zero_stays_finite():
    m = PIG(2, n_gaussians=6, sigma=0.1, sigma_param="raw")
    with torch.no_grad():
        m.sigma_raw[:, :3] = 0.0  # collapsed Gaussians, as long Adam runs produce
        m.means[:, :3] = 0.0
    x = torch.zeros(4, 2).uniform_(-1, 1)
    x[0] = 0.0  # a point on the collapsed Gaussians' centre
    x.requires_grad_()
    with ops.forward_derivatives(True):
        u = m(x)
        lap = ops.laplacian(u, x)
    (u.sum() + lap.sum()).backward()
    assert torch.isfinite(lap).all() and torch.isfinite(m.sigma_raw.grad).all()
    assert torch.isfinite(m.means.grad).all() and torch.isfinite(m.features.grad).all()


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_gaussians=0), "n_gaussians"), (dict(n_gaussians=-3), "n_gaussians"),
    (dict(channels=0), "channels"), (dict(sigma=0.0), "sigma"), (dict(sigma=-0.1), "sigma"),
    (dict(bounds=(1.0, -1.0)), "bounds"), (dict(hidden=0), "hidden"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        PIG(2, **kwargs)


def test_points_outside_bounds_rejected():
    m = PIG(2, n_gaussians=4, bounds=((0, 0), (1, 2)))
    m(torch.tensor([[0.5, 1.9]]))
    with pytest.raises(InputError, match="outside the PIG bounds"):
        m(torch.tensor([[0.5, 2.5]]))
    with pytest.raises(InputError, match="x: expected points"):
        m(torch.zeros(3, 3))
