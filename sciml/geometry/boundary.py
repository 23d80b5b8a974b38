"""Boundaries: the whole boundary of a domain or a named part of it.

A :class:`Boundary` samples points uniformly by arc length / area together with outward unit
normals, knows its measure, has named sub-parts, and tests whether points lie on it. Concrete kinds:
:class:`Facets` (a union of flat simplices: interval end points, polygon and mesh edges, box faces,
mesh triangles), :class:`Circle`, :class:`BoundaryUnion` (pieces drawn in proportion to measure),
:class:`Filtered` (the part of another boundary that survives a CSG operation), :class:`Lifted`
([t0, t1] x a space boundary) and :class:`TimeSlice` ({t} x a space domain).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from ..errors import InputError
from ._frozen import Frozen, FrozenMap
from ._sampling import Sampleable, as_tensor, select_pieces, to_numpy_points
from ._simplex import nearest_simplex, sample_simplices, simplex_measures

Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (points (m, d), normals (m, d)) -> (m,) bool


class Boundary(Frozen, Sampleable, abc.ABC):
    """A part of a domain's boundary (the whole boundary or a named piece).

    Attributes: ``dim`` (ambient dimension), ``name``, ``measure`` (length / area; end points of an
    interval count 1 each), ``parts`` (named sub-parts, empty for leaves).
    """

    def __init__(self, name: str, dim: int, measure: float, parts: Mapping[str, Boundary] | None = None):
        self._set(name=str(name), dim=int(dim), measure=float(measure),
                  parts=FrozenMap(parts))

    def __getitem__(self, name: str) -> Boundary:
        """The named part ``name``; unknown names raise InputError listing the known ones."""
        if name in self.parts:
            return self.parts[name]
        known = ", ".join(repr(k) for k in self.parts) or "none"
        raise InputError(f"unknown boundary part {name!r} of {self.name!r}; known parts: {known}")

    def sample(self, n: int, rng=None, method: str = "uniform") -> tuple[torch.Tensor, torch.Tensor]:
        """n points uniform by measure and their outward unit normals: two (n, dim) float64 tensors.

        ``rng``: int seed, numpy Generator or None; ``method``: "uniform" or "sobol".
        """
        points, normals = self._draw(n, rng, method)
        return as_tensor(points), as_tensor(normals)

    def contains(self, x, tol: float = 1e-9) -> np.ndarray:
        """(n,) bool: which points x (n, dim) lie within distance ``tol`` of this part."""
        dist, _ = self._locate(to_numpy_points(x, self.dim))
        return dist <= tol

    def _acceptance_rate(self) -> float:
        return self.measure / self._proposal_measure if self._proposal_measure > 0 else 1.0

    @abc.abstractmethod
    def _locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance (n,) from x (n, dim) to this part (inf where not on it) and the outward normal (n, dim)
        of the nearest piece."""

    def __repr__(self) -> str:
        parts = f", parts={list(self.parts)}" if self.parts else ""
        return f"{type(self).__name__}({self.name!r}, dim={self.dim}, measure={self.measure:.6g}{parts})"


class Facets(Boundary):
    """A union of flat (dim-1)-simplices with outward unit normals.

    vertices (m, dim, dim): end points (dim 1: one point each, dim 2: segments, dim 3: triangles);
    normals (m, dim). Sampling picks a simplex by measure and a uniform point inside it.
    """

    def __init__(self, name: str, vertices: np.ndarray, normals: np.ndarray,
                 parts: Mapping[str, Boundary] | None = None):
        vertices = np.asarray(vertices, dtype=np.float64)
        measures = simplex_measures(vertices)
        dim = vertices.shape[2]
        super().__init__(name, dim, measures.sum(), parts)
        self._set(vertices=vertices, normals=np.asarray(normals, dtype=np.float64), _measures=measures,
                  _unit_dim=max(dim - 1, 1), _proposal_measure=float(measures.sum()))

    def _propose(self, u):
        points, idx = sample_simplices(self.vertices, self._measures, u)
        return (points, self.normals[idx]), None

    def _locate(self, x):
        dist, idx = nearest_simplex(self.vertices, x)
        return dist, self.normals[idx]


class Circle(Boundary):
    """The circle |x - center| = radius in 2-D, outward normal (x - center) / radius."""

    def __init__(self, name: str, center: np.ndarray, radius: float):
        super().__init__(name, 2, 2 * math.pi * radius)
        self._set(center=np.asarray(center, dtype=np.float64), radius=float(radius), _unit_dim=1,
                  _proposal_measure=2 * math.pi * radius)

    def _propose(self, u):
        theta = 2 * math.pi * u[:, 0]
        normals = np.column_stack([np.cos(theta), np.sin(theta)])
        return (self.center + self.radius * normals, normals), None

    def _locate(self, x):
        r = x - self.center
        norm = np.linalg.norm(r, axis=1)
        normals = r / np.where(norm > 0, norm, 1.0)[:, None]
        return np.abs(norm - self.radius), normals


class BoundaryUnion(Boundary):
    """Union of boundary pieces; a sample picks a piece in proportion to its (proposal) measure."""

    def __init__(self, name: str, pieces: Sequence[Boundary], parts: Mapping[str, Boundary] | None = None):
        pieces = tuple(pieces)
        if not pieces:
            raise InputError(f"boundary {name!r}: no pieces")
        super().__init__(name, pieces[0].dim, sum(p.measure for p in pieces), parts)
        self._set(pieces=pieces, _unit_dim=max(p._unit_dim for p in pieces),
                  _proposal_measure=float(sum(p._proposal_measure for p in pieces)))

    def _propose(self, u):
        idx, u0 = select_pieces(u[:, 0], np.array([p._proposal_measure for p in self.pieces]))
        points, normals = np.empty((len(u), self.dim)), np.empty((len(u), self.dim))
        keep = np.ones(len(u), bool)
        for i, piece in enumerate(self.pieces):
            rows = np.flatnonzero(idx == i)
            v = np.column_stack([u0[rows], u[rows, 1:piece._unit_dim]])
            (p, nrm), k = piece._propose(v)
            points[rows], normals[rows] = p, nrm
            if k is not None:
                keep[rows] = k
        return (points, normals), keep

    def _locate(self, x):
        located = [piece._locate(x) for piece in self.pieces]
        dists = np.stack([d for d, _ in located])
        best = np.argmin(dists, axis=0)
        normals = np.stack([nrm for _, nrm in located])[best, np.arange(len(x))]
        return dists[best, np.arange(len(x))], normals


class Filtered(Boundary):
    """The points of ``base`` (normals flipped if ``flip``) for which ``keep(points, normals)`` holds.

    Sampling rejects from ``base``; the measure is base's proposal measure times the accepted fraction
    of a fixed-seed Sobol' sample (deterministic).
    """

    def __init__(self, name: str, base: Boundary, keep: Keep, flip: bool = False,
                 measure: float | None = None):
        self._set(base=base, keep=keep, flip=bool(flip), _unit_dim=base._unit_dim,
                  _proposal_measure=base._proposal_measure)
        if measure is None:
            measure = base._proposal_measure * self._fixed_acceptance()
        super().__init__(name, base.dim, measure)

    def renamed(self, name: str) -> Filtered:
        """The same part under another name."""
        return Filtered(name, self.base, self.keep, self.flip, self.measure)

    def _propose(self, u):
        (points, normals), keep = self.base._propose(u)
        if self.flip:
            normals = -normals
        mine = self.keep(points, normals)
        return (points, normals), mine if keep is None else keep & mine

    def _locate(self, x):
        dist, normals = self.base._locate(x)
        if self.flip:
            normals = -normals
        return np.where(self.keep(x, normals), dist, np.inf), normals


class Lifted(Boundary):
    """[t0, t1] x ``space`` boundary in (t, x) coordinates: normals (0, n_space)."""

    def __init__(self, t0: float, t1: float, space: Boundary):
        parts = {name: Lifted(t0, t1, part) for name, part in space.parts.items()}
        super().__init__(space.name, space.dim + 1, (t1 - t0) * space.measure, parts)
        self._set(t0=float(t0), t1=float(t1), space=space, _unit_dim=1 + space._unit_dim,
                  _proposal_measure=(t1 - t0) * space._proposal_measure)

    def _propose(self, u):
        t = self.t0 + (self.t1 - self.t0) * u[:, :1]
        (points, normals), keep = self.space._propose(u[:, 1:])
        return (np.hstack([t, points]), np.hstack([np.zeros_like(t), normals])), keep

    def _locate(self, x):
        dist, normals = self.space._locate(x[:, 1:])
        outside = np.maximum(np.maximum(self.t0 - x[:, 0], x[:, 0] - self.t1), 0.0)
        return np.hypot(dist, outside), np.hstack([np.zeros((len(x), 1)), normals])

    def __getitem__(self, name: str) -> Boundary:
        if name in ("initial", "final") and name not in self.parts:
            known = ", ".join(map(repr, self.parts)) or "none"
            raise InputError(f"unknown boundary part {name!r}: the lateral boundary has parts {known}; "
                             f"use domain.{name} for the t-slice")
        return super().__getitem__(name)


class TimeSlice(Boundary):
    """{t} x ``space`` (a Domain) in (t, x) coordinates with normal (sign, 0, ..., 0)."""

    def __init__(self, name: str, t: float, sign: float, space):
        super().__init__(name, space.dim + 1, space.volume)
        self._set(t=float(t), sign=float(sign), space=space, _unit_dim=space._unit_dim,
                  _proposal_measure=space._proposal_measure)

    def _propose(self, u):
        (points,), keep = self.space._propose(u)
        t = np.full((len(points), 1), self.t)
        normals = np.zeros((len(points), self.dim))
        normals[:, 0] = self.sign
        return (np.hstack([t, points]), normals), keep

    def _locate(self, x):
        inside = self.space._contains(x[:, 1:], self.space._tol)
        normals = np.zeros_like(x)
        normals[:, 0] = self.sign
        return np.where(inside, np.abs(x[:, 0] - self.t), np.inf), normals
