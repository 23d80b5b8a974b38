"""The ``sciml`` command: ``sciml fit|list|demo|solve|data``.

Bad input exits with status 2 and one line ``sciml: error: ...`` (no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import InputError

# Subcommands that live with their subsystem: module path -> it defines add_parser(subparsers).
PLUGINS = ("sciml.linalg.cli", "sciml.data.cli")


def _parse_params(items: list[str]) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--param: expected NAME=VALUE, got '{item}'")
        k, v = item.split("=", 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                continue
        params[k] = v
    return params


def _load_file(path: Path):
    if not path.exists():
        raise InputError(f"target: file '{path}' does not exist")
    spec = importlib.util.spec_from_file_location(f"_sciml_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except InputError:
        raise
    except Exception as e:  # report the user's file error in one line
        raise InputError(f"target: running '{path}' failed: {type(e).__name__}: {e}") from None
    if not hasattr(module, "problem"):
        raise InputError(f"target: '{path}' must define `problem` (an sm.Problem or a function returning one)")
    return module


def _resolve(target: str, params: dict):
    """(problem, model or None, fit options) from a registered name or a Python file."""
    from .problem import Problem
    from .registry import load_problem

    if target.endswith(".py"):
        module = _load_file(Path(target))
        problem = module.problem(**params) if callable(module.problem) and not isinstance(module.problem, Problem) \
            else module.problem
        if not isinstance(problem, Problem):
            raise InputError(f"target: `problem` in '{target}' is not an sm.Problem")
        model = getattr(module, "model", None)
        if callable(model) and not hasattr(model, "parameters"):
            model = model(problem)
        return problem, model, dict(getattr(module, "fit_options", {}))
    return load_problem(target, **params), None, {}


def cmd_fit(args) -> int:
    import torch

    from . import nn
    from .fit import BestModel, fit, save_model, seed_everything
    from .io import ensure_dir

    out = ensure_dir(args.out, argument="--out")
    seed_everything(args.seed)
    problem, model, options = _resolve(args.target, _parse_params(args.param))
    if args.keep_best and problem.solution is None:
        raise InputError(f"--keep-best: problem '{problem.name}' has no reference solution to measure the error by")
    if model is None or args.model:
        model = nn.build(args.model or "mlp", problem, width=args.width, depth=args.depth,
                         activation=args.activation)
    options.update({k: v for k, v in {
        "steps": args.steps, "optimizer": args.optimizer, "lr": args.lr, "points": args.points,
        "resample_every": args.resample_every, "lbfgs_steps": args.lbfgs_steps,
        "eval_every": args.eval_every}.items() if v is not None})
    options.setdefault("steps", 2000)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    best = BestModel() if args.keep_best else None
    result = fit(model, problem, dtype=dtype, device=args.device, seed=args.seed,
                 checkpoint=out / "checkpoint.pt", checkpoint_every=args.checkpoint_every, resume=args.resume,
                 progress=not args.no_progress, callbacks=[best] if best else [], **options)
    result.save(out)
    if best is not None and best.state is not None:
        save_model(out / "best_model.pt", best.state, result.model, result.config, step=best.step, rel_l2=best.value)
        print(f"best: rel_l2 = {best.value:.3e} after step {best.step} (wrote {out / 'best_model.pt'})")
    figures = result.plot(out)
    metrics = ", ".join(f"{k} = {v:.3e}" if isinstance(v, float) else f"{k} = {v}"
                        for k, v in result.metrics.items())
    print(f"{problem.name}: {metrics}")
    print(f"stopped: {result.stop_reason}")
    print(f"wrote {out / 'history.json'}, {out / 'checkpoint.pt'}, " + ", ".join(str(f) for f in figures))
    return 0


def cmd_list(args) -> int:
    from .registry import problem_names

    for name in problem_names():
        print(name)
    return 0


def cmd_demo(args) -> int:
    """Fit Helmholtz (a1, a2) = (1, 4) on [-1, 1]² with a PINN (hard Dirichlet ansatz, Adam then
    L-BFGS, float64); print the error; write figures."""
    ns = argparse.Namespace(target="helmholtz2d", param=["a1=1", "a2=4", "hard=1"], model="mlp", width=64, depth=3,
                            activation="tanh", steps=args.steps, optimizer="adam+lbfgs", lr=2e-3,
                            points=1024, resample_every=100, lbfgs_steps=args.steps * 3 // 20, dtype="float64",
                            device=None, seed=0, out=args.out, checkpoint_every=None, resume=None,
                            no_progress=args.no_progress, eval_every=None, keep_best=False)
    return cmd_fit(ns)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciml", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="fit a model to a registered problem or a Python file defining `problem`")
    p.add_argument("target", help="problem name (see `sciml list`) or path/to/file.py")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="problem parameter (repeatable)")
    p.add_argument("--model", default=None, help="model name (default: mlp, or the file's `model`)")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--depth", type=int, default=None)
    p.add_argument("--activation", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--optimizer", default=None, help="adam | lbfgs | adam+lbfgs | sgd")
    p.add_argument("--lbfgs-steps", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--points", type=int, default=None, help="interior collocation points")
    p.add_argument("--resample-every", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=None, help="evaluate the error every k steps")
    p.add_argument("--keep-best", action="store_true",
                   help="also write best_model.pt, the model of the lowest evaluated rel_l2 (needs a reference)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/fit", help="output directory")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--resume", default=None, help="checkpoint to resume from")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("list", help="list the registered problems")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("demo", help="fit a 2-D Helmholtz problem in about a minute and write figures")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"sciml: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sciml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
