"""Architectures: MLP for PINNs, and the operator, Gaussian and Lagrangian models.

``build(name, problem, **options)`` makes a model sized for a problem (used by the CLI's
``--model``); ``MODELS`` lists the names.
"""

from __future__ import annotations

from ..errors import InputError
from .activations import Activation, activation
from .mlp import MLP


def _mlp(problem, width: int = 64, depth: int = 4, activation: str = "tanh", fourier_features: int | None = None):
    lo, hi = problem.domain.bounds
    return MLP(problem.dim, problem.output_dim, width=width, depth=depth, activation=activation,
               fourier_features=fourier_features, input_bounds=(lo, hi))


MODELS = {"mlp": _mlp}


def build(name: str, problem, **options):
    """A model called ``name`` with the input/output sizes (and input bounds) of ``problem``."""
    if name not in MODELS:
        raise InputError(f"model: unknown '{name}'; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](problem, **{k: v for k, v in options.items() if v is not None})


__all__ = ["MLP", "Activation", "activation", "build", "MODELS"]
