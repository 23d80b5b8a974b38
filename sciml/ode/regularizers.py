"""ERNODE and SRNODE regularisers with the reference's weights and exponential annealing.

``loss = task_loss + reg(stats, epoch)``. Weights follow Pal et al. 2021 (reference code
avik-pal/RegNeuralDE.jl): λ(e) = λ₀ exp(−k e), k = ln(λ₀/λ₁)/E, e = 0, 1, ... the epoch.

| experiment (reference)    | ErrorRegularizer                 | StiffnessRegularizer |
|---------------------------|----------------------------------|----------------------|
| MNIST NODE, 75 epochs     | 100 → 10, mean (the defaults)    | 0.1 on max ρ-normalised |
| PhysioNet latent ODE, 300 | 1000 → 100, mean                 | 10 (code) on max     |
| local variant (2023)      | 2.5 → 1 on the one-step estimate | –                    |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InputError
from .stats import SolverStats


@dataclass(frozen=True)
class ExponentialDecay:
    """λ(e) = start · exp(−k e) with k = ln(start/end)/epochs: λ(0) = start, λ(epochs) = end.

    ``end=None`` (or equal to ``start``) means a constant weight.
    """

    start: float
    end: float | None = None
    epochs: int = 1

    def __post_init__(self):
        if not (math.isfinite(self.start) and self.start >= 0):
            raise InputError(f"start: expected a finite weight >= 0, got {self.start}")
        if self.end is not None and not (self.end > 0 and self.start > 0):
            raise InputError(f"end: expected weights > 0 for a decaying schedule, got {self.start} -> {self.end}")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise InputError(f"epochs: expected an integer >= 1, got {self.epochs}")

    @property
    def rate(self) -> float:
        """k = ln(start/end)/epochs (0 for a constant weight)."""
        return 0.0 if self.end is None else math.log(self.start / self.end) / self.epochs

    def __call__(self, epoch: float) -> float:
        if epoch < 0:
            raise InputError(f"epoch: expected >= 0, got {epoch}")
        return self.start * math.exp(-self.rate * epoch)


def _schedule(weight: float | ExponentialDecay) -> ExponentialDecay:
    return weight if isinstance(weight, ExponentialDecay) else ExponentialDecay(float(weight))


def _needs(stats: SolverStats, field: str, who: str) -> torch.Tensor:
    if not isinstance(stats, SolverStats):
        raise InputError(f"stats: expected the SolverStats returned by NeuralODE, got {type(stats).__name__}")
    value = getattr(stats, field)
    if value is None:
        raise InputError(
            f"stats: method '{stats.method}' has no embedded error estimate; {who} needs an adaptive method "
            "(dopri5, dopri8, bosh3, fehlberg2, adaptive_heun)"
        )
    return value


@dataclass(frozen=True)
class ErrorRegularizer:
    """ERNODE: λ(epoch) · R_E, R_E the local-error term of the solve.

    Args:
        weight: a constant or an :class:`ExponentialDecay`; default the reference MNIST schedule 100 → 10
            over 75 epochs.
        aggregate: ``"mean"`` of r_j |dt_j| over accepted steps (reference code, with whose weights the
            defaults go) or ``"sum"`` (the paper's Σ r_j |dt_j|). A local (adjoint) estimate is used as is.
    """

    weight: float | ExponentialDecay = ExponentialDecay(100.0, 10.0, 75)
    aggregate: str = "mean"

    def __post_init__(self):
        if self.aggregate not in ("mean", "sum"):
            raise InputError(f"aggregate: expected 'mean' or 'sum', got '{self.aggregate}'")
        _schedule(self.weight)

    def weight_at(self, epoch: float = 0) -> float:
        return _schedule(self.weight)(epoch)

    def __call__(self, stats: SolverStats, epoch: float = 0) -> torch.Tensor:
        _needs(stats, "error", "ErrorRegularizer")
        term = stats.error_mean if self.aggregate == "mean" else stats.error
        return self.weight_at(epoch) * term


@dataclass(frozen=True)
class StiffnessRegularizer:
    """SRNODE: λ(epoch) · S, S the stiffness term of the solve.

    Args:
        weight: constant or :class:`ExponentialDecay`; default 0.1 (reference MNIST code: 0.1 on
            max |λ̂|/ρ, i.e. 0.0285 on the raw Tsit5 estimate).
        aggregate: ``"max"`` over accepted steps of |λ̂_j|/ρ (reference code) or ``"sum"`` of
            |λ̂_j|/ρ·|dt_j| (the paper's R_S).
    """

    weight: float | ExponentialDecay = 0.1
    aggregate: str = "max"

    def __post_init__(self):
        if self.aggregate not in ("max", "sum"):
            raise InputError(f"aggregate: expected 'max' or 'sum', got '{self.aggregate}'")
        _schedule(self.weight)

    def weight_at(self, epoch: float = 0) -> float:
        return _schedule(self.weight)(epoch)

    def __call__(self, stats: SolverStats, epoch: float = 0) -> torch.Tensor:
        _needs(stats, "stiffness", "StiffnessRegularizer")
        term = stats.stiffness if self.aggregate == "max" else stats.stiffness_sum
        return self.weight_at(epoch) * term
