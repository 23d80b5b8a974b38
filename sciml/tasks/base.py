"""The protocol between `sciml.fit` (the loop) and what it trains on."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Context:
    """What fit tells a task at setup: where to put tensors and how runs are seeded/sharded."""

    device: torch.device
    dtype: torch.dtype
    seed: int
    rank: int = 0
    world_size: int = 1


class Task(abc.ABC):
    """A training target for :func:`sciml.fit`.

    The loop calls, in order: ``setup`` once; then each step ``loss_terms`` (possibly several
    times for L-BFGS line searches, so it must not advance state) and ``step_end`` (advance
    state: resample points, next minibatch); ``evaluate`` every ``eval_every`` steps.
    ``state_dict``/``load_state_dict`` hold everything needed to resume to the identical history
    (random generator states, current points or batch position). All loss terms are unweighted
    scalars; fit applies the weights.
    """

    #: default optimizer program and eval period when fit is not told otherwise
    default_optimizer: str = "adam"

    @abc.abstractmethod
    def setup(self, model: nn.Module, ctx: Context) -> nn.Module:
        """Prepare data on ``ctx.device``; return the module to train (e.g. wrapped for hard BCs)."""

    @abc.abstractmethod
    def loss_terms(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Unweighted scalar loss terms at the current data (no state change)."""

    def step_end(self, step: int) -> None:
        """Advance after a completed optimizer step ``step`` (0-based)."""

    @abc.abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Metrics on held-out data (e.g. ``rel_l2``); empty if there is nothing to compare with."""

    def final_metrics(self, model: nn.Module) -> dict[str, float]:
        """Metrics of the model fit returns, called once after training. A task may first load a
        preferred state into ``model`` (the dataset task: its best validation epoch)."""
        return self.evaluate(model)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def default_weights(self) -> dict[str, float]:
        """Weights of the loss terms when the user gives none (e.g. the conditions' own)."""
        return {}

    def reference_terms(self) -> list[str]:
        """Terms adaptive weighting scales the others against (the PDE residuals); none by default."""
        return []

    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over the data (1 for collocation problems)."""
        return 1
