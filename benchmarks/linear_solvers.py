"""Linear solvers side by side: CG, pyamg SA/RS-PCG, our geometric MG-PCG, DCDM, learned-MG-PCG.

Problems (reference §4 adapted to 2-D + 3-D Poisson): 2-D Dirichlet Poisson, variable-coefficient
Darcy (piecewise-constant 12/3 field from a cosine GRF), a domain with a solid disk obstacle (no-flux
walls and obstacle, Dirichlet top: the "open top" variant), 3-D 7-point Poisson. Tolerances 1e-4
and 1e-8 relative; x0 = 0; b ~ N(0, I) (zero in solid cells), seed 0. Setup (AMG hierarchy,
multigrid hierarchy) is timed apart from the solve; training of the learned solvers is reported in
its own section (done once, then cached in sciml.data.cache_dir()). All solvers run single-threaded
on the CPU (torch.set_num_threads(1); OMP/OpenBLAS/MKL threads 1 for NumPy/SciPy/pyamg).

The learned SPD multigrid uses LMG_SWEEPS learned smoothing sweeps (a degree-8 polynomial smoother),
learned on every level (the best variant of the ablation below);
"dcdm-ml" is DCDM with our multilevel network (sciml.linalg.dcdm_net, "multilevel": odd, bias-free,
weights shared across a number of levels that follows the grid), trained on 32², 64² and 128² together
(3-D: 8³, 16³ and 32³) with the recursion bottoming out at 1², 2² and 4² in turn, solving with the
bottom at 2² (3-D: 4³), run with the paper's window of 2 and, being cheap, up to 1024² (3-D: 128³);
--dcdm-seeds retrains its recipe with other seeds and compares solve-time settings (--problems
poisson3d: the 3-D recipe; --dcdm-coarsest 4: the former recipe, bottom 4² only); --dcdm-boundaries runs
its model on the obstacle domain with the disk and the no-flux walls switched separately.
"mg-pcg-8" is the untrained Jacobi V(8, 8) cycle of the same cost, the control that separates what is
learned from what is bought with more smoothing. The goal's baseline stays "mg-pcg" (Jacobi V(2, 2),
the Multigrid defaults).

    python benchmarks/linear_solvers.py [--quick]
    python benchmarks/linear_solvers.py --learned-ablation
    python benchmarks/linear_solvers.py --problems poisson2d,darcy2d --out part  # a subset, re-run
    python benchmarks/linear_solvers.py --merge results/a.json results/part.json --out linear_solvers

writes benchmarks/results/linear_solvers[_quick].json and .md; --learned-ablation trains variants of
the learned multigrid (sweeps, loss) on 64² Poisson and writes linear_solvers_learned_ablation.json/.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Single-threaded everything, set before NumPy loads its BLAS: multithreaded OpenBLAS made pyamg's SA
# setup ~6× slower in wall time on this shared 2-core machine (measured: 16 s vs 2.7 s at 512²).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, write_results
from sciml.linalg import AMG, DCDM, IncompleteCholesky, Jacobi, LearnedMultigrid, Multigrid, Stencil, cg
from sciml.linalg.dcdm import RECIPES

SEED = 0
LMG_SWEEPS = 8
DCDM_MAXITER = 300  # DCDM (float32 network, window 2) can stall far above 1e-8: bound its cost
TOLS = (1e-4, 1e-8)
SIZES = {
    "quick": {"2d": (64, 128, 256), "3d": (16, 32), "dcdm2d": (64, 128), "dcdm3d": (), "dcdm-ml2d": (64, 128, 256),
              "dcdm-ml3d": ()},
    "full": {"2d": (64, 128, 256, 512, 1024), "3d": (32, 64), "dcdm2d": (64, 128, 256), "dcdm3d": (16, 32),
             "dcdm-ml2d": (64, 128, 256, 512, 1024), "dcdm-ml3d": (32, 64)},
}
def multilevel_recipe(dim: int) -> dict:
    """TRAIN entry of the multilevel DCDM recipe that :func:`sciml.linalg.dcdm.pretrained` uses for ``dim``."""
    r = dict(RECIPES["multilevel", dim])
    return dict(shape=r.pop("shapes"), layout="multilevel", **r)


TRAIN = {
    "quick": {
        "dcdm2d": dict(shape=(32, 32), steps=300, batch=8, ritz=200),
        "dcdm3d": dict(shape=(12, 12, 12), steps=60, batch=4, ritz=100),
        "dcdm-ml2d": dict(shape=[(16, 16), (32, 32)], steps=300, batch=8, ritz=160, layout="multilevel",
                          cosine=True, coarsest=(1, 2, 4), odd=True, solve_coarsest=2),
        "dcdm-ml3d": dict(shape=[(8, 8, 8), (12, 12, 12)], steps=60, batch=4, ritz=100, layout="multilevel",
                          cosine=True, coarsest=(1, 2, 4), odd=True),
        "lmg2d": dict(shape=(64, 64), steps=60, sweeps=LMG_SWEEPS, train_coarse=True),
        "lmg3d": dict(shape=(16, 16, 16), steps=30, sweeps=LMG_SWEEPS, train_coarse=True),
    },
    "full": {
        "dcdm2d": dict(shape=(64, 64), steps=600, batch=8, ritz=400),
        "dcdm3d": dict(shape=(16, 16, 16), steps=200, batch=4, ritz=300),
        "dcdm-ml2d": multilevel_recipe(2),  # the recipes of sciml.linalg.dcdm.pretrained
        "dcdm-ml3d": multilevel_recipe(3),
        "lmg2d": dict(shape=(64, 64), steps=150, sweeps=LMG_SWEEPS, train_coarse=True),
        "lmg3d": dict(shape=(16, 16, 16), steps=80, sweeps=LMG_SWEEPS, train_coarse=True),
    },
}


# --- problems ---------------------------------------------------------------------------------------------
def darcy(n: int) -> Stencil:
    from sciml.data.fields import darcy_coefficient

    a = darcy_coefficient(np.random.default_rng(SEED), n + 2, "smooth")
    return Stencil((n, n), a)


OPEN_TOP = ("neumann", "dirichlet", "neumann", "neumann")  # no-flux walls, Dirichlet top side


def disk(n: int) -> np.ndarray:
    """The obstacle: a disk of radius 0.2 n at (0.5, 0.35) n on an n² grid of cells."""
    y, x = np.mgrid[:n, :n] + 0.5
    return (x - 0.5 * n) ** 2 + (y - 0.35 * n) ** 2 < (0.2 * n) ** 2


def obstacle(n: int) -> Stencil:
    """No-flux box with the solid :func:`disk`, Dirichlet (open) top side."""
    return Stencil((n, n), solid=disk(n), bc=OPEN_TOP)


PROBLEMS = {
    "poisson2d": lambda n: Stencil.poisson((n, n)),
    "darcy2d": darcy,
    "obstacle2d": obstacle,
    "poisson3d": lambda n: Stencil.poisson((n, n, n)),
}


def rhs(st: Stencil, seed: int = SEED) -> np.ndarray:
    b = np.random.default_rng(seed).standard_normal(st.n)
    return b if st.solid is None else np.where(st.solid.numpy().ravel(), 0.0, b)


SPARSE_SOLVERS = ("cg", "sa-pcg", "rs-pcg", "jacobi-pcg", "ic0-pcg")  # run on the assembled SciPy matrix


# --- solvers: each returns rows for both tolerances ------------------------------------------------------
def run_pcg(name, st, b, make_M, more_rhs=()):
    """Rows for ``b`` (and each of ``more_rhs``) at both tolerances; the preconditioner is built once."""
    rows = []
    t0 = time.perf_counter()
    M = make_M() if make_M else None
    setup = time.perf_counter() - t0 if make_M else 0.0
    A = st.to_sparse() if name in SPARSE_SOLVERS else st
    for rhs_ in (b, *more_rhs):
        for tol in TOLS:
            x, info = cg(A, rhs_, M=M, rtol=tol, maxiter=20000)
            rows.append(row(name, tol, info, setup))
    return rows


def run_dcdm(model, st, b, variants=((2, "dcdm"), (16, "dcdm-k16"))):
    """DCDM with the paper's window of 2 directions, and with 16 (closer to flexible GCR)."""
    rows = []
    for window, name in variants:
        for tol in TOLS:
            x, info = model.solve(st, b, rtol=tol, maxiter=DCDM_MAXITER, window=window)
            rows.append(row(name, tol, info, 0.0, network=info.extra["network_time"]))
    return rows


def row(name, tol, info, setup, network=None):
    r = {
        "solver": name,
        "tol": tol,
        "its": info.iterations,
        "setup_s": setup,
        "solve_s": info.time,
        "total_s": setup + info.time,
        "rel_res": info.final_residual,
        "converged": info.converged,
    }
    if network is not None:
        r["network_s"] = network
    return r


# --- training -------------------------------------------------------------------------------------------
def dcdm_recipe(mode: str, key: str, coarsest: tuple[int, ...] | None = None) -> tuple[dict, str]:
    """TRAIN[mode][key] with ``coarsest`` instead of the recipe's, and the tag naming that override
    (``coarsest<c1-c2…>``, or "" without one)."""
    if not coarsest:
        return dict(TRAIN[mode][key]), ""
    return {**TRAIN[mode][key], "coarsest": coarsest}, f"coarsest{'-'.join(map(str, coarsest))}"


def dcdm_model(mode: str, key: str, seed: int, log, coarsest: tuple[int, ...] | None = None) -> DCDM:
    """The DCDM model of :func:`dcdm_recipe` and ``seed``: loaded from the cache, or trained on the
    Poisson operators of its shape(s) and saved (name ``bench-<mode>-<key>``, ``-seed<k>`` unless SEED,
    ``-<tag>`` with ``coarsest``)."""
    c, tag = dcdm_recipe(mode, key, coarsest)
    name = f"bench-{mode}-{key}" + (f"-seed{seed}" if seed != SEED else "") + (f"-{tag}" if tag else "")
    shape = c.pop("shape")
    return DCDM.cached(name, shape if isinstance(shape, list) else [shape], seed=seed, log=log, **c)


def trained_models(mode: str, log) -> dict:
    cfg = TRAIN[mode]
    out = {}
    for key in ("dcdm2d", "dcdm3d", "dcdm-ml2d", "dcdm-ml3d"):
        out[key] = dcdm_model(mode, key, SEED, log)
    for key in ("lmg2d", "lmg3d"):
        c = dict(cfg[key])
        name = f"bench-{mode}-{key}-s{c['sweeps']}-all-levels"
        shape = c.pop("shape")
        if LearnedMultigrid.exists(name):
            out[key] = LearnedMultigrid.load(name, Stencil.poisson(shape))
        else:
            log(f"training {name} on {shape}")
            out[key] = LearnedMultigrid.train(Stencil.poisson(shape), seed=SEED, **c)
            out[key].save(name)
    return out


def warm_up(models) -> None:
    """Run every solver once on tiny grids so that first-call costs (library loading, kernel
    initialisation) are not timed in the first measured case."""
    for dim in (2, 3):
        st = Stencil.poisson((16,) * dim if dim == 2 else (8,) * 3)
        b = rhs(st)
        for M in (None, AMG(st, "sa"), AMG(st, "rs"), Multigrid(st), Multigrid(st, smoother="rbgs"),
                  Multigrid(st, pre=LMG_SWEEPS, post=LMG_SWEEPS), LearnedMultigrid(st, models[f"lmg{dim}d"].params)):
            cg(st.to_sparse() if isinstance(M, AMG) or M is None else st, b, M=M)
        models[f"dcdm{dim}d"].solve(st, b, maxiter=3)
        models[f"dcdm-ml{dim}d"].solve(st, b, maxiter=3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    ap.add_argument("--learned-ablation", action="store_true",
                    help="only the learned-multigrid ablation (sweeps × loss, untrained controls)")
    ap.add_argument("--dcdm-seeds", action="store_true",
                    help="only the seed study of the 2-D multilevel DCDM recipe (seeds 0, 1, 2; 64² to 1024²; "
                         "--problems: which 2-D problems, default poisson2d)")
    ap.add_argument("--dcdm-coarsest", default=None,
                    help="with --dcdm-seeds: train with these recursion bottoms instead of the recipe's, e.g. 4 "
                         "(results and models get the suffix _coarsest4)")
    ap.add_argument("--dcdm-boundaries", action="store_true",
                    help="only the multilevel DCDM on the obstacle domain, disk and no-flux walls switched separately")
    ap.add_argument("--dcdm-modes", action="store_true",
                    help="only the response of the 2-D multilevel DCDM (odd, and not) to a Poisson eigenmode per size")
    ap.add_argument("--classic", action="store_true",
                    help="only the classical baselines (Jacobi-, IC(0)-PCG) beside SA / MG / learned MG, 5 RHS each")
    ap.add_argument("--problems", default=None, help=f"comma-separated subset of {list(PROBLEMS)}")
    ap.add_argument("--sizes-3d", default=None, help="override the 3-D sizes, e.g. 32,64,128")
    ap.add_argument("--dcdm-sizes-3d", default=None, help="override the 3-D DCDM sizes, e.g. 16,32 ('' for none)")
    ap.add_argument("--dcdm-ml-sizes-3d", default=None, help="override the 3-D multilevel-DCDM sizes ('' for none)")
    ap.add_argument("--out", default=None, help="result name (default linear_solvers[_quick])")
    ap.add_argument("--merge", nargs="+", default=None,
                    help="combine result JSON files of runs on subsets of --problems into --out")
    ap.add_argument("--note", default=None, help="with --merge: a line about the runs (when, machine load)")
    args = ap.parse_args(argv)
    if args.merge:
        if not args.out:
            ap.error("--merge: needs --out, the name of the combined result")
        merge(args.merge, args.out, args.note)
        return 0
    mode = "quick" if args.quick else "full"
    torch.set_num_threads(1)
    log = lambda s: print(s, flush=True)
    if args.learned_ablation:
        return learned_ablation(log)
    if args.classic:
        return classic_baselines(mode, log)
    if args.dcdm_modes:
        return dcdm_mode_study(mode, log)
    if args.dcdm_boundaries:
        return dcdm_boundary_study(mode, log)
    if args.dcdm_seeds:
        coarsest = None if args.dcdm_coarsest is None else tuple(int(c) for c in args.dcdm_coarsest.split(","))
        problems = tuple(args.problems.split(",")) if args.problems else SEED_STUDY["problems"]
        if any(p not in PROBLEMS for p in problems) or len({p.endswith("3d") for p in problems}) > 1:
            ap.error(f"--problems: with --dcdm-seeds, 2-D or 3-D problems of {list(PROBLEMS)}, got {list(problems)}")
        return dcdm_seed_study(mode, log, coarsest, problems)
    models = trained_models(mode, log)
    warm_up(models)
    sizes = dict(SIZES[mode])
    for key, text in (("3d", args.sizes_3d), ("dcdm3d", args.dcdm_sizes_3d),
                      ("dcdm-ml3d", args.dcdm_ml_sizes_3d)):
        if text is not None:  # "" = none
            sizes[key] = tuple(int(v) for v in text.split(",") if v)
    wanted = args.problems.split(",") if args.problems else list(PROBLEMS)
    unknown = set(wanted) - set(PROBLEMS)
    if unknown:
        ap.error(f"--problems: unknown {sorted(unknown)}; known: {list(PROBLEMS)}")
    results = []
    for prob, make in PROBLEMS.items():
        if prob not in wanted:
            continue
        dim = 3 if prob.endswith("3d") else 2
        for n in sizes[f"{dim}d"]:
            st = make(n)
            b = rhs(st)
            lmg = models[f"lmg{dim}d"]
            runs = [
                ("cg", None),
                ("sa-pcg", lambda st=st: AMG(st, "sa")),
                ("rs-pcg", lambda st=st: AMG(st, "rs")),
                ("mg-pcg", lambda st=st: Multigrid(st)),
                ("mg-pcg-rbgs", lambda st=st: Multigrid(st, smoother="rbgs")),
                (f"mg-pcg-{LMG_SWEEPS}", lambda st=st: Multigrid(st, pre=LMG_SWEEPS, post=LMG_SWEEPS)),
                ("learned-mg-pcg", lambda st=st, lmg=lmg: LearnedMultigrid(st, lmg.params)),
            ]
            rows = []
            for name, make_M in runs:
                rows += run_pcg(name, st, b, make_M)
            if n in sizes[f"dcdm{dim}d"]:
                rows += run_dcdm(models[f"dcdm{dim}d"], st, b)
            if n in sizes[f"dcdm-ml{dim}d"]:
                rows += run_dcdm(models[f"dcdm-ml{dim}d"], st, b, variants=((2, "dcdm-ml"),))
            for r in rows:
                r.update(problem=prob, n=n, unknowns=st.n)
                log(
                    f"{prob} {n} {r['solver']} tol {r['tol']:.0e}: {r['its']} its, {r['total_s']:.3g} s "
                    f"(setup {r['setup_s']:.3g}), res {r['rel_res']:.2e}"
                )
            results += rows
    goals = evaluate_goals(results, sizes)
    payload = {
        "mode": mode,
        "seed": SEED,
        "tolerances": TOLS,
        "sizes": sizes,
        "training": {k: m.meta for k, m in models.items()},
        "learned_mg_weights": {k: models[k].effective_weights() for k in ("lmg2d", "lmg3d")},
        "goals": goals,
        "results": results,
    }
    name = args.out or f"linear_solvers{'_quick' if args.quick else ''}"
    write_results(name, payload, tables(results), goal_notes(goals))
    return 0


def merge(paths: list[str], name: str, note: str | None = None) -> dict:
    """One table from runs on subsets of the problems: a problem present in a later file replaces all
    rows of that problem from the earlier ones (a re-run after a change); sizes are joined, the
    training metadata is the last file's, the goals are evaluated again."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    modes = {part["mode"] for part in parts}
    if len(modes) != 1:
        raise SystemExit(f"--merge: the files mix modes {sorted(modes)}")
    results, sizes = [], {}
    for part in parts:
        rerun = {r["problem"] for r in part["results"]}
        results = [r for r in results if r["problem"] not in rerun] + part["results"]
        for key, ns in part["sizes"].items():
            sizes[key] = sorted(set(sizes.get(key, [])) | set(ns))
    goals = evaluate_goals(results, sizes)
    payload = {**parts[-1], "sizes": sizes, "goals": goals, "results": results, "note": note,
               "parts": {Path(p).stem: {"problems": sorted({r["problem"] for r in part["results"]}),
                                        "machine": part["machine"]} for p, part in zip(paths, parts)}}
    payload.pop("machine")
    notes = goal_notes(goals) + (f"\n\n{note}" if note else "")
    write_results(name, payload, tables(results), notes)
    return payload


# --- learned multigrid ablation ----------------------------------------------------------------------------
ABLATION_SIZES = (256, 1024)
ABLATION = [  # (name, training kwargs on 64² Poisson); None: the untrained Multigrid with that many sweeps
    ("untrained V(2,2) (baseline)", 2, None),
    ("untrained V(4,4)", 4, None),
    ("untrained V(8,8)", 8, None),
    ("learned 2 sweeps, spectral loss", 2, dict(loss="contraction", power=8)),
    ("learned 2 sweeps, reference loss (1-step line search)", 2, dict(loss="pcg", power=1)),
    ("learned 2 sweeps, 3-step PCG loss", 2, dict(loss="pcg", power=3)),
    ("learned 4 sweeps, spectral loss", 4, dict(loss="contraction", power=8)),
    ("learned 8 sweeps, spectral loss", 8, dict(loss="contraction", power=8)),
    ("learned 8 sweeps, reference loss (1-step line search)", 8, dict(loss="pcg", power=1)),
    ("learned 8 sweeps, 3-step PCG loss", 8, dict(loss="pcg", power=3)),
    ("learned 8 sweeps, spectral loss, coarse levels trained too", 8, dict(loss="contraction", power=8,
                                                                          train_coarse=True)),
    ("learned 8 sweeps, spectral loss, trained on 128²", 8, dict(loss="contraction", power=8, shape=(128, 128),
                                                                 steps=100)),
]


def learned_ablation(log) -> int:
    """Train each variant once (64² Poisson unless stated, 150 Adam steps) and count MG-PCG iterations on
    the 2-D problems at ABLATION_SIZES; writes linear_solvers_learned_ablation.json/.md."""
    rows, training = [], {}
    for name, sweeps, kw in ABLATION:
        if kw is None:
            make = lambda st, k=sweeps: Multigrid(st, pre=k, post=k)
        else:
            kw = dict(kw)
            shape = kw.pop("shape", (64, 64))
            t0 = time.process_time()
            lm = LearnedMultigrid.train(Stencil.poisson(shape), seed=SEED, sweeps=sweeps, **{"steps": 150, **kw})
            training[name] = {**lm.meta, "cpu_s": time.process_time() - t0, "weights": lm.effective_weights()}
            log(f"trained {name}: loss {lm.meta['loss_first']:.3g} → {lm.meta['loss_last']:.3g}, "
                f"{training[name]['cpu_s']:.1f} CPU s")
            make = lambda st, p=lm.params: LearnedMultigrid(st, p)
        for prob in ("poisson2d", "darcy2d", "obstacle2d"):
            for n in ABLATION_SIZES:
                st = PROBLEMS[prob](n)
                for r in run_pcg(name, st, rhs(st), lambda st=st, make=make: make(st)):
                    r.update(problem=prob, n=n, sweeps=sweeps)
                    rows.append(r)
                    log(f"{name} {prob} {n} tol {r['tol']:.0e}: {r['its']} its, {r['total_s']:.3g} s")
    table_rows = []
    for name, _, _ in ABLATION:
        t = {"variant": name}
        for prob in ("poisson2d", "darcy2d", "obstacle2d"):
            for n in ABLATION_SIZES:
                its = [pick(rows, solver=name, problem=prob, n=n, tol=tol)[0]["its"] for tol in TOLS]
                t[f"{prob} {n}"] = " / ".join(map(str, its))
        last = pick(rows, solver=name, problem="poisson2d", n=ABLATION_SIZES[-1], tol=TOLS[-1])
        t["s at 1024 (poisson, 1e-8)"] = last[0]["total_s"]
        table_rows.append(t)
    cols = ["variant", *[f"{p} {n}" for p in ("poisson2d", "darcy2d", "obstacle2d") for n in ABLATION_SIZES],
            "s at 1024 (poisson, 1e-8)"]
    table = ("## MG-PCG iterations to 1e-4 / 1e-8 (learned variants trained once on Poisson, seed 0)\n\n"
             + markdown_table(table_rows, cols))
    notes = ("Losses: spectral = log ‖E⁸e‖²_A/‖E⁷e‖²_A (E = I − BA); reference = the DCDM loss "
             "‖r − (yᵀr/yᵀAy)Ay‖², y = Br (one PCG step), in log form; 3-step PCG = log ‖r₃‖²/‖b‖² through "
             "3 unrolled PCG iterations. Goal: at most half the iterations of the V(2,2) baseline row.")
    write_results("linear_solvers_learned_ablation", {"seed": SEED, "sizes": ABLATION_SIZES, "training": training,
                                                      "results": rows}, table, notes)
    return 0


# --- multilevel DCDM: the same recipe with other seeds, and other solve-time settings ---------------------------
SEED_STUDY = {"seeds": (0, 1, 2), "maxiter": 60,
              "sizes": {"quick": {2: (32, 64, 128), 3: (8, 16, 32)},
                        "full": {2: (64, 128, 256, 512, 1024), 3: (32, 64, 128)}},
              # solve-time settings of each model: recursion bottom (DCDM.set_coarsest), window of directions
              "variants": {2: ({"coarsest": 4, "window": 2}, {"coarsest": 2, "window": 2},
                               {"coarsest": 2, "window": 16}),
                           3: ({"coarsest": 4, "window": 2},)},
              "problems": ("poisson2d",)}


def dcdm_seed_study(mode: str, log, coarsest: tuple[int, ...] | None = None,
                    problems: tuple[str, ...] = SEED_STUDY["problems"]) -> int:
    """Train the multilevel DCDM recipe of TRAIN for the dimension of ``problems`` (all 2-D or all 3-D) with
    seeds 0, 1, 2 (seed 0 is the main benchmark's model) and count its iterations on ``problems`` (b of seed
    0) up to SEED_STUDY["maxiter"], for each solve-time variant of SEED_STUDY (recursion bottom, window);
    writes linear_solvers_dcdm_seeds[_3d][_coarsest<c>].json/.md."""
    rows, training = [], {}
    dim = 3 if problems[0].endswith("3d") else 2
    variants, sizes = SEED_STUDY["variants"][dim], SEED_STUDY["sizes"][mode][dim]
    for seed in SEED_STUDY["seeds"]:
        model = dcdm_model(mode, f"dcdm-ml{dim}d", seed, log, coarsest)
        training[seed] = {k: v for k, v in model.meta.items() if k != "loss_history"}
        trained_levels = model.trained_depth
        for prob in problems:
            for v in variants:
                model.set_coarsest(v["coarsest"])
                for n in sizes:
                    st = PROBLEMS[prob](n)
                    b = rhs(st)
                    levels = model.net.levels(st.shape)
                    for tol in TOLS:
                        _, info = model.solve(st, b, rtol=tol, maxiter=SEED_STUDY["maxiter"], window=v["window"])
                        log(f"dcdm-ml seed {seed} {prob} {n} bottom {v['coarsest']} window {v['window']} "
                            f"({levels} levels) tol {tol:.0e}: {info.iterations} its, {info.time:.3g} s")
                        rows.append({"seed": seed, "problem": prob, **v, "levels": levels,
                                     "trained_levels": trained_levels, "n": n, "tol": tol,
                                     "its": info.iterations, "converged": info.converged, "solve_s": info.time})
    tables = seed_study_tables(rows, training, problems, variants, sizes, dim)
    study = {"seeds": SEED_STUDY["seeds"], "maxiter": SEED_STUDY["maxiter"],  # the settings of this dimension
             "sizes": {m: s[dim] for m, s in SEED_STUDY["sizes"].items()}, "variants": variants, "problems": problems}
    recipe, tag = dcdm_recipe(mode, f"dcdm-ml{dim}d", coarsest)
    notes = (f"Recipe: {recipe}; ✗: not converged in {SEED_STUDY['maxiter']} iterations. "
             f"The training recursion reaches at most {max(r['trained_levels'] for r in rows)} levels "
             "(training grids × recursion bottoms 'coarsest'); 'bottom': where the recursion stops at solve "
             "time (DCDM.set_coarsest: coarsening stops below twice that many cells per side); 'window': the "
             "directions q is A-orthogonalised against (the paper: 2); growth: iterations at the largest size "
             "/ at the smallest (goal ≤ 1.25)."
             + ("" if coarsest else " Seed 0 is the model of linear_solvers.md."))
    suffix = ("_3d" if dim == 3 else "") + (f"_{tag}" if tag else "") + ("_quick" if mode == "quick" else "")
    write_results(f"linear_solvers_dcdm_seeds{suffix}",
                  {"mode": mode, "study": study, "training": training,
                   "results": rows}, tables, notes)
    return 0


def seed_study_tables(rows, training, problems, variants, sizes, dim) -> str:
    """One markdown table per problem of :func:`dcdm_seed_study`: iterations to 1e-4 / 1e-8 per size (levels
    in parentheses) and their growth from the smallest size to the largest, per variant and seed."""
    tables = []
    for prob in problems:
        table_rows = []
        for v in variants:
            for seed in SEED_STUDY["seeds"]:
                t = {"bottom": f"{v['coarsest']}" + "²³"[dim - 2], "window": v["window"], "seed": seed,
                     "final training loss": f"{training[seed]['loss_last']:.2e}"}
                its = {n: [pick(rows, seed=seed, problem=prob, n=n, tol=tol, **v)[0] for tol in TOLS] for n in sizes}
                for n in sizes:
                    t[f"{n}^{dim}"] = (" / ".join(f"{r['its']}" + ("" if r["converged"] else "✗") for r in its[n])
                                       + f" ({its[n][0]['levels']})")
                t["growth"] = " / ".join(f"×{b['its'] / a['its']:.2f}" + ("" if b["converged"] else "✗")
                                         for a, b in zip(its[sizes[0]], its[sizes[-1]]))
                table_rows.append(t)
        cols = ["bottom", "window", "seed", "final training loss", *[f"{n}^{dim}" for n in sizes], "growth"]
        tables.append(f"## {prob}: multilevel DCDM iterations to 1e-4 / 1e-8, one model per seed "
                      "(grid levels of the network in parentheses)\n\n" + markdown_table(table_rows, cols))
    return "\n\n".join(tables)


# --- which boundary hurts the multilevel DCDM on the obstacle domain -----------------------------------------
BOUNDARY_STUDY = {"sizes": {"quick": (32, 64), "full": (64, 256)}, "maxiter": 150, "tol": 1e-4}


def boundary_variants(n: int) -> dict[str, Stencil]:
    """The obstacle domain of :func:`obstacle` with its disk and its outer walls switched separately."""
    return {
        "no disk, Dirichlet box (Poisson)": Stencil((n, n)),
        "disk (no-flux), Dirichlet box": Stencil((n, n), solid=disk(n)),
        "no disk, no-flux walls, open top": Stencil((n, n), bc=OPEN_TOP),
        "disk (no-flux), no-flux walls, open top (obstacle2d)": obstacle(n),
    }


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """|cos| of the angle between two vectors (a direction's sign is immaterial to CG's step)."""
    return float((a * b).sum().abs() / (a.norm() * b.norm()))


def dcdm_mode_study(mode: str, log) -> int:
    """Why the 2-D multilevel DCDM is odd: for the benchmark model f(r) = h(r) − h(−r) and a Poisson
    eigenmode v of wavelength 16 cells (index n/8 per axis; A⁻¹v ∥ v), the cosine between v and f(v),
    and between v and h(v) (the same weights, not odd), and the size of h's even part
    ‖h(v) + h(−v)‖ / ‖h(v) − h(−v)‖, per grid size; writes linear_solvers_dcdm_modes[_quick].json/.md."""
    model = dcdm_model(mode, "dcdm-ml2d", SEED, log)
    rows = []
    for n in SEED_STUDY["sizes"][mode][2]:
        k, x = n // 8, np.arange(1, n + 1) / (n + 1)
        mode_k = np.sin(k * np.pi * x)
        v = torch.from_numpy(np.outer(mode_k, mode_k).reshape(-1, 1))
        f_v = model.direction((n, n))(v)
        model.net.odd = False
        h = model.direction((n, n))
        h_plus, h_minus = h(v), h(-v)
        model.net.odd = True
        rows.append({"n": n, "levels": model.net.levels((n, n)), "cos_odd": _cosine(f_v, v),
                     "cos_plain": _cosine(h_plus, v),
                     "even_over_odd": float((h_plus + h_minus).norm() / (h_plus - h_minus).norm())})
        log(f"dcdm modes {n}: {rows[-1]}")
    table_rows = [{"grid": f"{r['n']}^2", "levels": r["levels"], "cos(v, f(v)), f odd, abs.": f"{r['cos_odd']:.4f}",
                   "cos(v, h(v)), abs.": f"{r['cos_plain']:.2e}", "‖even‖ / ‖odd‖ of h": f"{r['even_over_odd']:.3g}"}
                  for r in rows]
    table = ("## Multilevel DCDM response to a Poisson eigenmode of wavelength 16 cells (2-D benchmark model)\n\n"
             + markdown_table(table_rows, list(table_rows[0])))
    notes = ("f(r) = h(r) − h(−r) is the trained (odd) network; h alone is the same weights without the odd "
             "wrapper. The ideal direction for an eigenmode is the mode itself (cosine ±1). The even part "
             "h(v) + h(−v) is what the rectifying ReLUs pass to the coarse levels as a smooth component; "
             "it grows by the factor per added level that the table shows, and f cancels it exactly.")
    write_results("linear_solvers_dcdm_modes" + ("_quick" if mode == "quick" else ""),
                  {"mode": mode, "training": {k: v for k, v in model.meta.items() if k != "loss_history"},
                   "results": rows}, table, notes)
    return 0


def dcdm_boundary_study(mode: str, log) -> int:
    """The 2-D multilevel DCDM of the main table (trained on Dirichlet Poisson) on the obstacle domain with the
    disk and the no-flux outer walls switched on and off separately, its convolutions padded with zeros (the
    paper) and by the boundary conditions (the default); writes linear_solvers_dcdm_boundaries."""
    model = dcdm_model(mode, "dcdm-ml2d", SEED, log)
    rows, study = [], BOUNDARY_STUDY
    for n in study["sizes"][mode]:
        for name, st in boundary_variants(n).items():
            for padding in ("zeros", "by boundary"):
                _, info = model.solve(st, rhs(st), rtol=study["tol"], maxiter=study["maxiter"],
                                      boundary_padding=padding != "zeros")
                rows.append({"domain": name, "padding": padding, "n": n, "its": info.iterations,
                             "converged": info.converged, "solve_s": info.time})
                log(f"dcdm-ml {name} {n} padding {padding}: {info.iterations} its")
    cell = lambda name, n, padding: next(f"{r['its']}" + ("" if r["converged"] else "✗") for r in rows
                                         if r["domain"] == name and r["n"] == n and r["padding"] == padding)
    table_rows = [{"domain": name, **{f"{n}^2, padding {pad}": cell(name, n, pad)
                                      for n in study["sizes"][mode] for pad in ("zeros", "by boundary")}}
                  for name in dict.fromkeys(r["domain"] for r in rows)]
    cols = ["domain", *[f"{n}^2, padding {pad}" for n in study["sizes"][mode] for pad in ("zeros", "by boundary")]]
    table = (f"## Multilevel DCDM (window 2) iterations to {study['tol']:.0e}, model of linear_solvers.md\n\n"
             + markdown_table(table_rows, cols))
    notes = (f"✗: not converged in {study['maxiter']} iterations. Disk of radius 0.2 n at (0.5, 0.35) n; 'open top': "
             "no-flux left, right and bottom walls, Dirichlet top. The network sees only the residual, not the "
             "boundary conditions: 'zeros' pads every side with zeros (the paper), 'by boundary' repeats the edge "
             "value on no-flux sides (DCDM.solve's default). Same weights in both columns.")
    write_results(f"linear_solvers_dcdm_boundaries{'_quick' if mode == 'quick' else ''}",
                  {"mode": mode, "study": study, "results": rows}, table, notes)
    return 0


# --- classical baselines over several right-hand sides -----------------------------------------------------
CLASSIC_RHS = 5
CLASSIC_SIZES = {"quick": {"2d": (32, 64), "3d": (16,)}, "full": {"2d": (64, 256, 1024), "3d": (32, 64)}}
CLASSIC_MAX_N = {"cg": 256, "jacobi-pcg": 256, "ic0-pcg": 256}  # 2-D side above which a solver is skipped (cost)


def classic_baselines(mode: str, log) -> int:
    """CG, Jacobi-PCG, IC(0)-PCG, pyamg SA-PCG, MG-PCG and learned-MG-PCG on CLASSIC_RHS right-hand sides
    (b ~ N(0, I), seeds 0..4) per case, one preconditioner setup per case: mean ± std of iterations and solve
    times; writes linear_solvers_classic."""
    models = trained_models(mode, log)
    rows = []
    for prob, make in PROBLEMS.items():
        dim = 3 if prob.endswith("3d") else 2
        for n in CLASSIC_SIZES[mode][f"{dim}d"]:
            st = make(n)
            lmg = models[f"lmg{dim}d"]
            runs = [
                ("cg", None),
                ("jacobi-pcg", lambda st=st: Jacobi(st)),
                ("ic0-pcg", lambda st=st: IncompleteCholesky(st)),
                ("sa-pcg", lambda st=st: AMG(st, "sa")),
                ("mg-pcg", lambda st=st: Multigrid(st)),
                ("learned-mg-pcg", lambda st=st, lmg=lmg: LearnedMultigrid(st, lmg.params)),
            ]
            for name, make_M in runs:
                if dim == 2 and n > CLASSIC_MAX_N.get(name, n):
                    continue
                bs = [rhs(st, seed) for seed in range(CLASSIC_RHS)]
                per_rhs = run_pcg(name, st, bs[0], make_M, bs[1:])
                for tol in TOLS:
                    rs = [r for r in per_rhs if r["tol"] == tol]
                    stat = lambda k, rs=rs: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs])))
                    rows.append({"problem": prob, "n": n, "unknowns": st.n, "solver": name, "tol": tol,
                                 "its": stat("its"), "setup_s": rs[0]["setup_s"], "solve_s": stat("solve_s"),
                                 "converged": all(r["converged"] for r in rs), "its_each": [r["its"] for r in rs]})
                    r = rows[-1]
                    log(f"{prob} {n} {name} tol {tol:.0e}: its {r['its'][0]:.1f} ± {r['its'][1]:.1f}, "
                        f"setup {r['setup_s']:.3g} s, solve {r['solve_s'][0]:.3g} s")
    solvers = ["cg", "jacobi-pcg", "ic0-pcg", "sa-pcg", "mg-pcg", "learned-mg-pcg"]
    parts = []
    for tol in TOLS:
        its_rows, time_rows = [], []
        for prob in PROBLEMS:
            for n in sorted({r["n"] for r in rows if r["problem"] == prob}):
                a = {"problem": prob, "grid": f"{n}^{3 if prob.endswith('3d') else 2}"}
                b = dict(a)
                for name in solvers:
                    r = pick(rows, problem=prob, n=n, tol=tol, solver=name)
                    if r:
                        r = r[0]
                        a[name] = f"{r['its'][0]:.1f} ± {r['its'][1]:.1f}" + ("" if r["converged"] else " ✗")
                        b[name] = f"{r['solve_s'][0]:.3g} ({r['setup_s']:.2g})"
                its_rows.append(a)
                time_rows.append(b)
        parts.append(f"## Iterations to ‖r‖ ≤ {tol:g}‖b‖, mean ± std over {CLASSIC_RHS} right-hand sides\n\n"
                     + markdown_table(its_rows, ["problem", "grid", *solvers]))
        parts.append(f"## Solve time, s, mean over the right-hand sides (setup in parentheses), tol {tol:g}\n\n"
                     + markdown_table(time_rows, ["problem", "grid", *solvers]))
    notes = (f"b ~ N(0, I) with seeds 0..{CLASSIC_RHS - 1} (zero in solid cells); x0 = 0. CG, Jacobi- and IC(0)-PCG "
             f"stop at {CLASSIC_MAX_N['cg']}² in 2-D (IC(0)'s two SciPy triangular solves cost ~0.3 s per "
             "iteration at 1024²). IC(0) = (D + L) D⁻¹ (D + L)ᵀ, exact IC(0) for these 5- and 7-point matrices; "
             "its setup (a sequential Python pass) is in the setup column, built once per case. Wall times on "
             "the shared 2-core machine, single-threaded.")
    write_results(f"linear_solvers_classic{'_quick' if mode == 'quick' else ''}",
                  {"mode": mode, "rhs_seeds": list(range(CLASSIC_RHS)), "results": rows}, "\n\n".join(parts), notes)
    return 0


# --- goals and tables -------------------------------------------------------------------------------------
def pick(results, **kw):
    return [r for r in results if all(r[k] == v for k, v in kw.items())]


def evaluate_goals(results, sizes) -> dict:
    goals = {"growth": [], "mg_vs_sa": [], "learned_vs_mg": [], "learned_vs_same_cost": []}
    for prob in PROBLEMS:
        if not pick(results, problem=prob):
            continue
        dim = 3 if prob.endswith("3d") else 2
        for tol in TOLS:
            for solver, key in (
                ("dcdm", f"dcdm{dim}d"),
                ("dcdm-k16", f"dcdm{dim}d"),
                ("dcdm-ml", f"dcdm-ml{dim}d"),
                ("learned-mg-pcg", f"{dim}d"),
                ("mg-pcg", f"{dim}d"),
                ("cg", f"{dim}d"),
            ):
                ns = sizes[key]
                if not ns:
                    continue
                lo = pick(results, problem=prob, tol=tol, solver=solver, n=ns[0])
                hi = pick(results, problem=prob, tol=tol, solver=solver, n=ns[-1])
                if lo and hi:
                    g = hi[0]["its"] / max(lo[0]["its"], 1)
                    goals["growth"].append(
                        {
                            "problem": prob,
                            "tol": tol,
                            "solver": solver,
                            "from_n": ns[0],
                            "to_n": ns[-1],
                            "its": [lo[0]["its"], hi[0]["its"]],
                            "growth": g,
                            "converged": lo[0]["converged"] and hi[0]["converged"],
                            "met_25pct": g <= 1.25 and hi[0]["converged"],
                        }
                    )
            n = sizes[f"{dim}d"][-1]
            mg = pick(results, problem=prob, tol=tol, solver="mg-pcg", n=n)[0]
            sa = pick(results, problem=prob, tol=tol, solver="sa-pcg", n=n)[0]
            goals["mg_vs_sa"].append(
                {
                    "problem": prob,
                    "tol": tol,
                    "n": n,
                    "mg_total_s": mg["total_s"],
                    "sa_total_s": sa["total_s"],
                    "ratio": mg["total_s"] / sa["total_s"],
                    "met": mg["total_s"] <= sa["total_s"],
                }
            )
            for n in sizes[f"{dim}d"]:
                lm = pick(results, problem=prob, tol=tol, solver="learned-mg-pcg", n=n)[0]
                mg = pick(results, problem=prob, tol=tol, solver="mg-pcg", n=n)[0]
                goals["learned_vs_mg"].append(
                    {
                        "problem": prob,
                        "tol": tol,
                        "n": n,
                        "learned_its": lm["its"],
                        "mg_its": mg["its"],
                        "ratio": lm["its"] / max(mg["its"], 1),
                        "met_half": lm["its"] <= 0.5 * mg["its"],
                    }
                )
                same = pick(results, problem=prob, tol=tol, solver=f"mg-pcg-{LMG_SWEEPS}", n=n)[0]
                goals["learned_vs_same_cost"].append(
                    {
                        "problem": prob,
                        "tol": tol,
                        "n": n,
                        "learned_its": lm["its"],
                        "untrained_its": same["its"],
                        "learned_s": lm["total_s"],
                        "untrained_s": same["total_s"],
                    }
                )
    return goals


SOLVERS = ("cg", "sa-pcg", "rs-pcg", "mg-pcg", "mg-pcg-rbgs", f"mg-pcg-{LMG_SWEEPS}", "learned-mg-pcg", "dcdm",
           "dcdm-k16", "dcdm-ml")


def tables(results) -> str:
    out = []
    for tol in TOLS:
        its_rows, time_rows = [], []
        keys = sorted({(r["problem"], r["n"]) for r in results}, key=lambda k: (list(PROBLEMS).index(k[0]), k[1]))
        for prob, n in keys:
            a = {"problem": prob, "grid": f"{n}^{3 if prob.endswith('3d') else 2}"}
            b = dict(a)
            for s in SOLVERS:
                r = pick(results, problem=prob, n=n, tol=tol, solver=s)
                if r:
                    a[s] = f"{r[0]['its']}" + ("" if r[0]["converged"] else "✗")
                    b[s] = f"{r[0]['total_s']:.3g}" + (f" ({r[0]['setup_s']:.2g})" if r[0]["setup_s"] else "")
            its_rows.append(a)
            time_rows.append(b)
        out.append(
            f"## Iterations to ‖r‖ ≤ {tol:g}‖b‖ (✗: not converged)\n\n"
            + markdown_table(its_rows, ["problem", "grid", *SOLVERS])
        )
        out.append(
            f"## Wall time, s, setup included (setup in parentheses), tol {tol:g}\n\n"
            + markdown_table(time_rows, ["problem", "grid", *SOLVERS])
        )
    return "\n\n".join(out)


def goal_notes(goals) -> str:
    lines = ["## Goals", "", "Iteration growth smallest → largest size (goal for DCDM / learned MG: ≤ 1.25):", ""]
    lines += [
        f"- {g['problem']} tol {g['tol']:g} {g['solver']}: {g['its'][0]} → {g['its'][1]} its "
        f"({g['from_n']} → {g['to_n']}), ×{g['growth']:.2f}" + ("" if g["converged"] else " (not converged)")
        for g in goals["growth"]
    ]
    lines += ["", "MG-PCG total time vs pyamg SA-PCG total time at the largest size (goal ≤ 1):", ""]
    lines += [
        f"- {g['problem']} {g['n']} tol {g['tol']:g}: {g['mg_total_s']:.3g} s vs {g['sa_total_s']:.3g} s "
        f"(×{g['ratio']:.2f})"
        for g in goals["mg_vs_sa"]
    ]
    lines += ["", f"Learned-MG-PCG ({LMG_SWEEPS} sweeps) iterations / untrained MG-PCG (Jacobi V(2, 2)) "
              "iterations (goal ≤ 0.5):", ""]
    lines += [
        f"- {g['problem']} {g['n']} tol {g['tol']:g}: {g['learned_its']} / {g['mg_its']} = {g['ratio']:.2f}"
        + (" ✓" if g["met_half"] else "")
        for g in goals["learned_vs_mg"]
    ]
    lines += ["", f"Learned-MG-PCG vs the untrained cycle of the same cost (Jacobi V({LMG_SWEEPS}, {LMG_SWEEPS})): "
              "iterations, total s:", ""]
    lines += [
        f"- {g['problem']} {g['n']} tol {g['tol']:g}: {g['learned_its']} vs {g['untrained_its']} its, "
        f"{g['learned_s']:.3g} s vs {g['untrained_s']:.3g} s"
        for g in goals["learned_vs_same_cost"]
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
