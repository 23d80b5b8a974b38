"""`fit`: the one training entry point, for PDE problems and for datasets.

    result = sm.fit(model, problem, steps=2000)                    # Adam, then L-BFGS
    result = sm.fit(model, dataset, epochs=100, loss=sm.RelativeL2())

What it does, and how to rely on it:

* **Optimizer program.** ``optimizer`` is "adam", "lbfgs", "adam+lbfgs" (the default for
  problems) or "sgd", or a callable ``params -> torch.optim.Optimizer``. ``steps`` counts outer
  steps: with "adam+lbfgs" the last ``lbfgs_steps`` (default ``steps // 10``) are L-BFGS steps,
  each one ``optimizer.step(closure)`` of up to ``lbfgs_options["max_iter"]`` (default 10)
  strong-Wolfe iterations. When an L-BFGS step leaves the loss unchanged, fit empties the
  curvature memory once (stale after resampling or moving weights) and, if the fresh optimizer
  does not move either, stops and says so (``result.stop_reason``, and a line on the progress
  bar) instead of stopping silently.
* **History.** One record per step: the loss, every unweighted loss term, the weights when
  adaptive, the learning rate, metrics every ``eval_every`` steps, and wall time. The record
  of a step holds the loss at the parameters the step started from.
* **Seeds and resume.** ``seed`` fixes the sampling of points and torch's generator. A
  checkpoint (model, optimizer, scheduler, loss weights, task state with points and random
  generator states, torch RNG, step, history, and the state of every callback that has
  ``state_dict``/``load_state_dict``, such as :class:`BestModel`) is written atomically every
  ``checkpoint_every`` steps and at the end; ``resume=path`` continues to the identical history
  (every number but wall time).
* **NaN.** If a loss term becomes NaN or infinite, fit stops with a message naming the term
  and the step, and returns the model as it was at the last step whose loss was finite.
* **Best epoch.** A dataset fit with a validation split returns the model of its best
  validation evaluation (lowest ``val_rel_l2``, ``task.final_metrics``); ``result.metrics`` are
  that evaluation's metrics plus ``best_epoch`` (the history keeps every evaluation).
* **Data parallel.** Under ``torchrun`` (``WORLD_SIZE`` > 1) each rank samples its own points
  (or shard of the data); fit averages gradients and loss terms across ranks after every
  backward pass — what DistributedDataParallel does, without wrapping the model — and only
  rank 0 shows progress and writes files.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import InputError
from .io import atomic_path, ensure_dir, write_json
from .ode.stats import split_output
from .problem import Problem
from .tasks.base import Context, Task
from .tasks.pde import PDETask
from .weighting import adaptive_weighting

__all__ = ["fit", "Result", "History", "StepInfo", "BestModel", "seed_everything"]

OPTIMIZERS = ("adam", "lbfgs", "adam+lbfgs", "sgd")
LBFGS_DEFAULTS = {"lr": 1.0, "max_iter": 10, "history_size": 100, "line_search_fn": "strong_wolfe",
                  "tolerance_grad": 1e-12, "tolerance_change": 1e-14}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (call before building a model to make its init repeat)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# History and Result


class History:
    """Per-step records (dicts). ``history["loss"]`` is the column of a key (None where absent)."""

    def __init__(self, records: Sequence[dict] | None = None):
        self.records: list[dict] = [dict(r) for r in records or []]

    def append(self, record: dict) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.records]

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def last(self, key: str):
        """The last recorded value of ``key`` (metrics are recorded every few steps)."""
        for r in reversed(self.records):
            if r.get(key) is not None:
                return r[key]
        return None

    def to_json(self) -> list[dict]:
        return self.records

    def save(self, path: str | os.PathLike) -> Path:
        return write_json(path, {"records": self.records})

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        import json

        return cls(json.loads(Path(path).read_text())["records"])


@dataclass
class StepInfo:
    """What a callback sees after each step. A callback returning True stops training."""

    step: int
    phase: str
    record: dict
    model: nn.Module
    history: History


class BestModel:
    """fit callback: a copy of the model's state at its lowest evaluated ``metric`` (default
    "rel_l2" against a problem's reference, evaluated every ``eval_every`` steps; "val_rel_l2" for
    a dataset fit, which also restores its best validation epoch by itself). After fit, ``value``
    is that lowest value, ``step`` the number of steps taken when it was reached, ``state`` the
    state dict, and ``restore(model)`` loads it. Its state travels in fit's checkpoints, so a resumed fit keeps the
    best of the steps before the interruption.

        best = sm.BestModel()
        result = sm.fit(model, problem, steps=50_000, eval_every=50, callbacks=[best])
        best.restore(result.model)
    """

    def __init__(self, metric: str = "rel_l2"):
        if not isinstance(metric, str) or not metric:
            raise InputError(f"metric: expected the name of an evaluated metric, got {metric!r}")
        self.metric = metric
        self.value, self.step, self.state = math.inf, None, None

    def __call__(self, info: StepInfo) -> bool:
        value = info.record.get(self.metric)
        if value is not None and value < self.value:
            self.value, self.step = value, info.step + 1
            self.state = {k: v.detach().clone() for k, v in info.model.state_dict().items()}
        return False

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the best state into ``model`` (the one fit trained) and return it."""
        if self.state is None:
            raise InputError(f"BestModel: no '{self.metric}' evaluation was seen (is the metric evaluated, "
                             "e.g. does the problem have a reference solution?)")
        model.load_state_dict(self.state)
        return model

    def state_dict(self) -> dict:
        return {"metric": self.metric, "value": self.value, "step": self.step, "state": self.state}

    def load_state_dict(self, state: dict) -> None:
        self.metric, self.value, self.step, self.state = (state["metric"], state["value"], state["step"],
                                                          state["state"])


@dataclass
class Result:
    """Outcome of :func:`fit`: the trained ``model``, its ``history``, final ``metrics``."""

    model: nn.Module
    history: History
    metrics: dict
    stop_reason: str
    config: dict
    target: object = field(repr=False, default=None)
    task: Task | None = field(repr=False, default=None)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Model output at points ``x`` (N, d), without gradients (the prediction alone for a
        model that returns ``(pred, stats)``)."""
        p = next(self.model.parameters(), None)
        with torch.no_grad():
            x = torch.as_tensor(x)
            if p is not None:
                x = x.to(p.device, p.dtype)
            return split_output(self.model(x))[0]

    def plot(self, out: str | os.PathLike = "figures") -> list[Path]:
        """Write figures (loss history; solution, reference and error fields) into ``out``."""
        from . import plot

        return plot.plot_result(self, ensure_dir(out))

    def save(self, out: str | os.PathLike) -> Path:
        """Write ``history.json``, ``metrics.json`` and ``model.pt`` (state dict + config) to ``out``."""
        d = ensure_dir(out)
        self.history.save(d / "history.json")
        write_json(d / "metrics.json", {"metrics": self.metrics, "stop_reason": self.stop_reason,
                                        "config": self.config})
        save_model(d / "model.pt", self.model.state_dict(), self.model, self.config)
        return d


def save_model(path: Path, state: dict, model: nn.Module, config: dict, **extra) -> None:
    """Write a model file atomically: the state dict, the model's class name, fit's config and any
    ``extra`` entries (what ``Result.save`` writes as model.pt; the CLI's best_model.pt adds step and error)."""
    with atomic_path(path) as tmp:
        torch.save({"model": state, "model_class": type(model).__name__, "config": config, **extra}, tmp)


# ----------------------------------------------------------------------------------------------
# fit


def fit(model: nn.Module, target, *, steps: int | None = None, epochs: int | None = None,
        optimizer: str | Callable | None = None, lr: float = 1e-3, lbfgs_steps: int | None = None,
        lbfgs_options: dict | None = None, scheduler: str | Callable | None = None,
        weights: dict[str, float] | None = None, adaptive=None, grad_clip: float | None = None,
        points: int = 2048, boundary_points: int | None = None, sampling="uniform",
        resample_every: int | None = None, derivatives: str = "auto", equation_loss: Callable | None = None,
        test_points: int = 4096, loss: Callable | None = None, batch_size: int = 32,
        validation: float = 0.1, regularizers: Sequence[Callable] | None = None, eval_every: int | None = None,
        callbacks: Sequence[Callable] = (),
        dtype: torch.dtype | str | None = None, device: str | torch.device | None = None, seed: int = 0,
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
        resume: str | os.PathLike | None = None, progress: bool = True) -> Result:
    """Train ``model`` on a :class:`~sciml.Problem`, a torch Dataset, or a :class:`~sciml.tasks.Task`.

    See the module docstring for the semantics. PDE options: ``points``, ``boundary_points``,
    ``sampling`` ("uniform", "sobol" or ``sm.ResidualAdaptiveSampling(...)``), ``resample_every``,
    ``derivatives``, ``equation_loss``, ``test_points``.
    Dataset options: ``epochs``, ``loss``, ``batch_size``, ``validation``, ``regularizers`` (e.g.
    ``[sm.ode.ErrorRegularizer(...)]`` for a model returning ``(pred, stats)``). Loss ``weights`` map
    term names to numbers; ``adaptive="lra"`` (or ``sm.LRAnnealing(...)``) adapts them.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    task = _make_task(target, points=points, boundary_points=boundary_points, sampling=sampling,
                      resample_every=resample_every, derivatives=derivatives, equation_loss=equation_loss,
                      test_points=test_points, loss=loss, batch_size=batch_size, validation=validation,
                      regularizers=regularizers)
    dtype = _dtype(dtype, model)
    device = _device(device, model)
    rank, world = _distributed()
    _cast(model, device, dtype)
    ctx = Context(device=device, dtype=dtype, seed=seed, rank=rank, world_size=world)
    torch.manual_seed(seed)
    trained = task.setup(model, ctx)
    _cast(trained, device, dtype)

    if steps is None and epochs is None:
        raise InputError("steps: give the number of optimizer steps (or epochs= for a dataset)")
    if epochs is not None:
        if not (isinstance(epochs, int) and epochs >= 1):
            raise InputError(f"epochs: expected a positive integer, got {epochs!r}")
        steps = epochs * task.steps_per_epoch()
    if not (isinstance(steps, int) and steps >= 1):
        raise InputError(f"steps: expected a positive integer, got {steps!r}")
    phases = _phases(optimizer or task.default_optimizer, steps, lbfgs_steps)
    lbfgs_opts = {**LBFGS_DEFAULTS, **(lbfgs_options or {})}
    eval_every = eval_every or max(1, min(task.steps_per_epoch() if epochs else steps // 20, steps))
    if checkpoint_every is not None and not (isinstance(checkpoint_every, int) and checkpoint_every >= 1):
        raise InputError(f"checkpoint_every: expected a positive integer, got {checkpoint_every!r}")
    if checkpoint is not None and rank == 0:
        ensure_dir(Path(checkpoint).parent, argument="checkpoint")
    adapt = adaptive_weighting(adaptive)
    config = {"steps": steps, "optimizer": optimizer if isinstance(optimizer, str) or optimizer is None
              else repr(optimizer), "phases": phases, "lr": lr, "lbfgs_options": lbfgs_opts,
              "scheduler": scheduler if isinstance(scheduler, str) or scheduler is None else repr(scheduler),
              "adaptive": repr(adapt), "dtype": str(dtype).replace("torch.", ""), "device": str(device),
              "seed": seed, "points": points, "sampling": sampling if isinstance(sampling, str) else repr(sampling),
              "resample_every": resample_every,
              "model": type(model).__name__, "world_size": world}

    loop = _Loop(trained, task, phases, factory=optimizer if callable(optimizer) else None, lr=lr,
                 lbfgs_opts=lbfgs_opts, scheduler=scheduler, weights=weights, adapt=adapt, grad_clip=grad_clip,
                 world=world)
    history = History()
    start = 0
    if resume is not None:
        start, history = loop.load(resume, device, callbacks)
    stop_reason = "completed"
    show = progress and rank == 0
    bar = _progress_bar(steps, start, show)
    t0 = time.perf_counter() - (history.last("time") or 0.0)
    step = start
    try:
        for step in range(start, steps):
            record = loop.step(step)
            bad = [k for k, v in record.items() if k != "loss" and isinstance(v, float) and not math.isfinite(v)]
            if bad:
                loop.restore_last_good()
                stop_reason = (f"nan: loss term '{bad[0]}' became {record[bad[0]]} at step {step}; "
                               f"returned the model of step {max(step - 1, 0)}")
                _say(bar, show, "sciml: " + stop_reason)
                break
            task.step_end(step)
            if (step + 1) % eval_every == 0 or step + 1 == steps:
                record.update(task.evaluate(trained))
            record["time"] = time.perf_counter() - t0
            history.append(record)
            _update_bar(bar, record)
            stall = loop.lbfgs_stall(history)
            if stall == "restart":
                loop.restart_phase()
                record["lbfgs_restart"] = True
                _say(bar, show, f"sciml: L-BFGS made no progress at step {step}; restarted it with empty "
                                "curvature memory")
            elif stall == "stop":
                stop_reason = (f"lbfgs: converged at step {step} (loss changed by less than "
                               f"{lbfgs_opts['tolerance_change']:g} between L-BFGS steps, also after a "
                               "restart with empty memory)")
                _say(bar, show, "sciml: " + stop_reason)
                break
            info = StepInfo(step, record["phase"], record, trained, history)
            if any(cb(info) for cb in callbacks):
                stop_reason = f"callback: stopped at step {step}"
                break
            if checkpoint is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 and rank == 0:
                loop.save(checkpoint, step + 1, history, config, callbacks)
    finally:
        if bar is not None:
            bar.close()
    completed = len(history)
    if checkpoint is not None and rank == 0 and completed > start:
        loop.save(checkpoint, completed, history, config, callbacks)
    metrics = task.final_metrics(trained)  # a dataset task first restores its best validation epoch
    for key in list(metrics):
        column = [v for v in history[key] if v is not None]
        if column:
            metrics[f"best_{key}"] = min(column + [metrics[key]])
    metrics["steps"] = completed
    metrics["time"] = history.last("time") or 0.0
    return Result(model=trained, history=history, metrics=metrics, stop_reason=stop_reason, config=config,
                  target=target, task=task)


# ----------------------------------------------------------------------------------------------
# internals


def _make_task(target, *, loss, batch_size, validation, regularizers, **pde_options) -> Task:
    if regularizers is not None and not isinstance(target, torch.utils.data.Dataset):
        raise InputError("regularizers: only for dataset fits (give them to DatasetTask(..., regularizers=) "
                         f"for a Task), got a {type(target).__name__} target")
    if isinstance(target, Task):
        return target
    if isinstance(target, Problem):
        return PDETask(target, **pde_options)
    if isinstance(target, torch.utils.data.Dataset):
        try:
            from .tasks.dataset import DatasetTask
        except ImportError:  # pragma: no cover - present in a full install
            raise InputError("target: dataset training needs sciml.tasks.dataset") from None
        return DatasetTask(target, loss=loss, batch_size=batch_size, validation=validation, regularizers=regularizers)
    raise InputError(f"target: expected an sm.Problem, a torch Dataset or a Task, got {type(target).__name__}")


def _dtype(dtype, model: nn.Module) -> torch.dtype:
    if dtype is None:
        p = next(model.parameters(), None)
        return p.dtype if p is not None else torch.get_default_dtype()
    if isinstance(dtype, str):
        dtype = {"float32": torch.float32, "float64": torch.float64, "double": torch.float64,
                 "float": torch.float32}.get(dtype, dtype)
    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"dtype: expected float32 or float64, got {dtype!r}")
    return dtype


def _cast(module: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Move to ``device``; give real floating-point tensors ``dtype`` (complex ones keep theirs,
    e.g. spectral weights of Fourier layers)."""
    module._apply(lambda t: t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device=device))


def _device(device, model: nn.Module) -> torch.device:
    if device is None:
        p = next(model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device: CUDA was asked for but torch sees no CUDA device")
    return device


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _phases(optimizer, steps: int, lbfgs_steps: int | None) -> list[tuple[str, int]]:
    """[(optimizer name, number of steps)] in order."""
    if callable(optimizer):
        return [("custom", steps)]
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer: expected one of {', '.join(OPTIMIZERS)} or a callable, got {optimizer!r}")
    if optimizer != "adam+lbfgs":
        return [(optimizer, steps)]
    n_lbfgs = steps // 10 if lbfgs_steps is None else lbfgs_steps
    if not (isinstance(n_lbfgs, int) and 0 <= n_lbfgs <= steps):
        raise InputError(f"lbfgs_steps: expected an integer in 0..steps ({steps}), got {lbfgs_steps!r}")
    return [(name, n) for name, n in (("adam", steps - n_lbfgs), ("lbfgs", n_lbfgs)) if n > 0]


class _Loop:
    """Optimizer phases, weights, last-good snapshot and checkpoints around a Task."""

    def __init__(self, model, task, phases, *, factory, lr, lbfgs_opts, scheduler, weights, adapt, grad_clip, world):
        self.model, self.task, self.phases, self.factory = model, task, phases, factory
        self.lr, self.lbfgs_opts, self.scheduler_spec = lr, lbfgs_opts, scheduler
        self.adapt, self.grad_clip, self.world = adapt, grad_clip, world
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise InputError("model: has no trainable parameters")
        self.user_weights = dict(weights or {})
        self.weights: dict[str, float] | None = None
        self.phase_index = -1
        self.opt = self.sched = None
        self.good = [p.detach().clone() for p in self.params]

    # phases ----------------------------------------------------------------------------------

    def _phase_of(self, step: int) -> tuple[int, str, int]:
        begin = 0
        for i, (name, n) in enumerate(self.phases):
            if step < begin + n:
                return i, name, n
            begin += n
        return len(self.phases) - 1, self.phases[-1][0], self.phases[-1][1]

    def _enter(self, index: int) -> None:
        name, n = self.phases[index]
        self.phase_index = index
        if name == "custom":
            self.opt = self.factory(self.params)
        elif name == "adam":
            self.opt = torch.optim.Adam(self.params, lr=self.lr)
        elif name == "sgd":
            self.opt = torch.optim.SGD(self.params, lr=self.lr, momentum=0.9)
        else:
            self.opt = torch.optim.LBFGS(self.params, **self.lbfgs_opts)
        self.sched = _scheduler(self.scheduler_spec, self.opt, n, self.lr) if name != "lbfgs" else None

    # one step --------------------------------------------------------------------------------

    def _weighted(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.weights is None:
            self.weights = {k: 1.0 for k in terms}
            self.weights.update(self.task.default_weights())
            unknown = set(self.user_weights) - set(terms)
            if unknown:
                raise InputError(f"weights: unknown loss term(s) {sorted(unknown)}; terms are {sorted(terms)}")
            self.weights.update({k: float(v) for k, v in self.user_weights.items()})
        return sum(self.weights[k] * t for k, t in terms.items())

    def _backward(self, loss: torch.Tensor) -> None:
        loss.backward()
        if self.world > 1:
            _average_gradients(self.params, self.world)
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)

    def step(self, step: int) -> dict:
        index, name, _ = self._phase_of(step)
        if index != self.phase_index:
            self._enter(index)
        captured: dict = {}

        def closure():
            self.opt.zero_grad(set_to_none=True)
            terms = self.task.loss_terms(self.model)
            loss = self._weighted(terms)
            if not captured:
                captured.update(_record_terms(terms, loss, self.world))
                if not captured["finite"]:
                    return loss
                self.good = [p.detach().clone() for p in self.params]
                if self.adapt is not None:
                    self.weights = self.adapt.update(terms, self.weights, self.task.reference_terms(),
                                                     self.params, step)
                    loss = self._weighted(terms)
            self._backward(loss)
            if self.world > 1:
                loss = _mean_across_ranks(loss.detach(), self.world)
            return loss

        if name == "lbfgs":
            self.opt.step(closure)
        else:
            closure()
            if captured["finite"]:
                self.opt.step()
                if self.sched is not None:
                    self.sched.step()
        record = {"step": step, "phase": name, **captured["values"],
                  "lr": float(self.opt.param_groups[0]["lr"])}
        if self.adapt is not None:
            record.update({f"w_{k}": v for k, v in self.weights.items()})
        return record

    def restore_last_good(self) -> None:
        with torch.no_grad():
            for p, g in zip(self.params, self.good):
                p.copy_(g)

    def lbfgs_stall(self, history: History) -> str | None:
        """None while L-BFGS moves; "restart" or "stop" when its last step left the loss unchanged.

        A stall is often stale curvature memory (the points were resampled, causal or adaptive
        weights moved the loss) rather than a minimum, so on the first stall fit empties the
        memory (``restart_phase``); a stall of the fresh optimizer's first step stops the fit.
        The restart is marked in the history (``lbfgs_restart``), so a resumed fit decides alike.
        """
        recs = history.records
        if len(recs) < 2 or recs[-1]["phase"] != "lbfgs" or recs[-2]["phase"] != "lbfgs":
            return None
        a, b = recs[-2]["loss"], recs[-1]["loss"]
        if abs(a - b) > self.lbfgs_opts["tolerance_change"] * max(1.0, abs(a)):
            return None
        # the record of a step holds the loss it started from: the fresh optimizer's first
        # step (the one after the restart) shows in the record two steps after the restart
        if recs[-2].get("lbfgs_restart"):
            return None
        if len(recs) >= 3 and recs[-3].get("lbfgs_restart"):
            return "stop"
        return "restart"

    def restart_phase(self) -> None:
        """A fresh optimizer for the current phase (for L-BFGS: empty curvature memory)."""
        self._enter(self.phase_index)

    # checkpoints -----------------------------------------------------------------------------

    def save(self, path, step: int, history: History, config: dict, callbacks: Sequence[Callable] = ()) -> None:
        state = {
            "format": "sciml-checkpoint-1",
            "step": step,
            "model_class": type(self.model).__name__,
            "model": self.model.state_dict(),
            "phase_index": self.phase_index,
            "optimizer": self.opt.state_dict() if self.opt is not None else None,
            "scheduler": self.sched.state_dict() if self.sched is not None else None,
            "weights": self.weights,
            "good": self.good,
            "task": self.task.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "history": history.to_json(),
            "config": config,
            "callbacks": [(type(cb).__name__, cb.state_dict()) if hasattr(cb, "state_dict") else None
                          for cb in callbacks],
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def load(self, path, device, callbacks: Sequence[Callable] = ()) -> tuple[int, History]:
        p = Path(path)
        if not p.exists():
            raise InputError(f"resume: checkpoint '{p}' does not exist")
        try:
            state = torch.load(p, map_location=device, weights_only=False)
        except Exception as e:  # any unpickling failure is a bad file
            raise InputError(f"resume: cannot read checkpoint '{p}' ({type(e).__name__})") from None
        if not isinstance(state, dict) or state.get("format") != "sciml-checkpoint-1":
            raise InputError(f"resume: '{p}' is not a sciml checkpoint")
        own = self.model.state_dict()
        theirs = state["model"]
        same = (state["model_class"] == type(self.model).__name__ and own.keys() == theirs.keys()
                and all(own[k].shape == theirs[k].shape for k in own))
        if not same:
            raise InputError(f"resume: checkpoint '{p}' was written for another model "
                             f"({state['model_class']} with {len(theirs)} tensors), not this "
                             f"{type(self.model).__name__}")
        self.model.load_state_dict(theirs)
        self.weights = state["weights"]
        self.good = [g.to(device) for g in state["good"]]
        if state["phase_index"] >= 0:
            self._enter(state["phase_index"])
            self.opt.load_state_dict(state["optimizer"])
            if self.sched is not None and state["scheduler"] is not None:
                self.sched.load_state_dict(state["scheduler"])
        self.task.load_state_dict(state["task"])
        _load_callbacks(callbacks, state.get("callbacks", []), p)
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state["step"], History(state["history"])


def _load_callbacks(callbacks: Sequence[Callable], saved: list, path: Path) -> None:
    """Give each stateful callback the state saved at its position; refuse a mismatch rather than
    resume with a callback that silently forgot (e.g. a best model of the steps before)."""
    for i, cb in enumerate(callbacks):
        if not hasattr(cb, "load_state_dict"):
            continue
        entry = saved[i] if i < len(saved) else None
        if entry is None or entry[0] != type(cb).__name__:
            written = [e[0] if e else "stateless" for e in saved] or "none"
            raise InputError(f"resume: checkpoint '{path}' holds no state for callback {i} "
                             f"({type(cb).__name__}); it was written with callbacks {written}")
        cb.load_state_dict(entry[1])


def _record_terms(terms: dict[str, torch.Tensor], loss: torch.Tensor, world: int) -> dict:
    names = list(terms)
    values = torch.stack([t.detach() for t in terms.values()] + [loss.detach()])
    if world > 1:
        values = _mean_across_ranks(values, world)
    floats = [float(v) for v in values.cpu()]
    out = {"loss": floats[-1], **dict(zip(names, floats[:-1]))}
    return {"values": out, "finite": all(math.isfinite(v) for v in floats)}


def _average_gradients(params, world: int) -> None:
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def _mean_across_ranks(t: torch.Tensor, world: int) -> torch.Tensor:
    import torch.distributed as dist

    t = t.clone()
    dist.all_reduce(t)
    return t / world


def _scheduler(spec, opt, n_steps: int, lr: float):
    if spec is None:
        return None
    if callable(spec):
        return spec(opt)
    if spec == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n_steps))
    if spec == "onecycle":
        # at least 10 steps: OneCycleLR divides by its phase lengths (a run may stop earlier)
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(10, n_steps), pct_start=0.2,
                                                   div_factor=2.0, anneal_strategy="cos")
    if isinstance(spec, str) and spec.startswith("exponential:"):
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=float(spec.split(":", 1)[1]))
    raise InputError(f"scheduler: expected None, 'cosine', 'onecycle', 'exponential:<gamma>' or a callable, "
                     f"got {spec!r}")


def _progress_bar(total: int, initial: int, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="fit", dynamic_ncols=True, mininterval=0.5)


def _update_bar(bar, record: dict) -> None:
    if bar is None:
        return
    skip = {"step", "time", "lr"}
    bar.set_postfix({k: (f"{v:.2e}" if isinstance(v, float) else v) for k, v in record.items()
                     if k not in skip and not k.startswith("w_")}, refresh=False)
    bar.update(1)


def _say(bar, show: bool, message: str) -> None:
    if not show:
        return
    if bar is not None:
        bar.write(message)
    else:  # pragma: no cover
        print(message)


