"""Space-time cylinders [t0, t1] x space with columns (t, x1, ..., xd), time first."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .boundary import Boundary, Lifted, TimeSlice
from .domain import Domain
from .primitives import TimeDomain


class SpaceTime(Domain):
    """``TimeDomain(t0, t1) * space``: points (t, x1, ..., xd), dim = 1 + space.dim.

    ``boundary`` is the lateral boundary [t0, t1] x d(space) with the space parts' names and normals
    (0, n_space); ``initial`` / ``final`` are the slices t = t0 / t = t1 with normals (-1, 0, ...) /
    (1, 0, ...). ``distance`` is the space distance (the time column is ignored).
    """

    def __init__(self, time: TimeDomain, space: Domain):
        if not isinstance(time, TimeDomain):
            raise InputError(f"time: expected a TimeDomain, got {type(time).__name__}")
        if not isinstance(space, Domain) or isinstance(space, (TimeDomain, SpaceTime)):
            raise InputError(f"space: expected a spatial Domain, got {type(space).__name__}")
        self._set(time=time, space=space, dim=1 + space.dim, _unit_dim=1 + space._unit_dim,
                  initial=TimeSlice("initial", time.t0, -1.0, space),
                  final=TimeSlice("final", time.t1, 1.0, space))

    @property
    def bounds(self):
        (t0,), (t1,) = self.time.bounds
        lo, hi = self.space.bounds
        return np.concatenate([[t0], lo]), np.concatenate([[t1], hi])

    @property
    def volume(self) -> float:
        return (self.time.t1 - self.time.t0) * self.space.volume

    @property
    def _proposal_measure(self) -> float:
        return (self.time.t1 - self.time.t0) * self.space._proposal_measure

    def _propose(self, u):
        t = self.time.t0 + (self.time.t1 - self.time.t0) * u[:, :1]
        (x,), keep = self.space._propose(u[:, 1:])
        return (np.hstack([t, x]),), keep

    def _contains(self, x, tol):
        return self.time._contains(x[:, :1], tol) & self.space._contains(x[:, 1:], tol)

    def _distance(self, x):
        return self.space._distance(x[:, 1:])

    def _make_boundary(self) -> Boundary:
        return Lifted(self.time.t0, self.time.t1, self.space.boundary)

    def __repr__(self) -> str:
        return f"{self.time!r} * {self.space!r}"
