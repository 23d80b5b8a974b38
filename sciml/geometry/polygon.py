"""Simple polygons: exact uniform sampling by ear-clipping triangulation, R-function distance."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from . import _rfunctions as rf
from ._simplex import nearest_simplex, sample_simplices, simplex_measures
from .boundary import Boundary, BoundaryUnion, Facets
from .domain import Domain


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z-component of (a - o) x (b - o)."""
    a, b = a - o, b - o
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _self_intersects(v: np.ndarray) -> bool:
    """Whether two non-adjacent edges of the closed polygon v (k, 2) touch or cross."""
    k = len(v)
    a, b = v, np.roll(v, -1, axis=0)
    i, j = np.triu_indices(k, 1)
    adjacent = (j == i + 1) | ((i == 0) & (j == k - 1))
    i, j = i[~adjacent], j[~adjacent]
    p, q, r, s = a[i], b[i], a[j], b[j]
    d1, d2, d3, d4 = _cross(r, s, p), _cross(r, s, q), _cross(p, q, r), _cross(p, q, s)
    proper = (d1 * d2 < 0) & (d3 * d4 < 0)

    def on(o, e, x, d):  # x collinear with segment o-e and within its box
        return (d == 0) & (np.minimum(o, e) <= x).all(-1) & (x <= np.maximum(o, e)).all(-1)

    touching = on(r, s, p, d1) | on(r, s, q, d2) | on(p, q, r, d3) | on(p, q, s, d4)
    return bool(np.any(proper | touching))


def ear_clip(v: np.ndarray) -> np.ndarray:
    """Triangulate a simple counter-clockwise polygon v (k, 2): (k-2 or fewer, 3) vertex indices.

    Collinear vertices are dropped without a (zero-area) triangle.
    """
    scale = float(np.ptp(v, axis=0).max()) ** 2
    remaining = list(range(len(v)))
    triangles = []
    while len(remaining) > 3:
        for pos, i in enumerate(remaining):
            prev, nxt = remaining[pos - 1], remaining[(pos + 1) % len(remaining)]
            turn = _cross(v[prev], v[i], v[nxt])
            if abs(turn) <= 1e-14 * scale:  # straight vertex: remove it
                break
            if turn < 0:  # reflex
                continue
            others = np.array([j for j in remaining if j not in (prev, i, nxt)], dtype=int)
            p = v[others]
            inside = ((_cross(v[prev], v[i], p) >= 0) & (_cross(v[i], v[nxt], p) >= 0)
                      & (_cross(v[nxt], v[prev], p) >= 0))
            if not inside.any():
                triangles.append((prev, i, nxt))
                break
        else:  # pragma: no cover - cannot happen for a simple polygon (two-ears theorem)
            raise InputError("vertices: polygon could not be triangulated (is it simple?)")
        remaining.pop(pos)
    if abs(_cross(*v[remaining])) > 1e-14 * scale:
        triangles.append(tuple(remaining))
    return np.array(triangles, dtype=np.int64)


class Polygon(Domain):
    """A simple polygon in R^2 with vertices (k, 2) in either orientation.

    Boundary parts "edge0" .. "edge{k-1}", edge i from vertex i to vertex i+1 (mod k). Interior
    sampling is exact: a triangle of the ear-clipping triangulation by area, then uniform in it.
    """

    def __init__(self, vertices):
        try:
            v = np.asarray(vertices, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"vertices: expected a (k, 2) array of numbers, got {vertices!r}") from None
        if v.ndim != 2 or v.shape[1] != 2:
            raise InputError(f"vertices: expected shape (k, 2), got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise InputError("vertices: expected finite numbers")
        if len(v) > 3 and np.array_equal(v[0], v[-1]):  # closed ring given: drop the repeated vertex
            v = v[:-1]
        if len(v) < 3:
            raise InputError(f"vertices: a polygon needs at least 3 vertices, got {len(v)}")
        edges = np.roll(v, -1, axis=0) - v
        if np.any(np.all(edges == 0, axis=1)):
            raise InputError("vertices: two consecutive vertices coincide")
        if _self_intersects(v):
            raise InputError("vertices: the polygon is not simple (two edges cross or touch)")
        signed_area = 0.5 * float(np.sum(_cross(np.zeros(2), v, np.roll(v, -1, axis=0))))
        if abs(signed_area) <= 1e-14 * float(np.ptp(v, axis=0).max()) ** 2:
            raise InputError("vertices: the polygon has zero area")
        ccw = signed_area > 0
        order = np.arange(len(v)) if ccw else np.arange(len(v))[::-1]
        triangles = order[ear_clip(v[order])]
        normals = np.column_stack([edges[:, 1], -edges[:, 0]]) / np.linalg.norm(edges, axis=1)[:, None]
        self._set(dim=2, vertices=v, _area=abs(signed_area), _triangles=v[triangles],
                  _triangle_areas=simplex_measures(v[triangles]), _normals=normals if ccw else -normals,
                  _unit_dim=2)

    @property
    def bounds(self):
        return self.vertices.min(0), self.vertices.max(0)

    @property
    def volume(self) -> float:
        return self._area

    @property
    def _edges(self) -> np.ndarray:
        """(k, 2, 2) segments vertex i -> vertex i+1."""
        return np.stack([self.vertices, np.roll(self.vertices, -1, axis=0)], axis=1)

    def _propose(self, u):
        points, _ = sample_simplices(self._triangles, self._triangle_areas, u)
        return (points,), None

    def _contains(self, x, tol):
        a, b = self.vertices, np.roll(self.vertices, -1, axis=0)
        inside = np.zeros(len(x), bool)
        for (xa, ya), (xb, yb) in zip(a, b):  # crossing number, vectorised over points
            crosses = (ya > x[:, 1]) != (yb > x[:, 1])
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cut = xa + (x[:, 1] - ya) * (xb - xa) / (yb - ya)
            inside ^= crosses & (x[:, 0] < x_cut)
        if tol == 0:
            return inside
        near = nearest_simplex(self._edges, x)[0] <= abs(tol)
        return inside | near if tol > 0 else inside & ~near

    def _distance(self, x):
        edges = torch.as_tensor(self._edges, dtype=x.dtype, device=x.device)
        phi = rf.r_equivalence(rf.segments(x, edges[:, 0], edges[:, 1]))
        inside = torch.as_tensor(self._contains(x.detach().cpu().double().numpy(), 0.0), device=x.device)
        return torch.where(inside, phi, -phi)

    def _make_boundary(self) -> Boundary:
        edges = [Facets(f"edge{i}", self._edges[i:i + 1], self._normals[i:i + 1])
                 for i in range(len(self.vertices))]
        return BoundaryUnion("boundary", edges, {e.name: e for e in edges})

    def __repr__(self) -> str:
        return f"Polygon({self.vertices.tolist()})"
