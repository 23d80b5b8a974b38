"""Error ratio and Shampine stiffness estimate of one embedded RK step, from its stages.

Both :mod:`sciml.ode.recorder` (stages recorded inside torchdiffeq's solve) and the local one-step
regulariser (:func:`embedded_step`, stages computed here) use :func:`step_estimates`, written with the
same tensor expressions as torchdiffeq 0.2.5 (``_runge_kutta_step``, ``_compute_error_ratio``) so the
ratio is bit-identical to the one the solver compares with 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .tableau import Tableau

Norm = Callable[[torch.Tensor], torch.Tensor]


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """torchdiffeq's default norm: RMS over every entry (batch included)."""
    return x.abs().pow(2).mean().sqrt()


def tolerance(tol, state: torch.Tensor) -> torch.Tensor:
    """``rtol``/``atol`` as torchdiffeq stores them for a state like ``state``."""
    dtype = torch.promote_types(torch.float64, state.abs().dtype)
    return torch.as_tensor(tol, dtype=dtype, device=state.device)


def step_estimates(
    tableau: Tableau,
    y0: torch.Tensor,
    dt: torch.Tensor,
    inputs: Sequence[torch.Tensor],
    outputs: Sequence[torch.Tensor],
    rtol: torch.Tensor,
    atol: torch.Tensor,
    norm: Norm = rms_norm,
    stiffness: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(error ratio r, Shampine eigenvalue estimate |λ̂|) of one step.

    Args:
        tableau: the method's tableau (float64; cast here to the state's dtype).
        y0: state at the start of the step, any shape S.
        dt: step size (0-dim tensor; the size actually taken, after any shortening).
        inputs, outputs: the s stage states g_i and derivatives k_i = f(t_i, g_i); g_1 is y0, or, where
            torchdiffeq reuses the previous step's last stage as k_1 of a non-FSAL tableau, its state.
        rtol, atol: tolerances as from :func:`tolerance`.
        norm: the solver's norm.
        stiffness: compute |λ̂| = RMS(k_s − k_{s−1}) / RMS(g_s − g_{s−1}) (0 when g_s = g_{s−1}).
    """
    tab = tableau.on(y0.dtype, y0.device)
    k = torch.stack(list(outputs), dim=-1)
    dt = dt.to(y0.abs().dtype)
    y1_error = torch.sum(k * (dt * tab.c_error), dim=-1)
    y1 = inputs[-1] if tab.fsal else y0 + torch.sum(k * (dt * tab.c_sol), dim=-1).view_as(y0)
    error_tol = atol + rtol * torch.max(y0.abs(), y1.abs())
    ratio = norm(y1_error / error_tol).abs()
    if not stiffness:
        return ratio, None
    num = rms_norm(outputs[-1] - outputs[-2])
    den = rms_norm(inputs[-1] - inputs[-2])
    positive = den > 0
    eig = torch.where(positive, num / torch.where(positive, den, torch.ones_like(den)), torch.zeros_like(num))
    return ratio, eig


def embedded_step(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    t0: torch.Tensor,
    y0: torch.Tensor,
    dt: torch.Tensor,
    tableau: Tableau,
    rtol: torch.Tensor,
    atol: torch.Tensor,
    norm: Norm = rms_norm,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Take one step of ``tableau`` from (t0, y0) with autograd on; return (r, |λ̂|).

    The local regulariser of Pal, Edelman & Rackauckas (ICML 2023): costs ``tableau.stages``
    evaluations of ``func``, independent of the solve, so it works with any adjoint.
    """
    tab = tableau.on(y0.dtype, y0.device)
    dt_y = dt.to(y0.dtype)
    inputs, outputs = [y0], [func(t0, y0)]
    for alpha_i, beta_i in zip(tab.alpha, tab.beta):
        yi = y0 + dt_y * sum(b * k for b, k in zip(beta_i, outputs))
        inputs.append(yi)
        outputs.append(func(t0 + alpha_i * dt_y, yi))
    return step_estimates(tableau, y0, dt, inputs, outputs, rtol, atol, norm)
