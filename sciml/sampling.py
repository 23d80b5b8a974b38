"""Residual-based adaptive collocation (RAD; Wu, Zhu, Tan, Kartha, Lu, CMAME 403:115671, 2023,
"A comprehensive study of non-adaptive and residual-based adaptive sampling for PINNs", arXiv 2207.10289).

At every resample, a pool of ``pool × points`` candidates is drawn from the domain ("uniform" or
"sobol"), the PDE residual ε(x) = (Σ_equations Σ_components r²)^½ of the current model is evaluated on
it, and ``points`` distinct candidates are kept with probability

    p(x) ∝ ε(x)^k / E[ε^k] + c,

so k = 0 or c → ∞ is uniform sampling, and k = 1, c = 1 (the paper's default RAD) puts about half
the points where the residual is large. The first draw (before any training) is the base sampling.
Use it as fit's ``sampling``:

    sm.fit(model, problem, sampling=sm.ResidualAdaptiveSampling(k=1, c=1), resample_every=100)

The selection uses the task's own random generator, so a resumed fit draws the same points.

With ``loss_weights=True`` the draw follows the residual as the loss weighs it, ε(x)·√w(x), where
w(x) is the equation loss's weight of a point at x (``point_weights``; ``sm.CausalWeighting``'s slab
weight, computed from the pool's own slab residuals): with causal training, points then do not gather
in late time slabs whose weight is still near 0 (an extension of ours, not in the RAD paper).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import InputError
from .geometry._sampling import METHODS

__all__ = ["ResidualAdaptiveSampling"]


class ResidualAdaptiveSampling:
    """RAD collocation: ``p(x) ∝ ε(x)^k / mean(ε^k) + c`` over a pool of ``pool``·points candidates
    drawn by ``base`` ("uniform" or "sobol"); see the module docstring."""

    def __init__(self, k: float = 1.0, c: float = 1.0, pool: int = 4, base: str = "uniform",
                 loss_weights: bool = False):
        for name, v in (("k", k), ("c", c)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise InputError(f"{name}: expected a finite non-negative number, got {v!r}")
        if isinstance(pool, bool) or not isinstance(pool, numbers.Integral) or pool < 1:
            raise InputError(f"pool: expected a positive integer (candidates per kept point), got {pool!r}")
        if base not in METHODS:
            raise InputError(f"base: expected one of {', '.join(METHODS)}, got {base!r}")
        if not isinstance(loss_weights, bool):
            raise InputError(f"loss_weights: expected True or False, got {loss_weights!r}")
        self.k, self.c, self.pool, self.base = float(k), float(c), int(pool), base
        self.loss_weights = loss_weights

    def __repr__(self) -> str:
        extra = ", loss_weights=True" if self.loss_weights else ""
        return (f"ResidualAdaptiveSampling(k={self.k:g}, c={self.c:g}, pool={self.pool}, "
                f"base={self.base!r}{extra})")

    def probabilities(self, residual: np.ndarray) -> np.ndarray:
        """Selection probabilities (M,) from residual magnitudes ε (M,) ≥ 0 (uniform if all vanish)."""
        e = np.asarray(residual, dtype=np.float64) ** self.k
        if not np.all(np.isfinite(e)):
            raise InputError("residual: adaptive sampling met a NaN or Inf residual on the candidate pool")
        mean = e.mean()
        w = (e / mean if mean > 0 else np.ones_like(e)) + self.c
        # every candidate stays drawable (c = 0 with zero residuals in places), so n distinct exist
        w = np.maximum(w, 1e-12 * w.max())
        return w / w.sum()

    def select(self, residual: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``n`` distinct candidates drawn with :meth:`probabilities` (sorted)."""
        p = self.probabilities(residual)
        return np.sort(rng.choice(len(p), size=n, replace=False, p=p))
