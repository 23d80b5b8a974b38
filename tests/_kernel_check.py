"""Run by tests/test_kernels.py in a subprocess: every Triton kernel (stencils, PIG jet) under
TRITON_INTERPRET=1 against its torch twin (mode "interpret"), or compiled for sm_80/sm_90 (mode
"compile"). Prints one JSON line."""

import json
import os
import sys

mode = sys.argv[1]
if mode == "interpret":
    os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import torch

from sciml.kernels import reference as R
from sciml.kernels import triton_pig as P
from sciml.kernels import triton_stencil as T
from sciml.linalg.stencil import half_offsets
from sciml.nn.pig import _diag_jet_backward_torch, _diag_jet_torch


def _outputs(K, u, b, diag, off, offs, omega, ncol, cs, ec, shape):
    return {
        "stencil_apply": K.stencil_apply(u, diag, off, offs),
        "residual": K.residual(u, b, diag, off, offs),
        "jacobi": K.jacobi(u, b, diag, off, offs, omega),
        "jacobi_scalar": K.jacobi(u, b, diag, off, offs, 0.6666666865348816),
        "gs_color": K.gs_color(u, b, diag, off, offs, ncol - 1, ncol),
        "restrict": K.restrict(u, cs),
        "prolong": K.prolong(ec, shape),
        "residual_restrict": K.residual_restrict(u, b, diag, off, offs, cs),
    }


def interpret():
    torch.manual_seed(0)
    out = {}
    cases = [
        ((7, 6), ((1, 0), (0, 1))),
        ((6, 7), half_offsets(2)),
        ((5, 6, 4), ((1, 0, 0), (0, 1, 0), (0, 0, 1))),
        ((4, 5, 6), half_offsets(3)),
    ]
    runs = [(torch.float64, c) for c in cases] + [(torch.float32, cases[0]), (torch.float32, cases[2])]
    for dtype, (shape, offs) in runs:
        diag = torch.rand(shape, dtype=dtype) + 4
        off = torch.rand((len(offs),) + shape, dtype=dtype)
        u, b = torch.randn(2, *shape, dtype=dtype), torch.randn(2, *shape, dtype=dtype)
        ncol = 2 if len(offs) == len(shape) else 2 ** len(shape)
        cs = tuple(n // 2 for n in shape)
        ec = u[(Ellipsis,) + tuple(slice(0, c) for c in cs)].contiguous()
        omega = 0.2 + torch.rand(shape, dtype=dtype)  # one Jacobi weight per point
        args = (u, b, diag, off, offs, omega, ncol, cs, ec, shape)
        ref = _outputs(R, *args)
        for name, a in _outputs(T, *args).items():
            r = ref[name]
            key = f"{name}/{len(shape)}d/{len(offs)}/{str(dtype)[6:]}"
            out[key] = [float((a - r).abs().max() / r.abs().max()), list(a.shape) == list(r.shape)]
    for dtype, (k, n_g, d, n) in ((torch.float64, (3, 70, 2, 45)), (torch.float64, (2, 33, 3, 40)),
                                  (torch.float32, (2, 33, 3, 40)), (torch.float64, (1, 9, 1, 5))):
        g = torch.Generator().manual_seed(0)
        x = 2.4 * torch.rand(n, d, generator=g, dtype=dtype) - 1.2  # some points outside every Gaussian
        mu = 2 * torch.rand(k, n_g, d, generator=g, dtype=dtype) - 1
        s = 1 + 20 * torch.rand(k, n_g, d, generator=g, dtype=dtype)
        w = torch.randn(k, n_g, generator=g, dtype=dtype)
        go = torch.randn(1 + 2 * d, n, k, generator=g, dtype=dtype)
        pairs = [(P.pig_jet_forward(x, mu, s, w), _diag_jet_torch(x, mu, s, w, 16)),
                 (P.pig_jet_forward(x, mu, s, w, derivatives=False), _diag_jet_torch(x, mu, s, w, 16, False)),
                 *zip(P.pig_jet_backward(x, mu, s, w, go), _diag_jet_backward_torch(x, mu, s, w, go, 16)),
                 (P.pig_jet_backward(x, mu, s, w, go[:1])[2],  # value-only upstream gradient
                  _diag_jet_backward_torch(x, mu, s, w, torch.cat([go[:1], 0 * go[1:]]), 16)[2])]
        names = ("forward", "value", "grad_x", "grad_mu", "grad_s", "grad_w", "grad_s_value_only")
        for name, (a, r) in zip(names, pairs):
            err = max(float((a[i] - r[i]).abs().max() / r[i].abs().max()) for i in range(r.shape[0]))
            out[f"pig_jet/{name}/{d}d/{str(dtype)[6:]}"] = [err, list(a.shape) == list(r.shape)]
    return out


def compile_all():
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    out = {}
    for arch in (80, 90):
        for name, fn, sig, const in T.compile_specs("fp64"):
            if name.endswith(("_4", "_13")) and not name.startswith("gs"):
                continue  # the 9/27-point variants differ only in NOFF; compile their GS pass
            sig = dict(sig, **{k: "constexpr" for k in const})
            c = triton.compile(ASTSource(fn, sig, const), target=GPUTarget("cuda", arch, 32))
            out[f"{name}/sm_{arch}"] = [f".target sm_{arch}" in c.asm["ptx"], len(c.asm["cubin"])]
        for name, fn, sig, const in P.compile_specs("fp32"):
            sig = dict(sig, **{k: "constexpr" for k in const})
            c = triton.compile(ASTSource(fn, sig, const), target=GPUTarget("cuda", arch, 32))
            out[f"{name}/sm_{arch}"] = [f".target sm_{arch}" in c.asm["ptx"], len(c.asm["cubin"])]
    return out


print(json.dumps(interpret() if mode == "interpret" else compile_all()))
