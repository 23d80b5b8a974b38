"""Input checks, time grids and the result type shared by the reference solvers."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sciml.errors import InputError, check


class Trajectory(NamedTuple):
    """A time-dependent solution on a tensor grid.

    ``t``: (nt,) times; ``x``: (nx,) nodes in 1-D or a tuple of per-axis node arrays in 2-D/3-D;
    ``u``: (nt, *grid) values, ``u[i]`` at time ``t[i]``. Unpacks as ``t, x, u = trajectory``.
    """

    t: np.ndarray
    x: np.ndarray | tuple[np.ndarray, ...]
    u: np.ndarray


def as_array(name: str, value, ndim: int | tuple[int, ...] | None = None, min_size: int = 1) -> np.ndarray:
    """``value`` as a finite float64 array with ``ndim`` axes each of length >= ``min_size``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a real numeric array, got {type(value).__name__}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        check(arr.ndim in allowed,
              f"{name}: expected {' or '.join(map(str, allowed))} axes, got shape {arr.shape}")
    check(all(n >= min_size for n in arr.shape),
          f"{name}: every axis needs at least {min_size} points, got shape {arr.shape}")
    check(bool(np.all(np.isfinite(arr))), f"{name}: contains NaN or inf")
    return arr


def as_positive_field(name: str, value, ndim: int | tuple[int, ...] | None = None,
                      min_size: int = 1) -> np.ndarray:
    """A finite, strictly positive float64 array (a diffusion coefficient)."""
    arr = as_array(name, value, ndim, min_size)
    check(bool(np.all(arr > 0)), f"{name}: must be strictly positive everywhere, min is {arr.min():.3g}")
    return arr


def as_positive_scalar(name: str, value, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a real number, got {type(value).__name__}") from None
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    check(ok, f"{name}: expected a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def as_count(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    check(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum,
          f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def spacing(h, ndim: int) -> tuple[float, ...]:
    """Grid spacing ``h`` (scalar or one per axis) as a tuple of ``ndim`` positive floats."""
    hs = np.atleast_1d(np.asarray(h, dtype=np.float64)) if np.ndim(h) <= 1 else None
    check(hs is not None and hs.size in (1, ndim),
          f"h: expected a scalar or {ndim} per-axis spacings, got {h!r}")
    hs = np.broadcast_to(hs, (ndim,))
    check(bool(np.all(np.isfinite(hs)) and np.all(hs > 0)), f"h: spacings must be finite and > 0, got {h!r}")
    return tuple(float(v) for v in hs)


def time_levels(t_end, n_steps, t_eval) -> tuple[float, np.ndarray, np.ndarray]:
    """Uniform steps ``dt = t_end / n_steps`` and the step indices at which to save.

    ``t_eval`` (default ``[0, t_end]``) must be non-decreasing times in [0, t_end] that lie on the
    step grid (to 1e-9 relative). Returns ``(dt, save_steps, t_eval)``.
    """
    t_end = as_positive_scalar("t_end", t_end)
    n_steps = as_count("n_steps", n_steps)
    dt = t_end / n_steps
    t_eval = np.array([0.0, t_end]) if t_eval is None else as_array("t_eval", t_eval, ndim=1)
    check(bool(np.all(np.diff(t_eval) >= 0)) and t_eval[0] >= 0 and t_eval[-1] <= t_end * (1 + 1e-12),
          f"t_eval: expected non-decreasing times in [0, t_end={t_end}]")
    steps = np.rint(t_eval / dt).astype(np.int64)
    off = np.abs(steps * dt - t_eval)
    check(bool(np.all(off <= 1e-9 * max(t_end, 1.0))),
          f"t_eval: times must be multiples of dt = t_end/n_steps = {dt:.6g}")
    return dt, steps, t_eval


def sub_steps(t_eval: np.ndarray, dt_max: float) -> list[tuple[int, float]]:
    """For each interval between consecutive output times: (number of steps, step size <= dt_max)."""
    out = []
    for dt_interval in np.diff(t_eval):
        n = max(1, math.ceil(dt_interval / dt_max - 1e-9)) if dt_interval > 0 else 0
        out.append((n, dt_interval / n if n else 0.0))
    return out


def output_times(name: str, t) -> np.ndarray:
    """Non-decreasing, non-negative output times as a 1-D float64 array."""
    t = as_array(name, np.atleast_1d(t), ndim=1)
    check(bool(np.all(np.diff(t) >= 0)) and t[0] >= 0, f"{name}: expected non-decreasing times >= 0")
    return t
