"""MgNO: neural operator whose channel-mixing linear maps are multigrid V-cycles.

He, Liu, Xu, "MgNO: Efficient parameterization of linear operators via multigrid", ICLR 2024,
arXiv 2310.19809; layout of ``MgConv_DC`` / ``MgNO_DC`` in xlliu2017/MgNO ``models.py``.

One :class:`MgConv` maps ``f (B, c_f, H, W) -> u (B, c_u, H, W)``:

1. finest level: ``u = S₀(f)``; further smoothing steps ``u ← u + S_i(f − A_i(u))`` (3×3 convs, each
   step its own ``A_i: c_u→c_f`` and ``S_i: c_f→c_u``);
2. down: ``f ← R(f)``, ``u ← Π(u)`` (3×3, stride 2, padding 1, no bias; f itself is restricted, not
   the residual), then the level's pre-smoothing steps;
3. up: ``u_ℓ ← u_ℓ + P(u_{ℓ+1})`` (transposed conv, kernel 4, stride 2, padding 1, no bias), then the
   level's post-smoothing steps.

All transfer operators are learned convolutions, as in the paper. Boundary conditions enter
through the convolutions' padding mode: ``zeros`` (Dirichlet), ``circular`` (periodic),
``reflect`` / ``replicate`` (Neumann-like); the prolongation pads the coarse grid in the same mode
(the reference zero-pads it always), so a circular MgNO commutes with periodic shifts by
multiples of ``2^(levels−1)``. Any grid works whose coarsest level keeps at least 2
points per side: a stride-2 convolution maps ``n`` points to ``⌈n/2⌉``; on odd grids the coarse
points sit on the even fine nodes and the prolongation is cut back to ``n`` points.

:class:`MgNO` stacks ``layers`` blocks ``v ← act(MgConv(v) + Conv1×1(v) + b)`` (the first takes the
input channels directly, no lifting) and ends in a bias-free 1×1 head. The reference's Darcy-rough
configuration ``MgNO(1, 1, width=24, levels=6, layers=4)`` with smoothing ``[1,0]×5, [2,0]`` has
572,661 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, check
from .deeponet import activation_fn

PADDING_MODES = ("zeros", "circular", "reflect", "replicate")


def default_smoothing(levels: int) -> tuple:
    """The reference's Darcy schedule: one pre-smoothing step per level, two on the coarsest, no post."""
    return ((1, 0),) * (levels - 1) + ((2, 0),)


def coarse_sizes(n: int, levels: int) -> list[int]:
    """Grid sizes per level, finest first: ``n, ⌈n/2⌉, ⌈n/4⌉, …`` (``levels`` entries)."""
    sizes = [n]
    for _ in range(levels - 1):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class Prolongation(nn.ConvTranspose2d):
    """Learned prolongation: transposed conv, kernel 4, stride 2, no bias, ``M → 2M`` points.

    With ``padding="zeros"`` it is the reference's ``ConvTranspose2d(k=4, s=2, p=1)``. Other padding
    modes pad the coarse grid by one node in that mode first (and crop 2 more per side), so that
    periodic / reflecting boundaries also hold across the prolongation: same weights, same interior.
    """

    def __init__(self, channels: int, padding: str = "zeros"):
        super().__init__(channels, channels, 4, stride=2, padding=1, bias=False)
        self.mode = padding

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if self.mode == "zeros":
            return super().forward(u)
        return F.conv_transpose2d(F.pad(u, (1, 1, 1, 1), mode=self.mode), self.weight, stride=2, padding=3)


class MgConv(nn.Module):
    """One V-cycle-parameterised linear operator ``(B, c_f, H, W) -> (B, c_u, H, W)``.

    ``smoothing[ℓ] = (pre, post)`` smoothing steps on level ``ℓ`` (finest first); the finest level
    needs ``pre >= 1`` (its first step is ``u = S₀(f)``).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        smoothing: Sequence[Sequence[int]],
        padding: str = "zeros",
        bias: bool = False,
    ):
        super().__init__()
        check(
            len(smoothing) >= 1 and all(len(s) == 2 and min(s) >= 0 for s in smoothing),
            f"smoothing: expected a list of (pre, post) pairs of counts >= 0, got {smoothing!r}",
        )
        check(
            smoothing[0][0] >= 1,
            f"smoothing: the finest level needs >= 1 pre-smoothing step, got {smoothing[0]}",
        )
        self.smoothing = tuple(tuple(int(v) for v in s) for s in smoothing)
        cf, cu = in_channels, channels

        def conv(cin, cout, stride=1):
            return nn.Conv2d(
                cin,
                cout,
                3,
                stride=stride,
                padding=1,
                bias=bias if stride == 1 else False,
                padding_mode=padding,
            )

        def steps(n, first_is_init):
            # One smoothing step = (A, S); the initial step has no A (u = S(f)).
            return nn.ModuleList(
                nn.ModuleDict(
                    {"S": conv(cf, cu)}
                    if (i == 0 and first_is_init)
                    else {"A": conv(cu, cf), "S": conv(cf, cu)}
                )
                for i in range(n)
            )

        self.pre = nn.ModuleList(steps(pre, level == 0) for level, (pre, _) in enumerate(self.smoothing))
        self.post = nn.ModuleList(steps(post, False) for _, post in self.smoothing)
        levels = len(self.smoothing)
        self.restrict_u = nn.ModuleList(conv(cu, cu, stride=2) for _ in range(levels - 1))
        self.restrict_f = nn.ModuleList(conv(cf, cf, stride=2) for _ in range(levels - 1))
        self.prolong = nn.ModuleList(Prolongation(cu, padding) for _ in range(levels - 1))

    @staticmethod
    def _smooth(u, f, steps):
        for step in steps:
            u = step["S"](f) if "A" not in step else u + step["S"](f - step["A"](u))
        return u

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        us, fs, u = [], [], None
        for level, pre in enumerate(self.pre):
            if level > 0:
                f, u = self.restrict_f[level - 1](f), self.restrict_u[level - 1](u)
            u = self._smooth(u, f, pre)
            us.append(u)
            fs.append(f)
        for level in range(len(us) - 2, -1, -1):
            H, W = us[level].shape[-2:]
            u = us[level] + self.prolong[level](us[level + 1])[..., :H, :W]
            us[level] = self._smooth(u, fs[level], self.post[level])
        return us[0]


class MgNO(nn.Module):
    """Multigrid neural operator ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    ``width`` = channels c_u, ``levels`` = grids in the V-cycle, ``layers`` = MgConv blocks,
    ``padding`` = boundary condition through the padding mode, ``smoothing`` = per-level
    (pre, post) steps (default :func:`default_smoothing`).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 24,
        levels: int = 6,
        layers: int = 4,
        padding: str = "zeros",
        smoothing: Sequence[Sequence[int]] | None = None,
        activation="gelu",
    ):
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("width", width),
            ("levels", levels),
            ("layers", layers),
        ):
            check(
                isinstance(value, int) and value >= 1, f"{name}: expected a positive integer, got {value!r}"
            )
        check(padding in PADDING_MODES, f"padding: expected one of {PADDING_MODES}, got {padding!r}")
        smoothing = default_smoothing(levels) if smoothing is None else smoothing
        check(
            len(smoothing) == levels, f"smoothing: expected {levels} (pre, post) pairs, got {len(smoothing)}"
        )
        self.in_channels, self.out_channels, self.levels = in_channels, out_channels, levels
        self.blocks = nn.ModuleList(
            MgConv(in_channels if i == 0 else width, width, smoothing, padding) for i in range(layers)
        )
        self.pointwise = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else width, width, 1) for i in range(layers)
        )
        self.head = nn.Conv2d(width, out_channels, 1, bias=False)
        self.act = activation_fn(activation)
        # channels-last weights make every convolution's output channels-last too: the faster CPU path,
        # 1.3x on a training step of the 64² Darcy model (benchmarks/conv_layout.py)
        self.to(memory_format=torch.channels_last)

    def check_grid(self, H: int, W: int) -> None:
        """Raise :class:`InputError` unless an ``H × W`` grid coarsens ``levels − 1`` times to >= 2 points."""
        for n in (H, W):
            if coarse_sizes(n, self.levels)[-1] < 2:
                need = 2 ** (self.levels - 1) + 1
                raise InputError(
                    f"x: grid {H}x{W} cannot be coarsened {self.levels - 1} times to >= 2 points "
                    f"per side; use >= {need} points per side or fewer levels"
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check(
            x.dim() == 4 and x.shape[1] == self.in_channels,
            f"x: expected shape (batch, {self.in_channels}, H, W), got {tuple(x.shape)}",
        )
        self.check_grid(*x.shape[-2:])
        for block, pointwise in zip(self.blocks, self.pointwise):
            x = self.act(block(x) + pointwise(x))
        return self.head(x)
