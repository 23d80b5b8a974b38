"""DeepONet, MultiONet and MgNO: shapes, equivalences, parameter counts, resolution flexibility."""

import pytest
import torch
import torch.nn.functional as F

from sciml.errors import InputError
from sciml.nn.deeponet import DeepONet, GridOperator
from sciml.nn.mgno import MgConv, MgNO
from sciml.nn.multionet import MultiONet


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_mgno_darcy_rough_config_has_572661_parameters():
    # reference §4.1: MgNO_DC, 4 layers, 24 channels, 6 levels, smoothing [1,0]x5 + [2,0]
    assert n_params(MgNO(1, 1, width=24, levels=6, layers=4, padding="zeros")) == 572_661


@pytest.mark.parametrize("size", [(33, 33), (64, 64), (65, 48), (100, 100)])
def test_mgno_runs_on_any_grid_the_cycle_can_coarsen(size):
    torch.manual_seed(0)
    model = MgNO(2, 3, width=4, levels=5, layers=2)
    out = model(torch.randn(2, 2, *size))
    assert out.shape == (2, 3, *size) and torch.isfinite(out).all()


def test_mgno_circular_padding_is_periodic_shift_equivariant():
    # stride-2 convolutions commute with circular shifts by multiples of 2^(levels-1)
    torch.manual_seed(0)
    x = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    periodic = MgNO(1, 1, width=4, levels=3, layers=2, padding="circular").double()
    dirichlet = MgNO(1, 1, width=4, levels=3, layers=2, padding="zeros").double()
    shift = lambda t: torch.roll(t, shifts=(4, 8), dims=(-2, -1))
    assert torch.allclose(periodic(shift(x)), shift(periodic(x)), atol=1e-12)
    assert not torch.allclose(dirichlet(shift(x)), shift(dirichlet(x)), atol=1e-3)


@pytest.mark.parametrize("padding", ["zeros", "circular", "reflect"])
def test_mgno_channels_last_weights_give_the_contiguous_networks_output(padding):
    """MgNO keeps its weights channels-last (the fast CPU convolution path); the output and the
    gradients equal those of the same weights in the default layout to float32 rounding."""
    torch.manual_seed(0)
    net = MgNO(1, 1, width=8, levels=3, layers=2, padding=padding)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in net.parameters() if p.dim() == 4)
    twin = MgNO(1, 1, width=8, levels=3, layers=2, padding=padding)
    twin.load_state_dict(net.state_dict())
    twin.to(memory_format=torch.contiguous_format)
    assert all(p.is_contiguous() for p in twin.parameters())
    x = torch.randn(2, 1, 21, 18)
    y, y0 = net(x), twin(x)
    assert torch.allclose(y, y0, rtol=1e-4, atol=1e-5 * y0.abs().max().item())
    y.square().sum().backward()
    y0.square().sum().backward()
    for (name, p), p0 in zip(net.named_parameters(), twin.parameters()):
        assert torch.allclose(p.grad, p0.grad, rtol=1e-3, atol=1e-5 * p0.grad.abs().max().item()), name


def test_mgconv_is_linear_and_one_level_is_one_convolution():
    torch.manual_seed(0)
    conv = MgConv(2, 3, [(1, 1), (2, 0), (1, 0)]).double()
    f, g = torch.randn(2, 2, 2, 20, 20, dtype=torch.float64)
    assert torch.allclose(conv(2 * f - 3 * g), 2 * conv(f) - 3 * conv(g), atol=1e-12)
    single = MgConv(2, 3, [(1, 0)]).double()
    assert torch.allclose(single(f), F.conv2d(f, single.pre[0][0]["S"].weight, padding=1), atol=1e-14)


def test_mgno_bad_inputs():
    model = MgNO(1, 1, width=4, levels=6, layers=1)
    with pytest.raises(InputError, match="cannot be coarsened"):
        model(torch.randn(1, 1, 16, 16))
    with pytest.raises(InputError, match=r"x: expected shape \(batch, 1, H, W\)"):
        model(torch.randn(1, 2, 64, 64))
    with pytest.raises(InputError, match="padding"):
        MgNO(padding="mirror")


def test_deeponet_paths_and_paper_size():
    torch.manual_seed(0)
    net = DeepONet([100, 40, 40], [1, 40, 40], "relu")
    assert n_params(net) == 7401  # DeepONet antiderivative network (lululxvi/deeponet)
    assert net.b0.item() == 0.0 and all(layer.bias.detach().abs().max().item() == 0.0 for layer in net.branch)
    u, y = torch.randn(5, 100), torch.rand(7, 1)
    cart = net.cartesian(u, y)
    assert cart.shape == (5, 7)
    assert torch.allclose(net(u, y.expand(5, 7, 1)), cart, atol=1e-6)
    assert torch.allclose(
        net(u[:, None].expand(5, 7, 100).reshape(35, 100), y.repeat(5, 1)).reshape(5, 7), cart, atol=1e-6
    )


def test_multionet_starts_at_zero_and_one_summed_layer_is_deeponet():
    torch.manual_seed(0)
    multi = MultiONet([20, 16, 16, 16], [2, 16, 16, 16], sum_layers=1, activation="tanh", branch_activation="tanh")
    u, y = torch.randn(4, 20), torch.rand(6, 2)
    assert torch.equal(multi.cartesian(u, y), torch.zeros(4, 6))
    deep = DeepONet([20, 16, 16, 16], [2, 16, 16, 16], "tanh", activate_branch_head=True)
    state = {k: v for k, v in multi.state_dict().items() if k not in ("w", "b")}
    deep.load_state_dict({**state, "b0": torch.tensor(0.25)})
    with torch.no_grad():
        multi.w.fill_(1.0)
        multi.b.fill_(0.25)
    assert torch.allclose(multi.cartesian(u, y), deep.cartesian(u, y), atol=1e-6)
    assert torch.allclose(multi(u, y[:4]), deep(u, y[:4]), atol=1e-6)
    deeper = MultiONet([20, 16, 16, 16], [2, 16, 16, 16], sum_layers=3)
    assert n_params(deeper) == n_params(deep) + 3  # the overhead is l scalars


def test_multionet_needs_signed_activations(tmp_path, monkeypatch):
    """With ReLU on every layer each summed product <g^k, h^k> is >= 0 (the cause of the 3.7x worse
    Darcy benchmark); the default tanh_sin / silu_id products are signed and the model trains as well
    as DeepONet (antiderivative, 400 full-batch Adam steps)."""
    import sciml.data as sd
    from sciml.fit import fit
    from sciml.losses import MSE

    u, y = torch.randn(8, 100), torch.rand(9, 1)
    relu = MultiONet([100, 40, 40], [1, 40, 40], sum_layers=2, activation="relu", branch_activation="relu")
    default = MultiONet([100, 40, 40], [1, 40, 40], sum_layers=2)
    for net, signed in ((relu, False), (default, True)):
        products = [b @ t.T for b, t in zip(net.branch_features(u), net.trunk_features(y))]
        assert any(bool((p < 0).any()) for p in products) == signed

    monkeypatch.setenv("SCIML_DATA", str(tmp_path / "cache"))
    ds = sd.load("antiderivative", n=300, workers=1)

    def val_error(build):
        torch.manual_seed(0)
        result = fit(build(), ds, steps=400, loss=MSE(), batch_size=300, validation=60, lr=1e-3,
                     optimizer="adam", progress=False)
        return result.metrics["val_rel_l2"]

    deep = val_error(lambda: DeepONet([100, 40, 40], [1, 40, 40]))
    multi = val_error(lambda: MultiONet([100, 40, 40], [1, 40, 40], sum_layers=2))
    multi_relu = val_error(lambda: MultiONet([100, 40, 40], [1, 40, 40], sum_layers=2, activation="relu",
                                             branch_activation="relu"))
    assert multi < deep < 0.1 and multi < 0.4 * multi_relu  # measured 0.084, 0.091, 0.30


def test_grid_operator_and_shape_errors():
    net = GridOperator(MultiONet([2 * 9 * 9, 8, 8], [2, 8, 8], sum_layers=2))
    assert net(torch.randn(3, 2, 9, 9)).shape == (3, 1, 9, 9)
    with pytest.raises(InputError, match="C·H·W = 162"):
        net(torch.randn(3, 1, 9, 9))
    deep = DeepONet([10, 8], [1, 8])
    with pytest.raises(InputError, match=r"u: expected shape \(batch, 10\)"):
        deep(torch.randn(4, 11), torch.rand(4, 1))
    with pytest.raises(InputError, match="y: expected last dimension 1"):
        deep.cartesian(torch.randn(4, 10), torch.rand(5, 2))
    with pytest.raises(InputError, match="match u's batch"):
        deep(torch.randn(4, 10), torch.rand(3, 1))
    with pytest.raises(InputError, match="sum_layers"):
        MultiONet([10, 8], [1, 8], sum_layers=2)


def test_grid_operator_flux_heads_for_the_mixed_form():
    torch.manual_seed(0)
    u_net = MultiONet([81, 8, 8], [2, 8, 8], sum_layers=2)
    heads = [MultiONet([81, 8, 8], [2, 8, 8], sum_layers=2) for _ in range(2)]
    for h in heads:
        torch.nn.init.normal_(h.w)  # MultiONet starts at 0; make the heads visible
    net = GridOperator(u_net, dirichlet=True, flux=heads, flux_scale=2.0)
    a, y = torch.randn(3, 1, 9, 9), torch.rand(3, 5, 2)
    out = net(a, y)
    assert out.shape == (3, 5, 3)
    plain = GridOperator(u_net, dirichlet=True)
    assert torch.equal(out[..., 0], plain(a, y))  # u as without the heads, mollified
    assert torch.allclose(out[..., 2], 2.0 * heads[1](a.reshape(3, -1), y))  # s_k scaled, not mollified
    assert torch.equal(net(a), plain(a))  # the grid evaluation is u alone
    with pytest.raises(InputError, match="flux: expected 2 branch-trunk models"):
        GridOperator(u_net, flux=heads[:1])
    with pytest.raises(InputError, match="flux_scale: expected a positive number"):
        GridOperator(u_net, flux=heads, flux_scale=0.0)
