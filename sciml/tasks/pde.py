"""Physics-informed training target: collocation points, residual and condition loss terms."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import ops
from ..conditions import constrain
from ..errors import InputError
from ..problem import Problem
from ..sampling import ResidualAdaptiveSampling
from .base import Context, Task

SAMPLING = ("uniform", "sobol")


def mean_square(residual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Default equation loss: mean of the squared residual."""
    return residual.pow(2).mean()


class PDETask(Task):
    """Train a model on a :class:`~sciml.Problem`'s residuals and conditions.

    points : interior collocation points; boundary_points : points per soft condition (default
    points // 4, or the condition's own ``n``); sampling : "uniform", "sobol" (a fresh
    scrambled net each draw) or :class:`~sciml.ResidualAdaptiveSampling` (interior points drawn
    where the current residual is large, from the second draw on); resample_every : draw new
    points every k steps (None: never);
    derivatives : "auto"/"forward" use the model's forward jets where it has them, "autograd"
    never; equation_loss : callable (residual (N, m), x (N, d)) -> scalar replacing the mean
    square (e.g. causal weighting); test_points : held-out points for ``rel_l2``.
    """

    default_optimizer = "adam+lbfgs"

    def __init__(self, problem: Problem, *, points: int = 2048, boundary_points: int | None = None,
                 sampling: str = "uniform", resample_every: int | None = None, derivatives: str = "auto",
                 equation_loss: Callable | None = None, test_points: int = 4096):
        if not isinstance(problem, Problem):
            raise InputError(f"problem: expected an sm.Problem, got {type(problem).__name__}")
        for name, v in (("points", points), ("test_points", test_points)):
            if not (isinstance(v, int) and v >= 1):
                raise InputError(f"{name}: expected a positive integer, got {v!r}")
        if boundary_points is not None and not (isinstance(boundary_points, int) and boundary_points >= 1):
            raise InputError(f"boundary_points: expected a positive integer, got {boundary_points!r}")
        if not (isinstance(sampling, ResidualAdaptiveSampling) or sampling in SAMPLING):
            raise InputError(f"sampling: expected one of {', '.join(SAMPLING)} or an "
                             f"sm.ResidualAdaptiveSampling, got {sampling!r}")
        if resample_every is not None and not (isinstance(resample_every, int) and resample_every >= 1):
            raise InputError(f"resample_every: expected a positive integer or None, got {resample_every!r}")
        if isinstance(sampling, ResidualAdaptiveSampling) and resample_every is None:
            raise InputError("resample_every: residual-adaptive sampling acts when the points are redrawn; "
                             "give resample_every (e.g. 100), else the points stay the first uniform draw")
        if (isinstance(sampling, ResidualAdaptiveSampling) and sampling.loss_weights
                and not hasattr(equation_loss, "point_weights")):
            raise InputError("sampling: ResidualAdaptiveSampling(loss_weights=True) needs an equation_loss "
                             "that weighs points, such as sm.CausalWeighting(...)")
        if derivatives not in ("auto", "forward", "autograd"):
            raise InputError(f"derivatives: expected 'auto', 'forward' or 'autograd', got {derivatives!r}")
        self.problem = problem
        self.points, self.resample_every = points, resample_every
        self.adaptive = sampling if isinstance(sampling, ResidualAdaptiveSampling) else None
        self.sampling = self.adaptive.base if self.adaptive else sampling
        self.boundary_points = boundary_points or max(1, points // 4)
        self.use_jets = derivatives != "autograd"
        self.equation_loss = equation_loss or mean_square
        self.test_points = test_points

    # -- setup and data ------------------------------------------------------------------------

    def setup(self, model: nn.Module, ctx: Context) -> nn.Module:
        self.ctx = ctx
        self.rng = np.random.default_rng([ctx.seed, ctx.rank])
        names = dict(zip(self.problem.conditions, self.problem.condition_names))
        trained, soft = constrain(model, self.problem.domain, self.problem.conditions)
        self.model = trained  # adaptive sampling evaluates its residual
        self.conditions = [(names[c], c) for c in soft]
        self.output_dim = self.problem.output_dim
        self._sample()
        self.second = self._probe_second_derivatives(trained) if self.use_jets else None
        test = self.problem.test_data(self.test_points)
        self.test = None if test is None else tuple(t.to(ctx.device, ctx.dtype) for t in test)
        return trained

    def _probe_second_derivatives(self, model: nn.Module) -> tuple[int, ...] | None:
        """Which second derivatives the equations take, from one evaluation on a few points.

        One Laplacian (over all dims or a subset, e.g. u_xx of a space–time problem) or none at
        all lets jet models carry 1 + d + 1 (or 1 + d) streams instead of 1 + 2d. None: the
        whole diagonal. The choice only affects speed: anything else falls back to autograd.
        """
        x = self.x[:4].detach().requires_grad_(True)
        with ops.forward_derivatives(True), ops.record_second_derivatives() as seen:
            u = model(x)
            try:
                for eq in self.problem.equations.values():
                    eq(u, x)
            except (RuntimeError, ValueError, IndexError, TypeError):
                # e.g. a residual tied to the full point count: keep the diagonal; a real error
                # in the equation is reported by the first training evaluation, with its message
                return None
        return (() if not seen else next(iter(seen))) if len(seen) <= 1 else None

    def _to(self, t: torch.Tensor, grad: bool) -> torch.Tensor:
        t = t.detach().to(self.ctx.device, self.ctx.dtype)  # never mark the caller's tensor
        return t.requires_grad_(True) if grad else t

    def _sample(self, adaptive: bool = False) -> None:
        if adaptive:
            pool = self.problem.domain.sample(self.adaptive.pool * self.points, self.rng, method=self.sampling)
            eps = self.residual_norm(pool)
            if self.adaptive.loss_weights:  # ε·√w: the residual as the loss weighs it
                w = self.equation_loss.point_weights(torch.from_numpy(eps), pool.double())
                eps = eps * np.sqrt(w.numpy())
            x = pool[torch.from_numpy(self.adaptive.select(eps, self.points, self.rng))]
        else:
            x = self.problem.domain.sample(self.points, self.rng, method=self.sampling)
        self.x = self._to(x, True)
        self.batches = {}
        for name, c in self.conditions:
            batch = c.sample(c.n or self.boundary_points, self.rng)
            self.batches[name] = {k: self._to(v, k.startswith("x")) for k, v in batch.items()}

    def step_end(self, step: int) -> None:
        if self.resample_every and (step + 1) % self.resample_every == 0:
            self._sample(adaptive=self.adaptive is not None)

    def residual_norm(self, x: torch.Tensor) -> np.ndarray:
        """(M,) NumPy: ε(x) = (Σ_equations Σ_components r²)^½ of the current model at points x (M, d),
        evaluated in chunks of ``points``."""
        out = []
        with torch.enable_grad():
            for i in range(0, x.shape[0], self.points):
                xc = self._to(x[i : i + self.points], True)
                with ops.forward_derivatives(self.use_jets, second=self.second):
                    u = self.model(xc)
                sq = sum(self._residual(name, eq, u, xc).detach().pow(2).sum(1)
                         for name, eq in self.problem.equations.items())
                out.append(sq.sqrt().double().cpu())
        return torch.cat(out).numpy()

    def _residual(self, name: str, eq, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Equation ``name``'s residual at x as (N, m), its shape checked."""
        r = eq(u, x)
        if not isinstance(r, torch.Tensor):
            raise InputError(f"equation '{name}': must return a tensor, got {type(r).__name__}")
        r = r[:, None] if r.ndim == 1 else r
        if r.ndim != 2 or r.shape[0] != x.shape[0]:
            raise InputError(f"equation '{name}': residual has shape {tuple(r.shape)}, expected "
                             f"({x.shape[0]},) or ({x.shape[0]}, m) like the points")
        return r

    # -- losses and metrics --------------------------------------------------------------------

    def loss_terms(self, model: nn.Module) -> dict[str, torch.Tensor]:
        with ops.forward_derivatives(self.use_jets, second=self.second):
            u = model(self.x)
        terms = {}
        for name, eq in self.problem.equations.items():
            terms[name] = self.equation_loss(self._residual(name, eq, u, self.x), self.x)
        for name, c in self.conditions:  # derivatives of the solution on the boundary from jets, too
            with ops.forward_derivatives(self.use_jets and c.derivative_order > 0):
                terms[name] = c.residual(model, self.batches[name], self.output_dim).pow(2).mean()
        return terms

    def reference_terms(self) -> list[str]:
        return list(self.problem.equations)

    def default_weights(self) -> dict[str, float]:
        return {name: float(c.weight) for name, c in self.conditions}

    @torch.no_grad()
    def predict(self, model: nn.Module, x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        x = x.to(self.ctx.device, self.ctx.dtype)
        return torch.cat([model(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.test is None:
            return {}
        x, u_true = self.test
        err = self.predict(model, x) - u_true
        return {"rel_l2": float(err.norm() / u_true.norm()), "max_abs": float(err.abs().max())}

    # -- resume --------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "rng": self.rng.bit_generator.state,
            "x": self.x.detach().cpu(),
            "batches": {n: {k: v.detach().cpu() for k, v in b.items()} for n, b in self.batches.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.x = self._to(state["x"], True)
        self.batches = {n: {k: self._to(v, k.startswith("x")) for k, v in b.items()}
                        for n, b in state["batches"].items()}
