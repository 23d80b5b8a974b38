"""The DCDM network (Kaneda et al., ICML 2023, §3.2; reference §1.2): a fully convolutional residual
U-Net, 16 channels, 3×3(×3) kernels, 'same' padding, no normalisation.

Padding follows the system's outer boundary conditions (``net(r, bc=stencil.bc)``, ours, beyond the
paper): zeros on Dirichlet sides (the boundary node's value) and the edge value repeated on no-flux
sides (a zero normal difference). The network sees only the residual; with zeros on every side a
model trained on Dirichlet operators proposes Dirichlet-like directions next to no-flux walls, and the
multilevel model needed 56 → 125 iterations (64² → 256², 1e-4) on the obstacle domain (three no-flux
walls), against 12 → 17 with boundary-aware padding and the same weights (24 at 512²; at 1024² it
converges only with the recursion capped at its trained depth, see :meth:`DCDM.cap_depth`);
Dirichlet systems are unchanged (``benchmarks/results/linear_solvers_dcdm_boundaries.md``).

"from64": linear conv 1→16; 2 residual pairs at N; 2× average pool; 3 pairs at N/2; nearest 2×
upsampling added to the last fine map; 2 pairs; linear 1×1 conv 16→1 (3D: 97,457 parameters, 2D:
32,657). "from128": 3 / 5 / 3 pairs (3D: 152,881). A residual pair is lb = relu(conv(la));
la = relu(conv(lb) + la) (ReLU after the skip addition, as in the PyTorch port).

"multilevel" (ours, beyond the paper): the paper's one pooling level gives a receptive field of about
20 cells whatever the grid, so a model trained at 64² sees a shrinking fraction of a larger domain
and its iterations grow with N (measured 13 → 76 from 64² to 256²). This layout recurses instead:
2 pairs, pool, the *same* blocks on the coarser grid, … down to fewer than 2·``coarsest`` cells per
side, then back up adding g ⊙ upsample(coarse) (g a learned per-channel gain), then 2 pairs. Weights
are shared across levels, so the depth follows the grid and the receptive field always spans the
domain. The convolutions have no bias: f(0) = 0 and f(αr) = αf(r) for α > 0, as for the ideal
direction A⁻¹r (with biases the output had a large input-independent part and the loop stalled).
Train it on several grid sizes (several depths), e.g. 32², 64², 128²: trained on one depth it
stalls at the next. Trained with the recursion always bottoming out at 4² (at most 6 levels on those
grids), it does not extrapolate reliably to deeper recursions: seed 0 stays at 8 iterations (1e-4)
up to 1024² (9 levels), seeds 1 and 2 stall from 512² (8 levels). ``max_levels`` caps the recursion,
but no cap suits every seed and size. What fixes the stall is training deeper: ``DCDM.train(...,
coarsest=(1, 2, 4))`` cycles the bottom, so the same grids train up to 8 levels, and all three seeds
then converge at every size to 1024² on Poisson (1e-4 / 1e-8 at 1024²: 13 / 23, 12 / 24, 15 / 24;
64²–256²: 5–10 / 11–18), at the price of more growth from 512² on than the lucky seed 0 of the old
recipe (``benchmarks/results/linear_solvers_dcdm_seeds_nonodd.md``, ``…_coarsest4.md``). One level beyond those 8
(1024², 9 levels) it still stalled on domains with no-flux walls, so that recipe capped the recursion
at its trained depth (``DCDM.cap_depth("trained")``); the odd network below needs no cap. In single trials with the
old recipe, seed 1 trained on 32²–256² still stalled at 512², float64 inference did not help, and
a coarse gain initialised at 4 (A⁻¹'s h² scaling per level) stalled already at 256².
2D: 18,608 parameters; 3D: 55,760.

``odd=True`` (ours): f(r) = h(r) − h(−r) with h the network above, so f(−r) = −f(r) like A⁻¹r (with
the homogeneity, f(αr) = αf(r) for every real α). Why: a ReLU network's response to an oscillating
residual has an even, rectified part with a nonzero local mean; pooled to the coarse levels, that
mean is amplified like a smooth residual, so the deeper the recursion, the more a spurious smooth
component swamps the direction. On the trained 2-D model, h's even part h(v) + h(−v) for a Poisson
eigenmode v of wavelength 16 cells grows 5.6× per level, from 26× its odd part at 64² to 2.6·10⁴× at
1024², while f(v) stays parallel to v (|cos| 0.999 at every size; ``linear_solvers_dcdm_modes.md``).
Trained odd and solved with the recursion's bottom at 2² (:meth:`DCDM.set_coarsest`), seeds 0 and 1 of
the 2-D recipe stay within ×1.22 of their 64² count (1e-4 and 1e-8) up to 1024² on Poisson, Darcy and
the obstacle domain, and seed 2 within ×1.12 up to 512² on Poisson and Darcy (×1.39 on the obstacle
domain), growing ×1.4–2.2 at 1024², two levels deeper than its training (``linear_solvers_dcdm_seeds.md``);
the non-odd model capped at its training depth went 6 → 13 / 14 → 23, 13 → 26 / 29 → 50 and
12 → 30 / 25 → 65 (``linear_solvers_2d.md``); 3-D: see :data:`~sciml.linalg.dcdm.RECIPES`.
The cost is two network evaluations per direction (one batch of 2k).

The weights never depend on the grid size; odd sizes are zero-padded to even and cropped back.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = {"from64": (2, 3, 2), "from128": (3, 5, 3), "multilevel": (2, 0, 2)}


class ResidualPair(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.a, self.b = conv(), conv()

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + x)


def pad_bc(x: torch.Tensor, widths, bc=None) -> torch.Tensor:
    """Pad the grid axes of x (B, C, *grid) by ``widths`` ((low, high) per axis): zeros on Dirichlet
    sides, the edge value repeated on no-flux ("neumann") sides. ``bc``: one entry per side in the
    order of :class:`~sciml.linalg.Stencil` (axis 0 low, axis 0 high, axis 1 low, …); None = Dirichlet."""
    if not any(w for pair in widths for w in pair):
        return x
    flat = [w for pair in reversed(list(widths)) for w in pair]
    if bc is None or all(b == "dirichlet" for b in bc):
        return F.pad(x, flat)
    xp = F.pad(x, flat, mode="replicate")
    for ax, (lo, hi) in enumerate(widths):
        for side, w in ((0, lo), (1, hi)):
            if w and bc[2 * ax + side] == "dirichlet":
                idx = [slice(None)] * xp.dim()
                idx[2 + ax] = slice(0, w) if side == 0 else slice(xp.shape[2 + ax] - w, None)
                xp[tuple(idx)] = 0.0
    return xp


def _pad_even(x: torch.Tensor, bc=None) -> torch.Tensor:
    return pad_bc(x, [(0, n % 2) for n in x.shape[2:]], bc)


class _BoundaryPadded:
    """Mixin for Conv2d / Conv3d: 'same' padding done by :func:`pad_bc` from the ``bc`` attribute (set by
    :class:`DCDMNet` before each call; None when every side is Dirichlet); parameters and state-dict keys
    are the convolution's."""

    bc = None

    def __init__(self, cin, cout, k, **kw):
        super().__init__(cin, cout, k, padding=0, **kw)

    def forward(self, x):
        p = self.kernel_size[0] // 2
        conv = F.conv2d if x.dim() == 4 else F.conv3d
        if self.bc is None:  # zeros: padded inside the convolution, no padded copy (20-40% faster at 1024²)
            return conv(x, self.weight, self.bias, self.stride, p)
        return conv(pad_bc(x, [(p, p)] * (x.dim() - 2), self.bc), self.weight, self.bias, self.stride)


class PaddedConv2d(_BoundaryPadded, nn.Conv2d):
    pass


class PaddedConv3d(_BoundaryPadded, nn.Conv3d):
    pass


def recursion_depth(shape, coarsest: int, max_levels: int | None = None) -> int:
    """Grid levels of the multilevel layout on a grid of ``shape``: halve (rounding up) while the
    smallest side is >= 2·coarsest, at most ``max_levels`` levels (None: no cap)."""
    n, count = min(shape), 1
    while n >= 2 * coarsest and (max_levels is None or count < max_levels):
        n, count = (n + 1) // 2, count + 1
    return count


def _crop(y: torch.Tensor, shape) -> torch.Tensor:
    return y[(Ellipsis,) + tuple(slice(0, n) for n in shape)]


class DCDMNet(nn.Module):
    """r (B, 1, *grid) → direction (B, 1, *grid); ``dim`` 2 or 3; ``layout`` one of :data:`LAYOUTS`;
    ``coarsest``: the multilevel layout stops coarsening below 2·coarsest cells per side;
    ``max_levels``: and after this many levels (None: no cap; see :meth:`levels`); ``odd``: the
    network is h(r) − h(−r) (see the module notes). Call as
    ``net(r, bc=stencil.bc)`` to pad by the boundary conditions (:func:`pad_bc`; default Dirichlet)."""

    def __init__(self, dim: int = 2, layout: str = "from64", channels: int = 16, coarsest: int = 4,
                 max_levels: int | None = None, odd: bool = False):
        super().__init__()
        self.dim, self.layout, self.coarsest, self.odd = dim, layout, int(coarsest), bool(odd)
        self.bc = None  # the boundary conditions of the current call (see forward)
        self.max_levels = None if max_levels is None else int(max_levels)
        Conv, Padded = (nn.Conv2d, PaddedConv2d) if dim == 2 else (nn.Conv3d, PaddedConv3d)
        if layout == "multilevel":  # bias-free: f(0) = 0 and f(αr) = αf(r) for α > 0
            Conv, Padded = (functools.partial(c, bias=False) for c in (Conv, Padded))
        conv = lambda: Padded(channels, channels, 3)
        fine, coarse, post = LAYOUTS[layout]
        self.first = Padded(1, channels, 3)
        self.fine = nn.Sequential(*[ResidualPair(conv) for _ in range(fine)])
        self.coarse = nn.Sequential(*[ResidualPair(conv) for _ in range(coarse)])
        self.post = nn.Sequential(*[ResidualPair(conv) for _ in range(post)])
        self.last = Conv(channels, 1, 1)
        self.pool = nn.AvgPool2d(2) if dim == 2 else nn.AvgPool3d(2)
        if layout == "multilevel":
            self.gain = nn.Parameter(torch.ones((1, channels) + (1,) * dim))
        self._padded = tuple(m for m in self.modules() if isinstance(m, _BoundaryPadded))
        # channels-last weights make every convolution's output channels-last too: the faster CPU path,
        # 1.4x on a 1024² solver iteration and on a 128² training step in 2-D (benchmarks/conv_layout.py)
        self.to(memory_format=torch.channels_last if dim == 2 else torch.channels_last_3d)

    def forward(self, r: torch.Tensor, bc=None) -> torch.Tensor:
        bc = None if bc is None else ((bc,) * (2 * self.dim) if isinstance(bc, str) else tuple(bc))
        if bc is not None and all(b == "dirichlet" for b in bc):
            bc = None  # plain zero padding
        self.bc = bc
        for m in self._padded:
            m.bc = bc
        if self.odd:  # f(r) = h(r) − h(−r): odd, so no even (rectified) part reaches the coarse levels' gain
            y = self._forward(torch.cat([r, -r]))
            return y[: r.shape[0]] - y[r.shape[0]:]
        return self._forward(r)

    def _forward(self, r: torch.Tensor) -> torch.Tensor:
        bc = self.bc
        if self.layout == "multilevel":
            return self.last(self._cycle(self.first(r), self.levels(r.shape[2:])))
        shape = r.shape[2:]
        la = self.fine(self.first(_pad_even(r, bc)))
        ap = self.coarse(self.pool(la))
        la = F.relu(la + F.interpolate(ap, scale_factor=2, mode="nearest"))
        y = self.last(self.post(la))
        return _crop(y, shape)

    def levels(self, shape, capped: bool = True) -> int:
        """Grid levels of the multilevel layout on a grid of ``shape`` (:func:`recursion_depth`), at
        most ``max_levels`` when ``capped``."""
        return recursion_depth(shape, self.coarsest, self.max_levels if capped else None)

    def _cycle(self, z: torch.Tensor, levels: int) -> torch.Tensor:
        """``levels`` levels of the multilevel layout from z's grid down: pre pairs, the next level on
        the pooled map, gained nearest upsampling added, post pairs (same weights at every level)."""
        z = self.fine(z)
        if levels > 1:
            zc = self._cycle(self.pool(_pad_even(z, self.bc)), levels - 1)
            up = F.interpolate(zc, scale_factor=2, mode="nearest")
            z = F.relu(z + self.gain * _crop(up, z.shape[2:]))
        return self.post(z)
