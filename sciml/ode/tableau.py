"""Butcher tableaus of torchdiffeq's adaptive Runge–Kutta methods, as data.

The coefficients are read from torchdiffeq's own solver classes (``torchdiffeq._impl.odeint.SOLVERS``,
class attributes ``tableau`` and ``order``; read-only, tested against torchdiffeq 0.2.4–0.2.5) so the
statistics we compute from the recorded stages use bit-identical coefficients to the solver's.
Everything else here (stage counts, FSAL property, the real stability interval) is derived from
that data; no method has its own code path.

Stage convention (torchdiffeq's): stage 1 is ``k_1 = f(t0, y0)`` (reused from the previous step),
stage ``i + 1`` is evaluated at ``t0 + alpha[i] dt`` from ``y0 + dt Σ_j beta[i][j] k_j``.
``y1 = y0 + dt Σ c_sol_i k_i``, error estimate ``dt Σ c_error_i k_i``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS
from torchdiffeq._impl.rk_common import RKAdaptiveStepsizeODESolver

from ..errors import InputError

ADAPTIVE_METHODS: tuple[str, ...] = tuple(
    name for name, cls in _TORCHDIFFEQ_SOLVERS.items() if issubclass(cls, RKAdaptiveStepsizeODESolver)
)
"""torchdiffeq's adaptive embedded RK methods (0.2.5: dopri8, dopri5, bosh3, fehlberg2, adaptive_heun)."""

FIXED_METHODS: tuple[str, ...] = tuple(
    name for name in _TORCHDIFFEQ_SOLVERS if name not in ADAPTIVE_METHODS and name != "scipy_solver"
)
"""torchdiffeq methods without an embedded error estimate (euler, rk4, adams, ...): NFE counting only."""


@dataclass(frozen=True, eq=False)
class Tableau:
    """An explicit embedded RK pair: ``alpha`` (s−1,), ``beta`` rows, ``c_sol`` (s,), ``c_error`` (s,).

    All tensors are float64 on the CPU, exactly torchdiffeq's; ``order`` is the order used by the step
    size controller.
    """

    method: str
    order: int
    alpha: torch.Tensor
    beta: tuple[torch.Tensor, ...]
    c_sol: torch.Tensor
    c_error: torch.Tensor

    @property
    def stages(self) -> int:
        """Number of stages s, counting the reused ``k_1``."""
        return len(self.c_sol)

    @property
    def fsal(self) -> bool:
        """True if the last stage is evaluated at ``y1`` (then ``y1`` is that stage's input)."""
        return bool(self.c_sol[-1] == 0 and (self.c_sol[:-1] == self.beta[-1]).all())

    def matrix(self) -> np.ndarray:
        """The full strictly lower-triangular Butcher matrix A, shape (s, s)."""
        a = np.zeros((self.stages, self.stages))
        for i, row in enumerate(self.beta):
            a[i + 1, : len(row)] = row.numpy()
        return a

    @functools.cached_property
    def stability_radius(self) -> float:
        """Length ρ of the real stability interval [−ρ, 0] of the propagated solution (``c_sol``).

        From the stability polynomial R(z) = 1 + Σ_k z^k bᵀA^{k−1}1; dopri5 gives 3.3066, bosh3 2.5127,
        adaptive_heun 2. Shampine's eigenvalue estimate is divided by ρ, as in the reference code
        (there with Tsit5's 3.5068).
        """
        a, b = self.matrix(), self.c_sol.numpy()
        coeffs, v = [1.0], np.ones(self.stages)
        for _ in range(self.stages):
            coeffs.append(float(b @ v))
            v = a @ v
        poly = np.polynomial.Polynomial(coeffs)
        x = np.linspace(0.0, 4.0 * self.stages, 200_001)
        unstable = np.abs(poly(-x)) > 1.0 + 1e-12
        first = int(np.argmax(unstable)) if unstable.any() else len(x) - 1
        lo, hi = x[max(first - 1, 0)], x[first]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if abs(poly(-mid)) <= 1.0 else (lo, mid)
        return float(lo)

    @functools.lru_cache(maxsize=16)  # noqa: B019 - a handful of (dtype, device) pairs per tableau
    def on(self, dtype: torch.dtype, device: torch.device) -> Tableau:
        """The same tableau cast like torchdiffeq casts it for a state of ``dtype`` on ``device``."""
        return Tableau(
            self.method,
            self.order,
            self.alpha.to(device=device, dtype=dtype),
            tuple(b.to(device=device, dtype=dtype) for b in self.beta),
            self.c_sol.to(device=device, dtype=dtype),
            self.c_error.to(device=device, dtype=dtype),
        )


@functools.cache
def tableau(method: str) -> Tableau:
    """The tableau of torchdiffeq's adaptive method ``method`` (one of :data:`ADAPTIVE_METHODS`)."""
    if method not in ADAPTIVE_METHODS:
        raise InputError(f"method: '{method}' has no embedded error estimate; expected one of {ADAPTIVE_METHODS}")
    cls = _TORCHDIFFEQ_SOLVERS[method]
    t = cls.tableau
    return Tableau(method, int(cls.order), t.alpha, tuple(t.beta), t.c_sol, t.c_error)
