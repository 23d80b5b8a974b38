"""Boundary and initial conditions: Dirichlet, Neumann, Robin, Periodic, Initial, Observations.

A condition knows where it holds (a boundary part, the initial slice, point pairs) and its
residual. Soft conditions (the default) add ``weight · mean(residual²)`` to the loss; a hard
Dirichlet or Initial condition is built into the model instead through the distance-function
ansatz u = g + φ·N (Lagaris et al. 1998; Sukumar & Srivastava 2022), see :func:`constrain`.

A *value* is a number or a callable of the points ``x`` (m, d) returning (m, k) or (m,).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import ops
from .errors import InputError

Value = float | int | Callable[[torch.Tensor], torch.Tensor]


def evaluate_value(value: Value, x: torch.Tensor, k: int, what: str) -> torch.Tensor:
    """Evaluate a condition value at points x (m, d) as an (m, k) tensor; checks shape and NaN."""
    if callable(value):
        g = value(x)
        if not isinstance(g, torch.Tensor):
            g = torch.as_tensor(np.asarray(g), dtype=x.dtype, device=x.device)
        g = g.to(dtype=x.dtype, device=x.device)
        if g.ndim == 1:
            g = g[:, None]
        if g.ndim != 2 or g.shape[0] != x.shape[0] or g.shape[1] not in (1, k):
            raise InputError(f"{what}: value returned shape {tuple(g.shape)}, expected ({x.shape[0]}, {k}) or "
                             f"({x.shape[0]},)")
    else:
        try:
            g = torch.full((x.shape[0], 1), float(value), dtype=x.dtype, device=x.device)
        except (TypeError, ValueError):
            raise InputError(f"{what}: value must be a number or a callable of the points, "
                             f"got {type(value).__name__}") from None
    if not bool(torch.isfinite(g).all()):
        raise InputError(f"{what}: value is NaN or infinite at some points")
    return g


def _select(u: torch.Tensor, component: int | None) -> torch.Tensor:
    return u if component is None else u[:, component : component + 1]


@dataclass(frozen=True, eq=False)
class Condition(abc.ABC):
    """Base class. ``n`` overrides fit's number of points for this condition."""

    weight: float = field(default=1.0, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    n: int | None = field(default=None, kw_only=True)

    kind = "condition"
    hard = False
    #: highest derivative order the residual takes; > 0 lets fit evaluate it with forward jets
    derivative_order = 0

    def default_name(self) -> str:
        part = getattr(self, "part", None)
        return f"{self.kind}_{part.name}" if part is not None and getattr(part, "name", None) else self.kind

    @abc.abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Points (float64, CPU) where the condition is imposed."""

    @abc.abstractmethod
    def residual(self, model: Callable, batch: dict[str, torch.Tensor], k: int) -> torch.Tensor:
        """(m, k') residual whose mean square is the loss term."""


def _check_part(part, what: str):
    if not hasattr(part, "sample"):
        raise InputError(f"{what}: expected a boundary part such as domain.boundary or "
                         f"domain.boundary['left'], got {type(part).__name__}")


@dataclass(frozen=True, eq=False)
class Dirichlet(Condition):
    """u = value on ``part``. ``hard=True`` builds it into the model (whole boundary of a shape)."""

    part: object
    value: Value = 0.0
    component: int | None = None
    hard: bool = False
    kind = "dirichlet"

    def __post_init__(self):
        _check_part(self.part, "Dirichlet part")

    def sample(self, n, rng):
        x, _ = self.part.sample(n, rng)
        return {"x": x}

    def residual(self, model, batch, k):
        x = batch["x"]
        u = _select(model(x), self.component)
        return u - evaluate_value(self.value, x, u.shape[1], f"Dirichlet '{self.name}'")


@dataclass(frozen=True, eq=False)
class Neumann(Condition):
    """∂u/∂n = value on ``part`` (outward normal)."""

    part: object
    value: Value = 0.0
    component: int | None = None
    kind = "neumann"
    derivative_order = 1

    def __post_init__(self):
        _check_part(self.part, "Neumann part")

    def sample(self, n, rng):
        x, normals = self.part.sample(n, rng)
        return {"x": x, "normals": normals}

    def residual(self, model, batch, k):
        x = batch["x"]
        u = _select(model(x), self.component)
        dudn = _normal_derivative(u, x, batch["normals"])
        return dudn - evaluate_value(self.value, x, u.shape[1], f"Neumann '{self.name}'")


def _normal_derivative(u: torch.Tensor, x: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    jac = ops.grad(u, x)
    jac = jac[:, None] if u.shape[1] == 1 else jac  # (m, k, d)
    return (jac * normals[:, None, :]).sum(-1)


@dataclass(frozen=True, eq=False)
class Robin(Condition):
    """alpha·u + beta·∂u/∂n = value on ``part``."""

    part: object
    alpha: float = 1.0
    beta: float = 1.0
    value: Value = 0.0
    component: int | None = None
    kind = "robin"

    @property
    def derivative_order(self):
        return int(self.beta != 0)

    def __post_init__(self):
        _check_part(self.part, "Robin part")

    def sample(self, n, rng):
        x, normals = self.part.sample(n, rng)
        return {"x": x, "normals": normals}

    def residual(self, model, batch, k):
        x = batch["x"]
        u = _select(model(x), self.component)
        r = self.alpha * u + self.beta * _normal_derivative(u, x, batch["normals"])
        return r - evaluate_value(self.value, x, u.shape[1], f"Robin '{self.name}'")


@dataclass(frozen=True, eq=False)
class Periodic(Condition):
    """u(lo) = u(hi) along input column ``axis`` of a box-like domain (and ``derivatives`` orders
    of ∂/∂x_axis), on points paired across the two opposite faces."""

    domain: object
    axis: int
    derivatives: int = 0
    component: int | None = None
    kind = "periodic"

    @property
    def derivative_order(self):
        return self.derivatives

    def __post_init__(self):
        dim = getattr(self.domain, "dim", None)
        if dim is None:
            raise InputError(f"Periodic domain: expected a domain, got {type(self.domain).__name__}")
        if not (isinstance(self.axis, int) and 0 <= self.axis < dim):
            raise InputError(f"Periodic axis: expected an input column in 0..{dim - 1}, got {self.axis!r}")

    def default_name(self):
        return f"periodic_{self.axis}"

    def sample(self, n, rng):
        lo, hi = self.domain.bounds
        x = self.domain.sample(n, rng).clone()
        x2 = x.clone()
        x[:, self.axis] = float(lo[self.axis])
        x2[:, self.axis] = float(hi[self.axis])
        return {"x": x, "x2": x2}

    def residual(self, model, batch, k):
        x, x2 = batch["x"], batch["x2"]
        u, u2 = _select(model(x), self.component), _select(model(x2), self.component)
        out = [u - u2]
        for order in range(1, self.derivatives + 1):
            axes = (self.axis,) * order
            out.append(ops.partial(u, x, *axes) - ops.partial(u2, x2, *axes))
        return torch.cat(out, 1)


@dataclass(frozen=True, eq=False)
class Initial(Condition):
    """u(t0, x) = value (``derivative=1``: ∂u/∂t(t0, x) = value) on a space-time domain.

    ``hard=True`` (with derivative 0) builds it into the model as u = g + (t − t0)·N.
    """

    domain: object
    value: Value = 0.0
    derivative: int = 0
    component: int | None = None
    hard: bool = False
    kind = "initial"

    @property
    def derivative_order(self):
        return self.derivative

    def __post_init__(self):
        if not hasattr(self.domain, "initial"):
            raise InputError("Initial domain: expected a space-time domain, e.g. sm.TimeDomain(0, 1) * space")
        if self.derivative not in (0, 1):
            raise InputError(f"Initial derivative: expected 0 or 1, got {self.derivative!r}")
        if self.hard and self.derivative:
            raise InputError("Initial hard: only a value condition (derivative=0) can be hard")

    def default_name(self):
        return "initial" if self.derivative == 0 else "initial_dt"

    def sample(self, n, rng):
        x, _ = self.domain.initial.sample(n, rng)
        return {"x": x}

    def residual(self, model, batch, k):
        x = batch["x"]
        u = _select(model(x), self.component)
        if self.derivative:
            u = ops.partial(u, x, 0)
        return u - evaluate_value(self.value, x, u.shape[1], f"Initial '{self.name}'")


@dataclass(frozen=True, eq=False)
class Observations(Condition):
    """u(points) = values at fixed measured points (data, inverse problems)."""

    points: torch.Tensor
    values: torch.Tensor
    component: int | None = None
    kind = "observations"

    def __post_init__(self):
        p, v = torch.as_tensor(self.points), torch.as_tensor(self.values)
        if p.ndim != 2 or v.shape[0] != p.shape[0]:
            raise InputError(f"Observations: points (m, d) and values (m, k) disagree: {tuple(p.shape)} vs "
                             f"{tuple(v.shape)}")
        if not (torch.isfinite(p).all() and torch.isfinite(v).all()):
            raise InputError("Observations: points or values contain NaN or Inf")

    def sample(self, n, rng):
        v = torch.as_tensor(self.values, dtype=torch.float64)
        return {"x": torch.as_tensor(self.points, dtype=torch.float64), "u": v[:, None] if v.ndim == 1 else v}

    def residual(self, model, batch, k):
        return _select(model(batch["x"]), self.component) - batch["u"]


# ----------------------------------------------------------------------------------------------
# Hard constraints


class HardConstraint(nn.Module):
    """u(x) = g(x) + φ(x)·net(x): satisfies u = g where the distance φ vanishes.

    ``net`` is the user's model (kept as ``.net``); φ is the domain's approximate distance
    function for a hard Dirichlet condition, or t − t0 for a hard initial condition.
    """

    def __init__(self, net: nn.Module, condition: Dirichlet | Initial, domain):
        super().__init__()
        self.net = net
        self.condition = condition
        self.domain = domain

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.condition, Initial):
            t0 = float(self.domain.bounds[0][0])
            return x[:, :1] - t0
        return self.domain.distance(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net(x)
        g = evaluate_value(self.condition.value, x, n.shape[1], f"hard {self.condition.kind}")
        phi = self.distance(x)
        u = g + phi * n
        jet = ops.attached_jet(n, x)
        if jet is not None:  # the network pushed derivatives forward: product rule, no nested backward
            g1, g2 = ops.autograd_jet(g, x)
            p1, p2 = ops.autograd_jet(phi, x)
            d1 = g1 + p1 * n[..., None] + phi[..., None] * jet.d1
            if jet.d2 is not None:
                d2 = g2 + p2 * n[..., None] + 2 * p1 * jet.d1 + phi[..., None] * jet.d2
                ops.attach_jet(u, x, d1, d2)
            elif jet.lap is not None:  # trace: Δ(g + φn) = Δg + nΔφ + 2∇φ·∇n + φΔn over lap_dims
                dims = list(jet.lap_dims)
                lap = ((g2 + p2 * n[..., None] + 2 * p1 * jet.d1)[..., dims].sum(-1) + phi * jet.lap)
                ops.attach_jet(u, x, d1, None, lap, jet.lap_dims)
            else:
                ops.attach_jet(u, x, d1, None, None, ())
        return u


def constrain(model: nn.Module, domain, conditions) -> tuple[nn.Module, list[Condition]]:
    """Wrap ``model`` for the hard conditions; return it with the remaining (soft) conditions."""
    hard = [c for c in conditions if c.hard]
    if not hard:
        return model, list(conditions)
    if len(hard) > 1:
        raise InputError("conditions: at most one hard condition is supported (a hard Dirichlet or a hard Initial)")
    (c,) = hard
    if isinstance(c, Dirichlet):
        whole = getattr(domain, "boundary", None)
        if c.part is not whole and getattr(c.part, "name", None) != getattr(whole, "name", object()):
            raise InputError("Dirichlet hard: a hard condition must hold on the whole boundary (domain.boundary)")
        if c.component is not None:
            raise InputError("Dirichlet hard: component selection is not supported for hard conditions")
    return HardConstraint(model, c, domain), [x for x in conditions if not x.hard]
