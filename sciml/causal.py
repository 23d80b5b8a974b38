"""Causal loss weighting for time-dependent PINNs (Wang, Sankaran, Perdikaris, CMAME 421:116813, 2024,
"Respecting causality for training physics-informed neural networks", arXiv 2203.07404).

The time range is cut into M slabs; with L_i the mean squared residual of the points in slab i,

    L_r = (1/M) Σ_i w_i L_i,     w_i = exp(−ε Σ_{k<i} L_k)   (weights carry no gradient),

so later times only count once earlier ones are resolved. Use it as fit's equation loss:

    sm.fit(model, problem, equation_loss=CausalWeighting(slabs=32, epsilon=1.0))

``min_weight`` after a call is min_i w_i (the paper's stopping signal: training is causal-converged
when it approaches 1). Points come in any order (random collocation); they are binned by the time
column. Empty slabs are skipped.
"""

from __future__ import annotations

import math

import torch

from .errors import InputError

__all__ = ["CausalWeighting"]


class CausalWeighting:
    """Equation loss ``(residual (N, m), x (N, d)) -> scalar`` with causal slab weights (see module doc).

    slabs : M; epsilon : ε (causality strength); time_range : (t0, t1), default the points' min/max;
    time_axis : column of x holding time (0 in sciml's space-time convention).
    """

    def __init__(self, slabs: int = 32, epsilon: float = 1.0, time_range: tuple[float, float] | None = None,
                 time_axis: int = 0):
        if isinstance(slabs, bool) or not isinstance(slabs, int) or slabs < 1:
            raise InputError(f"slabs: expected a positive integer, got {slabs!r}")
        if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon >= 0):
            raise InputError(f"epsilon: expected a non-negative number, got {epsilon!r}")
        if time_range is not None and not (len(time_range) == 2 and time_range[1] > time_range[0]):
            raise InputError(f"time_range: expected (t0, t1) with t1 > t0, got {time_range!r}")
        self.slabs, self.epsilon = slabs, float(epsilon)
        self.time_range, self.time_axis = time_range, time_axis
        self.min_weight = 1.0

    def slab_index(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) long: the time slab of each point."""
        t = x[:, self.time_axis].detach()
        t0, t1 = self.time_range or (float(t.min()), float(t.max()))
        return ((t - t0) / max(t1 - t0, 1e-300) * self.slabs).long().clamp(0, self.slabs - 1)

    def slab_losses(self, residual: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(L_i (M,), counts (M,)): mean squared residual and number of points per time slab."""
        return self._slab_losses(residual, self.slab_index(x))

    def _slab_losses(self, residual: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual = residual[:, None] if residual.ndim == 1 else residual
        sq = residual.pow(2).mean(1)
        sums = sq.new_zeros(self.slabs).index_add(0, idx, sq)
        counts = torch.bincount(idx, minlength=self.slabs).to(sq.dtype)
        return sums / counts.clamp_min(1), counts

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """w_i = exp(−ε Σ_{k<i} L_k), detached, (M,)."""
        before = torch.cumsum(losses.detach(), 0) - losses.detach()
        return torch.exp(-self.epsilon * before)

    def point_weights(self, residual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(N,) the weight w_i of each point's slab, with the slab losses of these points (what
        residual-adaptive sampling with ``loss_weights=True`` multiplies ε² by)."""
        idx = self.slab_index(x)
        losses, _ = self._slab_losses(residual, idx)
        return self.weights(losses)[idx]

    def __call__(self, residual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or not (0 <= self.time_axis < x.shape[1]):
            raise InputError(f"time_axis: {self.time_axis} is not a column of points {tuple(x.shape)}")
        losses, counts = self.slab_losses(residual, x)
        present = counts > 0
        losses = losses[present]
        w = self.weights(losses)
        self.min_weight = float(w.min())
        return (w * losses).mean()

    def __repr__(self) -> str:
        return f"CausalWeighting(slabs={self.slabs}, epsilon={self.epsilon:g})"
