"""Observed convergence orders and costs of the reference solvers in ``solvers/``.

Runs every ladder of :mod:`solvers.studies` (the ones ``tests/test_solvers.py`` asserts), the
accuracy self-checks of the shipped reference grids, and the cost of dataset generation.
Writes ``benchmarks/results/solvers_convergence.{json,md}``.

    python benchmarks/solvers_convergence.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyamg
import scipy

import solvers
from sciml.io import write_text
from solvers import studies

SEED = 0
RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def convergence_rows() -> list[dict]:
    rows = []
    for name, study_fn in studies.STUDIES.items():
        study, seconds = timed(study_fn)
        rows.append({"study": name, "title": study.name, "scheme": study.scheme, "parameter": study.parameter,
                     "sizes": list(study.sizes), "errors": list(study.errors),
                     "orders": [float(o) for o in study.orders], "expected": study.expected,
                     "seconds": seconds})
    return rows


def darcy_cost(n_samples: int) -> dict:
    rng = np.random.default_rng(SEED)
    a = np.where(rng.standard_normal((n_samples, 64, 64)) > 0, 12.0, 3.0)  # piecewise constant, contrast 4
    solvers.darcy(a[:1])  # warm-up
    _, single = timed(solvers.darcy, a[0])
    _, batch = timed(solvers.darcy, a)
    return {"s": 64, "samples": n_samples, "seconds_one": single, "seconds_per_sample": batch / n_samples}


def reference_checks(quick: bool) -> dict:
    out = {}
    t, x, u = solvers.burgers_dirichlet()
    _, seconds = timed(solvers.burgers_dirichlet)
    finer = solvers.burgers_sine_exact(x, t, 0.01 / np.pi, -1.0, np.pi, n_quad=4000)
    out["burgers1d_cole_hopf"] = {"grid": list(u.shape), "seconds": seconds,
                                  "max_diff_vs_4000_nodes": float(np.max(np.abs(u - finer)))}
    u0 = lambda z: -np.sin(np.pi * z)
    spectral, s_seconds = timed(solvers.burgers, u0, (-1, 1), 0.01 / np.pi, t, n=4096)
    exact = solvers.burgers_sine_exact(spectral.x, t, 0.01 / np.pi, -1.0, np.pi)
    out["burgers1d_spectral_n4096_vs_cole_hopf"] = {"max_abs": float(np.max(np.abs(spectral.u - exact))),
                                                    "seconds": s_seconds}
    ac, ac_seconds = timed(solvers.allen_cahn)
    entry = {"grid": list(ac.u.shape), "n": 4096, "dt": 1e-3, "seconds": ac_seconds}
    if not quick:
        fine = solvers.allen_cahn(n=8192)
        entry.update(rel_l2_vs_n8192=float(np.linalg.norm(ac.u - fine.u) / np.linalg.norm(fine.u)),
                     max_vs_n8192=float(np.max(np.abs(ac.u - fine.u))))
    out["allen_cahn_reference"] = entry
    grid = lambda s: np.meshgrid(np.linspace(-1, 1, s), np.linspace(-1, 1, s), indexing="ij")
    t_eval = np.linspace(0, 1, 101)
    steps = 200 if quick else 400
    u0 = studies.pinnacle_u0(*grid(101))
    nd, nd_seconds = timed(solvers.nonlinear_diffusion, u0, 1.0, steps, t_eval=t_eval)
    entry = {"grid": list(nd.u.shape), "n_steps": steps, "seconds": nd_seconds}
    half_steps = solvers.nonlinear_diffusion(u0, 1.0, steps // 2, t_eval=t_eval)
    coarse = solvers.nonlinear_diffusion(studies.pinnacle_u0(*grid(51)), 1.0, steps, t_eval=t_eval)
    # Richardson estimates of the error of the reference (orders 2 in dt and in h)
    entry["time_error_estimate"] = float(np.max(np.abs(nd.u - half_steps.u)) / 3)
    entry["space_error_estimate"] = float(np.max(np.abs(nd.u[:, ::2, ::2] - coarse.u)) / 3)
    out["nonlinear_diffusion_reference"] = entry
    return out


def markdown(result: dict) -> str:
    lines = ["# Reference solvers: observed convergence orders", "",
             f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs (load average "
             f"{result['machine']['load_average_at_start'][0]:.1f} at start: timings are contended); "
             f"numpy {result['versions']['numpy']}, scipy {result['versions']['scipy']}, "
             f"pyamg {result['versions']['pyamg']}; seed {SEED}. Max-norm errors; self-convergence rows use "
             "differences of consecutive levels.", "",
             "| study | scheme | parameter ladder | errors | observed orders | expected |",
             "|---|---|---|---|---|---|"]
    for row in result["convergence"]:
        sizes = ", ".join(f"{s:.4g}" for s in row["sizes"])
        errors = ", ".join(f"{e:.2e}" for e in row["errors"])
        orders = ", ".join(f"{o:.2f}" for o in row["orders"])
        lines.append(f"| {row['title']} | {row['scheme']} | {row['parameter']} = {sizes} | {errors} "
                     f"| {orders} | {row['expected']} |")
    d = result["darcy"]
    lines += ["", "## Costs and reference accuracy", "",
              f"- Darcy s = {d['s']}, piecewise-constant a ∈ {{3, 12}}: {d['seconds_one'] * 1e3:.1f} ms for "
              f"one sample, {d['seconds_per_sample'] * 1e3:.1f} ms/sample over {d['samples']} "
              f"(1000 samples ≈ {d['seconds_per_sample'] * 1000:.0f} s)."]
    for name, entry in result["references"].items():
        lines.append(f"- {name}: " + ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
                                               for k, v in entry.items()))
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer Darcy samples, no n = 8192 Allen–Cahn")
    args = parser.parse_args(argv)
    result = {
        "benchmark": "solvers_convergence", "quick": args.quick, "seed": SEED,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(),
                    "python": sys.version.split()[0], "load_average_at_start": os.getloadavg(),
                    "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}},
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "pyamg": pyamg.__version__},
        "convergence": convergence_rows(),
        "darcy": darcy_cost(20 if args.quick else 200),
        "references": reference_checks(args.quick),
    }
    write_text(RESULTS / "solvers_convergence.json", json.dumps(result, indent=2))
    write_text(RESULTS / "solvers_convergence.md", markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
