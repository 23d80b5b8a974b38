"""ERNODE settings on the latent-ODE spirals (the PhysioNet stand-in of ``benchmarks/neural_ode.py``).

Trains through that benchmark's own ``latent_spiral_task`` and ``train_and_test`` with the error
regulariser replaced, one run per (setting, seed), each appended to
``results/neural_ode_latent_sweep.jsonl``; the markdown table compares every setting with vanilla on
the same seeds, on the test spirals and on 100 validation spirals from another generator seed (so a
choice need not rest on the test set).

Settings: ``vanilla`` | ``mean:A:B`` / ``sum:A:B`` (ERNODE, weight decaying A → B over the epochs,
mean or sum aggregation) | ``local:A:B`` (the local one-step estimate, Pal et al. 2023, with direct
backpropagation) | ``warm:F:AGG:A:B`` (weight 0 for the first fraction F of the epochs, then AGG A → B)
| ``ersr:L`` (the reference code's combined form L·mean_j(r_j dt_j + 0.1 |λ_j|/ρ)).

    python benchmarks/neural_ode_sweep.py --settings vanilla,sum:15:1.5 --seeds 0,1,2
    python benchmarks/neural_ode_sweep.py --table          # the markdown table from the runs so far
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import neural_ode as bench  # noqa: E402
from benchmarks.common import RESULTS, machine_info  # noqa: E402
from sciml.io import atomic_path  # noqa: E402
from sciml.ode import ErrorRegularizer, ExponentialDecay, NeuralODE  # noqa: E402

RUNS = RESULTS / "neural_ode_latent_sweep.jsonl"


@dataclasses.dataclass(frozen=True)
class Warmup:
    """Weight 0 for the first ``start_epoch`` epochs, then ``inner`` with its epochs counted from there."""

    inner: ErrorRegularizer
    start_epoch: int

    def __call__(self, stats, epoch):
        return 0.0 if epoch < self.start_epoch else self.inner(stats, epoch - self.start_epoch)


@dataclasses.dataclass(frozen=True)
class ErrorPlusStiffness:
    """The reference code's ER+SR: λ·mean_j(r_j dt_j + 0.1 |λ_j|/ρ); the stiffness mean is weighted by
    the step sizes (Σ_j |λ_j|/ρ dt_j / T, the accepted steps covering [t0, t1])."""

    weight: float
    span: float

    def __call__(self, stats, epoch):
        return self.weight * (stats.error_mean + 0.1 * stats.stiffness_sum / self.span)


def configure(task: bench.Task, setting: str) -> tuple[str, bench.Task]:
    """(benchmark kind, task with the setting's regulariser) for one setting string."""
    kind, *args = setting.split(":")
    epochs = task.epochs

    def schedule(a, b, n):
        return ExponentialDecay(float(a), float(b), n) if float(a) != float(b) else float(a)

    if kind == "vanilla" and not args:
        return "vanilla", task
    if kind in ("mean", "sum", "local") and len(args) == 2:
        er = ErrorRegularizer(schedule(*args, epochs), "sum" if kind == "sum" else "mean")
        return "ernode", dataclasses.replace(task, er=er, local=kind == "local")
    if kind == "warm" and len(args) == 4:
        start = int(round(float(args[0]) * epochs))
        er = ErrorRegularizer(schedule(args[2], args[3], epochs - start), args[1])
        return "ernode", dataclasses.replace(task, er=Warmup(er, start))
    if kind == "ersr" and len(args) == 1:
        t = task.test[1]
        return "ernode", dataclasses.replace(task, er=ErrorPlusStiffness(float(args[0]), float(t[-1] - t[0])))
    raise SystemExit(f"--settings: cannot read {setting!r} (see the module docstring for the forms)")


@functools.cache
def validation_set() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy observations (B, T, 2), times (T,), clean curves (T, B, 2)) of 100 spirals, generator seed 12."""
    times, clean, noisy = (torch.tensor(a, dtype=torch.float32)
                           for a in bench.two_spirals(100, np.random.default_rng(12)))
    return noisy.transpose(0, 1), times, clean


def run(setting: str, seed: int) -> dict:
    base = bench.latent_spiral_task(False)
    kind, task = configure(base, setting)
    built = []

    def build():  # keeps the trained model, which train_and_test does not return
        built.append(base.build())
        return built[-1]

    task = dataclasses.replace(task, build=build)
    try:
        r = bench.train_and_test(task, kind, seed, repeats=3)
    except (AssertionError, FloatingPointError, ValueError) as e:  # a diverged run is recorded
        return {"setting": setting, "seed": seed, "failed": f"{type(e).__name__}: {e}"[:200]}
    model = built[-1].eval()
    vx, vt, vy = validation_set()
    with torch.no_grad():
        traj, stats = NeuralODE(model.func, "dopri5", rtol=base.rtol, atol=base.atol)(model.encode(vx), vt)
        r["val_mse"] = float((model.decode(traj) - vy).pow(2).mean())
    r.update(setting=setting, seed=seed, val_nfe=stats.nfe, failed=None)
    return r


def mean(runs: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def std(runs: list[dict], key: str) -> float:
    return float(np.std([r[key] for r in runs]))


def table(runs: list[dict]) -> str:
    vanilla = {r["seed"]: r for r in runs if r["setting"] == "vanilla" and not r.get("failed")}
    lines = ["| setting | seeds | test MSE | test NFE | NFE vanilla/setting | MSE vs vanilla | val MSE vs vanilla "
             "| val NFE vanilla/setting | train CPU s (vanilla) |", "|" + "---|" * 9]
    groups = {}
    for r in runs:
        groups.setdefault(r["setting"], []).append(r)
    for setting, group in groups.items():
        ok = [r for r in group if not r.get("failed") and r["seed"] in vanilla]
        failed = [r["seed"] for r in group if r.get("failed")]
        if not ok:
            continue
        van = [vanilla[r["seed"]] for r in ok]
        seeds = ",".join(str(r["seed"]) for r in ok) + (f" (diverged: {failed})" if failed else "")
        lines.append(
            f"| {setting} | {seeds} | {mean(ok, 'metric'):.4f} ± {std(ok, 'metric'):.4f} | "
            f"{mean(ok, 'test_nfe'):.1f} ± {std(ok, 'test_nfe'):.1f} | "
            f"{mean(van, 'test_nfe') / mean(ok, 'test_nfe'):.2f} | "
            f"{100 * (mean(ok, 'metric') / mean(van, 'metric') - 1):+.1f} % | "
            f"{100 * (mean(ok, 'val_mse') / mean(van, 'val_mse') - 1):+.1f} % | "
            f"{mean(van, 'val_nfe') / mean(ok, 'val_nfe'):.2f} | "
            f"{mean(ok, 'train_cpu_s'):.0f} ({mean(van, 'train_cpu_s'):.0f}) |")
    return "\n".join(lines)


def write_table(runs: list[dict]) -> Path:
    m = machine_info()
    out = RESULTS / "neural_ode_latent_sweep.md"
    text = (f"# ERNODE settings on the latent-ODE spirals\n\nMachine: {m['cpu']}, {m['cores']} cores, one torch "
            f"thread per run, shared with other jobs (train CPU times compare within a row's seeds only). "
            f"{len(runs)} runs recorded in {RUNS.name}; 250 epochs each, dopri5 at "
            "rtol 1e-7 / atol 1e-9; every ratio is against vanilla on the same seeds. Test: the benchmark's "
            "100 test spirals; val: 100 spirals of generator seed 12 against their clean curves.\n\n"
            + table(runs) + "\n\nGoal (issue 6): test NFE ≥ 1.5× lower at ≤ +10 % MSE.\n")
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--settings", default="vanilla", help="comma-separated settings (module docstring)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--table", action="store_true", help="only rebuild the markdown table from the runs file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if not args.table:
        settings = args.settings.split(",")
        for setting in settings:
            configure(bench.latent_spiral_task(True), setting)  # check every setting before the first run
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise SystemExit(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
        for setting in settings:
            for seed in seeds:
                r = run(setting, seed)
                with RUNS.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                print(setting, seed, {k: r.get(k) for k in ("metric", "test_nfe", "val_mse", "failed")}, flush=True)
    runs = [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()] if RUNS.exists() else []
    print(write_table(runs).read_text())


if __name__ == "__main__":
    main()
