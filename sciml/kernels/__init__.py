"""Kernels with plain-torch twins.

Stencils on structured grids: the torch twins (:mod:`.reference`) and Triton kernels
(:mod:`.triton_stencil`). :func:`backend` is their one dispatch point: on a CUDA device with Triton
available it returns the Triton kernels, otherwise the torch twins. Both expose the same functions:
``stencil_apply``, ``residual``, ``jacobi``, ``gs_color``, ``restrict``, ``prolong``,
``residual_restrict`` (see :mod:`.reference` for the shared conventions).

The PIG jet: a C kernel on the CPU (:mod:`.native`) and a Triton kernel on CUDA (:mod:`.triton_pig`),
both twins of the torch ops in :mod:`sciml.nn.pig`; :func:`pig_jet` is their dispatch point.
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


def pig_jet(*tensors: torch.Tensor):
    """The module (``pig_jet_forward``, ``pig_jet_backward``) of the fused PIG-jet kernel for these
    tensors (all on one device, one float32/float64 dtype), or None for the torch twin: the C kernel
    on the CPU when it builds, Triton on CUDA. ``SCIML_KERNELS=torch`` forces the twin."""
    if os.environ.get("SCIML_KERNELS") == "torch":
        return None
    device, dtype = tensors[0].device, tensors[0].dtype
    if dtype not in (torch.float32, torch.float64) or any(t.device != device or t.dtype != dtype for t in tensors):
        return None
    if device.type == "cpu":
        from . import native

        return native if native.available(dtype) else None
    if device.type == "cuda" and triton_available():
        from . import triton_pig

        return triton_pig
    return None


__all__ = ["backend", "reference", "NAMES", "pig_jet", "triton_available"]
