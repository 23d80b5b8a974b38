"""Gaussian normalisation of operator inputs and outputs (FNO / MgNO ``UnitGaussianNormalizer``).

``Normalized.fit(model, dataset)`` wraps ``model`` so that it sees standardised inputs and its
output is mapped back to the units of the target: ``forward(*inputs) = decode(model(*encode(inputs)))``.
Losses then compare with the raw targets, as in FNO's training scripts. Statistics are per channel
(mean and std over samples and grid points: the wrapped model stays resolution-free) or, with
``pointwise=True``, per grid point (FNO's choice; ties the model to one grid).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import check


class Normalized(nn.Module):
    """``model`` between input standardisation and output de-standardisation (buffers, saved with the model)."""

    def __init__(self, model: nn.Module, in_mean, in_std, out_mean, out_std, eps: float = 1e-5):
        super().__init__()
        self.model, self.eps = model, eps
        for name, value in (("in_mean", in_mean), ("in_std", in_std), ("out_mean", out_mean), ("out_std", out_std)):
            self.register_buffer(name, torch.as_tensor(value))

    @classmethod
    def fit(cls, model: nn.Module, dataset, pointwise: bool = False) -> Normalized:
        """Statistics of the first input field and the target of ``dataset`` (a FieldDataset)."""
        check(hasattr(dataset, "fields") and hasattr(dataset, "target"),
              f"dataset: expected a sciml.data.FieldDataset, got {type(dataset).__name__}")
        x, y = dataset.fields[dataset.inputs[0]].double(), dataset.fields[dataset.target].double()
        return cls(model, *_stats(x, pointwise), *_stats(y, pointwise))

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        out = self.model((x - self.in_mean) / (self.in_std + self.eps), *rest)
        return out * (self.out_std + self.eps) + self.out_mean


def _stats(t: torch.Tensor, pointwise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over samples (and, unless pointwise, over every axis after the channel axis)."""
    dims = (0,) if pointwise or t.dim() < 3 else (0, *range(2, t.dim()))
    return t.mean(dim=dims, keepdim=True)[0].float(), t.std(dim=dims, keepdim=True)[0].float()
