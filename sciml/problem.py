"""Problem: a PDE as data — a domain, residual callables, conditions and (optionally) a solution.

>>> domain = sm.Rectangle((-1, -1), (1, 1))
>>> problem = sm.Problem(domain, equations=lambda u, x: sm.laplacian(u, x) + 1,
...                      conditions=[sm.Dirichlet(domain.boundary, 0.0)])

An equation is a callable ``f(u, x) -> residual`` with ``u`` the model output (N, k) at points
``x`` (N, d) and a residual of shape (N, m) or (N,). ``equations`` is one callable, a list, or a
dict naming them (the names label the loss terms). The solution is a callable ``x -> u`` (N, k)
or a :class:`Reference` of points and values made by a classical solver; it is used for metrics
only, never for training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from .conditions import Condition
from .errors import InputError

Equation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

TEST_SEED = 20240607  # held-out points are the same for every run of a problem


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference solution given as data: ``points`` (M, d) and ``values`` (M, k), float64."""

    points: torch.Tensor
    values: torch.Tensor

    def __post_init__(self):
        p = torch.as_tensor(np.asarray(self.points), dtype=torch.float64)
        v = torch.as_tensor(np.asarray(self.values), dtype=torch.float64)
        v = v[:, None] if v.ndim == 1 else v
        if p.ndim != 2 or v.ndim != 2 or p.shape[0] != v.shape[0]:
            raise InputError(f"Reference: points (M, d) and values (M, k) disagree: {tuple(p.shape)} vs "
                             f"{tuple(v.shape)}")
        if not (torch.isfinite(p).all() and torch.isfinite(v).all()):
            raise InputError("Reference: points or values contain NaN or Inf")
        object.__setattr__(self, "points", p)
        object.__setattr__(self, "values", v)


class Problem:
    """A PDE problem: ``Problem(domain, equations, conditions=(), solution=None)``.

    ``parameters`` records the problem's parameters (e.g. ``{"a1": 1, "a2": 4}``) for reports;
    ``output_dim`` is the number of solution components (inferred from the solution if given).
    """

    def __init__(self, domain, equations: Equation | Sequence[Equation] | Mapping[str, Equation],
                 conditions: Sequence[Condition] = (), solution: Callable | Reference | None = None, *,
                 parameters: Mapping | None = None, name: str | None = None, output_dim: int | None = None):
        if not (hasattr(domain, "sample") and hasattr(domain, "dim")):
            raise InputError(f"domain: expected a sciml domain (Rectangle, Mesh, ...), got {type(domain).__name__}")
        self.domain = domain
        self.equations = MappingProxyType(_name_equations(equations))
        conditions = list(conditions)
        for c in conditions:
            if not isinstance(c, Condition):
                raise InputError(f"conditions: expected sciml conditions (sm.Dirichlet, ...), got "
                                 f"{type(c).__name__}")
        self.conditions = tuple(conditions)
        self.condition_names = _name_conditions(conditions, set(self.equations))
        if solution is not None and not (callable(solution) or isinstance(solution, Reference)):
            raise InputError("solution: expected a callable of the points or an sm.Reference")
        self.solution = solution
        self.parameters = MappingProxyType(dict(parameters or {}))
        self.name = name or "problem"
        self._output_dim = output_dim

    @property
    def dim(self) -> int:
        return self.domain.dim

    @property
    def output_dim(self) -> int:
        if self._output_dim is not None:
            return self._output_dim
        if isinstance(self.solution, Reference):
            return self.solution.values.shape[1]
        if callable(self.solution):
            x = self.domain.sample(2, np.random.default_rng(0))
            return self._exact(x).shape[1]
        return 1

    def _exact(self, x: torch.Tensor) -> torch.Tensor:
        u = self.solution(x)
        u = torch.as_tensor(u, dtype=x.dtype, device=x.device)
        return u[:, None] if u.ndim == 1 else u

    def test_data(self, n: int = 4096) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Held-out (points, exact values) in float64 for metrics; None without a solution."""
        if self.solution is None:
            return None
        if isinstance(self.solution, Reference):
            return self.solution.points, self.solution.values
        x = self.domain.sample(n, np.random.default_rng(TEST_SEED))
        u = self._exact(x)
        if u.shape[0] != x.shape[0] or not bool(torch.isfinite(u).all()):
            raise InputError(f"solution: must return finite values of shape ({x.shape[0]}, k); "
                             f"got {tuple(u.shape)}")
        return x, u

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return (f"Problem({self.name}{'(' + params + ')' if params else ''}: dim={self.dim}, "
                f"equations={list(self.equations)}, conditions={list(self.condition_names)})")


def _name_equations(equations) -> dict[str, Equation]:
    if callable(equations) and not isinstance(equations, Mapping):
        named = {"pde": equations}
    elif isinstance(equations, Mapping):
        named = dict(equations)
    elif isinstance(equations, Sequence) and not isinstance(equations, str):
        named = {"pde" if len(equations) == 1 else f"pde{i}": f for i, f in enumerate(equations)}
    else:
        raise InputError(f"equations: expected a callable f(u, x), a list or a dict of them, got "
                         f"{type(equations).__name__}")
    if not named:
        raise InputError("equations: at least one residual callable is needed")
    for k, f in named.items():
        if not callable(f):
            raise InputError(f"equations: '{k}' is not callable")
    return named


def _name_conditions(conditions: Sequence[Condition], taken: set[str]) -> tuple[str, ...]:
    names = []
    for c in conditions:
        base = c.name or c.default_name()
        name, i = base, 1
        while name in taken:
            i += 1
            name = f"{base}{i}"
        taken.add(name)
        names.append(name)
    return tuple(names)
