"""Exact primitive domains: Interval, TimeDomain, Rectangle, Box (axis-aligned boxes) and Disk."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from . import _rfunctions as rf
from .boundary import Boundary, BoundaryUnion, Circle, Facets
from .domain import Domain, finite_scalar, finite_vector

_FACE_NAMES = {
    1: ("left", "right"),
    2: ("left", "right", "bottom", "top"),
    3: ("left", "right", "front", "back", "bottom", "top"),
}


class AxisBox(Domain):
    """The box [lo, hi] in R^dim (dim 1, 2 or 3). Faces in the order (x-, x+, y-, y+, z-, z+)."""

    _face_names = _FACE_NAMES

    def __init__(self, lo, hi, dim: int):
        lo, hi = finite_vector(lo, dim, "lo"), finite_vector(hi, dim, "hi")
        if not np.all(lo < hi):
            raise InputError(f"hi: expected hi > lo in every coordinate, got lo={tuple(lo.tolist())}, "
                             f"hi={tuple(hi.tolist())}")
        self._set(dim=dim, lo=lo, hi=hi, _unit_dim=dim)

    @property
    def bounds(self):
        return self.lo.copy(), self.hi.copy()

    @property
    def volume(self) -> float:
        return float(np.prod(self.hi - self.lo))

    def _propose(self, u):
        return (self.lo + u * (self.hi - self.lo),), None

    def _contains(self, x, tol):
        return np.all((x >= self.lo - tol) & (x <= self.hi + tol), axis=1)

    def _distance(self, x: torch.Tensor) -> torch.Tensor:
        phi = rf.interval(x[:, 0], float(self.lo[0]), float(self.hi[0]))
        for i in range(1, self.dim):
            phi = rf.r_and(phi, rf.interval(x[:, i], float(self.lo[i]), float(self.hi[i])))
        return phi

    def _make_boundary(self) -> Boundary:
        names = self._face_names[self.dim]
        faces = [Facets(names[2 * axis + side], *self._face(axis, side))
                 for axis in range(self.dim) for side in (0, 1)]
        return BoundaryUnion("boundary", faces, {f.name: f for f in faces})

    def _face(self, axis: int, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Simplices (m, dim, dim) and normals (m, dim) of the face x[axis] = lo or hi."""
        others = [i for i in range(self.dim) if i != axis]
        # corners of the face, listed around it: 1, 2 or 4 of them
        corner_2d = {0: [()], 1: [(0,), (1,)], 2: [(0, 0), (1, 0), (1, 1), (0, 1)]}[len(others)]
        corners = np.empty((len(corner_2d), self.dim))
        corners[:, axis] = (self.lo, self.hi)[side][axis]
        for c, pattern in enumerate(corner_2d):
            for j, which in zip(others, pattern):
                corners[c, j] = (self.lo, self.hi)[which][j]
        simplices = corners[None] if len(corners) <= 2 else corners[[[0, 1, 2], [0, 2, 3]]]
        normal = np.zeros(self.dim)
        normal[axis] = 1.0 if side else -1.0
        return simplices, np.tile(normal, (len(simplices), 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({tuple(self.lo.tolist())}, {tuple(self.hi.tolist())})"


class Interval(AxisBox):
    """[a, b] in R^1; boundary parts "left" (x = a) and "right" (x = b)."""

    def __init__(self, a, b):
        a, b = finite_scalar(a, "a"), finite_scalar(b, "b")
        if not a < b:
            raise InputError(f"b: expected b > a, got a={a}, b={b}")
        super().__init__([a], [b], 1)
        self._set(a=a, b=b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.a}, {self.b})"


class TimeDomain(Interval):
    """[t0, t1]; boundary parts "initial" and "final". ``TimeDomain(t0, t1) * space`` -> SpaceTime.

    (``space * TimeDomain(...)`` raises InputError: write time first, columns are (t, x1, ..., xd).)
    """

    _face_names = {1: ("initial", "final")}

    def __init__(self, t0, t1):
        t0, t1 = finite_scalar(t0, "t0"), finite_scalar(t1, "t1")
        if not t0 < t1:
            raise InputError(f"t1: expected t1 > t0, got t0={t0}, t1={t1}")
        super().__init__(t0, t1)
        self._set(t0=t0, t1=t1)

    def __mul__(self, space):
        from .spacetime import SpaceTime

        return SpaceTime(self, space) if isinstance(space, Domain) else NotImplemented


class Rectangle(AxisBox):
    """[lo0, hi0] x [lo1, hi1]; parts "left", "right", "bottom", "top" (x-min, x-max, y-min, y-max)."""

    def __init__(self, lo, hi):
        super().__init__(lo, hi, 2)


class Box(AxisBox):
    """[lo, hi] in R^3; parts "left", "right", "front", "back", "bottom", "top" (x-, x+, y-, y+, z-, z+)."""

    def __init__(self, lo, hi):
        super().__init__(lo, hi, 3)


class Disk(Domain):
    """The closed disk |x - center| <= radius in R^2; boundary part "circle"."""

    def __init__(self, center, radius):
        center, radius = finite_vector(center, 2, "center"), finite_scalar(radius, "radius")
        if radius <= 0:
            raise InputError(f"radius: expected a positive number, got {radius}")
        self._set(dim=2, center=center, radius=radius, _unit_dim=2)

    @property
    def bounds(self):
        return self.center - self.radius, self.center + self.radius

    @property
    def volume(self) -> float:
        return math.pi * self.radius**2

    def _propose(self, u):
        r = self.radius * np.sqrt(u[:, 0])  # area-preserving polar map
        theta = 2 * math.pi * u[:, 1]
        return (self.center + r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]),), None

    def _contains(self, x, tol):
        return np.linalg.norm(x - self.center, axis=1) <= self.radius + tol

    def _distance(self, x):
        c = torch.tensor(self.center.tolist(), dtype=x.dtype, device=x.device)
        return (self.radius**2 - ((x - c) ** 2).sum(1)) / (2 * self.radius)

    def _make_boundary(self) -> Boundary:
        circle = Circle("circle", self.center, self.radius)
        return BoundaryUnion("boundary", [circle], {"circle": circle})

    def __repr__(self) -> str:
        return f"Disk({tuple(self.center.tolist())}, {self.radius})"

