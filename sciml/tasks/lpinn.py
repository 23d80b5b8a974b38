"""Training target for :class:`sciml.nn.LPINN`: Lagrangian residuals on a fixed (t, x₀) grid.

    task = LPINNTask(problems.convection.problem(beta=50))
    result = sm.fit(sm.nn.LPINN(speed_scale=50), task, steps=5000, optimizer="adam", lr=1e-2)

Follows the reference code (Mojgani et al. 2023, rmojgani/LPINNs): full batch on a uniform grid
of ``n_x`` characteristic labels x₀ ∈ [a, a + L) × ``n_t`` times in [t0, t1]; loss terms are the
un-squared norms ‖R_x‖₂, ‖R_w‖₂, ‖w(t0, ·) − w₀‖₂ with weights 10, 1, 1000. The initial position
X(t0, x₀) = x₀ holds by construction of the model. ``evaluate`` interpolates w from the moving
positions X to the fixed Eulerian grid (periodically, per time slice) and reports the relative
L2 error (Frobenius, ``rel_l2``) and the reference code's spectral-norm ratio (``rel_spectral``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import ops
from ..conditions import Initial, evaluate_value
from ..errors import InputError
from ..nn.lpinn import LPINN, LPINN_WEIGHTS, lagrangian_form, lagrangian_residuals, lpinn_loss, to_eulerian
from ..problem import Problem, Reference
from .base import Context, Task


class LPINNTask(Task):
    """Lagrangian PINN training on a 1-D periodic transport :class:`~sciml.Problem` (see module doc).

    The problem must be named convection, convection_diffusion or burgers (its ``parameters``
    give β / ν), live on ``TimeDomain × Interval`` and carry an ``sm.Initial`` condition.
    """

    default_optimizer = "adam"

    def __init__(self, problem: Problem, *, n_x: int = 256, n_t: int = 100, label_diffusion: bool = False):
        if not isinstance(problem, Problem):
            raise InputError(f"problem: expected an sm.Problem, got {type(problem).__name__}")
        self.equation = lagrangian_form(problem)
        for name, v in (("n_x", n_x), ("n_t", n_t)):
            if not (isinstance(v, int) and v >= 2):
                raise InputError(f"{name}: expected an integer ≥ 2, got {v!r}")
        lo, hi = (np.asarray(b, dtype=float) for b in problem.domain.bounds)
        if lo.size != 2 or not hasattr(problem.domain, "initial"):
            raise InputError("problem: LPINN needs a space-time domain TimeDomain(t0, t1) * Interval(a, b)")
        initial = [c for c in problem.conditions if isinstance(c, Initial) and c.derivative == 0]
        if not initial:
            raise InputError("problem: LPINN needs an sm.Initial(domain, w0) condition")
        self.problem, self.initial = problem, initial[0]
        self.t0, self.t1, self.a, self.period = float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1] - lo[1])
        self.n_x, self.n_t, self.label_diffusion = n_x, n_t, label_diffusion

    def setup(self, model: nn.Module, ctx: Context) -> nn.Module:
        if not isinstance(model, LPINN):
            raise InputError(f"model: LPINNTask trains an sm.nn.LPINN, got {type(model).__name__}")
        if not math.isclose(model.period, self.period, rel_tol=1e-9):
            raise InputError(f"model: LPINN period {model.period:g} differs from the domain's "
                             f"{self.period:g}")
        self.ctx = ctx
        kw = dict(dtype=ctx.dtype, device=ctx.device)
        self.x_grid = self.a + self.period * torch.arange(self.n_x, **kw) / self.n_x
        self.t_grid = torch.linspace(self.t0, self.t1, self.n_t, **kw)
        tt, xx = torch.meshgrid(self.t_grid, self.x_grid, indexing="ij")
        self.points = torch.stack([tt.reshape(-1), xx.reshape(-1)], 1).requires_grad_(True)
        p0 = torch.stack([torch.full_like(self.x_grid, self.t0), self.x_grid], 1)
        self.w0 = evaluate_value(self.initial.value, p0, 1, "Initial")[:, 0]
        self.reference = self._reference()
        return model

    def _reference(self) -> torch.Tensor | None:
        sol = self.problem.solution
        if sol is None:
            return None
        pts = self.points.detach()
        if isinstance(sol, Reference):
            from scipy.interpolate import griddata

            vals = griddata(sol.points.numpy(), sol.values[:, 0].numpy(), pts.cpu().numpy(), method="linear")
            u = torch.as_tensor(vals, dtype=self.ctx.dtype, device=self.ctx.device)
        else:
            u = torch.as_tensor(sol(pts), dtype=self.ctx.dtype, device=self.ctx.device).reshape(-1)
        return u.reshape(self.n_t, self.n_x)

    def loss_terms(self, model: nn.Module) -> dict[str, torch.Tensor]:
        with ops.forward_derivatives(True):
            out = model(self.points)
        r_x, r_w = lagrangian_residuals(out, self.points, self.equation, self.label_diffusion)
        w_start = out[: self.n_x, 1]  # first time slice is t0
        return lpinn_loss(r_x, r_w, w_start - self.w0)

    def default_weights(self) -> dict[str, float]:
        return dict(LPINN_WEIGHTS)

    def reference_terms(self) -> list[str]:
        return ["characteristics", "state"]

    @torch.no_grad()
    def eulerian(self, model: nn.Module) -> torch.Tensor:
        """Predicted w on the fixed grid, (n_t, n_x)."""
        out = model(self.points.detach())
        X, w = out[:, 0].reshape(self.n_t, self.n_x), out[:, 1].reshape(self.n_t, self.n_x)
        return to_eulerian(X, w, self.x_grid, self.period, self.a)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.reference is None:
            return {}
        err = self.eulerian(model) - self.reference
        ref = self.reference
        spectral = torch.linalg.matrix_norm(err.double(), 2) / torch.linalg.matrix_norm(ref.double(), 2)
        return {"rel_l2": float(err.norm() / ref.norm()), "max_abs": float(err.abs().max()),
                "rel_spectral": float(spectral)}
