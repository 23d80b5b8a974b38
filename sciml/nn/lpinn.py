"""Lagrangian PINN (Mojgani, Balajewicz, Hassanzadeh; CMAME 404:115810, 2023, arXiv 2205.02902).

For 1-D periodic transport  w_t + f₁(x, t, w) w_x = ν w_xx  the unknowns are carried along
characteristics labelled by their start x₀: the position X(t, x₀) and the state w(t, x₀), with

    R_x = X_t − f₁(X, t, w),        R_w = w_t − ν w_XX,

(convection f₁ = β; Burgers f₁ = w). ``LPINN`` maps points (t, x₀) — time first, like every
space-time problem in sciml — to the two columns (X, w). Both branches see the periodic input
(t, cos kx₀, sin kx₀), k = 2π/L, as in the reference code.

Design choices (documented deviations from the released code):

* **Separate branches** (as in the paper's slides: state branch with 5 hidden layers, characteristic
  branch with 2, width 50, tanh), not the released code's shared layers: X grows like βt (up to 50)
  while w stays O(1), and sharing the hidden layers couples two targets of very different scale
  and smoothness; the separate branches cost ~8k parameters more and train without interference.
* **Hard initial characteristic**: X = x₀ + s·t·N_x(t, γ(x₀)), with ``speed_scale`` s the
  characteristic speed scale (β for convection, max|w₀| for Burgers; a nondimensionalisation).
  The released code outputs X from (cos x₀, sin x₀) directly, which cannot represent x₀ itself
  continuously across the seam and forces it to drop 2 points at each end of the grid; the
  displacement X − x₀ is periodic in x₀, so here it is exact at t = 0 and smooth everywhere.
* **Exact diffusion in the moving frame** by default: w_XX = (w_ss X_s − w_s X_ss)/X_s³ (s = x₀);
  ``label_diffusion=True`` reproduces the released code's w_x₀x₀ (exact only as ν → 0).

Inside :func:`sciml.ops.forward_derivatives` the model propagates value, first and diagonal second
derivatives forward (jets), which are all the residuals need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .. import ops
from ..errors import InputError
from .activations import activation as _activation
from .mlp import MLP

__all__ = ["LPINN", "LagrangianEquation", "lagrangian_form", "lagrangian_residuals", "lpinn_loss",
           "to_eulerian"]


# ----------------------------------------------------------------------------------------------
# Equations that have a Lagrangian form


@dataclass(frozen=True)
class LagrangianEquation:
    """w_t + f₁(X, t, w) w_x = ν w_xx: ``speed`` is f₁(X, t, w) (tensors (N,)), ``nu`` the viscosity."""

    name: str
    speed: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    nu: float = 0.0
    speed_scale: float = 1.0

    @staticmethod
    def convection(beta: float, nu: float = 0.0) -> LagrangianEquation:
        return LagrangianEquation("convection", lambda x, t, w: torch.full_like(w, float(beta)), float(nu),
                                  max(1.0, abs(float(beta))))

    @staticmethod
    def burgers(nu: float, amplitude: float = 1.0) -> LagrangianEquation:
        return LagrangianEquation("burgers", lambda x, t, w: w, float(nu), max(1.0, abs(float(amplitude))))


_FORMS = {"convection": ("beta", "nu"), "convection_diffusion": ("beta", "nu"), "burgers": ("nu",)}


def lagrangian_form(spec, **parameters) -> LagrangianEquation:
    """The Lagrangian form of ``spec``: a LagrangianEquation, a name, or an ``sm.Problem``.

    Names (and problem names) with a Lagrangian form: convection (beta, nu=0),
    convection_diffusion (beta, nu), burgers (nu, amplitude=1). Anything else raises InputError.
    """
    if isinstance(spec, LagrangianEquation):
        return spec
    name = spec if isinstance(spec, str) else getattr(spec, "name", None)
    if not isinstance(spec, str):
        parameters = {**dict(getattr(spec, "parameters", {}) or {}), **parameters}
    if name not in _FORMS:
        raise InputError(f"equation: LPINN cannot rewrite '{name or type(spec).__name__}' in the Lagrangian "
                         f"frame; known: {', '.join(_FORMS)} (periodic 1-D w_t + f(w) w_x = ν w_xx)")
    missing = [p for p in _FORMS[name] if p not in parameters and not (p == "nu" and name == "convection")]
    if missing:
        raise InputError(f"equation: '{name}' needs parameter(s) {missing}")
    if name == "burgers":
        return LagrangianEquation.burgers(parameters["nu"], parameters.get("amplitude", 1.0))
    return LagrangianEquation.convection(parameters["beta"], parameters.get("nu", 0.0))


# ----------------------------------------------------------------------------------------------
# Model


def _mlp_jet(mlp: MLP, j: ops.JetStack) -> ops.JetStack:
    for layer in mlp.layers[:-1]:
        j = ops.jet_pointwise(ops.jet_linear(j, layer.weight, layer.bias), mlp.act.f, mlp.act.df, mlp.act.d2f)
    return ops.jet_linear(j, mlp.layers[-1].weight, mlp.layers[-1].bias)


def _jet_mul(a: ops.JetStack, b: ops.JetStack) -> ops.JetStack:
    """Product rule on jets: (ab)' = a'b + ab', (ab)'' = a''b + 2a'b' + ab''."""
    va, vb = a.value, b.value
    t = torch.cat([(va * vb)[None], a.d1 * vb + va * b.d1, a.d2 * vb + 2 * a.d1 * b.d1 + va * b.d2], 0)
    return ops.JetStack(t, a.d)


class LPINN(nn.Module):
    """Lagrangian PINN: (t, x₀) (N, 2) → (X, w) (N, 2), see the module doc.

    Parameters
    ----------
    width : hidden width of both branches (paper 50).
    state_depth, characteristic_depth : hidden layers of the w and X branches (paper 5 and 2).
    period : L, the spatial period (x₀ ∈ [0, L)); inputs use γ(x₀) = (cos 2πx₀/L, sin 2πx₀/L).
    speed_scale : s in X = x₀ + s·t·N_x (characteristic speed scale, e.g. β).
    """

    def __init__(self, width: int = 50, state_depth: int = 5, characteristic_depth: int = 2,
                 period: float = 2 * math.pi, speed_scale: float = 1.0, activation: str = "tanh"):
        super().__init__()
        for name, v in (("width", width), ("state_depth", state_depth),
                        ("characteristic_depth", characteristic_depth)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive integer, got {v!r}")
        for name, v in (("period", period), ("speed_scale", speed_scale)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"{name}: expected a positive number, got {v!r}")
        _activation(activation)
        self.period, self.speed_scale = float(period), float(speed_scale)
        self.state = MLP(3, 1, width=width, depth=state_depth, activation=activation)
        self.characteristic = MLP(3, 1, width=width, depth=characteristic_depth, activation=activation)

    def extra_repr(self) -> str:
        return f"period={self.period:g}, speed_scale={self.speed_scale:g}"

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"x: expected points (t, x0) of shape (N, 2), got {shape}")

    def forward(self, tx: torch.Tensor) -> torch.Tensor:
        self._check_input(tx)
        k = 2 * math.pi / self.period
        if ops.jets_enabled() and tx.requires_grad:
            j = ops.jet_input(tx)
            t = ops.JetStack(j.t[..., :1], 2)
            phase = ops.JetStack(k * j.t[..., 1:2], 2)
            cos = ops.jet_pointwise(phase, torch.cos, lambda v: -torch.sin(v), lambda v: -torch.cos(v))
            sin = ops.jet_pointwise(phase, torch.sin, torch.cos, lambda v: -torch.sin(v))
            feats = ops.JetStack(torch.cat([t.t, cos.t, sin.t], -1), 2)
            w = _mlp_jet(self.state, feats)
            disp = _jet_mul(t, _mlp_jet(self.characteristic, feats))
            x = ops.JetStack(j.t[..., 1:2] + self.speed_scale * disp.t, 2)
            return ops.jet_output(ops.JetStack(torch.cat([x.t, w.t], -1), 2), tx)
        t, x0 = tx[:, :1], tx[:, 1:2]
        feats = torch.cat([t, torch.cos(k * x0), torch.sin(k * x0)], 1)
        return torch.cat([x0 + self.speed_scale * t * self.characteristic(feats), self.state(feats)], 1)


# ----------------------------------------------------------------------------------------------
# Residuals, loss, evaluation


def lagrangian_residuals(out: torch.Tensor, tx: torch.Tensor, equation: LagrangianEquation,
                         label_diffusion: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(R_x, R_w), each (N,), of the model output ``out`` = (X, w) at points ``tx`` = (t, x₀)."""
    X, w = out[:, 0], out[:, 1]
    d1 = ops.partial(out, tx, 0)  # (N, 2): X_t, w_t
    r_x = d1[:, 0] - equation.speed(X, tx[:, 0], w)
    r_w = d1[:, 1]
    if equation.nu:
        ds = ops.partial(out, tx, 1)
        dss = ops.partial(out, tx, 1, 1)
        if label_diffusion:
            w_xx = dss[:, 1]
        else:
            x_s = ds[:, 0]
            w_xx = (dss[:, 1] * x_s - ds[:, 1] * dss[:, 0]) / x_s**3
        r_w = r_w - equation.nu * w_xx
    return r_x, r_w


def lpinn_loss(r_x: torch.Tensor, r_w: torch.Tensor, w_initial_error: torch.Tensor) -> dict:
    """The reference's un-squared L2 terms: ‖R_x‖₂, ‖R_w‖₂, ‖w(0, ·) − w₀‖₂ (weights 10, 1, 1000)."""
    return {"characteristics": r_x.norm(), "state": r_w.norm(), "initial": w_initial_error.norm()}


LPINN_WEIGHTS = {"characteristics": 10.0, "state": 1.0, "initial": 1000.0}


def to_eulerian(X: torch.Tensor, w: torch.Tensor, x_grid: torch.Tensor, period: float,
                origin: float = 0.0) -> torch.Tensor:
    """Interpolate w known at positions X to a fixed grid, per time slice, periodically.

    X, w: (M, N) (time slices × characteristic labels); x_grid (P,) in [origin, origin + L).
    Positions are wrapped into [origin, origin + L), sorted, and interpolated linearly with
    periodic wrap-around (the reference extrapolates and drops end points instead). (M, P).
    """
    xw = torch.remainder(X - origin, period) + origin
    xs, order = torch.sort(xw, dim=1)
    ws = torch.gather(w, 1, order)
    xs = torch.cat([xs[:, -1:] - period, xs, xs[:, :1] + period], 1)
    ws = torch.cat([ws[:, -1:], ws, ws[:, :1]], 1)
    q = x_grid.to(xs).expand(xs.shape[0], -1).contiguous()
    idx = torch.searchsorted(xs, q).clamp(1, xs.shape[1] - 1)
    x0, x1 = torch.gather(xs, 1, idx - 1), torch.gather(xs, 1, idx)
    w0, w1 = torch.gather(ws, 1, idx - 1), torch.gather(ws, 1, idx)
    lam = ((q - x0) / (x1 - x0).clamp_min(torch.finfo(xs.dtype).tiny)).clamp(0, 1)
    return w0 + lam * (w1 - w0)
