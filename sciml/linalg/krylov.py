"""Conjugate gradients and flexible conjugate directions on torch tensors.

:func:`cg` is preconditioned CG (Hestenes–Stiefel 1952) with SciPy's calling convention and stopping
rule ‖r_k‖ ≤ max(rtol‖b‖, atol) on the recursive residual. :func:`flexible_cg` is Notay's flexible CG
(FCG(m), SIAM J. Sci. Comput. 22, 2000): each new direction is the preconditioned residual
A-orthogonalised against the last m directions, so it tolerates nonlinear or non-symmetric
preconditioners (a network, an F-cycle, an inner iteration). :func:`conjugate_directions` is the shared
loop; DCDM (:mod:`sciml.linalg.dcdm`) is the same loop with a network as direction generator.

Right-hand sides of shape (n, k) are k independent solves run side by side (one matvec on (n, k)).
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable

import numpy as np
import torch

from ..errors import InputError, check
from .info import SolveInfo
from .operator import Operator, as_operator, as_preconditioner, as_rhs, restore


def _dot(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return (X * Y).sum(0)


class _Problem:
    """Shared set-up of the Krylov loops: operator, right-hand side, projections, bookkeeping."""

    def __init__(self, A, b, x0, maxiter, rtol, atol, loop_dtype=None):
        self.t0 = time.perf_counter()
        B, self.one, self.numpy = as_rhs(b)
        dtype = loop_dtype or B.dtype
        self.B = B.to(dtype)
        dtype, device = self.B.dtype, self.B.device
        self.op: Operator = as_operator(A, B.shape[0], dtype, device)
        check(float(rtol) >= 0 and float(atol) >= 0, f"rtol/atol: expected >= 0, got {rtol}, {atol}")
        self.maxiter = 10 * self.op.n if maxiter is None else int(maxiter)
        check(self.maxiter >= 0, f"maxiter: expected >= 0, got {maxiter}")
        self.N = self.op.nullspace
        self.message = ""
        if self.N is not None:
            c = self.project(self.B)
            removed = float((self.B - c).norm() / self.B.norm().clamp_min(1e-300))
            if removed > 1e-12:
                self.message = (
                    f"singular operator: removed the null-space component of b (relative {removed:.2e})"
                )
            self.B = c
        if x0 is None:
            self.X = torch.zeros_like(self.B)
        else:
            X0, one0, _ = as_rhs(x0, "x0")
            check(X0.shape[0] == self.op.n, f"x0: expected length {self.op.n}, got {X0.shape[0]}")
            self.X = X0.to(dtype=dtype, device=device).expand_as(self.B).clone()
        self.bnorm = self.B.norm(dim=0)
        self.scale = torch.where(self.bnorm > 0, self.bnorm, torch.ones_like(self.bnorm))
        self.thresh = torch.clamp(rtol * self.bnorm, min=atol)
        self.history: list[torch.Tensor] = []
        self.reason = None

    def project(self, X: torch.Tensor) -> torch.Tensor:
        return X if self.N is None else X - self.N @ (self.N.T @ X)

    def record(self, R: torch.Tensor) -> torch.Tensor:
        """Store ‖r‖/‖b‖ and return the mask of columns still running."""
        rn = R.norm(dim=0)
        self.history.append((rn / self.scale).cpu())
        return rn > self.thresh

    def stop(self, reason: str, message: str) -> None:
        self.reason = self.reason or reason
        self.message = "; ".join(m for m in (self.message, message) if m)

    def finish(self, iterations: int, active: torch.Tensor, extra=None):
        X = self.project(self.X)
        R = self.B - self.op.matvec(X)
        final = float((R.norm(dim=0) / self.scale).max())
        converged = not bool(active.any()) and self.reason is None
        reason = "converged" if converged else (self.reason or "maxiter")
        if reason == "maxiter":
            self.message = "; ".join(
                m for m in (self.message, f"not converged in {self.maxiter} iterations") if m
            )
        res = torch.stack(self.history).numpy().astype(np.float64)
        info = SolveInfo(
            iterations=iterations,
            residuals=res[:, 0] if self.one else res,
            converged=converged,
            time=time.perf_counter() - self.t0,
            reason=reason,
            final_residual=final,
            message=self.message,
            extra=extra or {},
        )
        if reason in ("indefinite", "indefinite preconditioner", "nonfinite"):
            warnings.warn(f"sciml.linalg: {info.message}", RuntimeWarning, stacklevel=3)
        return restore(X, self.one, self.numpy), info


def cg(
    A,
    b,
    x0=None,
    M=None,
    rtol: float = 1e-8,
    atol: float = 0.0,
    maxiter: int | None = None,
    callback: Callable | None = None,
):
    """Solve Ax = b for SPD A by (preconditioned) conjugate gradients.

    A: SciPy sparse / ``LinearOperator``, NumPy or torch dense, torch sparse, ``Stencil`` or callable.
    b: (n,) or (n, k) NumPy or torch (k independent columns; the caller's type and layout come back).
    M: preconditioner ≈ A⁻¹, SPD: matrix, callable, ``Multigrid``, ``amg(A)``, or anything with
    ``.aspreconditioner()``. Stops when ‖r‖ ≤ max(rtol‖b‖, atol) for every column; ``callback(x)`` runs
    once per iteration. Returns ``(x, SolveInfo)``. pᵀAp ≤ 0 stops with reason "indefinite" (A not SPD),
    rᵀMr ≤ 0 with "indefinite preconditioner"; the iterate before the breakdown is returned.
    """
    P = _Problem(A, b, x0, maxiter, rtol, atol)
    op, prec = P.op, as_preconditioner(M, P.op, P.B.dtype, P.B.device)
    _check_symmetric_preconditioner(M)
    X = P.X
    R = P.B - op.matvec(X) if x0 is not None else P.B.clone()
    active = P.record(R)
    Z = P.project(prec(R)) if prec is not None else R
    rz = _dot(R, Z)
    Pd = Z.clone()
    it = 0
    while bool(active.any()) and it < P.maxiter:
        if prec is not None and bool((rz[active] <= 0).any()):
            P.stop("indefinite preconditioner", "preconditioner M is not positive definite (rᵀMr ≤ 0)")
            break
        AP = op.matvec(Pd)
        pAp = _dot(Pd, AP)
        if not bool(torch.isfinite(pAp).all()):
            P.stop("nonfinite", "the operator returned NaN or Inf")
            break
        if bool((pAp[active] <= 0).any()):
            P.stop(
                "indefinite",
                "A is not positive definite: pᵀAp ≤ 0 in CG (use a symmetric positive "
                "definite matrix, or another method)",
            )
            break
        alpha = torch.where(active, rz / torch.where(active, pAp, 1.0), 0.0)
        X += alpha * Pd
        R -= alpha * AP
        it += 1
        active = P.record(R)
        if callback is not None:
            callback(restore(X, P.one, P.numpy))
        Z = P.project(prec(R)) if prec is not None else R
        rz_new = _dot(R, Z)
        beta = torch.where(active, rz_new / torch.where(rz != 0, rz, 1.0), 0.0)
        Pd = Z + beta * Pd
        rz = rz_new
    return P.finish(it, active)


def _check_symmetric_preconditioner(M) -> None:
    if getattr(M, "symmetric", True) is False:
        raise InputError(
            "M: this preconditioner is not symmetric (e.g. an F-cycle or unequal pre/post "
            "smoothing); use flexible_cg or a symmetric V/W-cycle"
        )


def flexible_cg(
    A,
    b,
    x0=None,
    M=None,
    rtol: float = 1e-8,
    atol: float = 0.0,
    maxiter: int | None = None,
    callback: Callable | None = None,
    m: int = 1,
):
    """Notay's flexible CG, FCG(m): M may be nonlinear, non-symmetric or vary between iterations.

    Direction p_k = M(r_k) A-orthogonalised against the last ``m`` directions, then an exact A-norm
    line search. With a fixed SPD M and m ≥ 1 it equals PCG in exact arithmetic. Same inputs/outputs
    as :func:`cg`.
    """
    check(int(m) >= 0, f"m: expected >= 0, got {m}")
    P = _Problem(A, b, x0, maxiter, rtol, atol)
    prec = as_preconditioner(M, P.op, P.B.dtype, P.B.device)
    direction = prec if prec is not None else (lambda R: R)
    return conjugate_directions(P, direction, window=int(m), callback=callback)


def conjugate_directions(
    P: _Problem,
    direction: Callable[[torch.Tensor], torch.Tensor],
    window: int,
    callback: Callable | None = None,
    true_residual_every: int = 0,
    extra=None,
):
    """The shared loop of FCG(m) and DCDM: q = direction(r), A-orthogonalise q against the last
    ``window`` directions (classical Gram–Schmidt with cached Ap), x += αq with α = qᵀr/qᵀAq.

    ``true_residual_every`` > 0 recomputes r = b − Ax every that many iterations (DCDM: every one).
    The A-norm error never increases, whatever ``direction`` is.
    """
    op, X = P.op, P.X
    R = P.B - op.matvec(X)
    active = P.record(R)
    recent: deque = deque(maxlen=max(window, 1))
    it = 0
    while bool(active.any()) and it < P.maxiter:
        Q = P.project(direction(R))
        if window > 0:
            for Pj, APj, pApj in recent:
                Q = Q - (_dot(Q, APj) / pApj) * Pj
        AQ = op.matvec(Q)
        qAq = _dot(Q, AQ)
        if not bool(torch.isfinite(qAq).all()):
            P.stop("nonfinite", "the operator or the direction generator returned NaN or Inf")
            break
        if bool((qAq[active] < 0).any()):
            P.stop("indefinite", "A is not positive definite: qᵀAq < 0")
            break
        if bool((qAq[active] == 0).any()):
            P.stop("stagnation", "the direction generator returned a zero direction")
            break
        safe = torch.where(active, qAq, 1.0)
        alpha = torch.where(active, _dot(Q, R) / safe, 0.0)
        X += alpha * Q
        it += 1
        if true_residual_every and it % true_residual_every == 0:
            R = P.B - op.matvec(P.project(X))
        else:
            R = R - alpha * AQ
        active = P.record(R)
        if callback is not None:
            callback(restore(X, P.one, P.numpy))
        recent.append((Q, AQ, safe))
    return P.finish(it, active, extra)
