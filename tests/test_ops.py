"""Differential operators: exact on polynomials; forward jets equal autograd on every model."""

import pytest
import torch

import sciml as sm
from sciml import ops
from sciml.nn import MLP
from sciml.nn.activations import ACTIVATIONS


def poly(x):
    """u = x³y + 2xy² − z⁴ + 3 (and a second component x² + yz)."""
    X, Y, Z = x[:, 0], x[:, 1], x[:, 2]
    return torch.stack([X**3 * Y + 2 * X * Y**2 - Z**4 + 3, X**2 + Y * Z], 1)


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.rand(64, 3, dtype=torch.float64, requires_grad=True)


def test_operators_exact_on_polynomials(x):
    u = poly(x)
    X, Y, Z = x[:, 0].detach(), x[:, 1].detach(), x[:, 2].detach()
    g = sm.grad(u[:, :1], x)
    exact_g = torch.stack([3 * X**2 * Y + 2 * Y**2, X**3 + 4 * X * Y, -4 * Z**3], 1)
    torch.testing.assert_close(g, exact_g, rtol=0, atol=1e-13)
    jac = sm.grad(u, x)
    assert jac.shape == (64, 2, 3)
    torch.testing.assert_close(jac[:, 1], torch.stack([2 * X, Z, Y], 1), rtol=0, atol=1e-13)
    lap = sm.laplacian(u, x)
    exact_lap = torch.stack([6 * X * Y + 4 * X - 12 * Z**2, 2 + 0 * X], 1)
    torch.testing.assert_close(lap, exact_lap, rtol=0, atol=1e-12)
    torch.testing.assert_close(sm.laplacian(u, x, dims=[0, 1])[:, 0], 6 * X * Y + 4 * X, rtol=0, atol=1e-12)
    torch.testing.assert_close(sm.partial(u, x, 0, 1)[:, 0], 3 * X**2 + 4 * Y, rtol=0, atol=1e-12)
    torch.testing.assert_close(sm.partial(u, x, 0, 0, 0)[:, 0], 6 * Y, rtol=0, atol=1e-12)
    H = sm.hessian(u[:, :1], x)
    assert H.shape == (64, 3, 3)
    torch.testing.assert_close(H[:, 0, 1], H[:, 1, 0], rtol=0, atol=1e-13)
    torch.testing.assert_close(H[:, 2, 2], -12 * Z**2, rtol=0, atol=1e-12)
    v = torch.stack([X * 0 + x[:, 0] ** 2 * x[:, 1], x[:, 1] * x[:, 2], x[:, 2] ** 3], 1)
    torch.testing.assert_close(sm.div(v, x)[:, 0], 2 * X * Y + Z + 3 * Z**2, rtol=0, atol=1e-12)


def test_constant_output_has_zero_derivatives(x):
    u = torch.ones(64, 1, dtype=torch.float64)
    assert torch.equal(sm.laplacian(u, x), torch.zeros(64, 1, dtype=torch.float64))


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("fourier", [None, 6])
@pytest.mark.parametrize("second", [None, (0, 1, 2), (1, 2), (0, 2), ()])
def test_mlp_forward_jets_equal_autograd(act, fourier, second):
    """Every operator equals nested autograd whatever second derivatives the jet carries
    (the diagonal, one trace, or none): what the jet lacks comes from autograd on its d1."""
    torch.manual_seed(1)
    m = MLP(3, 2, width=12, depth=3, activation=act, fourier_features=fourier,
            input_bounds=([0, -1, -1], [1, 1, 2])).double()
    x = torch.rand(40, 3, dtype=torch.float64, requires_grad=True)
    u_ad = m(x)
    with ops.forward_derivatives(second=second):
        u_fw = m(x)
    jet = ops.attached_jet(u_fw, x)
    assert isinstance(jet, ops.Jet) and getattr(u_ad, "_sciml_jet", None) is None
    if second is None:
        assert jet.d2 is not None and jet.lap is None
    else:  # the narrowed jet holds exactly what was asked for
        assert jet.d2 is None and jet.lap_dims == second and (jet.lap is None) == (second == ())
        if second:
            torch.testing.assert_close(jet.lap, sm.laplacian(u_ad, x, dims=second), rtol=1e-10, atol=1e-10)
    for f in (lambda u: sm.laplacian(u, x), lambda u: sm.laplacian(u, x, dims=[1, 2]),
              lambda u: sm.grad(u, x), lambda u: sm.partial(u, x, 2), lambda u: sm.partial(u, x, 1, 1),
              lambda u: sm.partial(u, x, 0, 2), lambda u: sm.hessian(u, x)):
        torch.testing.assert_close(f(u_fw), f(u_ad), rtol=1e-10, atol=1e-10)
    # training gradients through the jet equal those through nested autograd
    params = list(m.parameters())[:-1]  # the output bias does not enter a Laplacian
    g_fw = torch.autograd.grad(sm.laplacian(u_fw, x).pow(2).sum(), params)
    g_ad = torch.autograd.grad(sm.laplacian(u_ad, x).pow(2).sum(), params)
    for a, b in zip(g_fw, g_ad):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_jet_ignored_for_other_points():
    m = MLP(2, 1, 8, 2).double()
    x = torch.rand(5, 2, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    with ops.forward_derivatives():
        u = m(x)
    # u does not depend on x2: the jet (w.r.t. x) must not be used, autograd gives zeros
    assert torch.equal(sm.laplacian(u, x2), torch.zeros(5, 1, dtype=torch.float64))


def test_bad_inputs():
    x = torch.rand(5, 2, requires_grad=True)
    with pytest.raises(sm.InputError, match="requires_grad"):
        sm.grad(x[:, :1].detach(), x.detach())
    with pytest.raises(sm.InputError, match="u: expected shape"):
        sm.laplacian(torch.zeros(4, 1), x)
    with pytest.raises(sm.InputError, match="x: expected"):
        sm.grad(torch.zeros(5, 1), torch.zeros(5, requires_grad=True))
    with pytest.raises(sm.InputError, match="dims"):
        sm.laplacian(x[:, :1] ** 2, x, dims=[3])
    with pytest.raises(sm.InputError, match="x: expected points of shape"):
        MLP(2, 1)(torch.zeros(4, 3))
    with pytest.raises(sm.InputError, match="activation"):
        MLP(2, 1, activation="nope")


def test_mlp_rejects_wrong_dtype():
    m = MLP(2, 1)
    with pytest.raises(sm.InputError, match="points are float64 but the model is float32"):
        m(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(sm.InputError, match="points are int64"):
        m(torch.zeros(3, 2, dtype=torch.int64))


@pytest.mark.parametrize("second", [None, (0, 1), (1,), ()])
def test_hard_constraint_jet_equals_autograd(second):
    problem_domain = sm.Rectangle((0.0, -1.0), (2.0, 1.0))
    cond = sm.Dirichlet(problem_domain.boundary, lambda x: (x[:, 0] ** 2 * torch.sin(x[:, 1]))[:, None], hard=True)
    torch.manual_seed(0)
    model = sm.HardConstraint(MLP(2, 1, 10, 2).double(), cond, problem_domain)
    x = problem_domain.sample(30, 0).requires_grad_(True)
    u_ad = model(x)
    with ops.forward_derivatives(second=second):
        u_fw = model(x)
    assert ops.attached_jet(u_fw, x) is not None and ops.attached_jet(u_ad, x) is None
    assert ops.attached_jet(u_fw, x).lap_dims == second
    for f in (lambda u: sm.laplacian(u, x), lambda u: sm.grad(u, x), lambda u: sm.partial(u, x, 0, 1),
              lambda u: sm.partial(u, x, 1, 1)):
        torch.testing.assert_close(f(u_fw), f(u_ad), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, params, expected", [
    ("poisson2d", {}, (0, 1)),  # Δu: one trace over all dims
    ("heat1d", {}, (1,)),  # u_t − u_xx: a trace over space only
    ("burgers1d", {}, (1,)),
    ("klein_gordon", {}, None),  # u_tt − u_xx: two different second derivatives, the diagonal
    ("convection", {"beta": 5.0}, ()),  # first order: no second derivatives
])
def test_pde_task_carries_only_the_second_derivatives_its_equations_take(name, params, expected):
    from sciml.registry import load_problem
    from sciml.tasks.base import Context

    problem = load_problem(name, **params)
    model = MLP(problem.dim, problem.output_dim, 8, 2)
    task = sm.tasks.PDETask(problem, points=16)
    task.setup(model, Context(device=torch.device("cpu"), dtype=torch.float32, seed=0))
    assert task.second == expected
    # and the loss it trains on equals the one through the full diagonal
    terms = task.loss_terms(model)
    task.second = None
    for k, v in task.loss_terms(model).items():
        torch.testing.assert_close(terms[k], v, rtol=1e-5, atol=1e-6)


def test_pde_task_probe_falls_back_to_the_diagonal_for_residuals_tied_to_the_point_count():
    from sciml.tasks.base import Context

    domain = sm.Rectangle((0, 0), (1, 1))
    f = torch.ones(16, 1)  # a source given at exactly the 16 training points

    problem = sm.Problem(domain, equations=lambda u, x: sm.laplacian(u, x) + f,
                         conditions=[sm.Dirichlet(domain.boundary, 0.0)])
    model = MLP(2, 1, 8, 2)
    task = sm.tasks.PDETask(problem, points=16)
    task.setup(model, Context(device=torch.device("cpu"), dtype=torch.float32, seed=0))
    assert task.second is None
    assert torch.isfinite(task.loss_terms(model)["pde"])
