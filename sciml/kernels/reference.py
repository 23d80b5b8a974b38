"""Plain-torch twins of the stencil kernels: the CPU default and the reference the Triton kernels are
tested against.

Conventions shared with :mod:`sciml.kernels.triton_stencil`:

* grid tensors are (B, *shape) (B right-hand sides, ``shape`` 2-D or 3-D, C order);
* an operator is ``(diag, off, offsets)``: ``diag`` (*shape); ``off`` (K, *shape) and ``offsets`` K half
  neighbour offsets o (entries in {−1, 0, 1}). The operator is symmetric,
  (Au)[x] = diag[x]·u[x] − Σ_k (off[k, x]·u[x + o_k] + off[k, x − o_k]·u[x − o_k]),
  with u = 0 outside the grid;
* coarse node I sits on fine node 2I + 1 (vertex-centred, n_c = n_f // 2); prolongation P is
  bi/trilinear interpolation with zero boundary values, restriction is full weighting R = Pᵀ / 2^d.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Offsets = tuple[tuple[int, ...], ...]


def _shift(u: torch.Tensor, o: tuple[int, ...]) -> torch.Tensor:
    """v[x] = u[x + o] with zeros outside (u of shape (B, *shape))."""
    d = len(o)
    up = F.pad(u, (1, 1) * d)
    shape = u.shape[-d:]
    idx = (Ellipsis,) + tuple(slice(1 + oi, 1 + oi + n) for oi, n in zip(o, shape))
    return up[idx]


def _mirrored(off, offsets: Offsets):
    """m[k, x] = off[k, x − o_k] (zero outside): the weights of the −o_k neighbours, cached on ``off``
    (recomputed when ``off`` is modified in place or needs autograd)."""
    if off.requires_grad:
        return torch.stack([_shift(off[k][None], tuple(-oi for oi in o))[0] for k, o in enumerate(offsets)])
    cached = getattr(off, "_sciml_mirror", None)
    if cached is None or cached[0] != off._version or cached[1] != offsets:
        m = torch.stack([_shift(off[k][None], tuple(-oi for oi in o))[0] for k, o in enumerate(offsets)])
        off._sciml_mirror = cached = (off._version, offsets, m)
    return cached[2]


def stencil_apply(u, diag, off, offsets: Offsets):
    """A u for grids u of shape (B, *shape): one zero-padded copy of u, then views of it."""
    d = diag.dim()
    shape = u.shape[-d:]
    up = F.pad(u, (1, 1) * d)
    view = lambda o: up[(Ellipsis,) + tuple(slice(1 + oi, 1 + oi + n) for oi, n in zip(o, shape))]
    mirror = _mirrored(off, offsets)
    y = diag * u
    grad = u.requires_grad or off.requires_grad or diag.requires_grad
    for k, o in enumerate(offsets):
        if grad:
            y = y - off[k] * view(o) - mirror[k] * view(tuple(-oi for oi in o))
        else:
            y.addcmul_(off[k], view(o), value=-1.0).addcmul_(mirror[k], view(tuple(-oi for oi in o)), value=-1.0)
    return y


def residual(u, b, diag, off, offsets: Offsets):
    """b − A u."""
    return b - stencil_apply(u, diag, off, offsets)


def jacobi(u, b, diag, off, offsets: Offsets, omega):
    """One weighted Jacobi sweep: u + ω (b − Au) / diag; ω a float or one weight per point (diag's shape)."""
    return u + omega * residual(u, b, diag, off, offsets) / diag


def colors(shape, ncolors: int, device=None) -> torch.Tensor:
    """Colour of every grid point: (Σ x_d) mod 2 for 2 colours, Σ (x_d mod 2)·2^d for 2^d colours."""
    grids = torch.meshgrid(*[torch.arange(n, device=device) for n in shape], indexing="ij")
    if ncolors == 2:
        return sum(grids) % 2
    return sum((g % 2) << d for d, g in enumerate(grids))


def gs_color(u, b, diag, off, offsets: Offsets, color: int, ncolors: int):
    """Gauss–Seidel update of the points of one colour (they do not couple to each other)."""
    mask = colors(u.shape[-diag.dim() :], ncolors, u.device) == color
    return torch.where(mask, u + residual(u, b, diag, off, offsets) / diag, u)


def coarse_shape(shape) -> tuple[int, ...]:
    """Coarse grid of a vertex-centred fine grid: coarse node I on fine node 2I + 1."""
    return tuple(int(n) // 2 for n in shape)


def _along(x: torch.Tensor, axis: int, start: int, stop: int, step: int = 2):
    return x[(slice(None),) * axis + (slice(start, stop, step),)]


def _restrict_axis(x: torch.Tensor, axis: int, nc: int) -> torch.Tensor:
    """1-D full weighting along ``axis`` (unscaled): y[I] = ½x[2I] + x[2I+1] + ½x[2I+2], x = 0 beyond its end."""
    n = x.shape[axis]
    y = _along(x, axis, 1, 2 * nc).clone()
    y.add_(_along(x, axis, 0, 2 * nc - 1), alpha=0.5)
    right = nc if n >= 2 * nc + 1 else nc - 1  # coarse nodes whose right neighbour 2I + 2 is on the grid
    _along(y, axis, 0, right, 1).add_(_along(x, axis, 2, 2 * right + 1), alpha=0.5)
    return y


def _prolong_axis(e: torch.Tensor, axis: int, nf: int) -> torch.Tensor:
    """1-D linear interpolation along ``axis``: fine 2I+1 ← e[I], fine 2I ← ½(e[I−1] + e[I]), cut to ``nf``."""
    nc = e.shape[axis]
    y = e.new_zeros(e.shape[:axis] + (nf,) + e.shape[axis + 1 :])
    _along(y, axis, 1, 2 * nc).copy_(e)
    _along(y, axis, 0, 2 * nc - 1).add_(e, alpha=0.5)
    left = min(nc, (nf - 1) // 2)  # coarse nodes whose right fine neighbour 2I + 2 is on the grid
    _along(y, axis, 2, 2 * left + 1).add_(_along(e, axis, 0, left, 1), alpha=0.5)
    return y


def restrict(r, cshape):
    """Full weighting R = Pᵀ/2^d: (B, *fine) → (B, *cshape), one separable 1-D pass per axis."""
    d = len(cshape)
    y = r
    for k, nc in enumerate(cshape):
        y = _restrict_axis(y, r.dim() - d + k, nc)
    return y / 2**d


def prolong(e, fshape):
    """Bi/trilinear interpolation P: (B, *coarse) → (B, *fshape), zero boundary values; separable."""
    d = len(fshape)
    y = e
    for k, nf in enumerate(fshape):
        y = _prolong_axis(y, e.dim() - d + k, nf)
    return y


def residual_restrict(u, b, diag, off, offsets: Offsets, cshape):
    """R (b − A u), the fused residual-then-restrict of the multigrid down-leg."""
    return restrict(residual(u, b, diag, off, offsets), cshape)
