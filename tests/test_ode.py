"""sciml.ode: solver statistics equal torchdiffeq's decisions, derivatives, stiffness, regularisers."""

import math

import pytest
import torch
from torch import nn
from torchdiffeq import odeint
from torchdiffeq._impl import rk_common

from sciml.errors import InputError
from sciml.ode import (
    ADAPTIVE_METHODS,
    ErrorRegularizer,
    ExponentialDecay,
    KineticJacobianDynamics,
    NeuralODE,
    StiffnessRegularizer,
    embedded_step,
    tableau,
)
from sciml.ode.estimates import tolerance


class Tanh2(nn.Module):
    """f(t, y) = W2 tanh(W1 y + b t): a small non-autonomous, non-linear field."""

    def __init__(self, dim=3, hidden=16, scale=1.5, seed=0, dtype=torch.float32):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(scale * torch.randn(dim, hidden, generator=g, dtype=dtype))
        self.w2 = nn.Parameter(scale * torch.randn(hidden, dim, generator=g, dtype=dtype) / hidden**0.5)
        self.b = nn.Parameter(torch.randn(hidden, generator=g, dtype=dtype))
        self.calls = 0

    def forward(self, t, y):
        self.calls += 1
        return torch.tanh(y @ self.w1 + t * self.b) @ self.w2


@pytest.fixture
def internal_ratios(monkeypatch):
    """Every error ratio torchdiffeq computes internally, in order."""
    seen = []
    original = rk_common._compute_error_ratio

    def spy(*args):
        ratio = original(*args)
        seen.append(ratio.item())
        return ratio

    monkeypatch.setattr(rk_common, "_compute_error_ratio", spy)
    return seen


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_recorded_ratio_is_torchdiffeqs_on_every_step(method, internal_ratios):
    f = Tanh2()
    y0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0.0, 3.0, 7)
    opts = {"first_step": 1.0}  # too large: forces rejected steps
    with torch.no_grad():
        y_ref = odeint(f, y0, t, rtol=1e-4, atol=1e-5, method=method, options=opts)
    calls_ref, ratios_ref = f.calls, list(internal_ratios)
    internal_ratios.clear()
    f.calls = 0

    y, stats = NeuralODE(f, method, rtol=1e-4, atol=1e-5, options=opts)(y0, t)

    assert internal_ratios == ratios_ref  # same solve
    assert torch.equal(y, y_ref)
    assert stats.nfe == f.calls == calls_ref
    assert [s.ratio for s in stats.steps] == ratios_ref  # bit-identical error ratio on every step
    assert [s.accepted for s in stats.steps] == [r <= 1 for r in ratios_ref]
    assert stats.rejected >= 1 and stats.accepted >= 3
    assert stats.accepted + stats.rejected == len(ratios_ref)
    stages = tableau(method).stages
    assert stats.nfe == 1 + (stages - 1) * (stats.accepted + stats.rejected)  # f(t0, y0), no probe
    accepted = [s for s in stats.steps if s.accepted]
    expected = sum(s.ratio * s.dt for s in accepted)
    assert stats.error.item() == pytest.approx(expected, rel=1e-6)
    stats.error.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in f.parameters())


def test_jump_points_and_float64(internal_ratios):
    f = Tanh2(dtype=torch.float64)
    y0 = torch.ones(2, 3, dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 3, dtype=torch.float64)
    opts = {"jump_t": torch.tensor([0.37, 1.21], dtype=torch.float64)}
    y, stats = NeuralODE(f, "dopri5", rtol=1e-8, atol=1e-8, options=opts)(y0, t)
    assert [s.ratio for s in stats.steps] == internal_ratios
    assert stats.nfe == f.calls
    assert any(abs(s.t + s.dt - 0.37) < 1e-12 for s in stats.steps)


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_local_step_matches_solver_first_step(method, internal_ratios):
    f = Tanh2(dtype=torch.float64)
    y0 = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    h = torch.tensor(0.5, dtype=torch.float64)
    odeint(f, y0, t, rtol=1e-6, atol=1e-6, method=method, options={"first_step": h})
    ratio, _ = embedded_step(f, t[0], y0, h, tableau(method), tolerance(1e-6, y0), tolerance(1e-6, y0))
    assert ratio.item() == pytest.approx(internal_ratios[0], rel=1e-7)


@pytest.mark.parametrize("lam", [-5.0, -50.0, -500.0])
@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_stiffness_estimate_is_eigenvalue_of_linear_ode(method, lam):
    y0 = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    t = torch.tensor([0.0, 10.0 / abs(lam)], dtype=torch.float64)
    _, stats = NeuralODE(lambda t, y: lam * y, method, rtol=1e-4, atol=1e-7)(y0, t)
    rho = tableau(method).stability_radius
    assert stats.stiffness.item() * rho == pytest.approx(abs(lam), rel=1e-6)
    raw = [s.stiffness for s in stats.steps if s.accepted]
    assert max(abs(r - abs(lam)) for r in raw) < 1e-5 * abs(lam)


def test_stability_radii():
    assert tableau("dopri5").stability_radius == pytest.approx(3.3066, abs=1e-4)  # reference §3
    assert tableau("adaptive_heun").stability_radius == pytest.approx(2.0, abs=1e-9)  # 1 + z + z²/2
    assert tableau("bosh3").stability_radius == pytest.approx(2.5127, abs=1e-4)  # 1 + z + z²/2 + z³/6


def test_error_and_stiffness_gradients_match_finite_differences():
    """With the step sequence pinned (first_step = max_step = h, ratios < 0.59 so the controller
    asks to grow), R_E and S are smooth functions of the weights: gradcheck in float64."""
    h = 0.1
    y0 = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=torch.float64)
    t = torch.tensor([0.0, 0.5], dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    w1 = torch.randn(2, 4, dtype=torch.float64, generator=g, requires_grad=True)
    w2 = torch.randn(4, 2, dtype=torch.float64, generator=g, requires_grad=True)

    def solve(w1, w2):
        node = NeuralODE(
            lambda t, y: torch.tanh(y @ w1) @ w2,
            "dopri5",
            rtol=1e-6,
            atol=1e-6,
            options={"first_step": h, "max_step": h},
        )
        return node(y0, t)[1]

    stats = solve(w1, w2)
    assert all(s.accepted and s.dt == pytest.approx(h) for s in stats.steps)
    assert 1e-3 < max(s.ratio for s in stats.steps) < 0.59
    assert torch.autograd.gradcheck(lambda a, b: solve(a, b).error, (w1, w2), eps=1e-6, atol=1e-7, rtol=1e-4)
    assert torch.autograd.gradcheck(lambda a, b: solve(a, b).stiffness_sum, (w1, w2), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("mode", [dict(adjoint=True), dict(local=True)])
def test_local_step_regulariser(mode):
    """The local one-step regulariser (Pal et al. 2023), with the adjoint (where it is the only one) or with
    direct backpropagation: the sampled output time changes neither the steps nor the solution at the
    requested times, the term is the embedded step's ratio at t_reg times the step size used there, and
    it carries gradients to the parameters."""
    torch.manual_seed(0)
    f = Tanh2()
    y0 = torch.randn(4, 3)
    t = torch.linspace(0.0, 2.0, 5)
    y_global, s_global = NeuralODE(f, rtol=1e-5, atol=1e-6)(y0, t)
    node = NeuralODE(f, rtol=1e-5, atol=1e-6, **mode)
    y, stats = node(y0, t)
    assert stats.local and 0.0 < stats.t_reg < 2.0 and stats.nfe_extra == 7
    assert torch.allclose(y, y_global, atol=1e-6) and stats.nfe == s_global.nfe
    assert [s.dt for s in stats.steps] == [s.dt for s in s_global.steps]
    assert math.isfinite(stats.error.item()) and stats.error.item() > 0.0
    assert ErrorRegularizer(2.5)(stats).item() == pytest.approx(2.5 * stats.error.item(), rel=1e-6)
    (y[-1].pow(2).mean() + ErrorRegularizer(2.5)(stats)).backward()
    assert (node.nfe_backward > 0) == bool(mode.get("adjoint"))
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in f.parameters())


def test_schedules_and_regularizers():
    decay = ExponentialDecay(100.0, 10.0, 75)
    assert decay(0) == 100.0
    assert decay(75) == pytest.approx(10.0)
    assert decay(37.5) == pytest.approx(math.sqrt(1000.0))
    assert decay.rate == pytest.approx(math.log(10.0) / 75)
    assert ExponentialDecay(0.1)(50) == 0.1
    f = Tanh2()
    _, stats = NeuralODE(f, rtol=1e-4, atol=1e-5)(torch.ones(2, 3), torch.tensor([0.0, 2.0]))
    er = ErrorRegularizer()
    assert er(stats, 10).item() == pytest.approx(decay(10) * stats.error.item() / stats.accepted, rel=1e-6)
    assert ErrorRegularizer(3.0, "sum")(stats).item() == pytest.approx(3.0 * stats.error.item(), rel=1e-6)
    assert StiffnessRegularizer()(stats).item() == pytest.approx(0.1 * stats.stiffness.item(), rel=1e-6)
    sr = StiffnessRegularizer(ExponentialDecay(1.0, 0.5, 4), "sum")
    assert sr(stats, 4).item() == pytest.approx(0.5 * stats.stiffness_sum.item(), rel=1e-6)


def test_kinetic_jacobian_integrals_of_linear_field():
    a = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    dyn = KineticJacobianDynamics(lambda t, z: z * a)
    z0 = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    y, _ = NeuralODE(dyn, rtol=1e-10, atol=1e-10)(dyn.augment(z0), torch.tensor([0.0, 1.0], dtype=torch.float64))
    z, kinetic, jacobian = dyn.split(y[-1])
    exact_kinetic = (a**2 * z0[0] ** 2 * (torch.exp(2 * a) - 1) / (2 * a)).sum()
    assert torch.allclose(z, z0 * torch.exp(a))
    assert kinetic.item() == pytest.approx(exact_kinetic.item(), rel=1e-8)
    assert jacobian.item() == pytest.approx((dyn.noise * a).pow(2).sum().item(), rel=1e-8)


def _one_line(excinfo):
    return "\n" not in str(excinfo.value)


def test_bad_input():
    y0, t = torch.ones(2, 3), torch.linspace(0, 1, 3)
    with pytest.raises(InputError, match="func") as e:
        NeuralODE(lambda t, y: y[:, :2])(y0, t)
    assert _one_line(e)
    with pytest.raises(InputError, match="strictly increasing"):
        NeuralODE(lambda t, y: -y)(y0, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(InputError, match="strictly increasing"):
        NeuralODE(lambda t, y: -y)(y0, torch.tensor([1.0, 0.0]))
    _, stats = NeuralODE(lambda t, y: -y, "rk4", options={"step_size": 0.5})(y0, t)
    assert stats.accepted == 2 and stats.nfe == 8
    with pytest.raises(InputError, match="no embedded error estimate") as e:
        ErrorRegularizer()(stats)
    assert _one_line(e)
    with pytest.raises(InputError, match="no embedded error estimate"):
        StiffnessRegularizer()(stats)
    with pytest.raises(InputError, match="method"):
        NeuralODE(lambda t, y: -y, "tsit6")
    with pytest.raises(InputError, match="adjoint"):
        NeuralODE(lambda t, y: -y, adjoint=True)
    with pytest.raises(InputError, match="y0"):
        NeuralODE(lambda t, y: -y)((y0, y0), t)
    with pytest.raises(InputError, match="aggregate"):
        ErrorRegularizer(aggregate="max")
    with pytest.raises(InputError, match="epochs"):
        ExponentialDecay(1.0, 0.1, 0)


def test_ernode_training_reduces_nfe_on_spiral():
    """A few Adam steps on the spiral ODE (torchdiffeq ode_demo, t ∈ [0, 5]): ERNODE's test NFE drops."""
    torch.manual_seed(0)
    a = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
    t = torch.linspace(0.0, 5.0, 100)
    true_y0 = torch.tensor([[2.0, 0.0]])
    with torch.no_grad():
        true_y = odeint(lambda t, y: (y**3) @ a, true_y0, t)

    def train(weight):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.1)
                nn.init.zeros_(m.bias)
        node = NeuralODE(lambda t, y: net(y**3), rtol=1e-5, atol=1e-6)
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        reg = ErrorRegularizer(weight, "sum")
        g = torch.Generator().manual_seed(0)
        for _ in range(30):
            s = torch.randint(0, 90, (16,), generator=g)
            pred, stats = node(true_y[s, 0], t[:10])
            loss = (pred - true_y[s[None, :] + torch.arange(10)[:, None], 0]).abs().mean() + reg(stats)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return node(true_y0, t)[1].nfe

    vanilla, ernode = train(0.0), train(0.1)
    assert ernode * 1.5 <= vanilla


# ---------------------------------------------------------------------------------------- through fit
class _Field(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))

    def forward(self, t, y):
        return self.net(y)


class _FinalState(nn.Module):
    """y0 -> (y(1), stats): a NeuralODE inside a model, as fit sees it."""

    def __init__(self):
        super().__init__()
        self.node = NeuralODE(_Field(), rtol=1e-5, atol=1e-6)
        self.register_buffer("t", torch.tensor([0.0, 1.0]))

    def forward(self, y0):
        y, stats = self.node(y0, self.t)
        return y[-1], stats


def _final_state_data():
    from sciml.data.datasets import FieldDataset

    y0 = 2 * torch.rand(64, 2, generator=torch.Generator().manual_seed(0)) - 1
    a = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
    with torch.no_grad():
        y1 = odeint(lambda t, y: (y**3) @ a, y0, torch.tensor([0.0, 1.0]))[-1]
    return FieldDataset({"y0": y0, "y1": y1}, ("y0",), "y1")


def _fit_final_state(data, regularizers, epochs=4, validation=16, **kw):
    import sciml as sm

    torch.manual_seed(0)
    model = _FinalState()
    result = sm.fit(model, data, epochs=epochs, loss=sm.MSE(), batch_size=16, lr=1e-2, validation=validation,
                    regularizers=regularizers, progress=False, **kw)
    with torch.no_grad():
        _, stats = model(data.fields["y0"])
    return result, stats


def test_fit_with_error_regularizer_lowers_error_and_nfe():
    data = _final_state_data()
    # no validation split: fit returns the last model, not the best-validation one
    plain, plain_stats = _fit_final_state(data, None, validation=0)
    reg = ErrorRegularizer(ExponentialDecay(10.0, 1.0, 4))
    ernode, ernode_stats = _fit_final_state(data, [reg], validation=0)
    assert "error_regularizer" not in plain.history.keys()
    # the regulariser is its own term, λ(epoch)·mean r|dt| with the schedule at fit's epoch (4 steps/epoch)
    terms = ernode.history["error_regularizer"]
    assert len(terms) == 16 and all(t > 0 for t in terms)
    losses, mse = ernode.history["loss"], ernode.history["mse"]
    assert all(loss == pytest.approx(m + t, rel=1e-6) for loss, m, t in zip(losses, mse, terms))
    assert ernode_stats.error.item() < 0.5 * plain_stats.error.item()
    assert ernode_stats.nfe < plain_stats.nfe
    # Result.predict gives the prediction alone, equal to the model's
    y0 = data.fields["y0"][:5]
    torch.testing.assert_close(ernode.predict(y0), ernode.model(y0)[0].detach())


def test_fit_with_regularizer_resumes_to_identical_history(tmp_path):
    data = _final_state_data()
    regs = [ErrorRegularizer(ExponentialDecay(1.0, 0.1, 4)), StiffnessRegularizer(0.01)]
    straight, _ = _fit_final_state(data, regs)
    _fit_final_state(data, regs, epochs=2, checkpoint=tmp_path / "ck.pt")
    resumed, _ = _fit_final_state(data, regs, resume=tmp_path / "ck.pt")
    for key in ("loss", "mse", "error_regularizer", "stiffness_regularizer", "val_loss"):
        assert straight.history[key] == resumed.history[key]
    # the schedule stepped: weight 1 in epoch 0, 10^(-3/4) in epoch 3 (the term shrinks with it)
    first, last = straight.history["error_regularizer"][:3], straight.history["error_regularizer"][-3:]
    assert max(last) < min(first)


def test_fit_regularizers_bad_input():
    import sciml as sm

    data = _final_state_data()
    plain = nn.Linear(2, 2)
    with pytest.raises(InputError, match=r"regularizers: the model must return \(prediction, stats\)") as e:
        sm.fit(plain, data, epochs=1, regularizers=[ErrorRegularizer(1.0)], progress=False)
    assert _one_line(e)
    with pytest.raises(InputError, match="regularizers: expected a list"):
        sm.fit(_FinalState(), data, epochs=1, regularizers=ErrorRegularizer(1.0), progress=False)
    problem = sm.Problem(sm.Interval(0.0, 1.0), equations=lambda u, x: u)
    with pytest.raises(InputError, match="regularizers: only for dataset fits"):
        sm.fit(nn.Linear(1, 1), problem, steps=1, regularizers=[ErrorRegularizer(1.0)], progress=False)
