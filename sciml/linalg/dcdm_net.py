"""The DCDM network (Kaneda et al., ICML 2023, §3.2; reference §1.2): a fully convolutional residual
U-Net with one pooling level, 16 channels, 3×3(×3) kernels, 'same' zero padding, no normalisation.

"from64": linear conv 1→16; 2 residual pairs at N; 2× average pool; 3 pairs at N/2; nearest 2×
upsampling added to the last fine map; 2 pairs; linear 1×1 conv 16→1 (3D: 97,457 parameters, 2D:
32,657). "from128": 3 / 5 / 3 pairs (3D: 152,881). A residual pair is lb = relu(conv(la));
la = relu(conv(lb) + la) (ReLU after the skip addition, as in the PyTorch port). The weights do not
depend on the grid size; odd sizes are zero-padded to even and cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = {"from64": (2, 3, 2), "from128": (3, 5, 3)}


class ResidualPair(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.a, self.b = conv(), conv()

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + x)


class DCDMNet(nn.Module):
    """r (B, 1, *grid) → direction (B, 1, *grid); ``dim`` 2 or 3; ``layout`` "from64" | "from128"."""

    def __init__(self, dim: int = 2, layout: str = "from64", channels: int = 16):
        super().__init__()
        self.dim, self.layout = dim, layout
        Conv = nn.Conv2d if dim == 2 else nn.Conv3d
        conv = lambda: Conv(channels, channels, 3, padding=1)
        fine, coarse, post = LAYOUTS[layout]
        self.first = Conv(1, channels, 3, padding=1)
        self.fine = nn.Sequential(*[ResidualPair(conv) for _ in range(fine)])
        self.coarse = nn.Sequential(*[ResidualPair(conv) for _ in range(coarse)])
        self.post = nn.Sequential(*[ResidualPair(conv) for _ in range(post)])
        self.last = Conv(channels, 1, 1)
        self.pool = nn.AvgPool2d(2) if dim == 2 else nn.AvgPool3d(2)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        shape = r.shape[2:]
        pad = []
        for n in reversed(shape):
            pad += [0, n % 2]
        x = F.pad(r, pad) if any(pad) else r
        la = self.fine(self.first(x))
        ap = self.coarse(self.pool(la))
        la = F.relu(la + F.interpolate(ap, scale_factor=2, mode="nearest"))
        y = self.last(self.post(la))
        return y[(Ellipsis,) + tuple(slice(0, n) for n in shape)]
