"""Architectures: MLP for PINNs, and the operator, Gaussian and Lagrangian models.

``build(name, problem, **options)`` makes a model sized for a problem (used by the CLI's
``--model``); ``MODELS`` lists the names.
"""

from __future__ import annotations

from ..errors import InputError
from .activations import Activation, activation
from .deeponet import DeepONet, GridOperator
from .lpinn import LPINN
from .mgno import MgConv, MgNO
from .mlp import MLP
from .multionet import MultiONet
from .pig import PIG


def _mlp(problem, width: int = 64, depth: int = 4, activation: str = "tanh", fourier_features: int | None = None):
    lo, hi = problem.domain.bounds
    return MLP(problem.dim, problem.output_dim, width=width, depth=depth, activation=activation,
               fourier_features=fourier_features, input_bounds=(lo, hi))


def _pig(problem, n_gaussians: int = 800, channels: int = 4, sigma: float = 0.1, **_unused):
    lo, hi = problem.domain.bounds
    return PIG(problem.dim, problem.output_dim, n_gaussians=n_gaussians, channels=channels,
               bounds=(tuple(lo), tuple(hi)), sigma=sigma)


MODELS = {"mlp": _mlp, "pig": _pig}


def build(name: str, problem, **options):
    """A model called ``name`` with the input/output sizes (and input bounds) of ``problem``."""
    if name not in MODELS:
        raise InputError(f"model: unknown '{name}'; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](problem, **{k: v for k, v in options.items() if v is not None})


__all__ = ["MLP", "PIG", "LPINN", "DeepONet", "GridOperator", "MultiONet", "MgNO", "MgConv",
            "Activation", "activation", "build", "MODELS"]
