"""Gaussian random fields used as inputs of operator-learning datasets.

Three families, all driven by a :class:`numpy.random.Generator` so that one seed gives one field:

* :func:`grf_cosine` — the Karhunen–Loève field of ``(−Δ + τ²)^(−α/2)`` with homogeneous Neumann
  modes on the unit square, built with an inverse cosine transform. This is the FNO Darcy recipe
  (``GRF.m`` of the FNO data generator; Li et al. 2021): coefficient ``s·τ^(α−1)(π²|k|² + τ²)^(−α/2)ξ_k``,
  constant mode dropped, ``idct2``.
* :class:`RBFField1D` — the 1-D squared-exponential Gaussian process on ``[0, T]`` that DeepONet uses
  (Lu et al. 2021, ``lululxvi/deeponet``): Cholesky factor of the kernel matrix on ``n_grid`` points plus
  a small jitter, cubic-spline interpolation to any point.
* :func:`grf_periodic_1d` — the periodic field ``σ(−Δ + τ²)^(−γ/2)`` on ``[0, 1)`` (FNO Burgers initial
  conditions) through a real inverse FFT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.interpolate
import scipy.linalg

from ..errors import InputError, check

# The thresholds of the piecewise-constant Darcy coefficient a = high where g >= 0 else low.
DARCY_KINDS = {
    "smooth": {"alpha": 2.0, "tau": 3.0, "high": 12.0, "low": 3.0},  # FNO piececonst_r421 (Li et al. 2021)
    "rough": {"alpha": 2.0, "tau": 5.0, "high": 12.0, "low": 2.0},  # MgNO darcy20c6 (contrast 6, unverified)
}


def cosine_spectrum(s: int, alpha: float, tau: float) -> np.ndarray:
    """KL standard deviations ``s·τ^(α−1)(π²(k₁²+k₂²) + τ²)^(−α/2)``, shape (s, s), with the (0, 0) mode 0."""
    k = np.arange(s, dtype=np.float64)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    coef = s * tau ** (alpha - 1.0) * (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2.0)
    coef[0, 0] = 0.0
    return coef


def grf_cosine(
    rng: np.random.Generator, s: int, alpha: float = 2.0, tau: float = 3.0, n: int = 1
) -> np.ndarray:
    """``n`` samples of the (−Δ+τ²)^(−α/2) cosine-KL field on an ``s × s`` grid, shape (n, s, s).

    Node ``(i, j)`` sits at ``((i + 1/2)/s, (j + 1/2)/s)`` of the unit square in the cosine basis; the
    FNO data use the same grid values as node values of a vertex grid. Orthonormal inverse DCT-II,
    which is MATLAB's ``idct2``.
    """
    check(isinstance(s, int | np.integer) and s >= 2, f"s: expected an integer grid size >= 2, got {s!r}")
    check(alpha > 0 and tau > 0, f"alpha, tau: expected positive numbers, got alpha={alpha}, tau={tau}")
    xi = rng.standard_normal((n, s, s))
    return scipy.fft.idctn(cosine_spectrum(s, alpha, tau) * xi, axes=(1, 2), norm="ortho", type=2)


def threshold(g: np.ndarray, high: float, low: float) -> np.ndarray:
    """Piecewise-constant coefficient ``high`` where ``g >= 0``, else ``low`` (same shape as ``g``)."""
    return np.where(g >= 0.0, high, low)


def darcy_coefficient(rng: np.random.Generator, s: int, kind: str = "smooth") -> np.ndarray:
    """One piecewise-constant Darcy coefficient field of the named kind, shape (s, s)."""
    if kind not in DARCY_KINDS:
        raise InputError(f"kind: expected one of {sorted(DARCY_KINDS)}, got {kind!r}")
    p = DARCY_KINDS[kind]
    return threshold(grf_cosine(rng, s, p["alpha"], p["tau"])[0], p["high"], p["low"])


@dataclass(frozen=True)
class RBFField1D:
    """Squared-exponential GP on ``[0, T]``: ``k(x, x') = exp(−|x − x'|²/(2ℓ²))`` (DeepONet's GRF).

    Sampled on ``n_grid`` equispaced points through a Cholesky factor of ``K + jitter·I`` and
    evaluated anywhere by not-a-knot cubic splines (``interp1d(kind="cubic")`` in DeepONet).
    """

    length_scale: float = 0.2
    n_grid: int = 1000
    T: float = 1.0
    jitter: float = 1e-13
    _chol: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check(self.length_scale > 0, f"length_scale: expected > 0, got {self.length_scale}")
        check(self.n_grid >= 4, f"n_grid: expected >= 4, got {self.n_grid}")
        x = self.grid
        K = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / self.length_scale**2)
        object.__setattr__(
            self, "_chol", scipy.linalg.cholesky(K + self.jitter * np.eye(self.n_grid), lower=True)
        )

    @property
    def grid(self) -> np.ndarray:
        """The sampling grid, shape (n_grid,)."""
        return np.linspace(0.0, self.T, self.n_grid)

    def sample(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` fields on the grid, shape (n, n_grid)."""
        return self.from_normals(rng.standard_normal((n, self.n_grid)))

    def from_normals(self, xi: np.ndarray) -> np.ndarray:
        """Fields ``L ξ`` for standard normals ``xi`` (n, n_grid) → (n, n_grid); one BLAS-3 product."""
        return xi @ self._chol.T

    def evaluate(self, values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Cubic-spline interpolation of grid ``values`` (n, n_grid) at points ``x`` (q,) → (n, q)."""
        spline = scipy.interpolate.make_interp_spline(self.grid, np.atleast_2d(values), k=3, axis=1)
        return spline(np.asarray(x, dtype=np.float64))


def grf_periodic_1d(
    rng: np.random.Generator, s: int, gamma: float = 4.0, tau: float = 5.0, sigma: float = 25.0**2, n: int = 1
) -> np.ndarray:
    """``n`` samples of the periodic field ``σ(−Δ + τ²)^(−γ/2)ξ`` on ``s`` points of ``[0, 1)``, shape (n, s).

    Fourier mode ``k`` has standard deviation ``σ(4π²k² + τ²)^(−γ/2)`` (mean-zero field, the FNO
    ``GaussianRF`` for Burgers initial conditions); the pointwise variance is
    ``Σ_{k≠0} σ²(4π²k² + τ²)^(−γ)``.
    """
    check(s >= 4 and s % 2 == 0, f"s: expected an even grid size >= 4, got {s}")
    k = np.arange(s // 2 + 1, dtype=np.float64)
    std = sigma * (4 * np.pi**2 * k**2 + tau**2) ** (-gamma / 2.0)
    std[0] = 0.0
    # u(x) = Σ_k c_k e^{2πikx}, c_{−k} = conj(c_k), E|c_k|² = std_k²; irfft(norm="forward") sums the modes.
    c = (rng.standard_normal((n, k.size)) + 1j * rng.standard_normal((n, k.size))) * std / np.sqrt(2.0)
    c[:, -1] = c[:, -1].real * np.sqrt(2.0)  # the Nyquist mode is real
    return np.fft.irfft(c, n=s, axis=1, norm="forward")
