"""The Domain base class: sampling, membership, boundary, distance function, grids and CSG operators."""

from __future__ import annotations

import abc
import functools
import numbers

import numpy as np
import torch

from ..errors import InputError
from ._frozen import Frozen
from ._sampling import Sampleable, as_tensor, to_numpy_points
from .boundary import Boundary

REL_TOL = 1e-10  # membership tolerance relative to the bounding-box diameter (closed sets)


class Domain(Frozen, Sampleable, abc.ABC):
    """A closed set in R^dim. Immutable.

    ``dim``; ``bounds`` = (lo, hi) of the bounding box, each (dim,); ``volume`` (length/area/volume);
    ``contains(x)``; ``sample(n, rng, method)`` -> (n, dim) float64 tensor; ``boundary``;
    ``distance(x)`` -> (n, 1); ``grid(n)``; ``a | b``, ``a & b``, ``a - b`` build CSG domains.
    """

    dim: int

    @property
    @abc.abstractmethod
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of the bounding box, each a (dim,) float64 array."""

    @property
    @abc.abstractmethod
    def volume(self) -> float:
        """Length / area / volume."""

    @abc.abstractmethod
    def _contains(self, x: np.ndarray, tol: float) -> np.ndarray:
        """(n,) bool: x (n, dim) lies in the set grown by ``tol`` (shrunk when tol < 0)."""

    @abc.abstractmethod
    def _distance(self, x: torch.Tensor) -> torch.Tensor:
        """(n,) signed approximate distance: > 0 inside, 0 on the boundary, < 0 outside."""

    @abc.abstractmethod
    def _make_boundary(self) -> Boundary:
        """The whole boundary with its named parts."""

    # ---- public API ----
    def contains(self, x) -> np.ndarray:
        """(n,) bool: which of the points x ((n, dim) array or tensor) lie in the closed domain."""
        return self._contains(to_numpy_points(x, self.dim), self._tol)

    def sample(self, n: int, rng=None, method: str = "uniform") -> torch.Tensor:
        """n points uniformly distributed in the domain: (n, dim) float64 tensor.

        ``rng``: int seed, numpy Generator or None; ``method``: "uniform" or "sobol" (scrambled
        Sobol' with a seed drawn from rng, so an advancing rng gives new points each call).
        """
        (points,) = self._draw(n, rng, method)
        return as_tensor(points)

    @functools.cached_property
    def boundary(self) -> Boundary:
        """The whole boundary; ``boundary["name"]`` is a named part."""
        return self._make_boundary()

    def distance(self, x) -> torch.Tensor:
        """(n, 1) smooth approximate distance: exactly 0 on the boundary, > 0 inside (< 0 outside).

        Differentiable (twice) by torch autograd; for hard Dirichlet conditions u = g + distance * N.
        """
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InputError(f"x: expected points of shape (n, {self.dim}), got {tuple(x.shape)}")
        return self._distance(x).reshape(-1, 1)

    def grid(self, n) -> torch.Tensor:
        """Points of the regular grid of the bounding box ('ij' order) that lie in the domain: (N, dim).

        ``n``: points per axis, an int or a tuple of dim ints (each >= 2).
        """
        counts = (n,) * self.dim if isinstance(n, numbers.Integral) else tuple(n)
        if len(counts) != self.dim or not all(isinstance(c, numbers.Integral) and c >= 2 for c in counts):
            raise InputError(f"n: expected an int >= 2 or a tuple of {self.dim} such ints, got {n!r}")
        lo, hi = self.bounds
        axes = [np.linspace(lo[i], hi[i], counts[i]) for i in range(self.dim)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.dim)
        return as_tensor(points[self.contains(points)])

    # ---- CSG and products ----
    def __or__(self, other):
        from .csg import Union

        return Union(self, other) if isinstance(other, Domain) else NotImplemented

    def __and__(self, other):
        from .csg import Intersection

        return Intersection(self, other) if isinstance(other, Domain) else NotImplemented

    def __sub__(self, other):
        from .csg import Difference

        return Difference(self, other) if isinstance(other, Domain) else NotImplemented

    def __mul__(self, other):
        from .primitives import TimeDomain

        if isinstance(other, TimeDomain):
            raise InputError("write the time domain first: TimeDomain(t0, t1) * space (columns t, x1, ...)")
        return NotImplemented

    # ---- sampling protocol defaults (exact shapes) ----
    @property
    def _proposal_measure(self) -> float:
        return self.volume

    def _acceptance_rate(self) -> float:
        return self.volume / self._proposal_measure if self._proposal_measure > 0 else 1.0

    @property
    def _tol(self) -> float:
        lo, hi = self.bounds
        return REL_TOL * float(np.linalg.norm(hi - lo))

    def __repr__(self) -> str:
        lo, hi = self.bounds
        return f"{type(self).__name__}(dim={self.dim}, bounds=({lo.tolist()}, {hi.tolist()}))"


def finite_vector(value, dim: int | None, argument: str) -> np.ndarray:
    """A finite float64 vector (of length dim if given) or InputError naming the argument."""
    try:
        v = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{argument}: expected a sequence of numbers, got {value!r}") from None
    if dim is not None and v.shape != (dim,):
        raise InputError(f"{argument}: expected {dim} numbers, got {len(v)}")
    if not np.all(np.isfinite(v)):
        raise InputError(f"{argument}: expected finite numbers, got {value!r}")
    return v


def finite_scalar(value, argument: str) -> float:
    """A finite float or InputError naming the argument."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{argument}: expected a finite number, got {value!r}") from None
    if isinstance(value, bool) or not np.isfinite(v):
        raise InputError(f"{argument}: expected a finite number, got {value!r}")
    return v
