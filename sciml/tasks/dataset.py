"""`DatasetTask`: operator learning from a dataset of dicts of tensors, for :func:`sciml.fit`.

    result = sm.fit(model, sm.data.load("darcy", resolution=64, n=1000), epochs=100,
                    loss=sm.RelativeL2(), batch_size=8, scheduler="onecycle")

* **Data.** A :class:`sciml.data.FieldDataset` (or any map-style dataset whose items are dicts of
  tensors and which names its model ``inputs`` and ``target``; neuraloperator's ``{"x", "y"}``
  items work as they are). The whole set is put on the device once; NaN/inf anywhere is an
  :class:`InputError`.
* **Split.** ``validation``: a fraction or a count of items held out (chosen by a permutation
  seeded with fit's ``seed``), or a separate dataset; ``test``: an optional dataset evaluated at the
  same time. Metrics per evaluation (every epoch by default): ``val_rel_l2``, ``val_loss`` and
  ``test_rel_l2`` / ``test_rel_h1`` (fields on grids). Relative L2 is the mean of per-sample
  relative errors for fields, and the relative error of the whole set when items hold one value.
* **Best epoch.** The epoch with the lowest ``val_rel_l2`` is kept (``task.best``: epoch, metrics,
  model state); :meth:`DatasetTask.restore_best` loads it — the MgNO protocol (test at best val).
* **Batches.** Each epoch a permutation from ``torch.Generator().manual_seed(seed + epoch)``, cut
  into ``batch_size`` items per rank exactly as :class:`torch.utils.data.DistributedSampler` does
  (``perm[rank::world]``, padded to equal shards): under ``torchrun`` every rank trains on its shard
  and fit averages the gradients, so ``world`` ranks × ``batch_size`` equal one process with
  ``world·batch_size``.
* **Losses** follow :mod:`sciml.losses` (``loss(pred, batch)``); a data loss with ``target=None``
  compares with the dataset's target. Physics losses with ``prepare``/``inputs`` get their points
  drawn when the batch is drawn (so L-BFGS re-evaluations see the same points).
* **Schedule.** fit's ``scheduler="onecycle"`` is the reference's one-cycle (cosine, start at lr/2,
  peak at 20%).
* **Solver regularisers.** A model may return ``(pred, stats)`` with ``stats`` the
  :class:`~sciml.ode.SolverStats` of a :class:`~sciml.ode.NeuralODE` inside it; ``pred`` is what the
  loss and metrics see. ``regularizers=[sm.ode.ErrorRegularizer(...), ...]`` (fit passes its own
  argument on) adds ``reg(stats, epoch)`` to the loss as a term of its own, named after the class
  (``error_regularizer``, ``stiffness_regularizer``; the value is the weighted λ(e)·R). The weight
  schedule is evaluated at the epoch of fit's step counter, e = step // steps per epoch (the reference
  anneals per epoch); the epoch is part of the task state, so a resumed run continues the schedule.
"""

from __future__ import annotations

import dataclasses
import math
import re

import torch
from torch import nn

from ..data.datasets import FieldDataset
from ..errors import InputError, check
from ..losses import RelativeH1, RelativeL2
from ..ode.stats import split_output
from .base import Context, Task


def as_field_dataset(dataset, argument: str = "dataset") -> FieldDataset:
    """``dataset`` as a :class:`FieldDataset` (items stacked into whole tensors, NaN-checked)."""
    if isinstance(dataset, FieldDataset):
        return dataset
    check(isinstance(dataset, torch.utils.data.Dataset) and hasattr(dataset, "__len__") and len(dataset) > 0,
          f"{argument}: expected a non-empty map-style torch Dataset, got {type(dataset).__name__}")
    first = dataset[0]
    check(isinstance(first, dict), f"{argument}: items must be dicts of tensors, got {type(first).__name__}")
    inputs, target = getattr(dataset, "inputs", None), getattr(dataset, "target", None)
    if inputs is None and set(first) >= {"x", "y"}:
        inputs, target = ("x",), "y"
    check(inputs is not None and target is not None,
          f"{argument}: say which fields are model inputs and target (attributes .inputs, .target), "
          f"or use neuraloperator's keys 'x' and 'y'; item keys are {sorted(first)}")
    fields = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    return FieldDataset({k: torch.as_tensor(v) for k, v in fields.items()}, tuple(inputs), target)


def term_name(loss) -> str:
    """History name of a loss term: the snake-case class name (``RelativeL2`` → ``relative_l2``)."""
    name = getattr(loss, "__name__", None) or type(loss).__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class DatasetTask(Task):
    """Minibatch training on a dataset (see the module docstring)."""

    default_optimizer = "adam"

    def __init__(self, dataset, *, loss=None, batch_size: int = 32, validation=0.1, test=None,
                 eval_batch_size: int = 64, regularizers=None):
        self.data = as_field_dataset(dataset)
        self.test_data = None if test is None else as_field_dataset(test, "test")
        check(isinstance(batch_size, int) and batch_size >= 1,
              f"batch_size: expected an integer >= 1, got {batch_size!r}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.validation = validation
        loss = RelativeL2() if loss is None else loss
        check(callable(loss), f"loss: expected a callable loss(pred, batch), got {type(loss).__name__}")
        if dataclasses.is_dataclass(loss) and getattr(loss, "target", "") is None:
            loss = dataclasses.replace(loss, target=self.data.target)
        self.loss = loss
        self.inputs = tuple(getattr(loss, "inputs", self.data.inputs))
        self.physics = hasattr(loss, "prepare")
        self.regularizers = _named_regularizers(regularizers, term_name(loss))
        self.best: dict = {}

    # setup -------------------------------------------------------------------------------------

    def _split(self, seed: int) -> tuple[FieldDataset, FieldDataset | None]:
        v = self.validation
        if isinstance(v, torch.utils.data.Dataset):
            return self.data, as_field_dataset(v, "validation")
        n = len(self.data)
        if isinstance(v, float):
            check(0.0 <= v < 1.0, f"validation: expected a fraction in [0, 1), got {v}")
            v = int(round(v * n))
        check(isinstance(v, int) and 0 <= v < n, f"validation: expected a count in [0, {n}) or a fraction, got {v!r}")
        if v == 0:
            return self.data, None
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return self.data.subset(perm[v:].sort().values), self.data.subset(perm[:v].sort().values)

    def setup(self, model: nn.Module, ctx: Context) -> nn.Module:
        self.ctx = ctx
        train, val = self._split(ctx.seed)
        self.train = train.to(ctx.dtype, ctx.device)
        self.val = None if val is None else val.to(ctx.dtype, ctx.device)
        self.test = None if self.test_data is None else self.test_data.to(ctx.dtype, ctx.device)
        n, world = len(self.train), ctx.world_size
        self.shard = math.ceil(n / world)  # DistributedSampler, drop_last=False
        self.epoch, self.position = 0, 0
        self.generator = torch.Generator().manual_seed(ctx.seed * 1_000_003 + ctx.rank)
        self._check_model(model)
        self._draw()
        return model

    def _check_model(self, model: nn.Module) -> None:
        probe = self.train.batch(torch.arange(min(2, len(self.train))))
        if self.physics:
            probe = self.loss.prepare(probe, torch.Generator().manual_seed(0))
        missing = [k for k in self.inputs if k not in probe]
        check(not missing, f"dataset: model inputs {missing} are not fields of the dataset ({sorted(probe)})")
        try:
            with torch.no_grad():
                out = model(*(probe[k] for k in self.inputs))
        except InputError:
            raise
        except (RuntimeError, ValueError, TypeError) as e:
            shapes = {k: tuple(probe[k].shape) for k in self.inputs}
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputError(f"dataset: the model cannot take inputs of shapes {shapes} ({first})") from None
        pred, stats = split_output(out)
        check(stats is not None or not self.regularizers,
              f"regularizers: the model must return (prediction, stats) with the SolverStats of its "
              f"sm.ode.NeuralODE, got {_describe(out)}")
        if not self.physics:
            target = probe[self.train.target]
            check(pred.shape == target.shape,
                  f"dataset: the model output has shape {tuple(pred.shape)} but the target "
                  f"{self.train.target!r} has shape {tuple(target.shape)}")

    # batches -----------------------------------------------------------------------------------

    def steps_per_epoch(self) -> int:
        return math.ceil(self.shard / self.batch_size)

    def _epoch_indices(self) -> torch.Tensor:
        n, world = len(self.train), self.ctx.world_size
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.ctx.seed + self.epoch))
        padded = torch.cat([perm, perm[: self.shard * world - n]])
        return padded[self.ctx.rank :: world]

    def _draw(self) -> None:
        index = self._epoch_indices()[self.position * self.batch_size : (self.position + 1) * self.batch_size]
        batch = self.train.batch(index.to(self.ctx.device))
        self._generator_state = self.generator.get_state()  # before the draw: resume redraws the same points
        self._batch = self.loss.prepare(batch, self.generator) if self.physics else batch

    def step_end(self, step: int) -> None:
        self.position += 1
        if self.position == self.steps_per_epoch():
            self.epoch, self.position = self.epoch + 1, 0
        self._draw()

    def loss_terms(self, model: nn.Module) -> dict[str, torch.Tensor]:
        pred, stats = split_output(model(*(self._batch[k] for k in self.inputs)))
        terms = {term_name(self.loss): self.loss(pred, self._batch)}
        for name, reg in self.regularizers.items():
            terms[name] = torch.as_tensor(reg(stats, self.epoch), dtype=pred.dtype, device=pred.device)
        return terms

    # evaluation --------------------------------------------------------------------------------

    def predict(self, model: nn.Module, data: FieldDataset) -> torch.Tensor:
        """Model output on every item of ``data`` (the dataset's own inputs), without gradients."""
        outs = []
        with torch.no_grad():
            for i in range(0, len(data), self.eval_batch_size):
                b = data.batch(torch.arange(i, min(i + self.eval_batch_size, len(data)), device=self.ctx.device))
                outs.append(split_output(model(*(b[k] for k in data.inputs)))[0])
        return torch.cat(outs)

    def _metrics(self, model, data: FieldDataset, prefix: str) -> dict[str, float]:
        pred = self.predict(model, data)
        target = data.fields[data.target] if data.target not in data.rows else data.batch(slice(None))[data.target]
        if target[0].numel() > 1:  # fields: mean of per-sample relative errors (FNO / MgNO)
            rel_l2 = RelativeL2().per_sample(pred, target).mean()
        else:  # one value per item (pointwise DeepONet triples): relative error of the whole set
            rel_l2 = torch.linalg.vector_norm(pred - target) / torch.linalg.vector_norm(target)
        out = {f"{prefix}_rel_l2": float(rel_l2)}
        if pred.dim() >= 3 and min(pred.shape[2:]) >= 3:
            out[f"{prefix}_rel_h1"] = float(RelativeH1().per_sample(pred, target).mean())
        return out

    def _val_loss(self, model, data: FieldDataset) -> float:
        total, count = 0.0, 0
        gen = torch.Generator().manual_seed(12345)
        for i in range(0, len(data), self.eval_batch_size):
            b = data.batch(torch.arange(i, min(i + self.eval_batch_size, len(data)), device=self.ctx.device))
            if self.physics:
                b = self.loss.prepare(b, gen)
            with torch.set_grad_enabled(self.physics):
                value = self.loss(split_output(model(*(b[k] for k in self.inputs)))[0], b)
            total, count = total + float(value.detach()) * len(b[data.target]), count + len(b[data.target])
        return total / count

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.val is not None:
            out.update(self._metrics(model, self.val, "val"))
            out["val_loss"] = self._val_loss(model, self.val)
        if self.test is not None:
            out.update(self._metrics(model, self.test, "test"))
        score = out.get("val_rel_l2", out.get("test_rel_l2"))
        if score is not None and (not self.best or score < self.best["score"]):
            self.best = {"epoch": self.epoch, "score": score, "metrics": dict(out),
                         "state": _tensors(model)}
        return out

    def final_metrics(self, model: nn.Module) -> dict[str, float]:
        """With a validation split: load the best-validation epoch into ``model``, return its
        metrics and ``best_epoch``; without one, the final model's metrics."""
        if self.val is None or not self.best:
            return self.evaluate(model)
        self.restore_best(model)
        return {**self.best["metrics"], "best_epoch": self.best["epoch"]}

    def restore_best(self, model: nn.Module) -> nn.Module:
        """Load the parameters of the best-validation epoch into ``model``."""
        check(bool(self.best), "restore_best: no evaluation has run yet")
        with torch.no_grad():
            for name, t in _named_tensors(model):
                t.copy_(self.best["state"][name])
        return model

    # resume ------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "generator": self._generator_state,
                "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self.generator.set_state(state["generator"])
        self.best = state["best"]
        self._draw()


def _describe(out) -> str:
    if isinstance(out, tuple):
        return "a tuple of (" + ", ".join(type(o).__name__ for o in out) + ")"
    return f"a {type(out).__name__}"


def _named_regularizers(regularizers, loss_name: str) -> dict:
    """History names → regularisers ``reg(stats, epoch)`` (a repeated class gets ``_2``, ``_3``, ...)."""
    if regularizers is None:
        return {}
    check(isinstance(regularizers, (list, tuple)) and all(callable(r) for r in regularizers),
          f"regularizers: expected a list of sm.ode regularisers reg(stats, epoch), got {regularizers!r}")
    named: dict = {}
    for reg in regularizers:
        base = name = term_name(reg)
        i = 1
        while name in named or name == loss_name:
            i += 1
            name = f"{base}_{i}"
        named[name] = reg
    return named


def _named_tensors(model: nn.Module):
    yield from model.named_parameters()
    yield from model.named_buffers()


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every parameter and buffer (the best-epoch snapshot), on the CPU."""
    return {name: t.detach().cpu().clone() for name, t in _named_tensors(model)}
