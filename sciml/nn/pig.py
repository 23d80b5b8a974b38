"""Physics-Informed Gaussians (Kang, Oh, Hong, Park; ICLR 2025, arXiv 2412.05994).

u(x) = MLP(FE(x)),   FE_c(x) = Σ_{i<N} f_{c,i} exp(-½ |A_{c,i} (x̂ − μ_{c,i})|²),   c < k channels,

with x̂ the input mapped affinely from ``bounds`` to [-1, 1]^d, learnable means μ, feature weights f
and inverse-width factors A (diagonal diag(1/σ) by default, upper-triangular for ``full_cov``: the
precision is AᵀA, i.e. A is its Cholesky factor), followed by a tiny tanh MLP k → 16 → out
(Glorot normal), as in the authors' code (k = 4 channels, 4N(2d + 1) + 97 parameters).

Derivatives are analytic. With r = x̂ − μ, z = A r, G = exp(-|z|²/2) and v = Aᵀz:

    ∂G/∂x̂_j = −G v_j,        ∂²G/∂x̂_j² = G (v_j² − (AᵀA)_jj),

so inside :func:`sciml.ops.forward_derivatives` the embedding emits value, gradient and diagonal
second derivatives as an :class:`sciml.ops.JetStack` that the MLP pushes forward with
``jet_linear``/``jet_pointwise``: ``sm.laplacian(u, x)`` needs no nested backward pass.
The diagonal case runs a fused kernel (:func:`sciml.kernels.pig_jet`: C on the CPU, one pass over
the Gaussians per point, memory O(N) per thread, 18–35× faster than torch ops; Triton on CUDA) inside
a custom autograd function with the closed-form parameter gradients. Elsewhere (full covariance, no
compiler, ``SCIML_KERNELS=torch``) evaluation is torch ops chunked over points (memory
O(chunk · N · k), never O(points · N · k · d)), the diagonal backward recomputing each chunk instead
of storing (points, N, d) intermediates.

Deviation from the paper (default ``sigma_param="softplus"``): the authors' code trains σ raw (a
plain parameter, sign irrelevant, may collapse to 0). Here σ = τ·softplus(ρ/τ) + σ_init/1000 with
τ = σ_init/10: positive, and ∂σ/∂ρ ≈ 1 while σ is not tiny, so the optimiser sees the paper's
raw-σ dynamics except near σ = 0. ``sigma_param="raw"`` trains σ itself (kept ≥ σ_init·1e-4, smoothly),
as the official code does; there collapsed Gaussians vanish instead of hovering at the floor, which
trains flow mixing about 19× better at 50k Adam steps (benchmarks/results/pinns_flow_mixing_raw50k_smoothfloor.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from .. import kernels, ops
from ..errors import InputError
from .activations import activation as _activation

__all__ = ["PIG", "gaussian_jet"]

_CHUNK_ELEMENTS = 1 << 18  # entries of one (channels, chunk, N) block: ~1 MB, cache-resident (30% faster than 16 MB)


def gaussian_jet(x: torch.Tensor, means: torch.Tensor, factors: torch.Tensor, weights: torch.Tensor,
                 derivatives: bool = True) -> torch.Tensor:
    """Differentiable closed-form jet of a Gaussian sum, no chunking (reference implementation).

    x (n, d); means (k, N, d); factors (k, N, d) for A = diag(factors) or (k, N, d, d) for a full
    A; weights (k, N). Returns (1 + 2d, n, k): value, ∂/∂x_j, ∂²/∂x_j² of Σ_i w_i G_i(x); only
    the value (1, n, k) when ``derivatives`` is False.
    """
    r = x[None, :, None, :] - means[:, None]  # (k, n, N, d)
    full = factors.ndim == 4
    z = torch.einsum("kgmj,kngj->kngm", factors, r) if full else r * factors[:, None]
    wg = torch.exp(-0.5 * (z * z).sum(-1)) * weights[:, None]  # (k, n, N)
    value = wg.sum(-1)[None]
    if not derivatives:
        return value.transpose(1, 2)
    if full:
        v = torch.einsum("kgmj,kngm->kngj", factors, z)
        diag_prec = (factors * factors).sum(-2)  # (k, N, d): (AᵀA)_jj
    else:
        v = z * factors[:, None]
        diag_prec = factors * factors
    d1 = -torch.einsum("kng,kngj->jnk", wg, v)
    d2 = torch.einsum("kng,kngj->jnk", wg, v * v) - torch.einsum("kng,kgj->jnk", wg, diag_prec)
    return torch.cat([value.transpose(1, 2), d1, d2], 0)


class _DiagonalGaussianJet(torch.autograd.Function):
    """Jet of Σ f G with diagonal A = diag(s): ``apply(x, means, factors, weights, chunk, derivatives)``.

    Runs the fused kernel of :func:`sciml.kernels.pig_jet` (C on the CPU, Triton on CUDA) when there is
    one, else its torch twin below, chunked over points, whose backward recomputes each chunk.
    The twin works on (k, chunk, N) blocks, one coordinate j at a time (z_j = (x_j − μ_j) s_j):
        value = Σ_i H,  ∂_j = −Σ_i H z_j s_j,  ∂²_j = Σ_i H (z_j² − 1) s_j²,   H = f G.
    Closed-form backward, with upstream gradients a (value), b_j (first), c_j (second):
        Φ     = a − Σ_j b_j z_j s_j + Σ_j c_j (z_j² − 1) s_j²            ∂L/∂f   = Σ_n G Φ
        g_j   = H (−z_j Φ − b_j s_j + 2 c_j z_j s_j²)                     (∂L/∂z_j at fixed s)
        ∂L/∂x_j = Σ g_j s_j,   ∂L/∂μ_j = −Σ_n g_j s_j,
        ∂L/∂s_j = Σ_n g_j z_j / s_j + H (2 c_j (z_j² − 1) s_j − b_j z_j).
    A backward that must itself be differentiable (``create_graph=True``) runs the twin's torch ops,
    so double backward works either way. ``derivatives=False`` returns the value alone (1, n, k).
    """

    @staticmethod
    def forward(ctx, x, means, factors, weights, chunk, derivatives=True):
        ctx.save_for_backward(x, means, factors, weights)
        ctx.chunk = chunk
        fused = kernels.pig_jet(x, means, factors, weights)
        if fused is not None:
            return fused.pig_jet_forward(x, means, factors, weights, derivatives)
        return _diag_jet_torch(x, means, factors, weights, chunk, derivatives)

    @staticmethod
    def backward(ctx, grad_out):
        x, means, factors, weights = ctx.saved_tensors
        fused = None if torch.is_grad_enabled() else kernels.pig_jet(x, means, factors, weights, grad_out)
        if fused is not None:  # takes the value-only grad_out (1, n, k) as it is
            return (*fused.pig_jet_backward(x, means, factors, weights, grad_out), None, None)
        if grad_out.shape[0] == 1:  # value only: the derivative rows had zero upstream gradient
            grad_out = torch.cat([grad_out, grad_out.new_zeros(2 * x.shape[1], *grad_out.shape[1:])])
        return (*_diag_jet_backward_torch(x, means, factors, weights, grad_out, ctx.chunk), None, None)


def _diag_jet_torch(x, means, factors, weights, chunk, derivatives=True):
    """Torch twin of the fused kernel's forward: (1 + 2d, n, k), or (1, n, k) without derivatives."""
    return torch.cat([_diag_jet_chunk(x[i : i + chunk], means, factors, weights, derivatives)
                      for i in range(0, x.shape[0], chunk)], 1)


def _diag_jet_backward_torch(x, means, factors, weights, grad_out, chunk):
    """Torch twin of the fused kernel's backward (differentiable): grads of x, means, factors, weights."""
    d = x.shape[1]
    gx = []
    gm, gs, gw = torch.zeros_like(means), torch.zeros_like(factors), torch.zeros_like(weights)
    s = factors.transpose(1, 2)[:, :, None]  # (k, d, 1, N)
    for i in range(0, x.shape[0], chunk):
        z, g = _diag_z_g(x[i : i + chunk], means, factors)  # z: d × (k, n, N), g (k, n, N)
        h = g * weights[:, None]
        go = grad_out[:, i : i + chunk]
        a = go[0].T[:, :, None]
        b = [go[1 + j].T[:, :, None] for j in range(d)]
        c = [go[1 + d + j].T[:, :, None] for j in range(d)]
        phi = a
        for j in range(d):
            sj = s[:, j]
            phi = phi - b[j] * (z[j] * sj) + c[j] * (z[j] * z[j] - 1) * (sj * sj)
        gw = gw + (g * phi).sum(1)
        gxc = []
        for j in range(d):
            sj = s[:, j]
            gj = h * (2 * c[j] * z[j] * (sj * sj) - z[j] * phi - b[j] * sj)
            gjs = gj * sj
            gxc.append(gjs.sum((0, 2)))
            gm[..., j] -= gjs.sum(1)
            gs[..., j] += (gj * z[j] / sj + h * (2 * c[j] * (z[j] * z[j] - 1) * sj - b[j] * z[j])).sum(1)
        gx.append(torch.stack(gxc, 1))
    return torch.cat(gx, 0), gm, gs, gw


def _diag_z_g(x, means, factors):
    """z_j = (x_j − μ_j) s_j for each coordinate, d × (k, n, N), and G = exp(−|z|²/2) (k, n, N)."""
    z = [(x[None, :, j, None] - means[:, None, :, j]) * factors[:, None, :, j] for j in range(x.shape[1])]
    q = z[0] * z[0]
    for zj in z[1:]:
        q = q + zj * zj
    return z, torch.exp(-0.5 * q)


def _diag_jet_chunk(x, means, factors, weights, derivatives=True):
    """(1 + 2d, n, k) for one chunk of points, diagonal A = diag(factors); (1, n, k) without derivatives."""
    z, g = _diag_z_g(x, means, factors)
    h = g * weights[:, None]
    rows = [h.sum(-1).T[None]]
    if not derivatives:
        return rows[0]
    d1, d2 = [], []
    for j, zj in enumerate(z):
        sj = factors[:, :, j, None]  # (k, N, 1)
        hz = h * zj
        d1.append(-(hz @ sj)[..., 0].T)
        d2.append(((hz * zj - h) @ (sj * sj))[..., 0].T)
    return torch.cat(rows + [torch.stack(d1), torch.stack(d2)], 0)


def _as_bounds(bounds, in_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        lo, hi = (torch.as_tensor(b, dtype=torch.float64).reshape(-1) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"bounds: expected (lo, hi) with {in_dim} entries each or scalars") from None
    lo, hi = lo.expand(in_dim) if lo.numel() == 1 else lo, hi.expand(in_dim) if hi.numel() == 1 else hi
    if lo.numel() != in_dim or hi.numel() != in_dim or not bool((hi > lo).all()):
        raise InputError(f"bounds: expected (lo, hi) with {in_dim} entries each and hi > lo")
    return lo.clone(), hi.clone()


class PIG(nn.Module):
    """Physics-Informed Gaussians: learnable Gaussian feature embedding + tiny MLP.

    Parameters
    ----------
    in_dim, out_dim : input dimension d (space–time columns in the problem's order) and outputs.
    n_gaussians : N, Gaussians per channel (4N in total for 4 channels).
    channels : k, feature channels (MLP input width).
    bounds : (lo, hi) of the inputs, scalars or per coordinate; inputs are mapped to [-1, 1]^d and
        means are initialised U(-1, 1) there. Inputs outside (beyond 1e-6 of the width) raise
        InputError when ``check_bounds`` (the default).
    sigma : initial σ in the normalised coordinates (paper: 0.1; 0.5 for Klein–Gordon). Note the
        paper's [0, 2] maps have the same unit, its [0, 1] map (nonlinear diffusion) half of it.
    feature_std : std of the initial feature weights (paper 0.01).
    hidden : MLP hidden width (paper 16); ``None`` = no MLP (ablation): outputs are the channel
        means (channels must be a multiple of out_dim).
    learn_means : False freezes the means (ablation "μ fixed").
    full_cov : full covariance: A upper-triangular (precision AᵀA, Cholesky), off-diagonals
        initialised to 0 so training starts from the diagonal model.
    chunk_size : points per chunk (default: keep one (k, chunk, N) block ≤ 2¹⁸ entries).
    sigma_param : "softplus" (default: σ = τ·softplus(ρ/τ) + floor, always positive) or "raw"
        (σ is the parameter itself, as in the authors' code; only σ² enters, via 1/σ; σ is kept
        ≥ σ_init·1e-4 by √(σ² + ε²) so a collapsed Gaussian cannot overflow).
    """

    def __init__(self, in_dim: int, out_dim: int = 1, n_gaussians: int = 800, channels: int = 4, *,
                 bounds: tuple = (-1.0, 1.0), sigma: float = 0.1, feature_std: float = 0.01,
                 hidden: int | None = 16, activation: str = "tanh", learn_means: bool = True,
                 full_cov: bool = False, chunk_size: int | None = None, check_bounds: bool = True,
                 sigma_param: str = "softplus"):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("n_gaussians", n_gaussians),
                        ("channels", channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive integer, got {v!r}")
        for name, v in (("sigma", sigma), ("feature_std", feature_std)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"{name}: expected a positive number, got {v!r}")
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
            raise InputError(f"hidden: expected a positive integer or None (no MLP), got {hidden!r}")
        if hidden is None and channels % out_dim:
            raise InputError(f"channels: without an MLP, a multiple of out_dim={out_dim} is needed, "
                             f"got {channels}")
        if sigma_param not in ("softplus", "raw"):
            raise InputError(f"sigma_param: expected 'softplus' or 'raw', got {sigma_param!r}")
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise InputError(f"chunk_size: expected a positive integer or None, got {chunk_size!r}")
        self.in_dim, self.out_dim, self.n_gaussians, self.channels = in_dim, out_dim, n_gaussians, channels
        self.full_cov, self.check_bounds, self.hidden = full_cov, check_bounds, hidden
        self.chunk_size = chunk_size or max(1, _CHUNK_ELEMENTS // (channels * n_gaussians))
        lo, hi = _as_bounds(bounds, in_dim)
        dtype = torch.get_default_dtype()
        self.register_buffer("lo", lo.to(dtype))
        self.register_buffer("hi", hi.to(dtype))
        self.register_buffer("in_scale", (2.0 / (hi - lo)).to(dtype))
        self.register_buffer("in_shift", (-(hi + lo) / (hi - lo)).to(dtype))
        self._tau = sigma / 10.0
        means = torch.empty(channels, n_gaussians, in_dim).uniform_(-1.0, 1.0)
        self.means = nn.Parameter(means, requires_grad=learn_means)
        self._floor = 1e-3 * sigma
        self._raw_floor = 1e-4 * sigma
        self.sigma_param = sigma_param
        if sigma_param == "raw":
            rho = float(sigma)
        else:
            soft = sigma - self._floor
            rho = soft + self._tau * math.log(-math.expm1(-soft / self._tau))  # scaled softplus⁻¹
        self.sigma_raw = nn.Parameter(torch.full((channels, n_gaussians, in_dim), rho))
        self.features = nn.Parameter(feature_std * torch.randn(channels, n_gaussians))
        if full_cov:
            self.offdiag = nn.Parameter(torch.zeros(channels, n_gaussians, in_dim * (in_dim - 1) // 2))
        else:
            self.register_parameter("offdiag", None)
        if hidden is not None:
            self.act = _activation(activation)
            self.layers = nn.ModuleList([nn.Linear(channels, hidden), nn.Linear(hidden, out_dim)])
            for layer in self.layers:
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
        else:
            self.act, self.layers = None, None
            group = channels // out_dim
            avg = torch.zeros(out_dim, channels)
            for o in range(out_dim):
                avg[o, o * group : (o + 1) * group] = 1.0 / group
            self.register_buffer("channel_mean", avg)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, n_gaussians={self.n_gaussians}, "
                f"channels={self.channels}, full_cov={self.full_cov}, hidden={self.hidden}")

    @property
    def sigma(self) -> torch.Tensor:
        """Widths σ (k, N, d) in normalised coordinates: τ·softplus(ρ/τ) + σ_init/1000 (positive), or
        with ``sigma_param="raw"`` √(ρ² + ε²), ε = σ_init·1e-4: the parameter itself wherever it is
        not tiny (only σ² matters, as in the authors' code), but a Gaussian that collapses stays
        finite instead of 1/σ overflowing to a NaN (flow mixing at 50k Adam steps did, at steps 26k
        and 34k). The floor is smooth, not a clamp: a clamp zeroes the gradient of collapsed
        Gaussians, which Adam (it rescales tiny gradients) can otherwise revive; two flow-mixing
        runs with a clamp had best errors 1.4× and 2.8× those without by step 20k."""
        if self.sigma_param == "raw":
            return torch.sqrt(self.sigma_raw.square() + self._raw_floor ** 2)
        return self._tau * F.softplus(self.sigma_raw / self._tau) + self._floor

    def factors(self) -> torch.Tensor:
        """A: (k, N, d) diagonal 1/σ, or (k, N, d, d) upper-triangular with diagonal 1/σ."""
        inv = 1.0 / self.sigma
        if not self.full_cov:
            return inv
        d = self.in_dim
        iu = torch.triu_indices(d, d, offset=1, device=inv.device)
        upper = inv.new_zeros(*inv.shape, d)
        upper[:, :, iu[0], iu[1]] = self.offdiag
        return torch.diag_embed(inv) + upper

    # -- forward ---------------------------------------------------------------------------------

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"x: expected points of shape (N, {self.in_dim}), got {shape}")
        if self.check_bounds and x.shape[0]:
            tol = 1e-6 * (self.hi - self.lo)
            xd = x.detach()
            if bool((xd < self.lo - tol).any() or (xd > self.hi + tol).any()):
                lo, hi = xd.min(0).values.tolist(), xd.max(0).values.tolist()
                raise InputError(f"x: points span {lo}..{hi}, outside the PIG bounds "
                                 f"{self.lo.tolist()}..{self.hi.tolist()} (set bounds= to the domain)")

    def embedding_jet(self, x: torch.Tensor) -> ops.JetStack:
        """Jet (1 + 2d, n, k) of the Gaussian features with respect to the raw input x."""
        xn = x * self.in_scale + self.in_shift
        factors = self.factors()
        if self.full_cov:
            t = torch.cat([_checkpointed(gaussian_jet, xn[i : i + self.chunk_size], self.means, factors,
                                         self.features) for i in range(0, x.shape[0], self.chunk_size)], 1)
        else:
            t = _DiagonalGaussianJet.apply(xn, self.means, factors, self.features, self.chunk_size)
        d = self.in_dim
        scale = self.in_scale[:, None, None]
        t = torch.cat([t[:1], t[1 : 1 + d] * scale, t[1 + d :] * scale * scale], 0)
        return ops.JetStack(t, d)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian features (n, k) at raw inputs x, differentiable to any order."""
        xn = x * self.in_scale + self.in_shift
        factors = self.factors()
        if not self.full_cov:
            return _DiagonalGaussianJet.apply(xn, self.means, factors, self.features, self.chunk_size, False)[0]
        return torch.cat([gaussian_jet(xn[i : i + self.chunk_size], self.means, factors, self.features,
                                       derivatives=False)[0] for i in range(0, x.shape[0], self.chunk_size)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        if ops.jets_enabled() and x.requires_grad:
            j = self.embedding_jet(x)
            if self.layers is None:
                return ops.jet_output(ops.jet_linear(j, self.channel_mean), x)
            j = ops.jet_pointwise(ops.jet_linear(j, self.layers[0].weight, self.layers[0].bias),
                                  self.act.f, self.act.df, self.act.d2f)
            return ops.jet_output(ops.jet_linear(j, self.layers[1].weight, self.layers[1].bias), x)
        h = self.embedding(x)
        if self.layers is None:
            return h @ self.channel_mean.T
        return self.layers[1](self.act(self.layers[0](h)))


def _checkpointed(fn, *args):
    """Run fn under activation checkpointing when autograd records (memory bounded per chunk)."""
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)

