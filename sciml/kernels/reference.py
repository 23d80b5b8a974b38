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


def jacobi(u, b, diag, off, offsets: Offsets, omega: float):
    """One weighted Jacobi sweep: u + ω (b − Au) / diag."""
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


def _hat(d: int, dtype, device) -> torch.Tensor:
    w = torch.tensor([0.5, 1.0, 0.5], dtype=dtype, device=device)
    k = w
    for _ in range(d - 1):
        k = k[..., None] * w
    return k[None, None]


_CONV = {2: (F.conv2d, F.conv_transpose2d), 3: (F.conv3d, F.conv_transpose3d)}


def restrict(r, cshape):
    """Full weighting R = Pᵀ/2^d: (B, *fine) → (B, *cshape)."""
    d = len(cshape)
    fshape = r.shape[-d:]
    pad = []
    for n, nc in zip(reversed(fshape), reversed(cshape)):
        pad += [0, 2 * nc + 1 - n]
    x = r.reshape(-1, 1, *fshape)
    x = F.pad(x, pad) if any(pad) else x
    y = _CONV[d][0](x, _hat(d, r.dtype, r.device), stride=2) / 2**d
    return y.reshape(*r.shape[:-d], *cshape)


def prolong(e, fshape):
    """Bi/trilinear interpolation P: (B, *coarse) → (B, *fshape), zero boundary values."""
    d = len(fshape)
    cshape = e.shape[-d:]
    y = _CONV[d][1](e.reshape(-1, 1, *cshape), _hat(d, e.dtype, e.device), stride=2)
    y = y[(Ellipsis,) + tuple(slice(0, n) for n in fshape)]
    return y.reshape(*e.shape[:-d], *fshape)


def residual_restrict(u, b, diag, off, offsets: Offsets, cshape):
    """R (b − A u), the fused residual-then-restrict of the multigrid down-leg."""
    return restrict(residual(u, b, diag, off, offsets), cshape)
