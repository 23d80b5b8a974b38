"""Losses for operator learning: data misfits on grids and physics residuals.

Convention (neuraloperator-style dict batches): every loss is a callable ``loss(pred, batch) ->
scalar tensor``, where ``pred`` is the model output for the batch and ``batch`` the dict of tensors
a dataset yields (e.g. ``{"a": (B,1,s,s), "u": (B,1,s,s)}``). Data losses compare ``pred`` with
``batch[target]`` (constructor argument ``target``; ``None`` = the dataset's target when trained by
``fit``, ``"u"`` when called directly). Per-sample errors are averaged
over the batch, so equal shards under DDP average to the global value.

A physics loss that needs the model at points of its own choosing also has

* ``prepare(batch, generator) -> batch``: adds those points (e.g. ``"y"``, with ``requires_grad``);
* ``inputs``: the batch keys to feed the model, in order (e.g. ``("a", "y")``).

:class:`sciml.tasks.dataset.DatasetTask` calls ``prepare`` (if present) before the forward pass and
feeds ``batch[k] for k in loss.inputs`` (else the dataset's inputs) to the model.

Grids: fields ``(B, C, *grid)`` on the nodes ``x_i = i/(n−1)`` of the unit interval/square
(boundary included, as the Darcy data and ``solvers.fd.darcy``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, check

FD_FORMS = ("residual", "energy", "multigrid")


def _target(pred: torch.Tensor, batch: dict, key: str) -> torch.Tensor:
    if key not in batch:
        raise InputError(f"batch: the loss target {key!r} is missing; batch keys are {sorted(batch)}")
    y = batch[key]
    check(
        pred.shape == y.shape,
        f"pred: expected the shape of batch[{key!r}] {tuple(y.shape)}, got {tuple(pred.shape)}",
    )
    return y


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


@dataclass(frozen=True)
class MSE:
    """Mean squared error ``mean((pred − y)²)`` over all entries."""

    target: str | None = None

    def __call__(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        return torch.mean((pred - _target(pred, batch, self.target or "u")) ** 2)


@dataclass(frozen=True)
class RelativeL2:
    """Mean over samples of ``‖pred − y‖₂ / ‖y‖₂`` (each sample flattened; FNO/MgNO ``LpLoss.rel``)."""

    target: str | None = None

    def per_sample(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(_flat(pred - y), dim=1) / torch.linalg.vector_norm(_flat(y), dim=1)

    def __call__(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        return self.per_sample(pred, _target(pred, batch, self.target or "u")).mean()


def trapezoid_weights(shape: tuple[int, ...], dtype, device) -> torch.Tensor:
    """Product trapezoid weights on the unit grid ``x_i = i/(n−1)``, shape ``shape``."""
    w = torch.ones((), dtype=dtype, device=device)
    for n in shape:
        wi = torch.full((n,), 1.0 / (n - 1), dtype=dtype, device=device)
        wi[0] = wi[-1] = 0.5 / (n - 1)
        w = w[..., None] * wi
    return w


@dataclass(frozen=True)
class RelativeH1:
    """Mean over samples of ``|pred − y|_{H¹} / |y|_{H¹}`` on fields ``(B, C, *grid)``.

    ``method="fd"``: ``‖e‖² + ‖∇e‖²`` with trapezoid quadrature on the unit grid and central
    differences (``torch.gradient``, spacing ``1/(n−1)``): second-order accurate.
    ``method="fourier"``: the MgNO / FNO ``HsLoss`` (xlliu2017/MgNO ``utilities3.py``): orthonormal
    FFT over the grid, weight ``sqrt(1 + |k|²)`` with integer wavenumbers, the ``|k|`` part kept only
    for ``|k_i| < truncation`` (20 in the paper; ``None`` keeps all).
    """

    target: str | None = None
    method: str = "fd"
    truncation: int | None = 20

    def __post_init__(self):
        check(self.method in ("fd", "fourier"), f"method: expected 'fd' or 'fourier', got {self.method!r}")

    def per_sample(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check(pred.dim() >= 3, f"pred: expected a field (batch, channels, *grid), got {tuple(pred.shape)}")
        grid_dims = tuple(range(2, pred.dim()))
        if self.method == "fd":
            return torch.sqrt(self._fd_sq(pred - y, grid_dims) / self._fd_sq(y, grid_dims))
        return self._fourier(pred - y, grid_dims) / self._fourier(y, grid_dims)

    @staticmethod
    def _fd_sq(e: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        shape = e.shape[2:]
        w = trapezoid_weights(shape, e.dtype, e.device)
        spacing = [1.0 / (n - 1) for n in shape]
        grads = torch.gradient(e, spacing=spacing, dim=dims)
        sq = e**2 + sum(g**2 for g in grads)
        return _flat(sq * w).sum(dim=1)

    def _fourier(self, e: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        eh = torch.fft.fftn(e, dim=dims, norm="ortho")
        weight = torch.ones(e.shape[2:], dtype=e.dtype, device=e.device)
        for axis, n in enumerate(e.shape[2:]):
            k = torch.fft.fftfreq(n, d=1.0 / n, dtype=e.dtype, device=e.device).abs()
            if self.truncation is not None:
                k = k * (k < self.truncation)
            shape = [1] * len(dims)
            shape[axis] = n
            weight = weight + k.reshape(shape) ** 2
        return torch.linalg.vector_norm(_flat(eh * weight.sqrt()), dim=1)

    def __call__(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        return self.per_sample(pred, _target(pred, batch, self.target or "u")).mean()


# ----------------------------------------------------------------------------------------------
# Weak form with compactly supported radial test functions (ParticleWNN, arXiv 2305.12433; DGNO,
# arXiv 2502.06250, reference §3.1).


def wendland(r: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Wendland ``φ_{ℓ,2}`` with ``ℓ = ⌊d/2⌋ + 3`` and ``φ'(r)/r``, for ``0 <= r <= 1``.

    ``φ(r) = (1−r)^{ℓ+2}[(ℓ²+4ℓ+3)r² + (3ℓ+6)r + 3]/3`` (d = 1: ``(1−r)⁵(8r²+5r+1)``; d = 2:
    ``(1−r)⁶(35r²+18r+3)/3``); ``φ'(r) = −(ℓ+3)(ℓ+4)/3 · r (1−r)^{ℓ+1}((ℓ+1)r + 1)``, so
    ``∇φ(z) = (φ'(r)/r) z`` is a polynomial.
    """
    l = d // 2 + 3
    one = (1 - r).clamp(min=0)
    phi = one ** (l + 2) * ((l * l + 4 * l + 3) * r**2 + (3 * l + 6) * r + 3) / 3
    dphi_over_r = -(l + 3) * (l + 4) / 3 * one ** (l + 1) * ((l + 1) * r + 1)
    return phi, dphi_over_r


def ball_quadrature(d: int, n: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes ``z`` (q, d) in the unit ball and weights (q,) summing to 1 (the mean over the ball).

    d = 1: Gauss–Legendre with ``n`` nodes on each of [−1, 0] and [0, 1] (exact for polynomials in z
    and |z| of degree <= 2n − 1). d = 2: ``n`` Gauss–Legendre radii (weight r on [0, 1]) × ``2n``
    equispaced angles (exact for polynomials of degree <= 2n − 1 in x, y, r).
    """
    g, w = np.polynomial.legendre.leggauss(n)
    t, wt = (g + 1) / 2, w / 2  # Gauss on [0, 1]
    if d == 1:
        z = np.concatenate([-t[::-1], t])[:, None]
        weights = np.concatenate([wt[::-1], wt]) / 2
    elif d == 2:
        theta = 2 * np.pi * np.arange(2 * n) / (2 * n)
        r, th = np.meshgrid(t, theta, indexing="ij")
        z = np.stack([r * np.cos(th), r * np.sin(th)], axis=-1).reshape(-1, 2)
        weights = (np.repeat(wt * t, 2 * n) / (2 * n)) * 2  # ∫₀¹ r dr = 1/2 → normalise to 1
    else:
        raise InputError(f"d: weak-form balls are implemented in 1-D and 2-D, got d={d}")
    return torch.as_tensor(z, dtype=dtype), torch.as_tensor(weights, dtype=dtype)


def latin_hypercube(n: int, d: int, generator: torch.Generator | None, dtype=torch.float64) -> torch.Tensor:
    """``n`` Latin-hypercube points in [0, 1]^d, shape (n, d)."""
    cols = [
        (torch.randperm(n, generator=generator).to(dtype) + torch.rand(n, generator=generator, dtype=dtype))
        / n
        for _ in range(d)
    ]
    return torch.stack(cols, dim=1)


def sample_grid(field: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear interpolation of node fields (B, C, H, W) on [0,1]² at points y (B, N, 2) → (B, N, C)."""
    g = (2 * y - 1).flip(-1)[:, :, None, :]  # grid_sample wants (x=W axis, y=H axis) in [-1, 1]
    return (
        F.grid_sample(field, g.to(field.dtype), mode="bilinear", align_corners=True)
        .squeeze(-1)
        .transpose(1, 2)
    )


@dataclass(frozen=True)
class WeakFormResidual:
    """Weak-form residual of ``−∇·(a∇u) = f`` on [0,1]^d with Wendland test functions on small balls.

    Per step, ``centers`` ball centres (Latin hypercube in the domain shrunk by ``radius``, shared by
    the batch); on each ball ``B(x_c, R)`` the residual is the mean over the ball

        r_c = mean[a ∇u · ∇φ] − mean[f φ],    φ(x) = φ_W(|x − x_c|/R),  ∇φ = (φ_W'(r)/r) (x − x_c)/R²

    computed with :func:`ball_quadrature` (exact for polynomial integrands) and ``∇u`` by autograd
    with respect to the query points. Loss = ``mean(r²)`` (+ the sum of the ``topk`` largest ``r²``,
    DGNO's shaping). ``a`` comes from ``batch[coefficient]`` by bilinear interpolation of the grid
    (detached), or is a constant; ``f`` is a constant. The model is fed ``(batch["a"] sensors, y)``
    through ``inputs = (coefficient, "y")``: a :class:`sciml.nn.deeponet.GridOperator`-like module
    evaluating ``u`` at points ``y (B, N, d)`` → ``(B, N)``.

    ``mixed=True``: DGNO's mixed form for discontinuous ``a`` (its piecewise Darcy). The model also
    returns a flux ``s ≈ a∇u``: ``pred (B, N, 1 + d)`` = ``(u, s)`` (e.g. :class:`GridOperator` with
    ``flux=``). Per ball ``r_c = mean[s·∇φ] − mean[fφ]`` (no ``a``, no second derivative), and at
    every quadrature point the constitutive misfit ``|s − a∇u|²``; loss = ``mean|s − a∇u|² +
    √centers · mean(r²)`` (+ top-k). A first-order system least-squares split: ``a`` enters only
    pointwise, so a jump in ``a`` no longer puts ``∇a`` into the residual.
    """

    f: float = 1.0
    d: int = 2
    centers: int = 100
    radius: float = 1e-4
    nodes: int = 6
    topk: int = 0
    coefficient: str = "a"
    mixed: bool = False

    def __post_init__(self):
        check(self.d in (1, 2), f"d: expected 1 or 2, got {self.d}")
        check(0 < self.radius < 0.5, f"radius: expected 0 < radius < 0.5, got {self.radius}")
        check(self.centers >= 1 and self.nodes >= 1, "centers, nodes: expected positive counts")

    @property
    def inputs(self) -> tuple[str, str]:
        return (self.coefficient, "y")

    def quadrature(self, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return ball_quadrature(self.d, self.nodes, dtype)

    def prepare(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """Add ``"y"`` (B, centers·q, d) quadrature points (requires grad) and ``"y_center"`` (centers, d)."""
        ref = batch[self.coefficient]
        z, _ = self.quadrature(ref.dtype)
        c = self.radius + (1 - 2 * self.radius) * latin_hypercube(self.centers, self.d, generator, ref.dtype)
        y = (c[:, None, :] + self.radius * z[None]).reshape(-1, self.d).to(ref.device)
        y = y.expand(ref.shape[0], -1, -1).clone().requires_grad_(True)
        return {**batch, "y": y, "y_center": c.to(ref.device)}

    def residuals(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        """Per-ball residuals (B, centers) for ``pred`` = u at ``batch["y"]``, shape (B, N)
        (``mixed``: ``(u, s)``, shape (B, N, 1 + d))."""
        return self._terms(pred, batch)[0]

    def constitutive(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        """``mixed`` only: ``|s − a∇u|²`` at every quadrature point, shape (B, N)."""
        check(self.mixed, "constitutive: defined for mixed=True only")
        return self._terms(pred, batch)[1]

    def _terms(self, pred: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = batch["y"]
        expected = tuple(y.shape[:2]) + ((1 + self.d,) if self.mixed else ())
        check(
            tuple(pred.shape) == expected,
            f"pred: expected {'(u, s)' if self.mixed else 'u'} at the points y, shape {expected}, "
            f"got {tuple(pred.shape)}",
        )
        u = pred[..., 0] if self.mixed else pred
        (grad_u,) = torch.autograd.grad(u.sum(), y, create_graph=True)
        z, w = self.quadrature(pred.dtype)
        z, w = z.to(pred.device), w.to(pred.device)
        phi, dphi_r = wendland(torch.linalg.vector_norm(z, dim=-1), self.d)
        grad_phi = dphi_r[:, None] * z / self.radius  # ∇_x φ = (φ'(r)/r) z / R
        B, q = u.shape[0], z.shape[0]
        a = self._coefficient(batch, y)
        source = self.f * (phi * w).sum()
        if not self.mixed:
            flux = (a[..., None] * grad_u).reshape(B, self.centers, q, self.d)
            return ((flux * grad_phi).sum(-1) * w).sum(-1) - source, None
        s = pred[..., 1:]
        misfit = ((s - a[..., None] * grad_u) ** 2).sum(-1)
        r = ((s.reshape(B, self.centers, q, self.d) * grad_phi).sum(-1) * w).sum(-1) - source
        return r, misfit

    def _coefficient(self, batch: dict, y: torch.Tensor) -> torch.Tensor:
        a = batch[self.coefficient]
        if a.dim() == 4 and self.d == 2:
            return sample_grid(a.detach(), y.detach())[..., 0]
        if a.dim() == 3 and self.d == 1:
            g = torch.stack([2 * y.detach()[..., 0] - 1, torch.zeros_like(y[..., 0])], -1)[:, :, None, :]
            return F.grid_sample(a.detach()[:, :, None, :], g, align_corners=True)[:, 0, :, 0]
        raise InputError(
            f"batch[{self.coefficient!r}]: expected node values (B, 1, *grid) on a {self.d}-D grid, "
            f"got {tuple(a.shape)}"
        )

    def __call__(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        r, misfit = self._terms(pred, batch)
        r2 = r**2
        loss = r2.mean() if misfit is None else misfit.mean() + self.centers**0.5 * r2.mean()
        if self.topk:
            loss = loss + r2.flatten().topk(min(self.topk, r2.numel())).values.sum()
        return loss


@dataclass(frozen=True)
class DarcyResidualFD:
    """Finite-difference residual of ``−∇·(a∇u) = f`` on the unit square, zero Dirichlet boundary.

    ``pred``: u at the nodes (B, 1, s, s); ``batch[coefficient]``: a at the same nodes. The operator is
    :class:`sciml.linalg.Stencil` ``.diffusion(a, h=1/(s−1))`` — the 5-point arithmetic-mean-face
    scheme of ``solvers.fd.darcy`` — applied to the interior of ``pred`` with the boundary nodes
    eliminated (the boundary values of ``pred`` are ignored: train ``zero_boundary(model(a))``).

    ``form="residual"``: mean over samples of ``‖A u − f‖₂ / ‖f‖₂`` on the interior nodes (zero for the
    solver's own solution). ``form="energy"``: the discrete Dirichlet energy ``h²(½ uᵀA u − fᵀu)``,
    minimal at the same solution and better conditioned (κ instead of κ²) for gradient descent.
    ``form="multigrid"``: the preconditioned residual ``‖B(A u − f)‖₂ / ‖B f‖₂`` with B one symmetric
    V(2,2)-cycle of :class:`sciml.linalg.Multigrid` for the sample's operator (a fixed, SPD, linear map
    that gradients pass through). As B ≈ A⁻¹ this is close to the relative L2 error against the FD
    solution (``‖B A e‖/‖B f‖``; within 4% in the tests), and the Hessian of its square in u,
    ``(BA)ᵀ(BA)`` with ``BA ≈ I``, is far better conditioned than κ (energy) or κ² (residual): the
    label-free loss trains like the supervised one (cf. Liu et al. 2024, "Preconditioning for
    physics-informed neural networks"). The hierarchies are cached per coefficient field (``cache``
    of them, least recently used dropped).
    """

    f: float = 1.0
    form: str = "residual"
    coefficient: str = "a"
    cache: int = 2048

    def __post_init__(self):
        check(
            self.form in FD_FORMS, f"form: expected one of {FD_FORMS}, got {self.form!r}"
        )
        check(int(self.cache) >= 1, f"cache: expected a positive number of hierarchies, got {self.cache}")
        object.__setattr__(self, "_multigrids", OrderedDict())  # frozen dataclass: a private cache

    def _coefficient(self, a: torch.Tensor) -> torch.Tensor:
        check(
            a.dim() == 4 and a.shape[1] == 1 and a.shape[-1] == a.shape[-2] >= 3,
            f"batch[{self.coefficient!r}]: expected node values (B, 1, s, s), got {tuple(a.shape)}",
        )
        return a

    def stencils(self, a: torch.Tensor) -> list:
        """The FD operators of coefficient fields ``a`` (B, 1, s, s)."""
        from .linalg.stencil import Stencil

        h = 1.0 / (self._coefficient(a).shape[-1] - 1)
        return [Stencil.diffusion(ai[0].detach().double().cpu().numpy(), h=h) for ai in a]

    def residuals(self, pred: torch.Tensor, batch: dict, stencils: list | None = None) -> torch.Tensor:
        """``A u − f`` on the interior nodes, shape (B, s−2, s−2) (``stencils``: the operators, if built)."""
        a = batch[self.coefficient]
        check(
            pred.shape == a.shape,
            f"pred: expected the shape of the coefficient {tuple(a.shape)}, got {tuple(pred.shape)}",
        )
        u = pred[:, 0, 1:-1, 1:-1]
        sts = self.stencils(a) if stencils is None else stencils
        return torch.stack([st.apply(ui) for st, ui in zip(sts, u)]) - self.f

    def hierarchies(self, a: torch.Tensor) -> list:
        """Per coefficient field of ``a`` (B, 1, s, s): its cached ``(Multigrid, ‖B f‖₂)``."""
        from .linalg.multigrid import Multigrid
        from .linalg.stencil import Stencil

        out = []
        for ai in self._coefficient(a):
            values = ai[0].detach().double().cpu().numpy()
            key = (values.shape, hashlib.sha1(values.tobytes()).hexdigest())
            entry = self._multigrids.pop(key, None)
            if entry is None:
                mg = Multigrid(Stencil.diffusion(values, h=1.0 / (values.shape[-1] - 1)), max_coarse=64,
                               kernels="torch")
                f = torch.full((1, *mg.shape), float(self.f), dtype=torch.float64)
                entry = (mg, float(torch.linalg.vector_norm(mg.cycle_grid(f))))
            self._multigrids[key] = entry
            out.append(entry)
        while len(self._multigrids) > self.cache:
            self._multigrids.popitem(last=False)
        return out

    def __call__(self, pred: torch.Tensor, batch: dict) -> torch.Tensor:
        if self.form == "multigrid":
            hs = self.hierarchies(batch[self.coefficient])
            r = self.residuals(pred, batch, [mg.stencil for mg, _ in hs])
            return torch.stack([torch.linalg.vector_norm(mg.cycle_grid(ri[None])) / bf
                                for (mg, bf), ri in zip(hs, r)]).mean()
        r = self.residuals(pred, batch)
        if self.form == "residual":
            return (torch.linalg.vector_norm(_flat(r), dim=1) / (abs(self.f) * r[0].numel() ** 0.5)).mean()
        u = pred[:, 0, 1:-1, 1:-1]
        h2 = 1.0 / (pred.shape[-1] - 1) ** 2
        return (h2 * (0.5 * (u * (r + self.f)) - self.f * u).sum(dim=(1, 2))).mean()


def zero_boundary(u: torch.Tensor) -> torch.Tensor:
    """``u (B, C, *grid)`` with every boundary node set to 0 (hard homogeneous Dirichlet condition)."""
    mask = torch.zeros(u.shape[2:], dtype=u.dtype, device=u.device)
    mask[(slice(1, -1),) * (u.dim() - 2)] = 1
    return u * mask
