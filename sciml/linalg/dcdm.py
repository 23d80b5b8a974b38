"""DCDM, the deep conjugate direction method (Kaneda, Akar, Chen, Kala, Hyde, Teran, ICML 2023).

Each iteration: q = f(s·r/‖r‖) with f the CNN of :mod:`.dcdm_net` and s = √(n/n_train) (the paper's
unit-norm input at the training size, the same magnitude per cell at other sizes); q A-orthogonalised
against the last ``window`` directions (default 2); exact A-norm line search; true residual r = b − Ax
recomputed. The loop runs in float64, the network in float32. This is
:func:`~sciml.linalg.krylov.conjugate_directions` with the network as direction generator, so the
A-norm error never increases for any network.

Training (unsupervised): L(r) = ‖r − (yᵀr / yᵀAy)·Ay‖² with y = f(r), batch mean, over
spectrum-biased mixtures of Ritz vectors of the training operator generated on the fly
(:mod:`.ritz`). The network sees neither the geometry nor the grid size: a model trained on one grid
is applied unchanged to larger grids and other geometries of the same dimension.

Trained models are stored in ``sciml.data.cache_dir()/models/dcdm/<name>.pt`` with a JSON of
metadata (dimension, layout, training operator, steps, seed, final loss, versions, SHA-256 of the
weights); a missing or mismatched checksum is an error, never a silent wrong load.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..errors import check
from .dcdm_net import LAYOUTS, DCDMNet, recursion_depth
from .krylov import _Problem, conjugate_directions
from .models import load_model, model_exists, save_model
from .ritz import lanczos_ritz, spectrum_biased_rhs
from .stencil import Stencil


class _TrainingOperator:
    """One training operator: float32 stencil, fluid mask, and its Lanczos/Ritz basis (float64)."""

    def __init__(self, stencil: Stencil, ritz: int, seed: int):
        self.shape = stencil.shape
        self.op = stencil.to(torch.float32)
        fluid = None if stencil.fluid is None else stencil.fluid.reshape(-1)
        st64 = stencil.to(torch.float64)
        self.basis = lanczos_ritz(
            lambda v: st64.apply(v.reshape(1, *stencil.shape)).reshape(-1),
            stencil.n,
            min(ritz, stencil.n),
            seed=seed,
            mask=fluid,
        )
        self.mask = None if fluid is None else fluid.to(torch.float32).reshape(1, -1)

    def masked(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.mask is None else y * self.mask


def scale_invariant_loss(r: torch.Tensor, y: torch.Tensor, Ay: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖r − (yᵀr / yᵀAy)·Ay‖² (all (B, n)): the residual left after one exact
    line search from 0 along y; invariant to the scale and sign of y."""
    yr = (y * r).sum(1, keepdim=True)
    yAy = (y * Ay).sum(1, keepdim=True).clamp_min(1e-30)
    return ((r - yr / yAy * Ay) ** 2).sum(1).mean()


class DCDM:
    """A DCDM solver: a trained :class:`DCDMNet` plus the conjugate-direction loop.

    Build with :meth:`train` or :meth:`load`; solve with :meth:`solve`.
    """

    def __init__(self, net: DCDMNet, window: int = 2, meta: dict | None = None):
        self.net = net.eval()
        self.window = int(window)
        self.meta = dict(meta or {})

    @property
    def dim(self) -> int:
        return self.net.dim

    def __repr__(self) -> str:
        return f"DCDM(dim={self.dim}, layout={self.net.layout!r}, trained on {self.meta.get('train_shape')})"

    # --- training -----------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        stencil: Stencil | Sequence[Stencil],
        steps: int = 2000,
        batch: int = 16,
        ritz: int = 300,
        lr: float = 1e-3,
        layout: str = "from64",
        seed: int = 0,
        window: int = 2,
        log_every: int = 0,
        time_limit: float | None = None,
        cosine: bool = False,
        coarsest: int | Sequence[int] = 4,
        max_levels: int | str | None = None,
        odd: bool = False,
        solve_coarsest: int | None = None,
    ) -> DCDM:
        """Train on ``stencil`` (the training operator, or a list of operators of one dimension that
        the steps cycle through, e.g. two grid sizes so that the multilevel layout sees two depths):
        ``ritz`` Lanczos steps per operator, then ``steps`` Adam steps on batches of spectrum-biased
        Ritz mixtures (``cosine``: the learning rate annealed to 0 over the steps instead of the
        paper's constant rate); ``time_limit`` (s) stops early. The first operator is the reference
        size of :meth:`input_scale`.

        ``coarsest`` (multilevel layout): where the recursion stops (:class:`DCDMNet`). A sequence,
        e.g. ``(1, 2, 4)``, cycles through its values, one per pass over the operators, so the shared
        blocks are trained at more depths than the training grids give (32²–128²: up to 8 levels
        instead of 6); the model then solves with the last value, or with ``solve_coarsest``
        (:meth:`set_coarsest`). Trained at one bottom only, the
        recursion stalled 2 levels beyond its training depth for 2 seeds of 3 (see :mod:`.dcdm_net`).
        ``max_levels``: the model's cap on the recursion at solve time (:meth:`cap_depth`; None: the
        depth follows the grid; "trained": the deepest recursion of training). ``odd``: train and solve
        with the odd network h(r) − h(−r) (:class:`DCDMNet`; its iterations stay flat in N)."""
        stencils = list(stencil) if isinstance(stencil, (list, tuple)) else [stencil]
        check(
            len(stencils) > 0 and all(isinstance(s, Stencil) for s in stencils),
            "stencil: expected a sciml.linalg.Stencil or a non-empty list of them",
        )
        check(
            len({s.ndim for s in stencils}) == 1,
            f"stencil: all training operators must have one dimension, got {[s.shape for s in stencils]}",
        )
        check(layout in LAYOUTS, f"layout: expected one of {tuple(LAYOUTS)}, got {layout!r}")
        bottoms = [coarsest] if isinstance(coarsest, (int, np.integer)) else list(coarsest)
        check(
            len(bottoms) > 0 and all(isinstance(c, (int, np.integer)) and c >= 1 for c in bottoms),
            f"coarsest: expected a positive integer or a non-empty sequence of them, got {coarsest!r}",
        )
        bottoms = [int(c) for c in bottoms]
        check(
            layout == "multilevel" or bottoms == [4],
            f"coarsest: only the multilevel layout recurses, got coarsest={coarsest!r} with layout {layout!r}",
        )
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        cases = [_TrainingOperator(s, ritz, seed) for s in stencils]
        first = stencils[0]
        net = DCDMNet(first.ndim, layout, odd=odd)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
        gen = torch.Generator().manual_seed(seed + 1)
        losses = []
        for step in range(steps):
            case = cases[step % len(cases)]
            net.coarsest = bottoms[(step // len(cases)) % len(bottoms)]
            r = spectrum_biased_rhs(case.basis, batch, gen)
            y = case.masked(net(r.reshape(batch, 1, *case.shape), bc=case.op.bc).reshape(batch, -1))
            Ay = case.masked(case.op.apply(y.reshape(batch, *case.shape)).reshape(batch, -1))
            loss = scale_invariant_loss(r, y, Ay)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            losses.append(float(loss.detach()))
            if log_every and step % log_every == 0:
                print(f"dcdm step {step}: loss {np.mean(losses[-log_every:]):.4g}")
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
        net.coarsest = bottoms[-1]
        meta = {
            "dim": first.ndim,
            "layout": layout,
            "train_shape": list(first.shape),
            "train_shapes": [list(s.shape) for s in stencils],
            "train_points": first.points,
            "train_fluid": first.n if first.fluid is None else int(first.fluid.sum()),
            "train_bc": first.bc,
            "solid": first.solid is not None,
            "steps": len(losses),
            "coarsest": net.coarsest,
            "train_coarsest": bottoms,
            "odd": net.odd,
            "batch": batch,
            "ritz": int(cases[0].basis.vectors.shape[0]),
            "lr": lr,
            "lr_schedule": "cosine" if cosine else "constant",
            "seed": seed,
            "loss_first": float(np.mean(losses[:10])),
            "loss_last": float(np.mean(losses[-10:])),
            "train_time": time.perf_counter() - t0,
            "window": window,
            "params": sum(p.numel() for p in net.parameters()),
            "loss_history": [float(np.mean(losses[i : i + 10])) for i in range(0, len(losses), 10)],
        }
        return cls(net, window=window, meta=meta).cap_depth(max_levels).set_coarsest(solve_coarsest)

    @property
    def trained_depth(self) -> int | None:
        """The deepest recursion of the multilevel layout in training (levels, over the training grids
        and recursion bottoms; None for the other layouts)."""
        if self.net.layout != "multilevel":
            return None
        shapes = self.meta.get("train_shapes") or [self.meta.get("train_shape")]
        return max(recursion_depth(s, int(c)) for s in shapes for c in self.meta.get("train_coarsest", [4]))

    def cap_depth(self, max_levels: int | str | None) -> DCDM:
        """Cap the multilevel recursion at ``max_levels`` grid levels (None: none; "trained": the
        :attr:`trained_depth`); kept in the metadata, so a saved model loads with it. Returns self.

        Deeper than trained is an extrapolation of the shared blocks. The non-odd 2-D multilevel
        model (8 levels in training) stalled uncapped at 1024² on no-flux walls (9 levels; obstacle
        domain: residual 0.2 after 300 iterations to 1e-4, ``linear_solvers_obstacle.md``) and needed
        this cap (``linear_solvers_dcdm_seeds_nonodd.md`` compares caps); the odd model of :data:`RECIPES`
        does not. A shallow training depth is not a good cap: trained at one bottom only (6 levels),
        capping at 6 cost Poisson 27 iterations instead of 8 at 1024²
        (``linear_solvers_dcdm_seeds_coarsest4.md``)."""
        if max_levels == "trained":
            max_levels = self.trained_depth
        check(
            max_levels is None or (isinstance(max_levels, (int, np.integer)) and max_levels >= 1),
            f"max_levels: expected a positive integer, 'trained' or None, got {max_levels!r}",
        )
        self.net.max_levels = None if max_levels is None else int(max_levels)
        self.meta["max_levels"] = self.net.max_levels
        return self

    def set_coarsest(self, coarsest: int | None) -> DCDM:
        """Solve with the multilevel recursion bottoming out at ``coarsest`` cells per side (it stops
        coarsening below 2·coarsest; None: the last bottom of training); kept in the metadata. Returns self.

        The 2-D recipe trains with bottoms 1², 2², 4² and solves with 2² (:data:`RECIPES`): on the
        obstacle domain the bottom 4² gave seed 0 11 → 12 / 21 → 33 iterations (1e-4 / 1e-8) from 64² to
        1024², the bottom 2² 10 → 10 / 18 → 22 with the same weights (``linear_solvers_dcdm_seeds.md``,
        which compares both bottoms for three seeds)."""
        if coarsest is None:
            coarsest = (self.meta.get("train_coarsest") or [self.net.coarsest])[-1]
        check(
            isinstance(coarsest, (int, np.integer)) and coarsest >= 1,
            f"coarsest: expected a positive integer or None, got {coarsest!r}",
        )
        check(
            self.net.layout == "multilevel" or coarsest == self.net.coarsest,
            f"coarsest: only the multilevel layout recurses, got {coarsest!r} for layout {self.net.layout!r}",
        )
        self.net.coarsest = int(coarsest)
        self.meta["coarsest"] = self.net.coarsest
        return self

    # --- solving ------------------------------------------------------------------------------------------
    def input_scale(self, n: int) -> float:
        """√(n / n_train) for a system of n (fluid) unknowns: the network input r/‖r‖ is unit-norm at
        the training size as in the paper, and keeps the same magnitude per cell at other sizes. The
        ReLU network with biases is not scale-equivariant: with plain r/‖r‖ the inputs at 256² are 4×
        smaller per cell than at the 64² of training, which was measured to cost 2.7× the iterations."""
        n_train = self.meta.get("train_fluid") or int(np.prod(self.meta.get("train_shape") or [n]))
        return float(np.sqrt(n / n_train))

    def direction(self, shape, fluid: torch.Tensor | None = None, bc=None):
        """q = f(√(n/n_train)·r/‖r‖) (:meth:`input_scale`) for residual columns (n, k) → (n, k)
        float64 (masked to the fluid cells); ``bc``: the system's outer boundary conditions, which set
        the network's padding (:func:`~sciml.linalg.dcdm_net.pad_bc`; None = Dirichlet)."""
        check(
            len(shape) == self.dim,
            f"A: this DCDM model is {self.dim}-D, got a {len(shape)}-D system {tuple(shape)}",
        )
        flat = None if fluid is None else fluid.reshape(-1, 1)
        scale = self.input_scale(int(np.prod(shape)) if fluid is None else int(fluid.sum()))

        @torch.no_grad()
        def f(R):
            k = R.shape[1]
            x = (scale * R / R.norm(dim=0).clamp_min(1e-300)).T.reshape(k, 1, *shape).to(torch.float32)
            y = self.net(x, bc=bc).reshape(k, -1).T.to(R.dtype)
            return y if flat is None else y * flat

        return f

    def solve(
        self,
        A,
        b,
        shape=None,
        x0=None,
        rtol: float = 1e-4,
        atol: float = 0.0,
        maxiter: int = 100,
        window: int | None = None,
        callback=None,
        boundary_padding: bool = True,
    ):
        """Solve Ax = b; A a :class:`Stencil` (its grid) or any operator with ``shape`` the grid of
        the unknowns (C order). Returns (x, SolveInfo) with ``info.extra["network_time"]``.
        ``boundary_padding``: pad the network by A's boundary conditions (a Stencil's ``bc``; zeros on
        Dirichlet sides, edge values on no-flux sides); False pads with zeros everywhere (the paper)."""
        if isinstance(A, Stencil):
            shape, fluid, bc = A.shape, A.fluid, (A.bc if boundary_padding else None)
        else:
            check(
                shape is not None, "shape: DCDM needs the grid shape of the unknowns when A is not a Stencil"
            )
            shape, fluid, bc = tuple(int(s) for s in shape), None, None
        f = self.direction(shape, fluid, bc)
        P = _Problem(A, b, x0, maxiter, rtol, atol, loop_dtype=torch.float64)
        check(
            P.op.n == int(np.prod(shape)),
            f"shape: {tuple(shape)} has {int(np.prod(shape))} unknowns, A has {P.op.n}",
        )
        spent = [0.0]

        def timed(R):
            t = time.perf_counter()
            y = f(R)
            spent[0] += time.perf_counter() - t
            return y

        x, info = conjugate_directions(
            P, timed, self.window if window is None else int(window), callback=callback, true_residual_every=1
        )
        return x, replace(info, extra={"network_time": spent[0]})

    # --- persistence ------------------------------------------------------------------------------------
    def save(self, name: str) -> Path:
        """Write ``<name>.pt`` and ``<name>.json`` (metadata + SHA-256) to the model cache, atomically."""
        return save_model("dcdm", name, self.net.state_dict(), {**self.meta, "window": self.window})

    @classmethod
    def load(cls, name: str) -> DCDM:
        """Load a trained model by name from the cache; InputError if missing or its checksum differs."""
        state, meta = load_model("dcdm", name)
        net = DCDMNet(int(meta["dim"]), meta["layout"], coarsest=int(meta.get("coarsest", 4)),
                      max_levels=meta.get("max_levels"), odd=bool(meta.get("odd", False)))
        net.load_state_dict(state)
        return cls(net, window=int(meta.get("window", 2)), meta=meta)

    @staticmethod
    def exists(name: str) -> bool:
        return model_exists("dcdm", name)

    @classmethod
    def cached(cls, name: str, shapes: Sequence[Sequence[int]], seed: int = 0, log=None, **recipe) -> DCDM:
        """The model ``name`` from the cache if its metadata records this recipe (the Dirichlet
        Poisson operators of ``shapes``, ``seed`` and the :meth:`train` options ``recipe``); else
        trained on them and saved under ``name`` (``log(message)`` is told first). ``max_levels`` and
        ``solve_coarsest`` in the recipe are solve-time settings: a cached model gets them without
        retraining."""
        shapes = [tuple(int(n) for n in s) for s in shapes]
        if cls.exists(name):
            model = cls.load(name)
            if _trained_with(model.meta, shapes, seed, recipe):
                return model.cap_depth(recipe.get("max_levels")).set_coarsest(recipe.get("solve_coarsest"))
        if log is not None:
            log(f"training DCDM model {name!r} on Poisson {shapes} ({recipe.get('steps', 2000)} steps; once)")
        model = cls.train([Stencil.poisson(s) for s in shapes], seed=seed, **recipe)
        model.save(name)
        return model


def _trained_with(meta: dict, shapes: list, seed: int, recipe: dict) -> bool:
    """Whether saved metadata records training on ``shapes`` with ``seed`` and the options ``recipe``."""
    coarsest = recipe.get("coarsest", 4)
    want = {
        "train_shapes": [list(s) for s in shapes],
        "seed": seed,
        "layout": recipe.get("layout", "from64"),
        "steps": recipe.get("steps", 2000),
        "batch": recipe.get("batch", 16),
        "lr_schedule": "cosine" if recipe.get("cosine") else "constant",
        "train_coarsest": [coarsest] if isinstance(coarsest, int) else list(coarsest),
        "odd": bool(recipe.get("odd", False)),
    }
    have = {**meta,  # models saved before these fields existed: one operator, constant lr, bottom 4
            "train_shapes": meta.get("train_shapes") or [meta.get("train_shape")],
            "lr_schedule": meta.get("lr_schedule", "constant"),
            "train_coarsest": meta.get("train_coarsest", [4]),
            "odd": bool(meta.get("odd", False))}
    return all(have.get(k) == v for k, v in want.items())


#: Training recipes of :func:`pretrained` per (layout, dimension): training grids, steps, batch, Ritz vectors,
#: and the solve-time recursion bottom. ``benchmarks/linear_solvers.py`` trains the multilevel ones (seed 0 is
#: used here; ``--dcdm-seeds`` trains seeds 1 and 2). Both train the odd network (``odd``,
#: :class:`~sciml.linalg.dcdm_net.DCDMNet`) with the recursion's bottom cycled (``coarsest``; with the bottom
#: fixed at 4² and not odd, 2 seeds of 3 stalled from 512², ``linear_solvers_dcdm_seeds_coarsest4.md``).
#: 2-D: solved with the bottom at 2² (:meth:`DCDM.set_coarsest`), seeds 0 and 1 stay within ×1.22 of their
#: 64² count up to 1024² on Poisson, Darcy and the obstacle domain, seed 2 up to 512² on Poisson and Darcy
#: (``linear_solvers_dcdm_seeds.md``). 3-D: trained on 8³, 16³ and 32³; three seeds in
#: ``linear_solvers_dcdm_seeds_3d.md``.
RECIPES = {
    ("multilevel", 2): {"shapes": [(32, 32), (64, 64), (128, 128)], "steps": 2400, "batch": 8, "ritz": 400,
                        "cosine": True, "coarsest": (1, 2, 4), "odd": True, "solve_coarsest": 2},
    ("multilevel", 3): {"shapes": [(8, 8, 8), (16, 16, 16), (32, 32, 32)], "steps": 1200, "batch": 4, "ritz": 300,
                        "cosine": True, "coarsest": (1, 2, 4), "odd": True},
    ("from64", 2): {"shapes": [(64, 64)], "steps": 1500, "batch": 16, "ritz": 400},
    ("from64", 3): {"shapes": [(32, 32, 32)], "steps": 600, "batch": 8, "ritz": 300},
}


def pretrained(dim: int = 2, layout: str = "multilevel", name: str | None = None, verbose: bool = True) -> DCDM:
    """The default DCDM model for ``dim`` and ``layout`` (``poisson{dim}d-{layout}`` in the cache),
    trained on the Dirichlet Poisson operators of :data:`RECIPES` and saved the first time it is
    asked for, or when the cached one was made with another recipe (multilevel, one thread of a shared
    2-core CPU: 2-D about 9 minutes with channels-last convolutions, 13–21 before; 3-D 9 minutes before)."""
    check(dim in (2, 3), f"dim: expected 2 or 3, got {dim}")
    check((layout, dim) in RECIPES, f"layout: expected one of {sorted({k[0] for k in RECIPES})}, got {layout!r}")
    name = name or f"poisson{dim}d-{layout}"
    r = dict(RECIPES[layout, dim])
    shapes = r.pop("shapes")

    def log(message):
        if verbose:
            print(f"sciml: {message}", file=sys.stderr)

    return DCDM.cached(name, shapes, seed=0, log=log, layout=layout, **r)
