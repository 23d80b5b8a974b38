"""Second-order finite differences on structured, vertex-centred grids.

Grid convention (used everywhere in this module)
------------------------------------------------
A grid has ``n_0 + 2`` × ``n_1 + 2`` (× ``n_2 + 2``) nodes *including* the boundary nodes; node
``(i, j)`` sits at ``(lower_0 + i h_0, lower_1 + j h_1)``. Dirichlet boundary nodes are eliminated:
the unknowns are the interior nodes ``[1:-1, 1:-1]`` numbered in row-major C order, i.e. interior
node ``(i, j)`` (0-based among interior nodes) is unknown ``i * n_1 + j`` (3-D: ``(i n_1 + j) n_2 + k``),
which is ``u_full[1:-1, 1:-1].ravel()``.

Operator: ``(−∇·(a∇u))_p = Σ_axes [a_{p−½}(u_p − u_{p−1}) − a_{p+½}(u_{p+1} − u_p)] / h²`` with face
coefficient ``a_{p±½} = (a_p + a_{p±1}) / 2`` (arithmetic mean of the two nodes, as FNO's
``solve_gwf.m``). Constant ``a`` gives the standard 5-point (7-point in 3-D) Laplacian. The matrix is
symmetric positive definite for ``a > 0``; the scheme is second order for smooth ``a`` and ``u``.
"""

from __future__ import annotations

import functools

import numpy as np
import pyamg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.errors import InputError, check

from ._common import (
    Trajectory,
    as_array,
    as_positive_field,
    as_positive_scalar,
    spacing,
    time_levels,
)

__all__ = ["apply_diffusion", "assemble_diffusion", "darcy", "laplacian", "nonlinear_diffusion",
           "solve_poisson"]

_AMG_RTOL = 1e-12


def _interior(ndim: int) -> tuple[slice, ...]:
    return (slice(1, -1),) * ndim


def _along(axis: int, ndim: int, s: slice) -> tuple[slice, ...]:
    """Index: ``s`` along ``axis``, interior (1:-1) along every other axis."""
    return tuple(s if k == axis else slice(1, -1) for k in range(ndim))


def _faces(a: np.ndarray, axis: int) -> np.ndarray:
    """Face coefficients (a_p + a_{p+1})/2 along ``axis``: n_axis + 1 faces, interior in other axes."""
    nd = a.ndim
    return 0.5 * (a[_along(axis, nd, slice(None, -1))] + a[_along(axis, nd, slice(1, None))])


def _check_coefficient(a) -> np.ndarray:
    return as_positive_field("a", a, ndim=(1, 2, 3), min_size=3)


def apply_diffusion(a, h, u) -> np.ndarray:
    """Matrix-free ``−∇·(a∇u)`` at the interior nodes.

    ``a``, ``u``: (n_0+2, …) node values including the boundary; ``h``: spacing (scalar or per axis).
    Returns the (n_0, …) interior values; equals ``assemble_diffusion(a, h) @ u[1:-1,…].ravel()``
    when ``u`` is zero on the boundary (otherwise it includes the boundary-value couplings).
    """
    a = _check_coefficient(a)
    u = as_array("u", u)
    check(u.shape == a.shape, f"u: expected shape {a.shape} (same grid as a), got {u.shape}")
    hs = spacing(h, a.ndim)
    out = np.zeros(tuple(n - 2 for n in a.shape))
    for axis in range(a.ndim):
        du = np.diff(u[_along(axis, a.ndim, slice(None))], axis=axis)
        flux = _faces(a, axis) * du / hs[axis]
        out -= np.diff(flux, axis=axis) / hs[axis]
    return out


def assemble_diffusion(a, h, bc: str = "dirichlet") -> sp.csr_matrix:
    """CSR matrix of ``−∇·(a∇u)`` on the interior nodes, Dirichlet nodes eliminated.

    ``a``: (n_0+2, n_1+2[, n_2+2]) coefficient at every node including the boundary (1-D also
    accepted), strictly positive; ``h``: grid spacing, scalar or one per axis. Returns the
    (N, N) SPD matrix, N = n_0 n_1 [n_2], unknowns in row-major C order over the interior nodes
    (see the module docstring). 5-point (2-D) / 7-point (3-D) stencil, face coefficient = mean of
    the two nodes; second order.
    """
    check(bc == "dirichlet", f"bc: only 'dirichlet' (eliminated boundary nodes) is supported, got {bc!r}")
    a = _check_coefficient(a)
    hs = spacing(h, a.ndim)
    shape = tuple(n - 2 for n in a.shape)
    index = np.arange(int(np.prod(shape))).reshape(shape)
    diag = np.zeros(shape)
    rows, cols, vals = [], [], []
    for axis in range(a.ndim):
        c = _faces(a, axis) / hs[axis] ** 2
        lo = [slice(None)] * a.ndim
        hi = [slice(None)] * a.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        diag += c[tuple(lo)] + c[tuple(hi)]
        inner = [slice(None)] * a.ndim
        inner[axis] = slice(1, -1)
        coupling = -c[tuple(inner)].ravel()  # faces between two interior nodes
        first, second = index[tuple(lo)].ravel(), index[tuple(hi)].ravel()
        rows += [first, second]
        cols += [second, first]
        vals += [coupling, coupling]
    n = index.size
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag.ravel())
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    A.sum_duplicates()
    A.sort_indices()
    return A


def laplacian(shape, h) -> sp.csr_matrix:
    """The SPD matrix of ``−Δ`` on an interior grid of ``shape`` = (n_0, …) nodes, spacing ``h``.

    Same ordering and Dirichlet elimination as :func:`assemble_diffusion` with ``a = 1``.
    """
    check(isinstance(shape, (tuple, list)) and 1 <= len(shape) <= 3
          and all(isinstance(n, (int, np.integer)) and n >= 1 for n in shape),
          f"shape: expected a tuple of 1-3 positive interior sizes, got {shape!r}")
    return assemble_diffusion(np.ones(tuple(int(n) + 2 for n in shape)), h)


def _boundary_grid(bc_values, shape: tuple[int, ...]) -> np.ndarray:
    """Full grid holding the Dirichlet data on the boundary and zeros inside."""
    if bc_values is None:
        return np.zeros(shape)
    g = as_array("bc_values", bc_values)
    if g.ndim == 0:
        g = np.full(shape, float(g))
    check(g.shape == shape, f"bc_values: expected a scalar or shape {shape} (full grid), got {g.shape}")
    g = g.copy()
    g[_interior(len(shape))] = 0.0
    return g


def solve_poisson(f, h, bc_values=None, a=None, k2: float = 0.0, method: str = "auto") -> np.ndarray:
    """Solve ``−∇·(a∇u) − k2·u = f`` with Dirichlet data on a structured grid (1-3 D).

    ``f``: (n_0+2, …) right-hand side at the nodes (boundary entries ignored); ``h``: spacing;
    ``bc_values``: None (zero), a scalar, or a full-grid array whose boundary entries are the
    Dirichlet values; ``a``: None (a = 1) or full-grid positive coefficient; ``k2``: Helmholtz term
    (sign convention: ``Δu + k²u = q`` is ``f = −q`` with ``k2 = k²``; ``k2 > 0`` can make the
    operator indefinite); ``method``: "amg" (pyamg smoothed aggregation + CG, rtol 1e-12, SPD only,
    i.e. k2 <= 0), "direct" (sparse LU) or "auto" (amg if k2 <= 0 else direct).
    Returns ``u`` on the full grid (boundary nodes = Dirichlet data). Second order in h.
    """
    f = as_array("f", f, ndim=(1, 2, 3), min_size=3)
    a = np.ones(f.shape) if a is None else _check_coefficient(a)
    check(a.shape == f.shape, f"a: expected shape {f.shape} (same grid as f), got {a.shape}")
    try:
        k2 = float(k2)
    except (TypeError, ValueError):
        raise InputError(f"k2: expected a real number, got {k2!r}") from None
    check(np.isfinite(k2), f"k2: expected a finite number, got {k2!r}")
    check(method in ("auto", "amg", "direct"), f"method: expected 'auto', 'amg' or 'direct', got {method!r}")
    if method == "auto":
        method = "amg" if k2 <= 0 else "direct"
    check(method == "direct" or k2 <= 0,
          "method: 'amg' needs an SPD operator (k2 <= 0); use method='direct' for k2 > 0")
    g = _boundary_grid(bc_values, f.shape)
    inner = _interior(f.ndim)
    rhs = (f[inner] - apply_diffusion(a, h, g)).ravel()  # move the Dirichlet couplings to the right
    A = assemble_diffusion(a, h)
    if k2 != 0.0:
        A = (A - k2 * sp.identity(A.shape[0], format="csr")).tocsr()
    if method == "direct":
        x = spla.spsolve(A.tocsc(), rhs)
    else:
        x = _amg_solve(A, rhs)
    u = g.copy()
    u[inner] = x.reshape(u[inner].shape)
    return u


def _amg_solve(A: sp.csr_matrix, b: np.ndarray) -> np.ndarray:
    """pyamg smoothed aggregation as a CG preconditioner, relative residual 1e-12."""
    ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric")
    residuals: list[float] = []
    x = ml.solve(b, tol=_AMG_RTOL, accel="cg", maxiter=500, residuals=residuals)
    bnorm = np.linalg.norm(b)
    if bnorm > 0 and np.linalg.norm(b - A @ x) > 1e-10 * bnorm:
        raise RuntimeError(f"pyamg did not converge: relative residual {residuals[-1] / bnorm:.2e}")
    return x


def darcy(a, f=1.0) -> np.ndarray:
    """The FNO Darcy problem ``−∇·(a∇u) = f`` on (0,1)², ``u = 0`` on the boundary.

    ``a``: (s, s) or a batch (B, s, s) of positive coefficients at the nodes of the uniform grid
    ``x_i = i/(s−1)`` including the boundary; ``f``: scalar or (s, s) node values. Returns ``u``
    with the shape of ``a`` (zero on the boundary). Scheme: the 5-point arithmetic-mean stencil of
    :func:`assemble_diffusion` (as FNO's ``solve_gwf.m``, but without its cell→node spline
    interpolation), second order; sparse LU (SuperLU, symmetric mode) per sample.
    """
    a = as_positive_field("a", a, ndim=(2, 3))
    batch = a.reshape((-1,) + a.shape[-2:])
    s = batch.shape[-1]
    check(batch.shape[-2] == s >= 3, f"a: expected square (s, s) grids with s >= 3, got {a.shape[-2:]}")
    f = as_array("f", f)
    if f.ndim == 0:
        rhs = np.full((s - 2) ** 2, float(f))
    else:
        check(f.shape == (s, s), f"f: expected a scalar or shape {(s, s)}, got {f.shape}")
        rhs = f[1:-1, 1:-1].ravel()
    h = 1.0 / (s - 1)
    out = np.zeros_like(batch)
    for b, coef in enumerate(batch):
        A = assemble_diffusion(coef, h).tocsc()
        lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
        out[b, 1:-1, 1:-1] = lu.solve(rhs).reshape(s - 2, s - 2)
    return out.reshape(a.shape)


def _cn_residual(w: np.ndarray, lap, theta: float, explicit: np.ndarray) -> np.ndarray:
    """Crank–Nicolson residual ``w − θ Δ_h(w²) − (v + θ Δ_h(v²))`` of one nonlinear-diffusion step."""
    return w - theta * (lap @ (w * w)) - explicit


def _newton_chord(residual, jacobian, w, step: int, tol: float = 1e-12, max_iter: int = 50) -> np.ndarray:
    """Solve residual(w) = 0 by Newton's method, reusing the LU of the Jacobian while it contracts."""
    lu, previous = None, np.inf
    for _ in range(max_iter):
        if lu is None:
            lu = spla.splu(jacobian(w), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
        delta = lu.solve(residual(w))
        w = w - delta
        size = np.max(np.abs(delta))
        if size <= tol * max(1.0, np.max(np.abs(w))):
            return w
        if size > 0.1 * previous:  # slow contraction: refresh the Jacobian
            lu = None
        previous = size
    raise RuntimeError(f"nonlinear_diffusion: Newton did not converge at step {step}; reduce dt")


def nonlinear_diffusion(u0, t_end: float, n_steps: int, t_eval=None, nu: float = 0.05,
                        lower: float = -1.0, upper: float = 1.0) -> Trajectory:
    """``u_t = ν(|∇u|² + uΔu) = (ν/2) Δ(u²)`` on the square [lower, upper]², ``u = 0`` on the boundary.

    The PINNacle "nonlinear diffusion" case (ν = 0.05 on [−1,1]²). ``u0``: (s, s) node values
    (boundary entries replaced by 0) or a callable ``u0(X, Y)`` — then ``s = 101`` nodes per axis;
    ``t_end``, ``n_steps``: uniform steps ``dt = t_end/n_steps``; ``t_eval``: output times on the
    step grid (default ``[0, t_end]``). Scheme: 5-point Laplacian of ``w = u²`` (second order in
    space) and Crank–Nicolson in time (second order), each step solved by Newton's method to
    1e-12. Returns ``Trajectory(t (nt,), (x, y) each (s,), u (nt, s, s))``.
    """
    nu = as_positive_scalar("nu", nu)
    check(np.isfinite(lower) and np.isfinite(upper) and upper > lower,
          f"lower, upper: expected finite lower < upper, got {lower!r}, {upper!r}")
    if callable(u0):
        x = np.linspace(lower, upper, 101)
        u0 = u0(*np.meshgrid(x, x, indexing="ij"))
    u = as_array("u0", u0, ndim=2, min_size=3).copy()
    s = u.shape[0]
    check(u.shape == (s, s), f"u0: expected a square (s, s) grid, got {u.shape}")
    x = np.linspace(lower, upper, s)
    dt, save_steps, t_eval = time_levels(t_end, n_steps, t_eval)
    lap = -laplacian((s - 2, s - 2), (upper - lower) / (s - 1))  # discrete Δ, zero Dirichlet
    theta = 0.5 * dt * 0.5 * nu  # CN weight × (ν/2)
    eye = sp.identity(lap.shape[0], format="csr")
    v = u[1:-1, 1:-1].ravel()
    frames = np.zeros((len(t_eval), s, s))
    n_total = int(save_steps[-1])
    for step in range(n_total + 1):
        for k in np.flatnonzero(save_steps == step):
            frames[k, 1:-1, 1:-1] = v.reshape(s - 2, s - 2)
        if step == n_total:
            break
        v = _newton_chord(functools.partial(_cn_residual, lap=lap, theta=theta,
                                            explicit=v + theta * (lap @ (v * v))),
                          lambda w: (eye - (2.0 * theta) * lap @ sp.diags(w)).tocsc(), v, step)
    return Trajectory(t_eval, (x, x.copy()), frames)
