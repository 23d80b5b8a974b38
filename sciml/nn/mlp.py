"""Multilayer perceptron for PINNs, with optional Fourier features and forward jets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import ops
from ..errors import InputError
from .activations import activation as _activation


class MLP(nn.Module):
    """Fully connected network ``in_dim -> [width] * depth -> out_dim``.

    Parameters
    ----------
    activation : "tanh" | "sin" | "gelu" | "silu" | "softplus" (hidden layers; output is linear).
    fourier_features : number m of random Fourier features γ(x) = [sin(2πBx), cos(2πBx)],
        B ~ N(0, fourier_scale²) of shape (m, in_dim), fixed (Tancik et al. 2020). None: off.
    input_bounds : (lo, hi) per input coordinate; inputs are mapped affinely to [-1, 1] first.

    Weights are Glorot-normal, biases zero. Inside :func:`sciml.ops.forward_derivatives` and for
    inputs that require grad, the forward pass also propagates first and diagonal second
    derivatives (see :mod:`sciml.ops`), so ``sm.laplacian(u, x)`` costs no nested backward.
    """

    def __init__(self, in_dim: int, out_dim: int = 1, width: int = 64, depth: int = 4,
                 activation: str = "tanh", fourier_features: int | None = None, fourier_scale: float = 1.0,
                 input_bounds: tuple[Sequence[float], Sequence[float]] | None = None):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive integer, got {v!r}")
        self.in_dim, self.out_dim, self.width, self.depth = in_dim, out_dim, width, depth
        self.act = _activation(activation)
        if input_bounds is not None:
            lo, hi = (torch.as_tensor(b, dtype=torch.float64).reshape(-1) for b in input_bounds)
            if lo.numel() != in_dim or hi.numel() != in_dim or not bool((hi > lo).all()):
                raise InputError(f"input_bounds: expected (lo, hi) with {in_dim} entries each and hi > lo")
            self.register_buffer("in_scale", (2.0 / (hi - lo)).to(torch.get_default_dtype()))
            self.register_buffer("in_shift", (-(hi + lo) / (hi - lo)).to(torch.get_default_dtype()))
        else:
            self.in_scale = self.in_shift = None
        first = in_dim
        if fourier_features:
            self.register_buffer("fourier_B", 2 * math.pi * fourier_scale * torch.randn(fourier_features, in_dim))
            first = 2 * fourier_features
        else:
            self.fourier_B = None
        sizes = [first] + [width] * depth + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def extra_repr(self) -> str:
        ff = f", fourier_features={self.fourier_B.shape[0]}" if self.fourier_B is not None else ""
        return f"activation={self.act.name}{ff}"

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"x: expected points of shape (N, {self.in_dim}), got {shape}")
        dtype = self.layers[0].weight.dtype
        if x.dtype != dtype:
            raise InputError(f"x: points are {str(x.dtype).replace('torch.', '')} but the model is "
                             f"{str(dtype).replace('torch.', '')}; convert one (fit(..., dtype=...) does both)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        if ops.jets_enabled() and x.requires_grad:
            return self._forward_jet(x)
        h = x
        if self.in_scale is not None:
            h = h * self.in_scale + self.in_shift
        if self.fourier_B is not None:
            z = h @ self.fourier_B.T
            h = torch.cat([torch.sin(z), torch.cos(z)], -1)
        for layer in self.layers[:-1]:
            h = self.act(layer(h))
        return self.layers[-1](h)

    def _forward_jet(self, x: torch.Tensor) -> torch.Tensor:
        j = ops.jet_input(x, ops.second_request())
        if self.in_scale is not None:
            j = ops.jet_linear(j, torch.diag(self.in_scale), self.in_shift)
        if self.fourier_B is not None:
            z = ops.jet_linear(j, self.fourier_B)
            s = ops.jet_pointwise(z, torch.sin, torch.cos, lambda v: -torch.sin(v))
            c = ops.jet_pointwise(z, torch.cos, lambda v: -torch.sin(v), lambda v: -torch.cos(v))
            j = ops.jet_cat([s, c])
        for layer in self.layers[:-1]:
            j = ops.jet_pointwise(ops.jet_linear(j, layer.weight, layer.bias), self.act)
        last = self.layers[-1]
        return ops.jet_output(ops.jet_linear(j, last.weight, last.bias), x)
