"""Sets of simplices: measure-weighted uniform sampling and point-to-simplex distances (numpy)."""

from __future__ import annotations

import math

import numpy as np

from ._sampling import select_pieces

_CHUNK = 2_000_000  # max (points x simplices) pairs held at once


def simplex_measures(vertices: np.ndarray) -> np.ndarray:
    """k-dimensional measure of each simplex; vertices (m, k+1, d) -> (m,). Points count 1."""
    m, kp1, _ = vertices.shape
    k = kp1 - 1
    if k == 0:
        return np.ones(m)
    edges = vertices[:, 1:] - vertices[:, :1]  # (m, k, d)
    gram = np.einsum("mid,mjd->mij", edges, edges)
    return np.sqrt(np.clip(np.linalg.det(gram), 0.0, None)) / math.factorial(k)


def sample_simplices(vertices: np.ndarray, measures: np.ndarray, u: np.ndarray):
    """Uniform points on a union of k-simplices from unit points u (n, max(k, 1)).

    The first coordinate picks a simplex in proportion to its measure (and is reused); k sorted
    uniforms give uniform barycentric coordinates (spacings of order statistics).
    Returns (points (n, d), simplex index (n,)).
    """
    k = vertices.shape[1] - 1
    idx, u0 = select_pieces(u[:, 0], measures)
    if k == 0:
        return vertices[idx, 0].copy(), idx
    s = np.sort(np.column_stack([u0, u[:, 1:k]]), axis=1)
    lam = np.diff(np.column_stack([np.zeros(len(s)), s, np.ones(len(s))]), axis=1)  # (n, k+1)
    return np.einsum("nk,nkd->nd", lam, vertices[idx]), idx


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """p (n, 1, d), a and b (..., m, d) -> (n, m) distance to the closed segments [a, b]."""
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(p - a - t[..., None] * ab, axis=-1)


def _triangle_distance(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """p (n, 1, 3), v (m, 3, 3) -> (n, m) distance to the closed triangles."""
    a, b, c = v[:, 0], v[:, 1], v[:, 2]
    normal = np.cross(b - a, c - a)
    normal = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    height = np.sum((p - a) * normal, -1)  # (n, m)
    q = p - height[..., None] * normal  # projection onto each plane
    inside = np.ones(height.shape, bool)
    for i, j in ((0, 1), (1, 2), (2, 0)):  # same side of each edge as the normal says
        inside &= np.sum(np.cross(v[:, j] - v[:, i], q - v[:, i]) * normal, -1) >= 0
    edge = np.minimum(_segment_distance(p, a, b), _segment_distance(p, b, c))
    edge = np.minimum(edge, _segment_distance(p, c, a))
    return np.where(inside, np.abs(height), edge)


def nearest_simplex(vertices: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point x (n, d) to a union of (d-1)-simplices (m, d, d), and which is nearest.

    Supports points (d = 1), segments (d = 2) and triangles (d = 3). Returns (dist (n,), index (n,)).
    """
    n, m = len(x), len(vertices)
    k = vertices.shape[1] - 1
    dist, index = np.empty(n), np.empty(n, dtype=np.int64)
    step = max(1, _CHUNK // max(m, 1))
    for s in range(0, n, step):
        p = x[s:s + step, None, :]
        if k == 0:
            d = np.linalg.norm(p - vertices[None, :, 0], axis=-1)
        elif k == 1:
            d = _segment_distance(p, vertices[:, 0], vertices[:, 1])
        else:
            d = _triangle_distance(p, vertices)
        index[s:s + step] = np.argmin(d, axis=1)
        dist[s:s + step] = d[np.arange(len(d)), index[s:s + step]]
    return dist, index
