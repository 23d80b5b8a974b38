"""Neural ODE block on torchdiffeq that returns solver statistics for ERNODE/SRNODE.

How the statistics are collected (reference §3, method 1: public callbacks + recorded stages).
The user's function is wrapped in a :class:`~sciml.ode.recorder.StageRecorder` that torchdiffeq calls
for every stage and that receives torchdiffeq's public step callbacks (``callback_step``,
``callback_accept_step``, ``callback_reject_step``, torchdiffeq ≥ 0.2.4). On each accepted step it
stacks the stages it saw, applies the method's embedded-error weights and the solver's norm and
tolerances, and adds r_j·|dt_j| to R_E — the same tensors as inside the solver, so the sum is
differentiable by direct backpropagation and costs no extra function evaluation. Chosen over
wrapping the private ``_runge_kutta_step`` (method 2) because it replaces no torchdiffeq code: the
only private access is read-only, the Butcher coefficients (``SOLVERS[method].tableau``), so the
recorded ratio is bit-identical to the solver's (tested on every step of every adaptive method).
Pinned range: torchdiffeq 0.2.4–0.2.5.

With ``adjoint=True`` (``odeint_adjoint``) the forward solve runs without autograd, so the per-step
terms carry no graph; instead the local regulariser of Pal, Edelman & Rackauckas (ICML 2023) is used:
sample t_reg ~ U[t0, t_end], add it to the output times (so z(t_reg) gets adjoint gradients), and take
one embedded step of the same method from z(t_reg) with the step size the solver used there, outside
the solver with autograd. ``stats.local`` is then True and ``stats.nfe_extra`` counts its s evaluations.
``local=True`` uses the same one-step estimate with direct backpropagation (an extra output time does
not change torchdiffeq's steps, so the solve and its NFE are those of the global mode).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from ..errors import InputError
from .estimates import embedded_step, rms_norm, tolerance
from .recorder import FixedStepCounter, StageRecorder
from .stats import SolverStats
from .tableau import ADAPTIVE_METHODS, FIXED_METHODS, tableau


class NeuralODE(nn.Module):
    """dy/dt = func(t, y) solved by torchdiffeq; ``node(y0, t) -> (y, stats)``.

    Args:
        func: ``func(t, y)`` with t a 0-dim tensor and y of the state's shape; returns dy/dt of that shape.
            Must be an ``nn.Module`` when ``adjoint=True`` (its parameters get the adjoint gradients).
        method: a torchdiffeq method; adaptive ones (dopri5, dopri8, bosh3, fehlberg2, adaptive_heun)
            give error and stiffness statistics, fixed-grid ones (euler, rk4, ...) only NFE.
        rtol, atol: tolerances (torchdiffeq's defaults).
        adjoint: use ``odeint_adjoint`` (O(1) memory) with the local one-step regulariser.
        local: the local one-step regulariser also with direct backpropagation (implied by ``adjoint``;
            adaptive methods only).
        options, adjoint_options: passed to torchdiffeq (e.g. ``{"first_step": 0.1}``).

    Shapes: y0 (*S) → y (len(t), *S).
    """

    def __init__(
        self,
        func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        method: str = "dopri5",
        rtol: float = 1e-7,
        atol: float = 1e-9,
        adjoint: bool = False,
        options: dict | None = None,
        adjoint_options: dict | None = None,
        local: bool = False,
    ):
        super().__init__()
        if not callable(func):
            raise InputError(f"func: expected a callable func(t, y), got {type(func).__name__}")
        if method not in ADAPTIVE_METHODS + FIXED_METHODS:
            raise InputError(
                f"method: unknown '{method}'; expected one of {', '.join(ADAPTIVE_METHODS + FIXED_METHODS)}"
            )
        if adjoint and not isinstance(func, nn.Module):
            raise InputError("func: adjoint=True needs an nn.Module (its parameters receive the adjoint gradients)")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            if not torch.all(torch.as_tensor(tol) >= 0):
                raise InputError(f"{name}: expected a non-negative tolerance, got {tol}")
        self.func = func
        self.method = method
        self.rtol, self.atol = rtol, atol
        self.adjoint = adjoint
        self.local = bool(local) or adjoint
        self.options = dict(options or {})
        self.adjoint_options = dict(adjoint_options or {})
        adaptive = method in ADAPTIVE_METHODS
        self.tableau = tableau(method) if adaptive else None
        self.recorder = StageRecorder(func, self.tableau) if adaptive else FixedStepCounter(func)

    @property
    def nfe_backward(self) -> int:
        """Function evaluations of the last adjoint backward solve (0 with direct backpropagation)."""
        return self.recorder.nfe_backward

    def forward(self, y0: torch.Tensor, t) -> tuple[torch.Tensor, SolverStats]:
        y0, t = _checked_inputs(y0, t)
        norm = self.options.get("norm", rms_norm)
        if isinstance(self.recorder, StageRecorder):
            self.recorder.reset(y0.shape, self.rtol, self.atol, norm)
        else:
            self.recorder.reset(y0.shape)
        kwargs = dict(rtol=self.rtol, atol=self.atol, method=self.method, options=self.options)
        if self.adjoint:
            solve = lambda times: odeint_adjoint(
                self.recorder, y0, times, adjoint_options=self.adjoint_options, **kwargs
            )
        else:
            solve = lambda times: odeint(self.recorder, y0, times, **kwargs)
        t_reg = _sample_between(t) if self.local and self.tableau is not None else None
        t_solve = t if t_reg is None else torch.sort(torch.cat([t, t_reg.view(1)])).values
        try:
            y = solve(t_solve)
        finally:
            self.recorder.finish()
        if t_reg is None:
            return y, self._global_stats()
        keep = t_solve != t_reg
        return y[keep], self._local_stats(y[~keep][0], t_reg, norm)

    def _global_stats(self) -> SolverStats:
        rec = self.recorder
        accepted = sum(s.accepted for s in rec.steps)
        adaptive = isinstance(rec, StageRecorder)
        zero = torch.zeros(())
        return SolverStats(
            method=self.method,
            nfe=rec.nfe,
            accepted=accepted,
            rejected=len(rec.steps) - accepted,
            error=(zero if rec.error is None else rec.error) if adaptive else None,
            stiffness=(torch.stack(rec.stiffness).max() if rec.stiffness else zero) if adaptive else None,
            stiffness_sum=(zero if rec.stiffness_sum is None else rec.stiffness_sum) if adaptive else None,
            steps=tuple(rec.steps),
        )

    def _local_stats(self, z: torch.Tensor, t_reg: torch.Tensor, norm) -> SolverStats:
        rec = self.recorder
        accepted = [s for s in rec.steps if s.accepted]
        dt = next((s.dt for s in accepted if s.t <= float(t_reg) < s.t + s.dt), accepted[-1].dt)
        dt = torch.tensor(dt, dtype=torch.float64, device=z.device)
        ratio, eig = embedded_step(
            self.func, t_reg, z, dt, self.tableau, tolerance(self.rtol, z), tolerance(self.atol, z), norm
        )
        adt = dt.to(ratio.dtype)
        eig = eig / self.tableau.stability_radius
        return SolverStats(
            method=self.method,
            nfe=rec.nfe,
            accepted=len(accepted),
            rejected=len(rec.steps) - len(accepted),
            error=ratio * adt,
            stiffness=eig,
            stiffness_sum=eig * adt,
            local=True,
            t_reg=float(t_reg),
            nfe_extra=self.tableau.stages,
            steps=tuple(rec.steps),
        )


def _checked_inputs(y0, t) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(y0, torch.Tensor) or not torch.is_floating_point(y0):
        raise InputError(f"y0: expected a floating-point tensor, got {type(y0).__name__}")
    if not isinstance(t, torch.Tensor):
        try:
            t = torch.as_tensor(t, dtype=y0.dtype, device=y0.device)
        except (TypeError, ValueError):
            raise InputError(f"t: expected a 1-D sequence of times, got {type(t).__name__}") from None
    if t.ndim != 1 or t.numel() < 2 or not torch.is_floating_point(t):
        raise InputError(f"t: expected a 1-D floating tensor of at least 2 times, got shape {tuple(t.shape)}")
    if not bool((t[1:] > t[:-1]).all()):
        raise InputError("t: expected strictly increasing time points")
    if not bool(torch.isfinite(y0).all()):
        raise InputError("y0: contains NaN or inf")
    return y0, t.to(y0.device)


def _sample_between(t: torch.Tensor) -> torch.Tensor:
    """t_reg ~ U(t0, t_end), not equal to any output time (torch's global RNG)."""
    while True:
        t_reg = t[0] + (t[-1] - t[0]) * torch.rand((), dtype=t.dtype, device=t.device)
        if bool((t != t_reg).all()):
            return t_reg
