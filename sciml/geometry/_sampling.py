"""Random and quasi-random streams, and the one sampling loop shared by domains and boundaries.

Every sampleable object (a domain or a boundary piece) describes a *proposal*: a map from the
unit cube [0, 1)^k onto a set of known measure that preserves measure up to a constant (so uniform
points in the cube become uniform points on the set), and an *acceptance* test. Exact shapes accept
everything; CSG results propose from a bounding box (or the operands' boundaries) and reject.
Uniform (``numpy.random.Generator``) and scrambled Sobol' streams feed the same maps, so
``method="sobol"`` works for every domain and boundary, jointly in all coordinates.
"""

from __future__ import annotations

import abc
import math
import numbers
import warnings

import numpy as np
import torch

from ..errors import InputError

METHODS = ("uniform", "sobol")


def as_rng(rng) -> np.random.Generator:
    """An int seed, a ``numpy.random.Generator`` or None (fresh entropy) -> Generator."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InputError(f"rng: expected an int seed, a numpy.random.Generator or None, got {type(rng).__name__}")


def check_count(n) -> int:
    """``n`` must be a non-negative int."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise InputError(f"n: expected a non-negative int number of points, got {n!r}")
    return int(n)


def check_method(method) -> str:
    if method not in METHODS:
        raise InputError(f"method: expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
    return method


class UnitStream:
    """Points in [0, 1)^k: i.i.d. uniform, or one scrambled Sobol' sequence that later draws continue.

    The Sobol' scrambling seed is an integer drawn from ``rng``, so successive calls with an advancing
    generator give new point sets (never the same set twice), and a fixed int seed repeats.
    """

    def __init__(self, k: int, rng: np.random.Generator, method: str):
        self.k = max(int(k), 1)
        self.rng = rng
        self.sobol = None
        if method == "sobol":
            from scipy.stats import qmc  # imported here: scipy.stats takes seconds to import

            self.sobol = qmc.Sobol(self.k, scramble=True, rng=int(rng.integers(2**63 - 1)))

    def draw(self, m: int) -> np.ndarray:
        """(m, k) float64 points."""
        if self.sobol is None:
            return self.rng.random((m, self.k))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for m not a power of 2
            return self.sobol.random(m)


class Sampleable(abc.ABC):
    """Protocol of the sampling loop (mixed into Domain and Boundary).

    Subclasses define ``_unit_dim`` (k), ``_proposal_measure`` (measure of the proposal set) and
    ``_propose(u)``: a measure-preserving map of (m, k) unit points onto the proposal set, returning
    (tuple of (m, ...) arrays, (m,) bool acceptance mask or None when everything is accepted).
    Accepted proposals are then uniform on the accepted set.
    """

    _unit_dim: int
    _proposal_measure: float

    @abc.abstractmethod
    def _propose(self, u: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
        """Map (m, k) unit points onto the proposal set; also say which proposals are accepted."""

    def _acceptance_rate(self) -> float:
        """Expected accepted fraction (sizes the batches of the rejection loop)."""
        return 1.0

    def _draw(self, n: int, rng, method: str) -> tuple[np.ndarray, ...]:
        """n accepted samples (tuple of float64 arrays with n rows)."""
        n = check_count(n)
        stream = UnitStream(self._unit_dim, as_rng(rng), check_method(method))
        rate = max(self._acceptance_rate(), 1e-3)
        chunks, have, proposed = [], 0, 0
        while True:
            m = 0 if have >= n else int(math.ceil((n - have) / rate * 1.1)) + 16
            samples, keep = self._propose(stream.draw(m))
            if keep is not None:
                samples = tuple(s[keep] for s in samples)
            chunks.append(samples)
            have += len(samples[0])
            proposed += m
            if have >= n:
                break
            if have == 0 and proposed > 2_000_000:
                raise InputError(f"{type(self).__name__}: the set has (almost) zero measure; cannot sample")
        return tuple(np.concatenate([c[i] for c in chunks])[:n] for i in range(len(chunks[0])))

    def _fixed_acceptance(self, m: int = 2**14, seed: int = 20240611) -> float:
        """Accepted fraction of m fixed-seed Sobol' proposals (deterministic QMC estimate)."""
        stream = UnitStream(self._unit_dim, np.random.default_rng(seed), "sobol")
        _, keep = self._propose(stream.draw(m))
        return 1.0 if keep is None else float(np.mean(keep))


def select_pieces(u0: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick piece i with probability weights[i]/sum by the first unit coordinate, and reuse it.

    Returns (index (m,), u0 rescaled to [0, 1) inside the chosen piece's slot): uniform and
    independent of the other coordinates, so one coordinate serves both purposes.
    """
    cum = np.cumsum(weights, dtype=np.float64)
    cum = cum / cum[-1]
    idx = np.minimum(np.searchsorted(cum, u0, side="right"), len(cum) - 1)
    lo = np.where(idx > 0, cum[idx - 1], 0.0)
    width = cum[idx] - lo
    local = np.clip((u0 - lo) / np.where(width > 0, width, 1.0), 0.0, np.nextafter(1.0, 0.0))
    return idx, local


def to_numpy_points(x, dim: int, argument: str = "x") -> np.ndarray:
    """(n, dim) float64 numpy copy of an array or tensor (1-D input allowed when dim == 1)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if dim == 1 and x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != dim:
        raise InputError(f"{argument}: expected points of shape (n, {dim}), got {tuple(x.shape)}")
    return x


def as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
