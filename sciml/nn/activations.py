"""Pointwise activations with their first two derivatives (for forward jets)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import InputError


@dataclass(frozen=True)
class Activation:
    """f, f', f'' of a pointwise activation; calling it applies f."""

    name: str
    f: Callable[[torch.Tensor], torch.Tensor]
    df: Callable[[torch.Tensor], torch.Tensor]
    d2f: Callable[[torch.Tensor], torch.Tensor]

    fused: Callable[[torch.Tensor], tuple] | None = None

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.f(v)

    def with_derivatives(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(f(v), f'(v), f''(v)), sharing work where the activation allows."""
        if self.fused is not None:
            return self.fused(v)
        return self.f(v), self.df(v), self.d2f(v)


def _tanh_d1(v):
    return 1 - torch.tanh(v) ** 2


def _tanh_all(v):
    t = torch.tanh(v)
    s1 = 1 - t * t
    return t, s1, -2 * t * s1


def _sin_all(v):
    s = torch.sin(v)
    return s, torch.cos(v), -s


def _tanh_d2(v):
    t = torch.tanh(v)
    return -2 * t * (1 - t * t)


_SQRT_2PI = math.sqrt(2 * math.pi)


def _phi(v):  # standard normal density
    return torch.exp(-0.5 * v * v) / _SQRT_2PI


def _Phi(v):
    return 0.5 * (1 + torch.erf(v / math.sqrt(2)))


def _silu_d1(v):
    s = torch.sigmoid(v)
    return s * (1 + v * (1 - s))


def _silu_d2(v):
    s = torch.sigmoid(v)
    return s * (1 - s) * (2 + v * (1 - 2 * s))


def _silu(v):
    return torch.nn.functional.silu(v)


def _sin_shift(v):
    """(sin(π(v+1)), π·cos(π(v+1))): the inner map of DGNO's ``*_Sin`` activations and its derivative."""
    z = math.pi * (v + 1)
    return torch.sin(z), math.pi * torch.cos(z)


def _outer_sin_plus_id(name, outer, d1, d2) -> Activation:
    """f(v) = outer(sin(π(v+1))) + v with f', f'' by the chain rule (DGNO's Tanh_Sin, SiLU_Sin).
    f alone evaluates only the value (a MultiONet's forward pass); the jets use the fused triple."""

    def f(v):
        return outer(torch.sin(math.pi * (v + 1))) + v

    def all3(v):
        s, ds = _sin_shift(v)
        g1 = d1(s)
        return outer(s) + v, g1 * ds + 1, d2(s) * ds * ds - g1 * math.pi**2 * s

    return Activation(name, f, lambda v: all3(v)[1], lambda v: all3(v)[2], all3)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", torch.tanh, _tanh_d1, _tanh_d2, _tanh_all),
        Activation("sin", torch.sin, torch.cos, lambda v: -torch.sin(v), _sin_all),
        Activation("cos", torch.cos, lambda v: -torch.sin(v), lambda v: -torch.cos(v)),
        Activation("gelu", lambda v: v * _Phi(v), lambda v: _Phi(v) + v * _phi(v), lambda v: _phi(v) * (2 - v * v)),
        Activation("silu", torch.nn.functional.silu, _silu_d1, _silu_d2),
        # MultiONet / DGNO (yaohua32/DGenNO Networks/FunActivation.py): signed, identity-skewed
        _outer_sin_plus_id("tanh_sin", torch.tanh, _tanh_d1, _tanh_d2),
        _outer_sin_plus_id("silu_sin", _silu, _silu_d1, _silu_d2),
        Activation("silu_id", lambda v: _silu(v) + v, lambda v: _silu_d1(v) + 1, _silu_d2),
        Activation("softplus", torch.nn.functional.softplus, torch.sigmoid,
                   lambda v: torch.sigmoid(v) * (1 - torch.sigmoid(v))),
    ]
}


def activation(name: str | Activation) -> Activation:
    """Look an activation up by name (tanh, sin, cos, gelu, silu, softplus, tanh_sin, silu_sin, silu_id)."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise InputError(f"activation: unknown '{name}'; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
