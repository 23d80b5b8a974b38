"""1-D heat equation ``u_t = κ u_xx`` on [0, L] with ``u(0) = u(L) = 0``: exact series and Crank–Nicolson."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.special import roots_legendre

from sciml.errors import check

from ._common import Trajectory, as_array, as_count, as_positive_scalar, output_times, time_levels
from .fd import laplacian

__all__ = ["heat_crank_nicolson", "heat_exact"]


def heat_exact(u0, x, t, kappa: float = 1.0, length: float = 1.0, n_modes: int = 64,
               n_quad: int | None = None) -> np.ndarray:
    """Truncated sine-series solution ``u = Σ_{m≤M} b_m exp(−κ(mπ/L)² t) sin(mπx/L)``.

    ``u0``: callable on [0, L] (vectorised); ``x``: (nx,) points in [0, L]; ``t``: (nt,) times >= 0;
    ``b_m = (2/L)∫ u0 sin(mπx/L) dx`` by Gauss–Legendre with ``n_quad`` (default 4M + 64) nodes.
    Exact up to the truncation ``M = n_modes`` (b_m = O(m⁻³) for smooth u0 vanishing at both
    ends; the factor exp(−κ(Mπ/L)² t) kills the tail for t > 0). Returns (nt, nx).
    """
    check(callable(u0), "u0: expected a callable u0(x) on [0, L]")
    kappa, length = as_positive_scalar("kappa", kappa), as_positive_scalar("length", length)
    n_modes = as_count("n_modes", n_modes)
    x = as_array("x", np.atleast_1d(x), ndim=1)
    t = output_times("t", t)
    nodes, weights = roots_legendre(n_quad or 4 * n_modes + 64)
    xq = 0.5 * length * (nodes + 1.0)
    m = np.arange(1, n_modes + 1)
    values = as_array("u0(x)", u0(xq), ndim=1)
    coeffs = (np.sin(np.outer(m, xq) * np.pi / length) @ (weights * values))  # (2/L)·(L/2)·Σ w u0 sin
    decay = np.exp(-kappa * np.outer(t, (m * np.pi / length) ** 2))
    return (decay * coeffs) @ np.sin(np.outer(m, x) * np.pi / length)


def heat_crank_nicolson(u0, n: int, t_end: float, n_steps: int, t_eval=None, kappa: float = 1.0,
                        length: float = 1.0) -> Trajectory:
    """Crank–Nicolson with the 3-point Laplacian on ``n`` intervals (``n+1`` nodes, h = L/n).

    ``u0``: callable or (n+1,) node values (boundary values replaced by 0); uniform steps
    ``dt = t_end/n_steps``; ``t_eval``: output times on the step grid (default ``[0, t_end]``).
    ``(I + dt/2·κA) u^{k+1} = (I − dt/2·κA) u^k`` with A the SPD matrix of −∂xx: second order in
    dt and h, A-stable (not L-stable: rough data gives slowly damped oscillations).
    Returns ``Trajectory(t (nt,), x (n+1,), u (nt, n+1))``.
    """
    n = as_count("n", n, minimum=2)
    kappa, length = as_positive_scalar("kappa", kappa), as_positive_scalar("length", length)
    x = np.linspace(0.0, length, n + 1)
    u = as_array("u0", u0(x) if callable(u0) else u0, ndim=1)
    check(u.shape == x.shape, f"u0: expected {n + 1} node values, got {u.shape}")
    dt, save_steps, t_eval = time_levels(t_end, n_steps, t_eval)
    A = kappa * laplacian((n - 1,), length / n)
    eye = sp.identity(n - 1, format="csr")
    implicit = spla.splu((eye + 0.5 * dt * A).tocsc())
    explicit = (eye - 0.5 * dt * A).tocsr()
    v = u[1:-1].copy()
    out = np.zeros((len(t_eval), n + 1))
    for step in range(int(save_steps[-1]) + 1):
        out[save_steps == step, 1:-1] = v
        if step < save_steps[-1]:
            v = implicit.solve(explicit @ v)
    return Trajectory(t_eval, x, out)
