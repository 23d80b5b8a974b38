"""Triton kernels for structured-grid stencils, 2D and 3D, with the torch twins of
:mod:`sciml.kernels.reference` as their specification (same functions, same signatures).

One stencil pass kernel (``MODE``: 0 apply A u, 1 residual b − A u, 2 weighted Jacobi, 3 Gauss–Seidel
on one colour), one full-weighting restriction, one bi/trilinear prolongation and one fused
residual-then-restrict. 2D grids run as 3D grids with a leading axis of one node that is never
coarsened (``DIM`` = 2). Grids are flattened in C order; the batch runs on the second program axis.
Tensors must be contiguous float32/float64; offsets are stored as a (K, 3) int32 table. The Jacobi
weights ω are an array of the grid's shape (one weight per point; a float is expanded to one).
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

BLOCK = 256
APPLY, RESIDUAL, JACOBI, GAUSS_SEIDEL = 0, 1, 2, 3


@triton.jit
def _apply_at(u_ptr, diag_ptr, off_ptr, offs_ptr, ubase, i0, i1, i2, N0, N1, N2, m, NOFF: tl.constexpr):
    """(A u) at grid points (i0, i1, i2) (masked by m); u starts at u_ptr + ubase."""
    npts = N0 * N1 * N2
    x = (i0 * N1 + i1) * N2 + i2
    acc = tl.load(diag_ptr + x, mask=m, other=0.0) * tl.load(u_ptr + ubase + x, mask=m, other=0.0)
    for k in tl.static_range(NOFF):
        o0 = tl.load(offs_ptr + 3 * k)
        o1 = tl.load(offs_ptr + 3 * k + 1)
        o2 = tl.load(offs_ptr + 3 * k + 2)
        p0 = i0 + o0
        p1 = i1 + o1
        p2 = i2 + o2
        mp = m & (p0 >= 0) & (p0 < N0) & (p1 >= 0) & (p1 < N1) & (p2 >= 0) & (p2 < N2)
        xp = (p0 * N1 + p1) * N2 + p2
        w = tl.load(off_ptr + k * npts + x, mask=mp, other=0.0)
        acc -= w * tl.load(u_ptr + ubase + xp, mask=mp, other=0.0)
        q0 = i0 - o0
        q1 = i1 - o1
        q2 = i2 - o2
        mq = m & (q0 >= 0) & (q0 < N0) & (q1 >= 0) & (q1 < N1) & (q2 >= 0) & (q2 < N2)
        xq = (q0 * N1 + q1) * N2 + q2
        wq = tl.load(off_ptr + k * npts + xq, mask=mq, other=0.0)
        acc -= wq * tl.load(u_ptr + ubase + xq, mask=mq, other=0.0)
    return acc


@triton.jit
def stencil_pass_kernel(
    u_ptr,
    b_ptr,
    diag_ptr,
    off_ptr,
    offs_ptr,
    out_ptr,
    N0,
    N1,
    N2,
    w_ptr,
    color,
    cw0,
    cw1,
    cw2,
    NOFF: tl.constexpr,
    MODE: tl.constexpr,
    NCOLORS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out = A u | b − A u | u + ω(b − Au)/diag (ω per point, from w_ptr) | GS update of colour ``color``."""
    npts = N0 * N1 * N2
    x = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    base = tl.program_id(1).to(tl.int64) * npts
    m = x < npts
    i0 = x // (N1 * N2)
    i1 = (x // N2) % N1
    i2 = x % N2
    au = _apply_at(u_ptr, diag_ptr, off_ptr, offs_ptr, base, i0, i1, i2, N0, N1, N2, m, NOFF)
    if MODE == 0:
        res = au
    else:
        r = tl.load(b_ptr + base + x, mask=m, other=0.0) - au
        if MODE == 1:
            res = r
        else:
            u = tl.load(u_ptr + base + x, mask=m, other=0.0)
            d = tl.load(diag_ptr + x, mask=m, other=1.0)
            if MODE == 2:
                res = u + tl.load(w_ptr + x, mask=m, other=0.0) * r / d
            else:
                if NCOLORS == 2:
                    c = (i0 + i1 + i2) % 2
                else:
                    c = (i0 % 2) * cw0 + (i1 % 2) * cw1 + (i2 % 2) * cw2
                res = tl.where(c == color, u + r / d, u)
    tl.store(out_ptr + base + x, res, mask=m)


@triton.jit
def _restrict_gather(
    src_ptr,
    u_ptr,
    diag_ptr,
    off_ptr,
    offs_ptr,
    b_ptr,
    fbase,
    I0,
    I1,
    I2,
    F0,
    F1,
    F2,
    m,
    NOFF: tl.constexpr,
    DIM: tl.constexpr,
    FUSED: tl.constexpr,
):
    """Σ_δ w(δ)·v(2I + 1 + δ) with v = src (FUSED = 0) or v = b − A u (FUSED = 1)."""
    acc = tl.zeros(I0.shape, dtype=b_ptr.dtype.element_ty)
    for a in tl.static_range(3):
        for bb in tl.static_range(3):
            for c in tl.static_range(3):
                if DIM == 3 or a == 1:
                    if DIM == 3:
                        f0 = 2 * I0 + a
                    else:
                        f0 = I0
                    f1 = 2 * I1 + bb
                    f2 = 2 * I2 + c
                    w = (
                        (1.0 - 0.5 * (a - 1) * (a - 1))
                        * (1.0 - 0.5 * (bb - 1) * (bb - 1))
                        * (1.0 - 0.5 * (c - 1) * (c - 1))
                    )
                    mk = m & (f0 < F0) & (f1 < F1) & (f2 < F2)
                    xf = (f0 * F1 + f1) * F2 + f2
                    if FUSED:
                        au = _apply_at(
                            u_ptr, diag_ptr, off_ptr, offs_ptr, fbase, f0, f1, f2, F0, F1, F2, mk, NOFF
                        )
                        v = tl.load(b_ptr + fbase + xf, mask=mk, other=0.0) - au
                    else:
                        v = tl.load(src_ptr + fbase + xf, mask=mk, other=0.0)
                    acc += w * v
    return acc


@triton.jit
def restrict_kernel(
    src_ptr,
    u_ptr,
    diag_ptr,
    off_ptr,
    offs_ptr,
    b_ptr,
    out_ptr,
    F0,
    F1,
    F2,
    C0,
    C1,
    C2,
    NOFF: tl.constexpr,
    DIM: tl.constexpr,
    FUSED: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Full weighting R = Pᵀ/2^DIM of src, or (FUSED) of the residual b − A u."""
    nc = C0 * C1 * C2
    x = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    bid = tl.program_id(1).to(tl.int64)
    m = x < nc
    I0 = x // (C1 * C2)
    I1 = (x // C2) % C1
    I2 = x % C2
    acc = _restrict_gather(
        src_ptr,
        u_ptr,
        diag_ptr,
        off_ptr,
        offs_ptr,
        b_ptr,
        bid * (F0 * F1 * F2),
        I0,
        I1,
        I2,
        F0,
        F1,
        F2,
        m,
        NOFF,
        DIM,
        FUSED,
    )
    tl.store(out_ptr + bid * nc + x, acc / (2**DIM), mask=m)


@triton.jit
def prolong_kernel(e_ptr, out_ptr, F0, F1, F2, C0, C1, C2, DIM: tl.constexpr, BLOCK: tl.constexpr):
    """Bi/trilinear interpolation: fine f takes coarse J with weight 1 − |f − (2J + 1)|/2."""
    nf = F0 * F1 * F2
    x = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    bid = tl.program_id(1).to(tl.int64)
    m = x < nf
    f0 = x // (F1 * F2)
    f1 = (x // F2) % F1
    f2 = x % F2
    acc = tl.zeros([BLOCK], dtype=out_ptr.dtype.element_ty)
    for a in tl.static_range(2):
        for bb in tl.static_range(2):
            for c in tl.static_range(2):
                if DIM == 3 or a == 0:
                    if DIM == 3:
                        J0 = (f0 + 1) // 2 - 1 + a
                        w0 = 1.0 - 0.5 * tl.abs(f0 - 2 * J0 - 1)
                    else:
                        J0 = f0
                        w0 = 1.0
                    J1 = (f1 + 1) // 2 - 1 + bb
                    J2 = (f2 + 1) // 2 - 1 + c
                    w1 = 1.0 - 0.5 * tl.abs(f1 - 2 * J1 - 1)
                    w2 = 1.0 - 0.5 * tl.abs(f2 - 2 * J2 - 1)
                    mk = m & (J0 >= 0) & (J0 < C0) & (J1 >= 0) & (J1 < C1) & (J2 >= 0) & (J2 < C2)
                    v = tl.load(e_ptr + bid * (C0 * C1 * C2) + (J0 * C1 + J1) * C2 + J2, mask=mk, other=0.0)
                    acc += tl.maximum(w0, 0.0) * tl.maximum(w1, 0.0) * tl.maximum(w2, 0.0) * v
    tl.store(out_ptr + bid * nf + x, acc, mask=m)


# --- Python wrappers with the signatures of sciml.kernels.reference -------------------------------------
def _as3(shape) -> tuple[int, int, int]:
    return (1, *shape) if len(shape) == 2 else tuple(shape)


@functools.cache
def _offset_table(offsets, device: str) -> torch.Tensor:
    rows = [((0, *o) if len(o) == 2 else o) for o in offsets] or [(0, 0, 0)]
    return torch.tensor(rows, dtype=torch.int32, device=device).reshape(-1)


def _colour_weights(d: int) -> tuple[int, int, int]:
    return (0, 1, 2) if d == 2 else (1, 2, 4)


def _pass(mode, u, b, diag, off, offsets, omega=None, color=0, ncolors=2):
    d = diag.dim()
    u = u.contiguous()
    out = torch.empty_like(u)
    npts = diag.numel()
    nb = u.numel() // npts
    N = _as3(diag.shape)
    grid = (triton.cdiv(npts, BLOCK), nb)
    stencil_pass_kernel[grid](
        u,
        u if b is None else b.contiguous(),
        diag.contiguous(),
        off.contiguous(),
        _offset_table(tuple(offsets), str(u.device)),
        out,
        *N,
        diag if omega is None else omega.contiguous(),
        int(color),
        *_colour_weights(d),
        NOFF=len(offsets),
        MODE=mode,
        NCOLORS=ncolors,
        BLOCK=BLOCK,
    )
    return out


def stencil_apply(u, diag, off, offsets):
    return _pass(APPLY, u, None, diag, off, offsets)


def residual(u, b, diag, off, offsets):
    return _pass(RESIDUAL, u, b, diag, off, offsets)


def jacobi(u, b, diag, off, offsets, omega):
    if not torch.is_tensor(omega) or omega.shape != diag.shape:
        omega = torch.as_tensor(omega, dtype=diag.dtype, device=diag.device).expand(diag.shape)
    return _pass(JACOBI, u, b, diag, off, offsets, omega=omega.to(diag.dtype))


def gs_color(u, b, diag, off, offsets, color: int, ncolors: int):
    return _pass(GAUSS_SEIDEL, u, b, diag, off, offsets, color=color, ncolors=ncolors)


def _restrict(src, u, b, diag, off, offsets, fshape, cshape):
    ref = src if src is not None else u
    d = len(cshape)
    nb = ref.numel() // int(torch.tensor(fshape).prod())
    out = torch.empty((nb, *cshape), dtype=ref.dtype, device=ref.device)
    nc = out[0].numel()
    dummy = ref.contiguous()
    fused = src is None
    restrict_kernel[(triton.cdiv(nc, BLOCK), nb)](
        dummy,
        dummy if u is None else u.contiguous(),
        dummy if diag is None else diag.contiguous(),
        dummy if off is None else off.contiguous(),
        _offset_table(tuple(offsets or ()), str(ref.device)),
        dummy if b is None else b.contiguous(),
        out,
        *_as3(fshape),
        *_as3(cshape),
        NOFF=len(offsets or ()),
        DIM=d,
        FUSED=fused,
        BLOCK=BLOCK,
    )
    return out.reshape(*ref.shape[:-d], *cshape)


def restrict(r, cshape):
    d = len(cshape)
    return _restrict(r, None, None, None, None, (), tuple(r.shape[-d:]), tuple(cshape))


def residual_restrict(u, b, diag, off, offsets, cshape):
    return _restrict(None, u, b, diag, off, offsets, tuple(diag.shape), tuple(cshape))


def prolong(e, fshape):
    d = len(fshape)
    cshape = tuple(e.shape[-d:])
    nb = e.numel() // max(1, int(torch.tensor(cshape).prod()))
    out = torch.empty((nb, *fshape), dtype=e.dtype, device=e.device)
    nf = out[0].numel()
    prolong_kernel[(triton.cdiv(nf, BLOCK), nb)](
        e.contiguous(), out, *_as3(fshape), *_as3(cshape), DIM=d, BLOCK=BLOCK
    )
    return out.reshape(*e.shape[:-d], *fshape)


def compile_specs(dtype: str = "fp64"):
    """(kernel, signature, constexprs) for every kernel specialisation, for ahead-of-time
    ``triton.compile`` (tests compile them for sm_80 / sm_90 without a GPU)."""
    p = f"*{dtype}"
    pass_sig = {
        "u_ptr": p,
        "b_ptr": p,
        "diag_ptr": p,
        "off_ptr": p,
        "offs_ptr": "*i32",
        "out_ptr": p,
        "N0": "i32",
        "N1": "i32",
        "N2": "i32",
        "w_ptr": p,
        "color": "i32",
        "cw0": "i32",
        "cw1": "i32",
        "cw2": "i32",
    }
    restrict_sig = {
        "src_ptr": p,
        "u_ptr": p,
        "diag_ptr": p,
        "off_ptr": p,
        "offs_ptr": "*i32",
        "b_ptr": p,
        "out_ptr": p,
        **{k: "i32" for k in ("F0", "F1", "F2", "C0", "C1", "C2")},
    }
    prolong_sig = {"e_ptr": p, "out_ptr": p, **{k: "i32" for k in ("F0", "F1", "F2", "C0", "C1", "C2")}}
    specs = []
    for dim, noff in ((2, 2), (2, 4), (3, 3), (3, 13)):
        for mode, name in (
            (APPLY, "apply"),
            (RESIDUAL, "residual"),
            (JACOBI, "jacobi"),
            (GAUSS_SEIDEL, "gs"),
        ):
            ncol = 2 if noff == dim else 2**dim
            specs.append(
                (
                    f"{name}_{dim}d_{noff}",
                    stencil_pass_kernel,
                    pass_sig,
                    {"NOFF": noff, "MODE": mode, "NCOLORS": ncol, "BLOCK": BLOCK},
                )
            )
        specs.append(
            (
                f"residual_restrict_{dim}d_{noff}",
                restrict_kernel,
                restrict_sig,
                {"NOFF": noff, "DIM": dim, "FUSED": True, "BLOCK": BLOCK},
            )
        )
    for dim in (2, 3):
        specs.append(
            (
                f"restrict_{dim}d",
                restrict_kernel,
                restrict_sig,
                {"NOFF": 0, "DIM": dim, "FUSED": False, "BLOCK": BLOCK},
            )
        )
        specs.append((f"prolong_{dim}d", prolong_kernel, prolong_sig, {"DIM": dim, "BLOCK": BLOCK}))
    return specs
