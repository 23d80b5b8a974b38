"""The one solver-statistics record returned by every solver in :mod:`sciml.linalg`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Why a solver stopped.
REASONS = ("converged", "maxiter", "indefinite", "indefinite preconditioner", "nonfinite", "stagnation")


@dataclass(frozen=True)
class SolveInfo:
    """Statistics of one linear solve.

    ``residuals``: relative residual norms ‖r_k‖/‖b‖ (absolute when b = 0), the initial one included,
    shape (iterations + 1,) for one right-hand side or (iterations + 1, k) for k columns.
    ``final_residual``: the true ‖b − Ax‖/‖b‖ recomputed at the end (max over columns).
    ``time``: solve wall time in seconds; ``setup_time``: preconditioner / hierarchy setup, if any.
    ``reason``: one of :data:`REASONS`; ``message`` says more when the solve did not converge.
    """

    iterations: int
    residuals: np.ndarray
    converged: bool
    time: float
    reason: str
    final_residual: float = float("nan")
    setup_time: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        s = (
            f"{self.reason} after {self.iterations} iterations, relative residual {self.final_residual:.3e}, "
            f"time {self.time:.3g} s"
        )
        if self.setup_time:
            s += f" (+ setup {self.setup_time:.3g} s)"
        return s + (f": {self.message}" if self.message else "")
