"""Record the stages torchdiffeq computes, through its public callback API.

:class:`StageRecorder` is the ``func`` handed to ``odeint``. It forwards every call to the user's
function, counts it, checks the output shape and keeps the (input, output) of each stage. torchdiffeq
(≥ 0.2.4) calls, for every adaptive RK method, in this order:

1. ``f(t0, y0)`` once, then the initial-step probe (unless ``first_step`` is given);
2. per attempted step: ``callback_step(t0, y0, dt)``, the s − 1 new stages, then
   ``callback_accept_step`` or ``callback_reject_step`` with the dt actually taken;
3. after an accepted step on a ``jump_t`` point, one more ``f(t1, y1)`` that becomes the next k_1.

The next step's k_1 is the last stage of the accepted step (torchdiffeq reuses it even for
non-FSAL tableaus). On acceptance the recorder rebuilds the error estimate and error ratio from the
stages with torchdiffeq's expressions (:func:`sciml.ode.estimates.step_estimates`) — the tensors are
the solver's own, so R_E = Σ r_j |dt_j| carries the solver's autograd graph at zero extra NFE.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import InputError
from .estimates import Norm, step_estimates, tolerance
from .stats import Step
from .tableau import Tableau


class EvaluationCounter(nn.Module):
    """Wraps ``func(t, y)``: counts calls (forward solve / adjoint backward) and checks shapes."""

    def __init__(self, func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.func = func
        self.reset(None)

    def reset(self, state_shape: torch.Size | None) -> None:
        self.state_shape = state_shape
        self.nfe = 0
        self.nfe_backward = 0
        self.solving = True
        self.steps: list[Step] = []

    def finish(self) -> None:
        """Mark the forward solve done: later calls are counted as backward evaluations."""
        self.solving = False

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f = self.func(t, y)
        if not isinstance(f, torch.Tensor) or f.shape != y.shape:
            got = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
            raise InputError(f"func: returned {got} for a state of shape {tuple(y.shape)}; expected the same shape")
        if self.solving:
            self.nfe += 1
            self._record(t, y, f)
        else:
            self.nfe_backward += 1
        return f

    def _record(self, t: torch.Tensor, y: torch.Tensor, f: torch.Tensor) -> None:
        pass


class FixedStepCounter(EvaluationCounter):
    """Counter for fixed-grid methods: every step is accepted, there is no error estimate."""

    def callback_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        self.steps.append(Step(_num(t0), _num(dt), float("nan"), True, float("nan")))


class StageRecorder(EvaluationCounter):
    """Counter that also rebuilds each step's error ratio and stiffness estimate from its stages."""

    def __init__(self, func: Callable, tableau: Tableau):
        super().__init__(func)
        self.tableau = tableau

    def reset(self, state_shape: torch.Size | None, rtol=None, atol=None, norm: Norm | None = None) -> None:
        super().reset(state_shape)
        self.rtol, self.atol, self.norm = rtol, atol, norm
        self.phase = "init"  # init → step ↔ between
        # the state k_1 = f0 was evaluated at (not y0 for non-FSAL tableaus)
        self.g0: torch.Tensor | None = None
        self.f0: torch.Tensor | None = None
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.error: torch.Tensor | None = None
        self.stiffness: list[torch.Tensor] = []
        self.stiffness_sum: torch.Tensor | None = None

    def _record(self, t: torch.Tensor, y: torch.Tensor, f: torch.Tensor) -> None:
        if self.phase == "step":
            self.inputs.append(y)
            self.outputs.append(f)
        elif self.phase == "between" or self.f0 is None:  # jump_t re-evaluation, or the very first f(t0, y0)
            self.g0, self.f0 = y, f

    def callback_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        self.phase = "step"
        self.inputs, self.outputs = [], []

    def _estimates(self, y0: torch.Tensor, dt: torch.Tensor, accepted: bool):
        if len(self.outputs) != self.tableau.stages - 1:
            raise RuntimeError(
                f"sciml.ode: recorded {len(self.outputs)} stages for {self.tableau.method}, expected "
                f"{self.tableau.stages - 1}; this torchdiffeq version calls func in an unexpected order"
            )
        rtol = tolerance(self.rtol, y0)
        atol = tolerance(self.atol, y0)
        return step_estimates(
            self.tableau,
            y0,
            dt,
            [self.g0, *self.inputs],
            [self.f0, *self.outputs],
            rtol,
            atol,
            self.norm,
            accepted,
        )

    def callback_accept_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        ratio, eig = self._estimates(y0, dt, accepted=True)
        adt = dt.to(ratio.dtype).abs()
        eig = eig / self.tableau.stability_radius
        self.error = ratio * adt if self.error is None else self.error + ratio * adt
        self.stiffness_sum = eig * adt if self.stiffness_sum is None else self.stiffness_sum + eig * adt
        self.stiffness.append(eig)
        self.steps.append(Step(_num(t0), _num(dt), _num(ratio), True, _num(eig) * self.tableau.stability_radius))
        self.g0, self.f0 = self.inputs[-1], self.outputs[-1]
        self.phase = "between"

    def callback_reject_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        ratio, _ = self._estimates(y0, dt, accepted=False)
        self.steps.append(Step(_num(t0), _num(dt), _num(ratio), False, float("nan")))
        self.phase = "between"

    def finish(self) -> None:
        super().finish()
        self.inputs, self.outputs, self.g0, self.f0 = [], [], None, None


def _num(x: torch.Tensor) -> float:
    return float(x.detach())
