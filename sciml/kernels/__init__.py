"""Stencil kernels for structured grids: plain-torch twins (:mod:`.reference`) and Triton kernels
(:mod:`.triton_stencil`).

:func:`backend` is the one dispatch point: on a CUDA device with Triton available it returns the Triton
kernels, otherwise the torch twins. Both expose the same functions: ``stencil_apply``, ``residual``,
``jacobi``, ``gs_color``, ``restrict``, ``prolong``, ``residual_restrict`` (see :mod:`.reference` for
the shared conventions).
"""

from __future__ import annotations

import functools
import importlib.util
import os

import torch

from . import reference

NAMES = ("stencil_apply", "residual", "jacobi", "gs_color", "restrict", "prolong", "residual_restrict")


@functools.cache
def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def backend(device, prefer: str | None = None):
    """The kernel module for tensors on ``device``: ``prefer`` = "torch" | "triton" | None (automatic:
    Triton on a CUDA device when installed, the torch twins otherwise). ``SCIML_KERNELS=torch``
    forces the twins everywhere."""
    device = torch.device(device)
    prefer = prefer or os.environ.get("SCIML_KERNELS") or None
    if prefer == "torch":
        return reference
    if prefer == "triton" or (device.type == "cuda" and triton_available()):
        from . import triton_stencil

        return triton_stencil
    return reference


__all__ = ["backend", "reference", "NAMES", "triton_available"]
