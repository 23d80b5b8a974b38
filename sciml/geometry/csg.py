"""Constructive solid geometry: Union, Intersection, Difference of domains of the same dimension.

Interior points: rejection from the bounding box (vectorised). Volume: QMC estimate (2^16 scrambled
Sobol' points with a fixed seed). Boundary: the operands' boundary points that lie on the result's
boundary (for A - B, the points of dB inside A with flipped normals), by rejection from the operands'
boundaries, so pieces come in exact proportion to their measure; measures are fixed-seed QMC estimates.
A boundary point x with outward normal n (of the result) is kept when x - d n is in the result and
x + d n is not (d = 1e-9 x bounding-box diameter); where the operands' boundaries overlap, the copy
from the first operand is kept. Named parts: the operands' surviving parts; names present in both
are prefixed "a." (first operand) and "b." (second). Distance: R0 conjunction / disjunction.
"""

from __future__ import annotations

import abc
import functools

import numpy as np

from ..errors import InputError
from . import _rfunctions as rf
from ._sampling import UnitStream
from .boundary import Boundary, BoundaryUnion, Filtered
from .domain import Domain

_VOLUME_POINTS = 2**16
_VOLUME_SEED = 20240611
_OFFSET = 1e-9  # normal offset of the boundary side tests, relative to the bounding-box diameter


class CSG(Domain):
    """Base of the set operations on two domains ``a`` and ``b``."""

    _flip_b = False  # whether b's boundary normals point out of the result reversed (Difference)

    def __init__(self, a: Domain, b: Domain):
        name = type(self).__name__
        if not isinstance(a, Domain) or not isinstance(b, Domain):
            raise InputError(f"{name}: expected two domains, got {type(a).__name__} and {type(b).__name__}")
        if a.dim != b.dim:
            raise InputError(f"{name}: operands have different dimensions {a.dim} and {b.dim}")
        self._set(a=a, b=b, dim=a.dim, _unit_dim=a.dim)
        lo, hi = self._box()
        if not np.all(lo < hi):
            raise InputError(f"{name}: the result is empty (bounding boxes do not overlap)")
        self._set(_lo=lo, _hi=hi)
        stream = UnitStream(self.dim, np.random.default_rng(_VOLUME_SEED), "sobol")
        _, inside = self._propose(stream.draw(_VOLUME_POINTS))
        self._set(_volume=self._proposal_measure * float(np.mean(inside)))

    @abc.abstractmethod
    def _box(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box of the result from the operands' boxes."""

    @abc.abstractmethod
    def _b_copy_survives(self, x: np.ndarray, outside: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """For b's boundary points x, with x + d n (outside) and x - d n (inside): not already a's."""

    @property
    def bounds(self):
        return self._lo.copy(), self._hi.copy()

    @property
    def volume(self) -> float:
        return self._volume

    @property
    def _proposal_measure(self) -> float:
        return float(np.prod(self._hi - self._lo))

    def _propose(self, u):
        x = self._lo + u * (self._hi - self._lo)
        return (x,), self._contains(x, self._tol)

    def _keep(self, x: np.ndarray, n: np.ndarray, from_b: bool) -> np.ndarray:
        """Which operand boundary points x (normals n, oriented for the result) are on its boundary."""
        step = _OFFSET * float(np.linalg.norm(self._hi - self._lo))
        outside, inside = x + step * n, x - step * n
        keep = self._contains(inside, self._tol) & ~self._contains(outside, self._tol)
        return keep & self._b_copy_survives(x, outside, inside) if from_b else keep

    def _make_boundary(self) -> Boundary:
        keep_a = functools.partial(self._keep, from_b=False)  # picklable, unlike closures
        keep_b = functools.partial(self._keep, from_b=True)

        whole = [Filtered("a", self.a.boundary, keep_a), Filtered("b", self.b.boundary, keep_b, self._flip_b)]
        parts_a = {k: Filtered(k, p, keep_a) for k, p in self.a.boundary.parts.items()}
        parts_b = {k: Filtered(k, p, keep_b, self._flip_b) for k, p in self.b.boundary.parts.items()}
        parts_a = {k: p for k, p in parts_a.items() if p.measure > 0}
        parts_b = {k: p for k, p in parts_b.items() if p.measure > 0}
        both = parts_a.keys() & parts_b.keys()
        parts = {("a." if k in both else "") + k: p for k, p in parts_a.items()}
        parts.update({("b." if k in both else "") + k: p for k, p in parts_b.items()})
        parts = {k: p.renamed(k) if k != p.name else p for k, p in parts.items()}
        return BoundaryUnion("boundary", [w for w in whole if w.measure > 0] or whole, parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"


class Union(CSG):
    """a | b: points in either domain."""

    def _box(self):
        (la, ha), (lb, hb) = self.a.bounds, self.b.bounds
        return np.minimum(la, lb), np.maximum(ha, hb)

    def _contains(self, x, tol):
        return self.a._contains(x, tol) | self.b._contains(x, tol)

    def _distance(self, x):
        return rf.r_or(self.a._distance(x), self.b._distance(x))

    def _b_copy_survives(self, x, outside, inside):
        return ~self.a._contains(inside, self._tol)


class Intersection(CSG):
    """a & b: points in both domains."""

    def _box(self):
        (la, ha), (lb, hb) = self.a.bounds, self.b.bounds
        return np.maximum(la, lb), np.minimum(ha, hb)

    def _contains(self, x, tol):
        return self.a._contains(x, tol) & self.b._contains(x, tol)

    def _distance(self, x):
        return rf.r_and(self.a._distance(x), self.b._distance(x))

    def _b_copy_survives(self, x, outside, inside):
        return self.a._contains(outside, self._tol)


class Difference(CSG):
    """a - b: the closure of the points of a not in b; b's boundary inside a has flipped normals."""

    _flip_b = True

    def _box(self):
        return self.a.bounds

    def _contains(self, x, tol):
        return self.a._contains(x, tol) & ~self.b._contains(x, -tol)

    def _distance(self, x):
        return rf.r_and(self.a._distance(x), -self.b._distance(x))

    def _b_copy_survives(self, x, outside, inside):
        return self.a._contains(outside, self._tol)
