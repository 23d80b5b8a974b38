"""Algebraic multigrid (pyamg) as a preconditioner with torch in and out.

``amg(A, kind="sa")`` builds pyamg's smoothed-aggregation hierarchy (Vaněk, Mandel, Brezina 1996),
``kind="rs"`` the Ruge–Stüben one, with pyamg's defaults (reference §3.5). The object is a symmetric
preconditioner for :func:`~sciml.linalg.cg` (one V-cycle from zero per application) and a solver
(:meth:`AMG.solve`, pyamg's own loop, optionally CG-accelerated). The hierarchy lives on the CPU
(pyamg is CPU-only); tensors on another device make a round trip through host memory.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from ..errors import check
from .info import SolveInfo
from .operator import as_rhs, restore, to_scipy

KINDS = ("sa", "rs")


class AMG:
    """A pyamg hierarchy for A; ``__call__(r)`` applies one cycle (r: (n,) or (n, k), torch or NumPy)."""

    is_preconditioner = True
    symmetric = True

    def __init__(self, A, kind: str = "sa", cycle: str = "V", **kwargs):
        import pyamg

        check(kind in KINDS, f"kind: expected one of {KINDS}, got {kind!r}")
        check(
            cycle in ("V", "W"), f"cycle: expected 'V' or 'W' for a symmetric preconditioner, got {cycle!r}"
        )
        t0 = time.perf_counter()
        self.A = to_scipy(A)
        build = pyamg.smoothed_aggregation_solver if kind == "sa" else pyamg.ruge_stuben_solver
        self.ml = build(self.A, **kwargs)
        self._M = self.ml.aspreconditioner(cycle=cycle)
        self.kind, self.cycle = kind, cycle
        self.setup_time = time.perf_counter() - t0

    @property
    def n(self) -> int:
        return self.A.shape[0]

    def operator_complexity(self) -> float:
        return float(self.ml.operator_complexity())

    def __repr__(self) -> str:
        oc = self.operator_complexity()
        return f"AMG(kind={self.kind!r}, levels={len(self.ml.levels)}, op. complexity={oc:.2f})"

    def aspreconditioner(self):
        return self

    def __call__(self, r):
        R, one, numpy = as_rhs(r, "r")
        check(R.shape[0] == self.n, f"r: expected length {self.n}, got {R.shape[0]}")
        Rn = R.detach().cpu().double().numpy()
        Z = np.stack([self._M.matvec(Rn[:, j]) for j in range(Rn.shape[1])], axis=1)
        return restore(torch.as_tensor(Z, dtype=R.dtype, device=R.device), one, numpy)

    def solve(self, b, rtol: float = 1e-8, maxiter: int = 100, accel: str | None = "cg"):
        """pyamg's solve loop (tol relative to ‖b‖): ``accel="cg"`` is AMG-PCG, None plain cycles."""
        B, one, numpy = as_rhs(b)
        check(B.shape[0] == self.n, f"b: expected length {self.n}, got {B.shape[0]}")
        t0 = time.perf_counter()
        xs, hist = [], []
        for j in range(B.shape[1]):
            res: list = []
            bj = B[:, j].cpu().double().numpy()
            xs.append(
                self.ml.solve(bj, tol=rtol, maxiter=maxiter, cycle=self.cycle, accel=accel, residuals=res)
            )
            nb = np.linalg.norm(bj) or 1.0
            hist.append(np.asarray(res) / nb)
        X = torch.as_tensor(np.stack(xs, 1), dtype=B.dtype, device=B.device)
        final = max(
            float(
                np.linalg.norm(B[:, j].cpu().numpy() - self.A @ xs[j])
                / (np.linalg.norm(B[:, j].cpu().numpy()) or 1)
            )
            for j in range(len(xs))
        )
        L = max(len(h) for h in hist)
        res = np.stack([np.pad(h, (0, L - len(h)), mode="edge") for h in hist], 1)
        converged = final <= rtol * 1.0000001 or bool(np.all(res[-1] <= rtol))
        info = SolveInfo(
            iterations=L - 1,
            residuals=res[:, 0] if one else res,
            converged=converged,
            time=time.perf_counter() - t0,
            reason="converged" if converged else "maxiter",
            final_residual=final,
            message="" if converged else f"not converged in {maxiter} iterations",
        )
        return restore(X, one, numpy), replace(info, setup_time=self.setup_time)


def amg(A, kind: str = "sa", cycle: str = "V", **kwargs) -> AMG:
    """pyamg AMG hierarchy for A (SciPy/torch matrix or Stencil): ``kind`` "sa" (smoothed aggregation)
    or "rs" (Ruge–Stüben); ``kwargs`` go to pyamg's builder."""
    return AMG(A, kind, cycle, **kwargs)
