"""DeepONet (Lu, Jin, Pang, Zhang, Karniadakis, Nat. Mach. Intell. 3:218, 2021; arXiv 1910.03193).

``G(u)(y) ≈ Σ_{k≤p} b_k(u) t_k(y) + b₀``: a branch net reads the input function ``u`` at ``m`` fixed
sensors, a trunk net reads the query point ``y``. Unstacked (one branch → p features) with a bias,
trunk head activated, branch head linear, Glorot-normal weights and zero biases (DeepXDE
``nn/pytorch/deeponet.py``).

Evaluation paths (``B`` functions, ``m`` sensors, ``d`` coordinates, ``N`` points):

* pointwise  ``model(u (B, m), y (B, d)) -> (B, 1)``          one point per function (DeepXDE ``Triple``)
* batched    ``model(u (B, m), y (B, N, d)) -> (B, N)``       own points per function
* cartesian  ``model.cartesian(u (B, m), y (N, d)) -> (B, N)`` points shared by all functions, the trunk
  runs N times instead of B·N (DeepXDE ``DeepONetCartesianProd``)

:class:`GridOperator` wraps a DeepONet-like model into a map between fields on a grid,
``(B, C, H, W) -> (B, 1, H, W)``, so it trains on the same datasets as MgNO/FNO.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import check
from .activations import activation


def activation_fn(name):
    """A pointwise activation: a name of :mod:`sciml.nn.activations` (tanh, sin, gelu, silu, ...),
    ``"relu"`` (DeepONet's), or any callable/module as given."""
    if not isinstance(name, str):
        check(callable(name), f"activation: expected a name or a callable, got {type(name).__name__}")
        return name
    return torch.relu if name == "relu" else activation(name)


def glorot_linears(sizes: Sequence[int], argument: str) -> nn.ModuleList:
    """Linear layers ``sizes[0] → sizes[1] → …`` with Glorot-normal weights and zero biases."""
    check(
        len(sizes) >= 2 and all(isinstance(s, int) and s > 0 for s in sizes),
        f"{argument}: expected a list of >= 2 positive layer sizes, got {list(sizes)!r}",
    )
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
    for layer in layers:
        nn.init.xavier_normal_(layer.weight)
        nn.init.zeros_(layer.bias)
    return layers


class ConvEncoder(nn.Module):
    """Convolutional encoder of a field given as flattened sensor values: ``(B, C·H·W) -> (B, out)``.

    ``len(channels)`` convolutions (``kernel``×``kernel``, stride ``stride``, no padding), each followed by
    ``activation``, then one linear layer from the flattened feature map to ``out`` (linear output).
    The branch encoder of the DGNO/MultiONet Darcy examples (yaohua32/DGenNO
    ``Example_DarcyFlow_continuous``, ``Networks/CNNet.py``): channels 32, 64, 128, 5×5, stride 2,
    SiLU, ``out = 128``. As :class:`BranchTrunk` ``encoder`` it runs before the branch MLP, whose
    first size must be ``out``. PyTorch's default initialisation (as the reference).
    """

    def __init__(self, shape: Sequence[int], channels: Sequence[int] = (32, 64, 128), out: int = 128,
                 kernel: int = 5, stride: int = 2, activation="silu"):
        super().__init__()
        check(
            len(shape) == 3 and all(isinstance(s, int) and s > 0 for s in shape),
            f"shape: expected (channels, H, W) of the input field, got {tuple(shape)!r}",
        )
        check(len(channels) >= 1 and all(isinstance(c, int) and c > 0 for c in channels),
              f"channels: expected a list of positive channel counts, got {list(channels)!r}")
        self.shape = tuple(shape)
        c, h, w = self.shape
        convs = []
        for k in channels:
            convs.append(nn.Conv2d(c, k, kernel, stride=stride))
            c, h, w = k, (h - kernel) // stride + 1, (w - kernel) // stride + 1
            check(h >= 1 and w >= 1, f"shape: {tuple(shape)} is too small for {len(channels)} "
                                     f"{kernel}x{kernel} stride-{stride} convolutions")
        self.convs = nn.ModuleList(convs)
        self.fc = nn.Linear(c * h * w, out)
        self.act = activation_fn(activation)
        self.in_features, self.out_features = math.prod(self.shape), out

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x = u.reshape(u.shape[0], *self.shape)
        for conv in self.convs:
            x = self.act(conv(x))
        return self.fc(x.flatten(1))


class BranchTrunk(nn.Module, abc.ABC):
    """Shared plumbing of DeepONet and MultiONet: two MLPs, their features at each depth, shape checks.

    Subclasses implement :meth:`combine`, which turns the lists of per-depth branch features
    (B, w_k) and trunk features (..., w_k) into the output. ``encoder`` (optional, e.g.
    :class:`ConvEncoder`): a module mapping the sensor values ``(B, m)`` to ``(B, branch[0])`` before the
    branch MLP; then ``m`` is ``encoder.in_features``.
    """

    def __init__(
        self,
        branch: Sequence[int],
        trunk: Sequence[int],
        activation,
        branch_activation=None,
        activate_branch_head: bool = False,
        activate_trunk_head: bool = True,
        encoder: nn.Module | None = None,
    ):
        super().__init__()
        self.branch = glorot_linears(branch, "branch")
        self.trunk = glorot_linears(trunk, "trunk")
        self.act_trunk = activation_fn(activation)
        self.act_branch = activation_fn(
            branch_activation if branch_activation is not None else activation
        )
        self.activate_branch_head = activate_branch_head
        self.activate_trunk_head = activate_trunk_head
        self.encoder = encoder
        if encoder is not None:
            check(
                getattr(encoder, "out_features", None) == branch[0] and isinstance(
                    getattr(encoder, "in_features", None), int),
                f"encoder: expected a module with in_features and out_features == branch[0] = {branch[0]}, "
                f"got out_features {getattr(encoder, 'out_features', None)!r}",
            )
        self.m, self.d = (encoder.in_features if encoder is not None else branch[0]), trunk[0]

    @staticmethod
    def _features(x: torch.Tensor, layers: nn.ModuleList, act: nn.Module, activate_head: bool) -> list:
        out = []
        for i, layer in enumerate(layers):
            x = layer(x)
            if i < len(layers) - 1 or activate_head:
                x = act(x)
            out.append(x)
        return out

    def branch_features(self, u: torch.Tensor) -> list:
        if self.encoder is not None:
            u = self.encoder(u)
        return self._features(u, self.branch, self.act_branch, self.activate_branch_head)

    def trunk_features(self, y: torch.Tensor) -> list:
        return self._features(y, self.trunk, self.act_trunk, self.activate_trunk_head)

    @abc.abstractmethod
    def combine(self, b: list, t: list, equation: str) -> torch.Tensor:
        """Output from per-depth branch/trunk features; ``equation`` contracts the feature axis."""

    def _check(self, u: torch.Tensor, y: torch.Tensor) -> None:
        check(
            u.dim() == 2 and u.shape[-1] == self.m,
            f"u: expected shape (batch, {self.m}) (sensor values), got {tuple(u.shape)}",
        )
        check(
            y.shape[-1] == self.d, f"y: expected last dimension {self.d} (coordinates), got {tuple(y.shape)}"
        )

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Pointwise ``y (B, d) -> (B, 1)`` or per-function points ``y (B, N, d) -> (B, N)``."""
        self._check(u, y)
        check(
            y.dim() in (2, 3) and y.shape[0] == u.shape[0],
            f"y: expected shape ({u.shape[0]}, d) or ({u.shape[0]}, N, d) to match u's batch, "
            f"got {tuple(y.shape)}",
        )
        b, t = self.branch_features(u), self.trunk_features(y)
        if y.dim() == 2:
            return self.combine(b, t, "bp,bp->b").unsqueeze(-1)
        return self.combine(b, t, "bp,bnp->bn")

    def cartesian(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """All functions at the same points: ``u (B, m)``, ``y (N, d)`` → ``(B, N)``."""
        self._check(u, y)
        check(y.dim() == 2, f"y: expected shape (N, {self.d}) for cartesian evaluation, got {tuple(y.shape)}")
        return self.combine(self.branch_features(u), self.trunk_features(y), "bp,np->bn")


class DeepONet(BranchTrunk):
    """Unstacked DeepONet with bias.

    ``branch = [m, …, p]`` and ``trunk = [d, …, p]`` are layer sizes; the antiderivative network of
    the paper is ``DeepONet([100, 40, 40], [1, 40, 40], "relu")``. ``activate_branch_head=True``
    activates the branch output too (then it is MultiONet with one summed layer and weight 1).
    """

    def __init__(
        self,
        branch: Sequence[int],
        trunk: Sequence[int],
        activation="relu",
        branch_activation=None,
        activate_branch_head: bool = False,
        encoder: nn.Module | None = None,
    ):
        super().__init__(branch, trunk, activation, branch_activation, activate_branch_head, encoder=encoder)
        check(
            branch[-1] == trunk[-1],
            f"branch, trunk: expected equal output sizes p, got {branch[-1]} and {trunk[-1]}",
        )
        self.b0 = nn.Parameter(torch.zeros(()))

    def combine(self, b: list, t: list, equation: str) -> torch.Tensor:
        return torch.einsum(equation, b[-1], t[-1]) + self.b0


class GridOperator(nn.Module):
    """A branch–trunk model as an operator on fields of the unit square.

    ``forward(a)``: ``(B, C, H, W) -> (B, 1, H, W)`` at the grid nodes ``(i/(H−1), j/(W−1))`` (cartesian
    evaluation); ``forward(a, y)``: ``u`` at points ``y (B, N, 2)`` → ``(B, N)`` (physics-informed
    losses differentiate it with respect to ``y``). The branch reads the flattened field
    (``m = C·H·W`` sensors). ``dirichlet=True`` multiplies by ``sin(πx)sin(πy)`` so u = 0 on the
    boundary (DGNO's hard-constraint mollifier).

    ``flux``: one branch–trunk model per coordinate for the flux ``s = a∇u`` of DGNO's mixed form
    (Zang & Koutsourelakis 2025, piecewise Darcy; see :class:`sciml.losses.WeakFormResidual`
    ``mixed=True``). Then ``forward(a, y)`` returns ``(B, N, 1 + d)``: ``u`` and
    ``flux_scale · s_k`` (not mollified); ``forward(a)`` still returns ``u`` on the grid.
    """

    def __init__(self, model: BranchTrunk, dirichlet: bool = False, flux: Sequence[BranchTrunk] | None = None,
                 flux_scale: float = 1.0):
        super().__init__()
        self.model = model
        self.dirichlet = dirichlet
        if flux is not None:
            flux = list(flux)
            check(
                len(flux) == model.d and all(isinstance(f, BranchTrunk) and (f.m, f.d) == (model.m, model.d)
                                             for f in flux),
                f"flux: expected {model.d} branch-trunk models with the inputs of model (m={model.m}, d={model.d})",
            )
            check(flux_scale > 0, f"flux_scale: expected a positive number, got {flux_scale!r}")
            flux = nn.ModuleList(flux)
        self.flux = flux
        self.flux_scale = flux_scale

    def _mollify(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return u * torch.sin(torch.pi * y).prod(dim=-1) if self.dirichlet else u

    def forward(self, a: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check(a.dim() == 4, f"a: expected a field of shape (batch, channels, H, W), got {tuple(a.shape)}")
        B, C, H, W = a.shape
        check(C * H * W == self.model.m, f"a: expected C·H·W = {self.model.m} sensor values, got {C}·{H}·{W}")
        if y is not None:
            sensors = a.reshape(B, -1)
            u = self._mollify(self.model(sensors, y), y)
            if self.flux is None:
                return u
            return torch.stack([u] + [self.flux_scale * f(sensors, y) for f in self.flux], dim=-1)
        xs = torch.linspace(0, 1, H, dtype=a.dtype, device=a.device)
        ys = torch.linspace(0, 1, W, dtype=a.dtype, device=a.device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="ij"), dim=-1).reshape(H * W, 2)
        return self._mollify(self.model.cartesian(a.reshape(B, -1), grid), grid).reshape(B, 1, H, W)
