"""RNODE peer (Finlay et al., ICML 2020, "How to train your neural ODE"): kinetic energy and
Jacobian-Frobenius regularisation by state augmentation.

The state z (B, D) is augmented with two per-sample integrals,
E_K = ∫ ‖f(t, z)‖² dt and E_J = ∫ ‖εᵀ ∂f/∂z‖² dt (Hutchinson estimate, ε ~ N(0, I) fixed per solve),
solved together with z. ``loss = task + λ_K E_K.mean() + λ_J E_J.mean()`` (Finlay: λ = 0.01 each).
The vector–Jacobian product costs one extra backward pass per function evaluation — the higher
training cost that ERNODE/SRNODE avoid. The accumulators enter the solver's error norm (as in
Finlay's code, where they are part of the solved state).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import InputError


class KineticJacobianDynamics(nn.Module):
    """Augmented dynamics d/dt [z, E_K, E_J] for a state z of shape (B, D); augmented shape (B, D + 2)."""

    def __init__(self, func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.func = func
        self.noise: torch.Tensor | None = None

    def augment(self, z0: torch.Tensor) -> torch.Tensor:
        """[z0, 0, 0] of shape (B, D + 2); draws the Hutchinson noise ε for this solve."""
        if z0.ndim != 2:
            raise InputError(f"z0: expected a (batch, features) state, got shape {tuple(z0.shape)}")
        self.noise = torch.randn_like(z0)
        return torch.cat([z0, z0.new_zeros(z0.shape[0], 2)], dim=1)

    @staticmethod
    def split(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, E_K, E_J) from an augmented state (..., B, D + 2)."""
        return y[..., :-2], y[..., -2], y[..., -1]

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.noise is None:
            raise InputError("y0: build the initial state with KineticJacobianDynamics.augment(z0)")
        with torch.enable_grad():
            z = y[:, :-2]
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            f = self.func(t, z)
            (vjp,) = torch.autograd.grad(f, z, self.noise, create_graph=True)
        kinetic = f.pow(2).sum(dim=1, keepdim=True)
        jacobian = vjp.pow(2).sum(dim=1, keepdim=True)
        return torch.cat([f, kinetic, jacobian], dim=1)
