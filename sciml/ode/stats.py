"""The one solver-statistics object returned by :class:`sciml.ode.NeuralODE`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class Step(NamedTuple):
    """One attempted step of the adaptive solver (plain floats, detached).

    ``ratio`` is the RMS-normed error ratio r = ‖dt Σ c_error_i k_i / (atol + rtol max(|y0|, |y1|))‖
    that the solver compares with 1; ``stiffness`` is Shampine's raw eigenvalue estimate |λ̂| (1/time,
    not normalised; NaN on rejected steps).
    """

    t: float
    dt: float
    ratio: float
    accepted: bool
    stiffness: float


@dataclass(frozen=True)
class SolverStats:
    """Statistics of one forward solve.

    Attributes:
        method: torchdiffeq method name.
        nfe: function evaluations of the forward solve (f(t0, y0), the initial-step probe and every
            stage); with ``adjoint=True`` the backward count is ``NeuralODE.nfe_backward``.
        accepted, rejected: step counts (fixed-grid methods: all steps accepted).
        error: R_E = Σ_j r_j |dt_j| over accepted steps (ERNODE, Pal et al. 2021), a differentiable
            0-dim tensor; ``None`` for methods without an error estimate. With ``local=True`` it is
            the one-step estimate r(t_reg) |dt(t_reg)| (Pal et al. 2023).
        stiffness: max_j |λ̂_j| / ρ over accepted steps (SRNODE, reference-code aggregation): Shampine's
            estimate |λ̂| = RMS(k_s − k_{s−1}) / RMS(g_s − g_{s−1}) from the last two stages of the step
            (both at t + dt for dopri5/dopri8), divided by the method's real stability radius ρ
            (dopri5 3.3066). 0/0 counts as 0. Differentiable; ``None`` without an error estimate.
        stiffness_sum: R_S = Σ_j |λ̂_j| / ρ · |dt_j| (the paper's definition).
        local: True when the regularisation terms come from one sampled step outside the solver
            (adjoint mode) rather than from every accepted step.
        t_reg: the sampled time of the local step (``None`` unless ``local``).
        nfe_extra: evaluations spent on the local step (0 unless ``local``).
        steps: every attempted step in order, see :class:`Step`.
    """

    method: str
    nfe: int
    accepted: int
    rejected: int
    error: torch.Tensor | None
    stiffness: torch.Tensor | None
    stiffness_sum: torch.Tensor | None
    local: bool = False
    t_reg: float | None = None
    nfe_extra: int = 0
    steps: tuple[Step, ...] = ()

    @property
    def error_mean(self) -> torch.Tensor | None:
        """Mean of r_j |dt_j| over accepted steps (reference-code aggregation; the local estimate as is)."""
        if self.error is None:
            return None
        return self.error if self.local else self.error / max(self.accepted, 1)

    def summary(self) -> dict:
        """Plain-number summary for logs and JSON."""
        num = lambda x: None if x is None else float(x)
        return {
            "method": self.method,
            "nfe": self.nfe,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "error": num(self.error),
            "stiffness": num(self.stiffness),
            "local": self.local,
        }


def split_output(out) -> tuple[torch.Tensor, SolverStats | None]:
    """(prediction, solver stats or None) of a model output ``pred`` or ``(pred, stats)``."""
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], SolverStats):
        return out[0], out[1]
    return out, None
