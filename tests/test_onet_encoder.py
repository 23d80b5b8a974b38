"""DeepONet / MultiONet with a convolutional branch encoder (the DGNO Darcy examples' branch)."""

import pytest
import torch

from sciml.errors import InputError
from sciml.nn.activations import activation
from sciml.nn.deeponet import ConvEncoder, DeepONet, GridOperator, activation_fn
from sciml.nn.multionet import MultiONet


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_onet_conv_encoder_paths_and_equal_sizes():
    torch.manual_seed(0)
    enc = ConvEncoder((1, 29, 29), (32, 64, 128), out=128)  # DGenNO's Darcy encoder: 29 -> 13 -> 5 -> 1
    assert enc.fc.in_features == 128 and enc.in_features == 841
    assert n_params(enc) == 273_536  # the encoder size printed by the reference notebook
    deep = DeepONet([16, 16, 16], [2, 16, 16], "relu", encoder=ConvEncoder((1, 20, 20), (4, 8), out=16))
    multi = MultiONet([16, 16, 16], [2, 16, 16], sum_layers=2, encoder=ConvEncoder((1, 20, 20), (4, 8), out=16))
    assert n_params(multi) == n_params(deep) + 2 and deep.m == multi.m == 400
    u, y = torch.randn(3, 400), torch.rand(5, 2)
    for net in (deep, multi):
        cart = net.cartesian(u, y)
        assert cart.shape == (3, 5)
        assert torch.allclose(net(u, y.expand(3, 5, 2)), cart, atol=1e-6)
    field = GridOperator(deep)(torch.randn(2, 1, 20, 20))
    assert field.shape == (2, 1, 20, 20)
    with pytest.raises(InputError, match="encoder"):
        DeepONet([32, 16], [2, 16], encoder=ConvEncoder((1, 20, 20), (4,), out=16))
    with pytest.raises(InputError, match="too small"):
        ConvEncoder((1, 8, 8), (4, 4), kernel=5)


def test_forward_only_activation_values_equal_the_fused_jets():
    """The DGNO activations evaluate f alone in a forward pass; it equals the value of the fused
    (f, f', f'') triple the jets use, and f' matches autograd of f."""
    v = (torch.randn(1000, dtype=torch.float64) * 3).requires_grad_()
    for name in ("tanh_sin", "silu_sin", "silu_id"):
        act = activation(name)
        f, df, _ = act.with_derivatives(v)
        assert torch.allclose(act(v), f, rtol=1e-14, atol=1e-14), name
        (g,) = torch.autograd.grad(act(v).sum(), v)
        assert torch.allclose(g, df, rtol=1e-12, atol=1e-12), name
        assert activation_fn(name) is act
