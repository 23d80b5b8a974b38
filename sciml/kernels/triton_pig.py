"""Triton kernels of the PIG jet on CUDA: the GPU counterpart of ``pig_jet.c`` (same layouts, same
formulas, see that file), with the same torch twin (``sciml.nn.pig._diag_jet_torch`` and
``_diag_jet_backward_torch``), tested under ``TRITON_INTERPRET=1`` and compiled for sm_80/sm_90.

Each program works on a (BLOCK_P points × BLOCK_N Gaussians) tile of one channel, so nothing of size
points × Gaussians reaches memory: the forward and the input gradient reduce over Gaussians (grid over
point blocks), the parameter gradients reduce over points (grid over Gaussian blocks).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .native import _soa  # the (k, d, N) Gaussian-innermost layout both kernels take

__all__ = ["compile_specs", "pig_jet_backward", "pig_jet_forward"]

BLOCK_P, BLOCK_N = 32, 64
QCUT = tl.constexpr(100.0)  # |z|² beyond which G = 0, as in pig_jet.c


@triton.jit
def _tile(x_ptr, mu_ptr, s_ptr, w_ptr, p, pm, i, im, c, n, N, D: tl.constexpr, BP: tl.constexpr,
          BN: tl.constexpr):
    """G and H = w G on a (points, Gaussians) tile; masked entries are 0."""
    q = tl.zeros((BP, BN), dtype=x_ptr.dtype.element_ty)
    for j in tl.static_range(D):
        xj = tl.load(x_ptr + p * D + j, mask=pm, other=0.0)
        mj = tl.load(mu_ptr + (c * D + j) * N + i, mask=im, other=0.0)
        sj = tl.load(s_ptr + (c * D + j) * N + i, mask=im, other=0.0)
        z = (xj[:, None] - mj[None, :]) * sj[None, :]
        q += z * z
    w = tl.load(w_ptr + c * N + i, mask=im, other=0.0)
    keep = (q < QCUT) & pm[:, None] & im[None, :]
    g = tl.where(keep, tl.exp(-0.5 * tl.minimum(q, QCUT)), 0.0)
    return g, g * w[None, :]


@triton.jit
def _rs2(x_ptr, mu_ptr, s_ptr, p, pm, i, im, c, j, N, D: tl.constexpr):
    """r s² and s² on the tile for coordinate j (r = x − μ, s = 1/σ)."""
    xj = tl.load(x_ptr + p * D + j, mask=pm, other=0.0)
    mj = tl.load(mu_ptr + (c * D + j) * N + i, mask=im, other=0.0)
    sj = tl.load(s_ptr + (c * D + j) * N + i, mask=im, other=0.0)
    s2 = sj * sj
    r = xj[:, None] - mj[None, :]
    return r, sj[None, :], r * s2[None, :], s2[None, :]


@triton.jit
def _phi(x_ptr, mu_ptr, s_ptr, go_ptr, p, pm, i, im, c, n, N, K, D: tl.constexpr, BP: tl.constexpr,
         BN: tl.constexpr):
    """Φ = a + Σ_j (c_j (r² s⁴ − s²) − b_j r s²): ∂L/∂H on the tile."""
    a = tl.load(go_ptr + p * K + c, mask=pm, other=0.0)
    phi = tl.zeros((BP, BN), dtype=x_ptr.dtype.element_ty) + a[:, None]
    for j in tl.static_range(D):
        r, sj, rs2, s2 = _rs2(x_ptr, mu_ptr, s_ptr, p, pm, i, im, c, j, N, D)
        bj = tl.load(go_ptr + ((1 + j) * n + p) * K + c, mask=pm, other=0.0)[:, None]
        cj = tl.load(go_ptr + ((1 + D + j) * n + p) * K + c, mask=pm, other=0.0)[:, None]
        phi += cj * (rs2 * rs2 - s2) - bj * rs2
    return phi


@triton.jit
def _grad_terms(x_ptr, mu_ptr, s_ptr, w_ptr, go_ptr, p, pm, i, im, c, j, n, N, K, D: tl.constexpr,
                BP: tl.constexpr, BN: tl.constexpr):
    """On the tile, for coordinate j: (e_j, ∂L/∂s_j terms) of pig_jet.c, and G Φ for ∂L/∂w."""
    g, h = _tile(x_ptr, mu_ptr, s_ptr, w_ptr, p, pm, i, im, c, n, N, D, BP, BN)
    phi = _phi(x_ptr, mu_ptr, s_ptr, go_ptr, p, pm, i, im, c, n, N, K, D, BP, BN)
    r, sj, rs2, s2 = _rs2(x_ptr, mu_ptr, s_ptr, p, pm, i, im, c, j, N, D)
    bj = tl.load(go_ptr + ((1 + j) * n + p) * K + c, mask=pm, other=0.0)[:, None]
    cj = tl.load(go_ptr + ((1 + D + j) * n + p) * K + c, mask=pm, other=0.0)[:, None]
    e = h * (2 * cj * rs2 * s2 - rs2 * phi - bj * s2)
    ds = h * sj * (4 * cj * r * rs2 - 2 * cj - r * r * phi - 2 * bj * r)
    return e, ds, g * phi


@triton.jit
def pig_forward_kernel(x_ptr, mu_ptr, s_ptr, w_ptr, out_ptr, n, N, K, D: tl.constexpr, DERIV: tl.constexpr,
                       BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr):
    """out (1 + 2D, n, K): value, ∂_j, ∂²_j; grid (point blocks, channels)."""
    c = tl.program_id(1)
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    pm = p < n
    v = tl.zeros((BLOCK_P,), dtype=x_ptr.dtype.element_ty)
    for i0 in range(0, N, BLOCK_N):
        i = i0 + tl.arange(0, BLOCK_N)
        _, h = _tile(x_ptr, mu_ptr, s_ptr, w_ptr, p, pm, i, i < N, c, n, N, D, BLOCK_P, BLOCK_N)
        v += tl.sum(h, 1)
    tl.store(out_ptr + p * K + c, v, mask=pm)
    if DERIV:
        for j in tl.static_range(D):  # one sweep per coordinate: recomputing G beats keeping 2D accumulators
            d1 = tl.zeros((BLOCK_P,), dtype=x_ptr.dtype.element_ty)
            d2 = tl.zeros((BLOCK_P,), dtype=x_ptr.dtype.element_ty)
            for i0 in range(0, N, BLOCK_N):
                i = i0 + tl.arange(0, BLOCK_N)
                im = i < N
                _, h = _tile(x_ptr, mu_ptr, s_ptr, w_ptr, p, pm, i, im, c, n, N, D, BLOCK_P, BLOCK_N)
                r, sj, rs2, s2 = _rs2(x_ptr, mu_ptr, s_ptr, p, pm, i, im, c, j, N, D)
                t = h * rs2
                d1 -= tl.sum(t, 1)
                d2 += tl.sum(t * rs2 - h * s2, 1)
            tl.store(out_ptr + ((1 + j) * n + p) * K + c, d1, mask=pm)
            tl.store(out_ptr + ((1 + D + j) * n + p) * K + c, d2, mask=pm)


@triton.jit
def pig_grad_x_kernel(x_ptr, mu_ptr, s_ptr, w_ptr, go_ptr, gx_ptr, n, N, K, D: tl.constexpr,
                      BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr):
    """gx (K, n, D): ∂L/∂x_j = Σ_i H (2 c_j r s⁴ − r s² Φ − b_j s²) per channel; grid (point blocks, channels)."""
    c = tl.program_id(1)
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    pm = p < n
    for j in tl.static_range(D):
        acc = tl.zeros((BLOCK_P,), dtype=x_ptr.dtype.element_ty)
        for i0 in range(0, N, BLOCK_N):
            i = i0 + tl.arange(0, BLOCK_N)
            e, _, _ = _grad_terms(x_ptr, mu_ptr, s_ptr, w_ptr, go_ptr, p, pm, i, i < N, c, j, n, N, K, D,
                                  BLOCK_P, BLOCK_N)
            acc += tl.sum(e, 1)
        tl.store(gx_ptr + (c * n + p) * D + j, acc, mask=pm)


@triton.jit
def pig_grad_params_kernel(x_ptr, mu_ptr, s_ptr, w_ptr, go_ptr, gmu_ptr, gs_ptr, gw_ptr, n, N, K,
                           D: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr):
    """gmu, gs (K, D, N) and gw (K, N), summed over points; grid (Gaussian blocks, channels)."""
    c = tl.program_id(1)
    i = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    im = i < N
    gw = tl.zeros((BLOCK_N,), dtype=x_ptr.dtype.element_ty)
    for j in tl.static_range(D):
        gm = tl.zeros((BLOCK_N,), dtype=x_ptr.dtype.element_ty)
        gs = tl.zeros((BLOCK_N,), dtype=x_ptr.dtype.element_ty)
        for p0 in range(0, n, BLOCK_P):
            p = p0 + tl.arange(0, BLOCK_P)
            e, ds, gphi = _grad_terms(x_ptr, mu_ptr, s_ptr, w_ptr, go_ptr, p, p < n, i, im, c, j, n, N, K, D,
                                      BLOCK_P, BLOCK_N)
            gm -= tl.sum(e, 0)
            gs += tl.sum(ds, 0)
            if j == 0:
                gw += tl.sum(gphi, 0)
        tl.store(gmu_ptr + (c * D + j) * N + i, gm, mask=im)
        tl.store(gs_ptr + (c * D + j) * N + i, gs, mask=im)
    tl.store(gw_ptr + c * N + i, gw, mask=im)


def pig_jet_forward(x, means, factors, weights, derivatives: bool = True) -> torch.Tensor:
    """As :func:`sciml.kernels.native.pig_jet_forward`, on CUDA tensors (or any, under the interpreter)."""
    (n, d), (k, N) = x.shape, weights.shape
    mu, s, w = _soa(means, factors, weights)
    x = x.detach().contiguous()
    out = x.new_zeros(1 + 2 * d if derivatives else 1, n, k)
    if n and k and N:
        pig_forward_kernel[(triton.cdiv(n, BLOCK_P), k)](x, mu, s, w, out, n, N, k, D=d, DERIV=bool(derivatives),
                                                          BLOCK_P=BLOCK_P, BLOCK_N=BLOCK_N)
    return out


def pig_jet_backward(x, means, factors, weights, grad_out):
    """As :func:`sciml.kernels.native.pig_jet_backward`."""
    (n, d), (k, N) = x.shape, weights.shape
    if grad_out.shape[0] == 1:  # value only: the derivative rows have zero upstream gradient
        grad_out = torch.cat([grad_out, grad_out.new_zeros(2 * d, *grad_out.shape[1:])])
    mu, s, w = _soa(means, factors, weights)
    x, go = x.detach().contiguous(), grad_out.detach().contiguous()
    gx, gmu, gs, gw = x.new_zeros(k, n, d), x.new_zeros(k, d, N), x.new_zeros(k, d, N), x.new_zeros(k, N)
    if n and k and N:
        pig_grad_x_kernel[(triton.cdiv(n, BLOCK_P), k)](x, mu, s, w, go, gx, n, N, k, D=d,
                                                         BLOCK_P=BLOCK_P, BLOCK_N=BLOCK_N)
        pig_grad_params_kernel[(triton.cdiv(N, BLOCK_N), k)](x, mu, s, w, go, gmu, gs, gw, n, N, k, D=d,
                                                              BLOCK_P=BLOCK_P, BLOCK_N=BLOCK_N)
    return gx.sum(0), gmu.transpose(1, 2), gs.transpose(1, 2), gw


def compile_specs(dtype: str = "fp32"):
    """(name, kernel, signature, constexprs) for ahead-of-time ``triton.compile`` (d = 2 and 3)."""
    p = f"*{dtype}"
    sizes = {"n": "i32", "N": "i32", "K": "i32"}
    specs = []
    for d in (2, 3):
        block = {"D": d, "BLOCK_P": BLOCK_P, "BLOCK_N": BLOCK_N}
        specs += [
            (f"pig_forward_{d}d", pig_forward_kernel,
             {"x_ptr": p, "mu_ptr": p, "s_ptr": p, "w_ptr": p, "out_ptr": p, **sizes}, dict(block, DERIV=True)),
            (f"pig_grad_x_{d}d", pig_grad_x_kernel,
             {"x_ptr": p, "mu_ptr": p, "s_ptr": p, "w_ptr": p, "go_ptr": p, "gx_ptr": p, **sizes}, block),
            (f"pig_grad_params_{d}d", pig_grad_params_kernel,
             {"x_ptr": p, "mu_ptr": p, "s_ptr": p, "w_ptr": p, "go_ptr": p, "gmu_ptr": p, "gs_ptr": p,
              "gw_ptr": p, **sizes}, block),
        ]
    return specs
