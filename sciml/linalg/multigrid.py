"""Geometric multigrid on :class:`~sciml.linalg.Stencil` operators (V, W and F cycles).

Smoothers: damped Jacobi with one weight per point, ω_i = 4/(3 λ_i), λ_i = Σ_j |a_ij| / a_ii the
Gershgorin bound of row i of D⁻¹A (unless ω is given; :func:`jacobi_weights`), and
red–black Gauss–Seidel (2 colours for 5/7-point operators, 2^d colours for the 9/27-point Galerkin
coarse operators so that points of one colour never couple); the post-smoother runs the colours in
reverse, so a V- or W-cycle with ``pre == post`` is a symmetric positive definite preconditioner for
:func:`~sciml.linalg.cg`. Transfers: full weighting and bi/trilinear interpolation
(:mod:`sciml.linalg.transfer`), rows rescaled next to Neumann walls (:func:`prolongation_weight`).
Coarse operators: Galerkin R A P (computed by probing with 3^d coloured coarse vectors, any grid
size, masks handled) or rediscretised (nodal coefficient injected, h doubled; needs odd sizes at every
level, n = 2^k − 1). The coarsest grid (≤ ``max_coarse``
unknowns) is solved with a pseudo-inverse, which also handles singular all-Neumann operators.

Grids that cannot be coarsened far enough (an axis reaches one node while more than 4096 unknowns
remain) raise :class:`~sciml.errors.InputError`; there is no silent padding.

All kernels go through :func:`sciml.kernels.backend`: Triton on CUDA, the torch twins on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..errors import InputError, check
from ..kernels import backend
from ..kernels.reference import _shift, coarse_shape
from .info import SolveInfo
from .operator import as_rhs, restore
from .stencil import Stencil, half_offsets
from .transfer import prolong, restrict

MAX_DENSE = 4096
CYCLES = ("V", "W", "F")
SMOOTHERS = ("jacobi", "rbgs")


@dataclass(frozen=True)
class Level:
    """One grid of the hierarchy: its operator, Jacobi weights (one per point, the grid's shape), number
    of GS colours and the row scaling ``weight`` of the prolongation into it (P = diag(weight)·P_linear;
    None = 1)."""

    stencil: Stencil
    omega: torch.Tensor
    ncolors: int
    weight: torch.Tensor | None = None


def prolongation_weight(st: Stencil) -> torch.Tensor | None:
    """Row scaling of bi/trilinear P that keeps it exact on constants where the operator is not
    grounded (zero row sum: Neumann walls, no-flux solids) and zero on solid cells.

    Linear interpolation with zero boundary values is right next to Dirichlet boundaries but pulls
    constants towards 0 next to Neumann walls, which costs a factor ~3 in MG-PCG iterations on
    all-Neumann / obstacle problems. None when the scaling is the identity.
    """
    cs = coarse_shape(st.shape)
    if min(cs) < 1:
        return None
    ones = torch.ones((1, *st.shape), dtype=torch.float64)
    grounded = st.apply(ones, prefer="torch")[0].abs() > 1e-10 * st.diag.abs()
    cover = prolong(torch.ones((1, *cs), dtype=torch.float64), st.shape, prefer="torch")[0]
    w = torch.where(grounded | (cover <= 0), 1.0, 1.0 / cover.clamp_min(1e-300))
    if st.solid is not None:
        w = w * ~st.solid
    return None if bool((w == 1).all()) else w


def jacobi_weights(st: Stencil) -> torch.Tensor:
    """Pointwise Jacobi weights ω_x = 4 / (3 λ_x), λ_x = Σ_y |A_xy| / A_xx (grid-shaped, float64).

    An l1-type smoother (Baker, Falgout, Kolev & Yang, SIAM J. Sci. Comput. 33:2864, 2011): with
    M = diag(A_xx / ω_x), 2M − A is diagonally dominant, so every sweep is convergent in the A-norm
    and the symmetric cycle stays SPD. One global ω = 4/(3 max_x λ_x) is set by the worst row: on the
    Galerkin coarse grids of the obstacle problem a few cut cells next to the solid push it to 0.04,
    which starves the smoothing everywhere else (MG-PCG 8 → 25 iterations to 1e-8 from 64² to 1024² in
    ``benchmarks/linear_solvers.py``; with pointwise weights 8 → 8). On the 5-point Laplacian the
    interior weight is the classical 2/3.
    """
    absrow = st.diag.clone()
    for k, o in enumerate(st.offsets):
        w = st.off[k].abs()
        absrow = absrow + w + _shift(w[None], tuple(-v for v in o))[0]
    return 4.0 * st.diag / (3.0 * absrow)


def galerkin_coarse(st: Stencil) -> Stencil:
    """R A P of ``st`` as a 9-point (2D) / 27-point (3D) stencil on the coarse grid.

    Probing: coarse points coloured by (I mod 3) are decoupled at distance ≤ 1, so 3^d products
    R A P v_c give every entry; P is scaled by :func:`prolongation_weight` (solid cells cut out).
    """
    d, cs = st.ndim, coarse_shape(st.shape)
    grids = torch.meshgrid(*[torch.arange(n) for n in cs], indexing="ij")
    colour = sum((g % 3) * 3**k for k, g in enumerate(grids))
    probes = torch.stack([(colour == c).double() for c in range(3**d)])
    weight = prolongation_weight(st)
    fine = prolong(probes, st.shape, prefer="torch")
    if weight is not None:
        fine = fine * weight
    out = st.apply(fine, prefer="torch")
    if weight is not None:
        out = out * weight
    W = restrict(out, cs, prefer="torch")  # W[c, J] = A_c[J, I] for the I of colour c next to J
    diag = torch.gather(W, 0, colour[None]).squeeze(0)
    offsets = half_offsets(d)
    off = torch.zeros((len(offsets),) + cs, dtype=torch.float64)
    for k, o in enumerate(offsets):
        nb = [g + oi for g, oi in zip(grids, o)]
        inside = torch.ones(cs, dtype=torch.bool)
        for g, n in zip(nb, cs):
            inside &= (g >= 0) & (g < n)
        cnb = sum((g % 3) * 3**j for j, g in enumerate(nb))
        vals = -torch.gather(W, 0, cnb.clamp(0, 3**d - 1)[None]).squeeze(0)
        off[k] = torch.where(inside, vals, 0.0)
    scale = float(diag.abs().max())
    solid = diag.abs() <= 1e-12 * scale
    if solid.any():
        diag = torch.where(solid, 1.0, diag)
        off[:, solid] = 0.0
        for k, o in enumerate(offsets):  # couplings into coarse solid points are zero already
            off[k] = torch.where(_shift(solid[None].double(), o)[0] > 0, 0.0, off[k])
    return Stencil.from_arrays(diag, off, offsets, tuple(2 * h for h in st.h), solid if solid.any() else None)


def rediscretized_coarse(st: Stencil) -> Stencil:
    """The same PDE on the coarse grid: nodal coefficient and solid mask injected, h doubled."""
    check(
        st.coefficient is not None and st.points != 9,
        "coarse: 'rediscretize' needs a 5/7-point Stencil built from a coefficient; use coarse='galerkin'",
    )
    check(
        all(n % 2 == 1 for n in st.shape),
        f"coarse: 'rediscretize' needs odd sizes at every level (n = 2^k − 1), got {st.shape}; "
        "use coarse='galerkin' (any size)",
    )
    a = st.coefficient[tuple(slice(None, None, 2) for _ in st.shape)]
    solid = None if st.solid is None else st.solid[tuple(slice(1, None, 2) for _ in st.shape)]
    return Stencil(
        coarse_shape(st.shape), a, h=tuple(2 * h for h in st.h), bc=st.bc, solid=solid, solid_bc=st.solid_bc
    )


class Multigrid:
    """Geometric multigrid hierarchy for ``stencil``; a solver (:meth:`solve`) and a preconditioner
    (``M=mg`` in :func:`~sciml.linalg.cg`: one cycle from zero per application).

    cycle: "V" | "W" | "F"; smoother: "jacobi" | "rbgs"; pre/post: sweeps; coarse: "galerkin" |
    "rediscretize"; omega: one Jacobi weight for every point (default: pointwise weights from
    Gershgorin, :func:`jacobi_weights`); max_coarse: unknowns of the
    coarsest grid (direct pseudo-inverse); kernels: "torch" | "triton" | None (automatic).
    """

    is_preconditioner = True

    def __init__(
        self,
        stencil: Stencil,
        cycle: str = "V",
        smoother: str = "jacobi",
        pre: int = 2,
        post: int = 2,
        coarse: str = "galerkin",
        omega: float | None = None,
        max_coarse: int = 256,
        kernels: str | None = None,
    ):
        t0 = time.perf_counter()
        check(
            isinstance(stencil, Stencil),
            f"stencil: expected a sciml.linalg.Stencil, got {type(stencil).__name__}",
        )
        check(cycle in CYCLES, f"cycle: expected one of {CYCLES}, got {cycle!r}")
        check(smoother in SMOOTHERS, f"smoother: expected one of {SMOOTHERS}, got {smoother!r}")
        check(
            coarse in ("galerkin", "rediscretize"),
            f"coarse: expected 'galerkin' or 'rediscretize', got {coarse!r}",
        )
        check(
            int(pre) >= 0 and int(post) >= 0 and int(pre) + int(post) > 0,
            f"pre/post: expected non-negative sweep counts, not both zero, got {pre}, {post}",
        )
        check(omega is None or 0 < float(omega) < 2, f"omega: expected 0 < omega < 2, got {omega}")
        self.cycle, self.smoother, self.pre, self.post = cycle, smoother, int(pre), int(post)
        self.kernels = kernels
        make_coarse = galerkin_coarse if coarse == "galerkin" else rediscretized_coarse
        sts = [stencil.to(torch.float64, "cpu")]
        while sts[-1].n > max_coarse:
            cs = coarse_shape(sts[-1].shape)
            if min(cs) < 1:
                if sts[-1].n > MAX_DENSE:
                    raise InputError(
                        f"stencil: grid {stencil.shape} cannot be coarsened below {sts[-1].shape} "
                        f"(an axis has one node) and {sts[-1].n} > {MAX_DENSE} unknowns remain; "
                        "use a more balanced grid"
                    )
                break
            sts.append(make_coarse(sts[-1]))
        self.levels = tuple(
            Level(
                s,
                jacobi_weights(s) if omega is None else torch.full(s.shape, float(omega), dtype=torch.float64),
                2 if len(s.offsets) == s.ndim else 2**s.ndim,
                prolongation_weight(s)
                if coarse == "galerkin"
                else (None if s.solid is None else (~s.solid).double()),
            )
            for s in sts
        )
        A = torch.as_tensor(sts[-1].to_sparse().toarray())
        self._coarse_inverse = torch.linalg.pinv(A, hermitian=True)  # torch: respects set_num_threads
        self._cache: dict = {}
        self.stencil = stencil
        self.setup_time = time.perf_counter() - t0

    @property
    def symmetric(self) -> bool:
        """True when one cycle is a symmetric operator (V/W with pre == post): usable in plain CG."""
        return self.cycle in ("V", "W") and self.pre == self.post

    @property
    def shape(self):
        return self.stencil.shape

    def __repr__(self) -> str:
        return (
            f"Multigrid({len(self.levels)} levels {[lv.stencil.shape for lv in self.levels]}, "
            f"{self.cycle}-cycle, "
            f"{self.smoother} {self.pre}/{self.post})"
        )

    def aspreconditioner(self):
        return self

    # --- one cycle ------------------------------------------------------------------------------------
    def _typed(self, dtype, device):
        key = (dtype, str(device))
        if key not in self._cache:
            sts = [lv.stencil.to(dtype, device) for lv in self.levels]
            ws = [
                None if lv.weight is None else lv.weight.to(dtype=dtype, device=device) for lv in self.levels
            ]
            oms = [lv.omega.to(dtype=dtype, device=device) for lv in self.levels]
            self._cache[key] = (sts, ws, oms, self._coarse_inverse.to(dtype=dtype, device=device))
        return self._cache[key]

    def cycle_grid(self, b: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """One cycle for grids b (B, *shape), from u (default zero)."""
        typed = self._typed(b.dtype, b.device)
        K = backend(b.device, self.kernels)
        return self._cycle(0, b, u, self.cycle, typed, K)

    def _cycle(self, l, b, u, kind, typed, K):
        sts, ws, oms, cinv = typed
        st, lv, w, om = sts[l], self.levels[l], ws[l], oms[l]
        if l == len(sts) - 1:
            return (b.reshape(b.shape[0], -1) @ cinv).reshape(b.shape)
        sweeps = self._colour_order(lv, forward=True)
        if u is None and self.smoother == "jacobi" and self.pre > 0:
            u, todo = om * b / st.diag, self.pre - 1
        else:
            u, todo = (torch.zeros_like(b) if u is None else u), self.pre
        for _ in range(todo):
            u = self._smooth(K, st, lv, om, u, b, sweeps)
        cs = sts[l + 1].shape
        if w is None:
            rc = K.residual_restrict(u, b, st.diag, st.off, st.offsets, cs)
        else:
            rc = K.restrict(w * K.residual(u, b, st.diag, st.off, st.offsets), cs)
        if kind == "V":
            ec = self._cycle(l + 1, rc, None, "V", typed, K)
        elif kind == "W":
            ec = self._cycle(l + 1, rc, None, "W", typed, K)
            ec = self._cycle(l + 1, rc, ec, "W", typed, K)
        else:
            ec = self._cycle(l + 1, rc, None, "F", typed, K)
            ec = self._cycle(l + 1, rc, ec, "V", typed, K)
        e = K.prolong(ec, st.shape)
        u = u + (e if w is None else e * w)
        back = self._colour_order(lv, forward=False)
        for _ in range(self.post):
            u = self._smooth(K, st, lv, om, u, b, back)
        return u

    def _colour_order(self, lv: Level, forward: bool):
        if self.smoother == "jacobi":
            return None
        order = list(range(lv.ncolors))
        return order if forward else order[::-1]

    @staticmethod
    def _smooth(K, st, lv, om, u, b, colours):
        if colours is None:
            return K.jacobi(u, b, st.diag, st.off, st.offsets, om)
        for c in colours:
            u = K.gs_color(u, b, st.diag, st.off, st.offsets, c, lv.ncolors)
        return u

    def __call__(self, r):
        """One cycle from zero: z ≈ A⁻¹ r for r of shape (n,) or (n, k) (torch or NumPy)."""
        R, one, numpy = as_rhs(r, "r")
        check(R.shape[0] == self.stencil.n, f"r: expected length {self.stencil.n}, got {R.shape[0]}")
        k = R.shape[1]
        Z = self.cycle_grid(R.T.reshape(k, *self.shape)).reshape(k, -1).T
        return restore(Z, one, numpy)

    # --- stand-alone solver -------------------------------------------------------------------------------
    def solve(self, b, x0=None, rtol: float = 1e-8, atol: float = 0.0, maxiter: int = 100):
        """Iterate cycles until ‖b − Ax‖ ≤ max(rtol‖b‖, atol); returns (x, SolveInfo)."""
        from .krylov import _Problem

        P = _Problem(self.stencil, b, x0, maxiter, rtol, atol)
        k = P.B.shape[1]
        grid = lambda X: X.T.reshape(k, *self.shape)
        R = P.B - P.op.matvec(P.X)
        active = P.record(R)
        it = 0
        while bool(active.any()) and it < P.maxiter:
            U = self.cycle_grid(grid(P.B), grid(P.X).contiguous())
            P.X = torch.where(active, P.project(U.reshape(k, -1).T), P.X)
            R = P.B - P.op.matvec(P.X)
            it += 1
            active = P.record(R)
            if not bool(torch.isfinite(R).all()):
                P.stop("nonfinite", "multigrid produced NaN or Inf")
                break
        x, info = P.finish(it, active, {"levels": len(self.levels)})
        return x, _with_setup(info, self.setup_time)


def _with_setup(info: SolveInfo, setup_time: float) -> SolveInfo:
    from dataclasses import replace

    return replace(info, setup_time=setup_time)
