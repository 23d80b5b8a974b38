"""A learned multigrid preconditioner that is symmetric positive definite by construction.

The V-cycle of :class:`~sciml.linalg.Multigrid` (Galerkin coarse operators, full weighting,
bi/trilinear interpolation, pseudo-inverse on the coarsest grid) with learned smoothers and a learned
coarse-correction weight:

* pre-smoother: k Richardson sweeps u ← u + ω_i L⁻¹(b − Au), i = 1..k, with L = diag(Σ_y |A_xy|)
  the l1 diagonal (= D·λ_x, λ_x the Gershgorin bound of row x; λ_max(L⁻¹A) ≤ 1); post-smoother: the
  same sweeps in reverse order, i.e. the adjoint Sᵀ of the pre-smoother S. S = p(L⁻¹A) is a
  polynomial smoother of degree k whose roots 1/ω_i are learned in pairs c ± d with c ∈ (1/2, 1),
  d < c/√2 (:class:`LearnedSmoothers`): then |p| < 1 on (0, 1] ⊇ spec(L⁻¹A), so ‖S‖_A < 1 for every
  parameter value, while the roots can reach down to 0.15 (Chebyshev-like smoothers; one
  ω ∈ (0, 2) sweep for odd k);
* the coarse correction is scaled by α = σ(θ_c) ∈ (0, 1) on coarse levels and α = 2σ(θ_c) ∈ (0, 2) on
  the finest.

Then E = I − BA = Sᵀ-sweeps · (I − α P B_c R A) · S-sweeps is A-self-adjoint. On coarse levels,
by induction, E_c has spectrum in [0, 1) (a congruence of I − α·(something in (0, 1])), and on the
finest level I − αμ with μ ∈ (0, 1] lies in (−1, 1); so ‖E‖_A < 1 and B is symmetric positive definite
for every value of the parameters (over-relaxing coarse levels too would let |1 − αμ| exceed 1:
the test suite checks the eigenvalues with random parameters) and plain
:func:`~sciml.linalg.cg` keeps its convergence guarantee. The parameters (one set for the finest
level, one shared by all coarser levels) do not depend on the grid size.

Training is unsupervised as for DCDM, from the same data (spectrum-biased Ritz-vector mixtures of the
training operator), with one of two losses: ``"contraction"`` (the spectral loss: log ‖E^m e‖²_A /
‖E^(m−1) e‖²_A, the contraction of E's slowest modes) or ``"pcg"`` (log ‖r_m‖²/‖b‖² after m unrolled
PCG iterations; m = 1 is the reference's DCDM loss ‖r − (yᵀr / yᵀAy)·Ay‖² with y = Br, in log form).
At initialisation B is (up to a ±1% spread of the roots and α = 1 − 2e-9 on coarse levels) the untrained
Jacobi V(k, k) cycle of :class:`~sciml.linalg.Multigrid` (pointwise ω_x = 4/(3λ_x), α = 1).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from ..errors import InputError, check
from .models import load_model, model_exists, save_model
from .multigrid import Multigrid
from .operator import as_rhs, restore
from .ritz import lanczos_ritz, spectrum_biased_rhs
from .stencil import Stencil

EPS = 0.02
LOSSES = ("contraction", "pcg")
POLYNOMIAL = "quadratic-pairs-l1"  # the smoother parametrisation (polynomial in L⁻¹A) of saved models


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class LearnedSmoothers(nn.Module):
    """The learned parameters of the smoothing polynomials (2 level classes × k) and coarse-correction
    weights θ_c (2); class 0 is the finest level, class 1 every coarser one.

    The degree-k smoother polynomial p(λ) of L⁻¹A (L the l1 diagonal, spectrum in (0, 1]) is a product
    of ⌊k/2⌋ quadratic factors and, for odd k, one linear factor. A quadratic factor has the roots c ± d
    with c = (1 + σ(θ_a))/2 ∈ (1/2, 1) and d = (1 − ε)·c·σ(θ_b)/√2: then |p| < 1 on (0, 1] (its maximum
    on [0, 1] is p(0) = 1 as c ≥ 1/2, its minimum at the vertex is −d²/(c² − d²) > −1 as d < c/√2), so
    roots down to 0.15 are reachable (the Chebyshev smoothers) while the cycle stays SPD. A linear
    factor is 1 − ωλ with ω = σ(θ)(2 − ε) ∈ (0, 2). At initialisation every root sits at 0.75 (± 1%):
    the Jacobi smoother ω_x = 4/(3λ_x) of :class:`~sciml.linalg.Multigrid`."""

    def __init__(self, sweeps: int = 2):
        super().__init__()
        k = self.sweeps = int(sweeps)
        check(k >= 1, f"sweeps: expected a positive integer, got {sweeps}")
        theta = torch.zeros(k)
        # c = 0.75 (± 1% between factors: equal factors would receive equal gradients forever) and
        # d = 1% of c: roots 0.75 (1 ± 0.014)
        theta[0 : 2 * (k // 2) : 2] = torch.linspace(-0.05, 0.05, k // 2) if k > 3 else 0.0
        theta[1 : 2 * (k // 2) : 2] = _logit(0.02)
        if k % 2:
            theta[-1] = _logit((4 / 3) / (2 - EPS))
        self.theta = nn.Parameter(theta.repeat(2, 1))
        # α = 1 on the finest level, α = 1 − 2e-9 on coarse ones: a coarse α below 1 compounds over the
        # levels (0.98 per level left ~13% of the smoothest error after 7 coarse levels at 1024²)
        self.theta_c = nn.Parameter(torch.tensor([0.0, 20.0]))

    def weights(self, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(ω_i for the k sweeps of L⁻¹A, α) of a level (0 = finest)."""
        c = min(level, 1)
        th = self.theta[c]
        om = []
        for j in range(self.sweeps // 2):
            cen = (1 + torch.sigmoid(th[2 * j])) / 2
            d = (1 - EPS) * cen * torch.sigmoid(th[2 * j + 1]) / math.sqrt(2)
            om += [1 / (cen + d), 1 / (cen - d)]
        if self.sweeps % 2:
            om.append(torch.sigmoid(th[-1]) * (2 - EPS))
        return torch.stack(om), (2 - c) * torch.sigmoid(self.theta_c[c])


class LearnedMultigrid:
    """SPD learned V-cycle preconditioner for ``stencil``: ``M=`` for :func:`~sciml.linalg.cg`.

    Build with :meth:`train`, or from saved parameters with :meth:`load` (applies to any grid size of
    the same dimension), or untrained as ``LearnedMultigrid(stencil)``.
    """

    is_preconditioner = True
    symmetric = True

    def __init__(
        self, stencil: Stencil, params: LearnedSmoothers | None = None, max_coarse: int = 256, meta: dict | None = None
    ):
        t0 = time.perf_counter()
        check(isinstance(stencil, Stencil), "stencil: expected a sciml.linalg.Stencil")
        self.params = params or LearnedSmoothers()
        k = self.params.sweeps
        self.mg = Multigrid(stencil, smoother="jacobi", pre=k, post=k, max_coarse=max_coarse, kernels="torch")
        self.stencil, self.meta = stencil, dict(meta or {})
        self.setup_time = time.perf_counter() - t0

    def __repr__(self) -> str:
        return f"LearnedMultigrid({self.stencil.shape}, {len(self.mg.levels)} levels, {self.params.sweeps} sweeps)"

    def aspreconditioner(self):
        return self

    # --- the cycle (differentiable) -------------------------------------------------------------------
    def cycle_grid(self, b: torch.Tensor) -> torch.Tensor:
        """One V-cycle from zero for grids b (B, *shape); differentiable in the parameters."""
        sts, ws, oms, cinv = self.mg._typed(b.dtype, b.device)
        return self._cycle(0, b, sts, ws, oms, cinv)

    def _cycle(self, l, b, sts, ws, oms, cinv):
        from ..kernels import reference as K

        st, w = sts[l], ws[l]
        if l == len(sts) - 1:
            return (b.reshape(b.shape[0], -1) @ cinv).reshape(b.shape)
        omegas, alpha = self.params.weights(l)
        inv_lam = 0.75 * oms[l]  # 1 / λ_x, as Multigrid's weights are 4 / (3 λ_x)
        omegas = [om.to(b.dtype) * inv_lam for om in omegas]
        u = torch.zeros_like(b)
        for om in omegas:
            u = u + om * K.residual(u, b, st.diag, st.off, st.offsets) / st.diag
        r = K.residual(u, b, st.diag, st.off, st.offsets)
        rc = K.restrict(r if w is None else w * r, sts[l + 1].shape)
        e = K.prolong(self._cycle(l + 1, rc, sts, ws, oms, cinv), st.shape)
        u = u + alpha.to(b.dtype) * (e if w is None else e * w)
        for om in reversed(omegas):
            u = u + om * K.residual(u, b, st.diag, st.off, st.offsets) / st.diag
        return u

    def error_step(self, e: torch.Tensor) -> torch.Tensor:
        """(I − BA) e for grids e (B, *shape): one preconditioned Richardson step on the error."""
        return e - self.cycle_grid(self.stencil.apply(e))

    def contraction_loss(self, e: torch.Tensor, power: int = 4) -> torch.Tensor:
        """Mean log of ‖E^m e‖²_A / ‖E^(m−1) e‖²_A with E = I − BA: after m − 1 steps the error is
        dominated by E's slowest modes, so this estimates log ρ(E)² and hence κ(BA) = (1 − λ_min)/(1 − λ_max)."""
        energy = lambda v: (v * self.stencil.apply(v)).flatten(1).sum(1)
        with torch.no_grad():
            for _ in range(power - 1):
                e = self.error_step(e)
                e = e / energy(e).sqrt().reshape(-1, *[1] * self.stencil.ndim)
        return torch.log(energy(self.error_step(e)) / energy(e)).mean()

    def pcg_loss(self, b: torch.Tensor, steps: int = 3) -> torch.Tensor:
        """Mean log of ‖r_m‖² / ‖b‖² after m = ``steps`` iterations of CG preconditioned by this cycle
        from x = 0, for grids b (B, *shape): the quantity the benchmark counts, differentiated through
        the unrolled iterations."""
        dot = lambda u, v: (u * v).flatten(1).sum(1).reshape(-1, *[1] * self.stencil.ndim)
        r = b
        z = self.cycle_grid(r)
        p, rz = z, dot(r, z)
        for _ in range(steps):
            Ap = self.stencil.apply(p)
            r = r - (rz / dot(p, Ap)) * Ap
            z = self.cycle_grid(r)
            rz_new = dot(r, z)
            p, rz = z + (rz_new / rz) * p, rz_new
        return torch.log(dot(r, r) / dot(b, b)).mean()

    def __call__(self, r):
        """z = B r for r of shape (n,) or (n, k) (torch or NumPy)."""
        R, one, numpy = as_rhs(r, "r")
        check(R.shape[0] == self.stencil.n, f"r: expected length {self.stencil.n}, got {R.shape[0]}")
        k = R.shape[1]
        with torch.no_grad():
            Z = self.cycle_grid(R.T.reshape(k, *self.stencil.shape)).reshape(k, -1).T
        return restore(Z, one, numpy)

    # --- training and persistence ----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        stencil: Stencil,
        steps: int = 200,
        batch: int = 16,
        ritz: int = 200,
        lr: float = 0.05,
        sweeps: int = 8,
        seed: int = 0,
        log_every: int = 0,
        power: int = 8,
        max_coarse: int = 256,
        train_coarse: bool = True,
        loss: str = "contraction",
    ) -> LearnedMultigrid:
        """Fit the smoother and coarse weights on ``stencil``: unsupervised, minimising ``loss``
        (:data:`LOSSES`: :meth:`contraction_loss` with ``power`` steps, or :meth:`pcg_loss` with
        ``power`` PCG iterations) from spectrum-biased Ritz-vector mixtures (initial errors for
        "contraction", right-hand sides for "pcg").

        ``sweeps`` = 8 (default): a degree-8 smoother before and after the coarse correction, 4× the
        smoothing sweeps of the default V(2, 2) cycle of :class:`~sciml.linalg.Multigrid` (in the
        benchmark's ablation 2 or 4 learned sweeps did not halve V(2, 2)'s iterations).
        ``train_coarse=True`` (default) learns the parameters of the coarse levels too (one set shared
        by all of them); False keeps them at their untrained values. With coarse α initialised at
        1 − 2e-9 (it used to be 0.98, which compounded over the levels and made coarse-level weights
        look non-transferable) training every level was the best variant of the benchmark's ablation
        (obstacle 1024²: 4 / 8 iterations to 1e-4 / 1e-8 against 6 / 12 with the finest level only)."""
        check(loss in LOSSES, f"loss: expected one of {LOSSES}, got {loss!r}")
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        model = cls(stencil, LearnedSmoothers(sweeps), max_coarse=max_coarse)
        st64 = stencil.to(torch.float64)
        fluid = None if stencil.fluid is None else stencil.fluid.reshape(-1)
        basis = lanczos_ritz(
            lambda v: st64.apply(v.reshape(1, *stencil.shape)).reshape(-1),
            stencil.n,
            min(ritz, stencil.n),
            seed=seed,
            mask=fluid,
        )
        mask = torch.tensor([1.0, float(train_coarse)])  # gradient mask per level class
        opt = torch.optim.Adam(model.params.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed + 1)
        losses = []
        for step in range(steps):
            e = spectrum_biased_rhs(basis, batch, gen).double().reshape(batch, *stencil.shape)
            value = model.contraction_loss(e, power) if loss == "contraction" else model.pcg_loss(e, power)
            opt.zero_grad()
            value.backward()
            model.params.theta.grad *= mask[:, None]
            model.params.theta_c.grad *= mask
            opt.step()
            losses.append(float(value.detach()))
            if log_every and step % log_every == 0:
                print(f"learned-mg step {step}: loss {np.mean(losses[-log_every:]):.4g}")
        model.meta = {
            "dim": stencil.ndim,
            "train_shape": list(stencil.shape),
            "steps": steps,
            "batch": batch,
            "ritz": int(basis.vectors.shape[0]),
            "lr": lr,
            "seed": seed,
            "sweeps": sweeps,
            "train_coarse": train_coarse,
            "loss": loss,
            "power": power,
            "loss_first": float(np.mean(losses[:10])),
            "loss_last": float(np.mean(losses[-10:])),
            "train_time": time.perf_counter() - t0,
        }
        return model

    def effective_weights(self) -> dict:
        """The learned ω_i (sweeps of L⁻¹A, i.e. ω_i·λ_x of D⁻¹A) and α per level class (finest,
        coarse), as plain floats."""
        out = {}
        for c, name in ((0, "finest"), (1, "coarse")):
            with torch.no_grad():
                om, al = self.params.weights(c)
            out[name] = {"omega_times_lambda": [round(float(v), 4) for v in om], "alpha": round(float(al), 4)}
        return out

    def save(self, name: str):
        return save_model(
            "learned_mg",
            name,
            self.params.state_dict(),
            {**self.meta, "dim": self.stencil.ndim, "sweeps": self.params.sweeps, "polynomial": POLYNOMIAL},
        )

    @classmethod
    def load(cls, name: str, stencil: Stencil) -> LearnedMultigrid:
        """Saved parameters applied to ``stencil`` (any size; same dimension as in training)."""
        state, meta = load_model("learned_mg", name)
        check(
            meta.get("polynomial") == POLYNOMIAL,
            f"name: learned-MG model {name!r} uses an older smoother parametrisation; retrain it",
        )
        check(
            int(meta["dim"]) == stencil.ndim,
            f"stencil: model {name!r} was trained on {meta['dim']}-D systems, got a {stencil.ndim}-D one",
        )
        params = LearnedSmoothers(int(meta["sweeps"]))
        params.load_state_dict(state)
        return cls(stencil, params, meta=meta)

    @staticmethod
    def exists(name: str) -> bool:
        """A saved model of this name exists, is intact and uses the current smoother parametrisation."""
        if not model_exists("learned_mg", name):
            return False
        try:
            return load_model("learned_mg", name)[1].get("polynomial") == POLYNOMIAL
        except InputError:
            return False
