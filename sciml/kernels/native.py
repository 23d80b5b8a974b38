"""CPU kernels in C, compiled on first use with the system C compiler and called through ctypes.

Used where a torch expression cannot avoid materialising (points × Gaussians) temporaries many times
over: the PIG jet (:mod:`sciml.nn.pig`) makes ~25 elementwise passes forward and ~70 backward in
torch, and one fused pass over L1-resident buffers in ``pig_jet.c`` (a training step 18–35× faster
at the paper's sizes, ``benchmarks/results/pinns.md`` speed table). Each kernel has its torch twin
and a test that they agree.

The shared library is built once per source, compiler and CPU into ``$SCIML_CACHE_DIR`` (default
``~/.cache/sciml``; written to a temporary file and renamed, so concurrent processes are safe) with
``-O3 -ffast-math -march=native -fopenmp`` (``-ffast-math`` only at compile time, so the process's
floating-point mode is untouched). Without a working compiler the torch twins are used, with one
warning. ``SCIML_KERNELS=torch`` selects the twins (:func:`sciml.kernels.pig_jet`); ``CC`` picks the
compiler.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

__all__ = ["available", "pig_jet_backward", "pig_jet_forward"]

_SOURCE = Path(__file__).with_name("pig_jet.c")
_REALS = {torch.float32: "float", torch.float64: "double"}
_FLAG_SETS = (["-O3", "-ffast-math", "-march=native", "-fopenmp"], ["-O3", "-ffast-math", "-fopenmp"], ["-O3"])


def _cache_dir() -> Path:
    root = os.environ.get("SCIML_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sciml")
    return Path(root) / "native"


def _cpu_id() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        return next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _build(cc: str, real: str) -> Path:
    """Compile pig_jet.c for one REAL type; returns the cached .so (raises CalledProcessError/OSError)."""
    source = _SOURCE.read_bytes()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    errors = []
    for flags in _FLAG_SETS:
        key = hashlib.sha256(b"\0".join([source, " ".join(flags).encode(), version.encode(), real.encode(),
                                          _cpu_id().encode(), platform.machine().encode()])).hexdigest()[:16]
        target = _cache_dir() / f"pig_jet_{real}_{key}.so"
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            obj, lib = Path(tmp) / "k.o", Path(tmp) / "k.so"
            link = [f for f in flags if f == "-fopenmp"]
            done = subprocess.run([cc, *flags, "-fPIC", f"-DREAL={real}", "-c", str(_SOURCE), "-o", str(obj)],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                done = subprocess.run([cc, "-shared", *link, str(obj), "-o", str(lib), "-lm"],
                                      capture_output=True, text=True)
            if done.returncode == 0:
                os.replace(lib, target)
                return target
            errors.append(done.stderr.strip().splitlines()[-1:] or [""])
    raise OSError(f"{cc} failed: {errors}")


@functools.cache
def _library(dtype: torch.dtype) -> ctypes.CDLL | None:
    if dtype not in _REALS:
        return None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    try:
        if cc is None:
            raise OSError("no C compiler found (set CC)")
        lib = ctypes.CDLL(str(_build(cc, _REALS[dtype])))
    except (OSError, subprocess.SubprocessError) as err:
        warnings.warn(f"sciml native kernels unavailable, using the torch twins: {err}", RuntimeWarning,
                      stacklevel=3)
        return None
    ptr, i = ctypes.c_void_p, ctypes.c_int
    lib.pig_jet_forward.argtypes = [i, i, i, i, ptr, ptr, ptr, ptr, ptr, i, i]
    lib.pig_jet_backward.argtypes = [i, i, i, i] + [ptr] * 9 + [i, i]
    lib.pig_jet_forward.restype = lib.pig_jet_backward.restype = None
    return lib


def available(dtype: torch.dtype = torch.float32) -> bool:
    """True when the C kernels for ``dtype`` (float32/float64) are built and loaded."""
    return _library(dtype) is not None


def _soa(means: torch.Tensor, factors: torch.Tensor, weights: torch.Tensor):
    """(k, N, d) parameters as contiguous (k, d, N) arrays, the kernels' Gaussian-innermost layout."""
    return means.detach().transpose(1, 2).contiguous(), factors.detach().transpose(1, 2).contiguous(), \
        weights.detach().contiguous()


def pig_jet_forward(x: torch.Tensor, means: torch.Tensor, factors: torch.Tensor, weights: torch.Tensor,
                    derivatives: bool = True) -> torch.Tensor:
    """Jet (1 + 2d, n, k) (value, ∂/∂x_j, ∂²/∂x_j²) of Σ_i w_i exp(-½|diag(s_i)(x − μ_i)|²) per channel,
    or the value alone (1, n, k). x (n, d); means, factors s = 1/σ (k, N, d); weights (k, N).
    Not differentiable itself: :class:`sciml.nn.pig._DiagonalGaussianJet` wraps it."""
    (n, d), (k, N) = x.shape, weights.shape
    mu, s, w = _soa(means, factors, weights)
    x = x.detach().contiguous()
    out = x.new_empty(1 + 2 * d if derivatives else 1, n, k)
    if n and k and N:
        _library(x.dtype).pig_jet_forward(n, k, N, d, x.data_ptr(), mu.data_ptr(), s.data_ptr(), w.data_ptr(),
                                          out.data_ptr(), int(derivatives), torch.get_num_threads())
    else:
        out.zero_()
    return out


def pig_jet_backward(x, means, factors, weights, grad_out):
    """Gradients (x (n, d), means (k, N, d), factors (k, N, d), weights (k, N)) of Σ grad_out · jet for
    the full jet's grad_out (1 + 2d, n, k) or the value's (1, n, k); accumulated over points in double."""
    (n, d), (k, N) = x.shape, weights.shape
    mu, s, w = _soa(means, factors, weights)
    x, go = x.detach().contiguous(), grad_out.detach().contiguous()
    gx, gmu, gs, gw = x.new_zeros(k, n, d), x.new_zeros(k, d, N), x.new_zeros(k, d, N), x.new_zeros(k, N)
    if n and k and N:
        _library(x.dtype).pig_jet_backward(n, k, N, d, x.data_ptr(), mu.data_ptr(), s.data_ptr(), w.data_ptr(),
                                           go.data_ptr(), gx.data_ptr(), gmu.data_ptr(), gs.data_ptr(),
                                           gw.data_ptr(), int(go.shape[0] > 1), torch.get_num_threads())
    return gx.sum(0), gmu.transpose(1, 2), gs.transpose(1, 2), gw
