"""PINN training throughput: sciml against DeepXDE (PyTorch backend), same PINN, one run.

Same MLP (width × depth tanh, Glorot normal, zero bias, no input scaling), same collocation and
boundary points (fixed: no resampling in either), same Adam learning rate, float32, same
number of steps, same loss (mean square of the residual + mean square of the Dirichlet
condition, weights 1). Timed: the training loop only (setup excluded), after a 10-step warm-up
of each library, alternating the two libraries ``--repeats`` times; the reported time is the
median. Time is the process's CPU time with one torch thread: on a shared machine it is far
steadier than wall time, and with one thread it equals wall time on an idle one. Error: relative L2 against
the exact solution on the same held-out points for both.

    python benchmarks/pinn_throughput.py            # full: 2000 Adam steps, 3 repeats
    python benchmarks/pinn_throughput.py --quick    # 200 steps, 1 repeat

Writes benchmarks/results/pinn_throughput.{json,md}. DeepXDE comes from the `bench` extra.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

os.environ.setdefault("DDE_BACKEND", "pytorch")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import markdown_table, write_results

import sciml as sm
from sciml.registry import load_problem


def problems():
    return {
        "poisson2d": load_problem("poisson2d"),
        "helmholtz2d(1,4)": load_problem("helmholtz2d", a1=1.0, a2=4.0),
    }


def fixed_points(problem, n_domain, n_boundary, seed):
    rng = np.random.default_rng(seed)
    x = problem.domain.sample(n_domain, rng).float()
    xb, _ = problem.domain.boundary.sample(n_boundary, rng)
    return x, xb.float()


class FixedPoints(sm.tasks.PDETask):
    """A PDETask on given points (so both libraries train on the very same ones)."""

    def __init__(self, problem, x, xb):
        x = torch.cat([x, xb])  # residual at interior and boundary points, as DeepXDE does with anchors
        super().__init__(problem, points=x.shape[0], boundary_points=xb.shape[0])
        self._x, self._xb = x, xb

    def _sample(self):
        self.x = self._to(self._x, True)
        (name, _), = self.conditions
        self.batches = {name: {"x": self._to(self._xb, True)}}


def run_sciml(problem, x, xb, width, depth, steps, lr, seed):
    torch.manual_seed(seed)
    model = sm.nn.MLP(problem.dim, 1, width, depth)
    task = FixedPoints(problem, x, xb)
    t = time.process_time()
    result = sm.fit(model, task, steps=steps, optimizer="adam", lr=lr, progress=False, eval_every=steps,
                    dtype=torch.float32, seed=seed)
    elapsed = time.process_time() - t
    return elapsed, result.metrics["rel_l2"]


def run_deepxde(problem, x, xb, width, depth, steps, lr, seed):
    import deepxde as dde

    dde.config.set_default_float("float32")
    dde.config.set_random_seed(seed)
    name = problem.name
    a1, a2, k = (problem.parameters.get(p, d) for p, d in (("a1", 1.0), ("a2", 4.0), ("k", 1.0)))

    if name == "poisson2d":
        def pde(xx, y):
            f = 2 * math.pi**2 * torch.sin(math.pi * xx[:, 0:1]) * torch.sin(math.pi * xx[:, 1:2])
            return dde.grad.hessian(y, xx, i=0, j=0) + dde.grad.hessian(y, xx, i=1, j=1) + f
    else:
        coef = k**2 - (a1**2 + a2**2) * math.pi**2

        def pde(xx, y):
            u = torch.sin(a1 * math.pi * xx[:, 0:1]) * torch.sin(a2 * math.pi * xx[:, 1:2])
            return dde.grad.hessian(y, xx, i=0, j=0) + dde.grad.hessian(y, xx, i=1, j=1) + k**2 * y - coef * u

    lo, hi = problem.domain.bounds
    geom = dde.geometry.Rectangle(list(lo), list(hi))
    bc = dde.icbc.DirichletBC(geom, lambda p: 0.0, lambda p, on_boundary: on_boundary)
    # The very points sciml uses, through DeepXDE's public `anchors`: the BC points are the
    # anchors on the boundary, the PDE residual is taken at all anchors.
    anchors = torch.cat([x, xb]).numpy().astype(np.float32)
    data = dde.data.PDE(geom, pde, bc, num_domain=0, num_boundary=0, anchors=anchors, num_test=None)
    net = dde.nn.FNN([problem.dim] + [width] * depth + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=lr)
    t = time.process_time()
    model.train(iterations=steps, display_every=steps + 1, verbose=0)
    elapsed = time.process_time() - t
    xt, ut = problem.test_data()
    pred = model.predict(xt.numpy().astype(np.float32))
    err = np.linalg.norm(pred - ut.numpy()) / np.linalg.norm(ut.numpy())
    return elapsed, float(err)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--boundary-points", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    steps = args.steps or (200 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    rows = []
    for name, problem in problems().items():
        x, xb = fixed_points(problem, args.points, args.boundary_points, seed=0)
        times = {"sciml": [], "deepxde": []}
        errors = {}
        for fn in (run_sciml, run_deepxde):  # warm-up
            fn(problem, x, xb, args.width, args.depth, 10, args.lr, seed=0)
        for r in range(repeats):
            for lib, fn in (("sciml", run_sciml), ("deepxde", run_deepxde)):
                elapsed, err = fn(problem, x, xb, args.width, args.depth, steps, args.lr, seed=r)
                times[lib].append(elapsed)
                errors.setdefault(lib, []).append(err)
                print(f"{name} {lib} repeat {r}: {steps / elapsed:.1f} steps/s, rel L2 {err:.3e}", flush=True)
        t_s, t_d = statistics.median(times["sciml"]), statistics.median(times["deepxde"])
        rows.append({"problem": name, "sciml steps/s": steps / t_s, "DeepXDE steps/s": steps / t_d,
                     "speed-up": t_d / t_s, "sciml rel L2": statistics.median(errors["sciml"]),
                     "DeepXDE rel L2": statistics.median(errors["deepxde"])})
    cols = ["problem", "sciml steps/s", "DeepXDE steps/s", "speed-up", "sciml rel L2", "DeepXDE rel L2"]
    table = markdown_table(rows, cols)
    notes = (f"Adam lr {args.lr}, {steps} steps, MLP {args.depth}×{args.width} tanh, {args.points} interior + "
             f"{args.boundary_points} boundary points (fixed), float32, {args.threads} torch thread(s), median of "
             f"{repeats} alternating repeats (seeds 0..{repeats - 1}); time = process CPU time. "
             "sciml uses forward jets for the Laplacian (one trace stream: value, gradient, Δ); "
             "DeepXDE its cached autograd Hessian.")
    write_results("pinn_throughput", {"config": vars(args) | {"steps": steps, "repeats": repeats}, "rows": rows,
                                      "times": times}, table, notes)
    print(table)
    print(notes)


if __name__ == "__main__":
    main()
