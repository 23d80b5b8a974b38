"""Convergence studies of the reference solvers: refinement ladders with their measured errors.

Each study refines one discretisation parameter by factors of 2 and measures the max-norm error,
against an exact/manufactured solution or, for self-convergence, between consecutive levels (the
finer one restricted to the coarser grid). ``tests/test_solvers.py`` asserts the observed orders
and ``benchmarks/solvers_convergence.py`` tabulates them, so the table is what the tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .fd import darcy, nonlinear_diffusion, solve_poisson
from .heat import heat_crank_nicolson, heat_exact
from .ode import antiderivative
from .spectral import allen_cahn, burgers, burgers_sine_exact

__all__ = ["STUDIES", "Study", "run"]


class Study(NamedTuple):
    """One refinement ladder: ``errors[k]`` at ``sizes[k]`` (h, dt or n); ``expected`` order."""

    name: str
    scheme: str
    parameter: str
    sizes: tuple[float, ...]
    errors: tuple[float, ...]
    expected: float | str  # a number, or "spectral"

    @property
    def orders(self) -> np.ndarray:
        """Observed orders log(e_k/e_{k+1}) / log(size_k/size_{k+1}) (for n: size = 1/n)."""
        e, s = np.asarray(self.errors), np.asarray(self.sizes, dtype=float)
        if self.parameter == "n":
            s = 1.0 / s
        return np.log(e[:-1] / e[1:]) / np.log(s[:-1] / s[1:])


def _max_diffs(levels: list[np.ndarray], restrict: Callable[[np.ndarray], np.ndarray]) -> tuple[float, ...]:
    return tuple(float(np.max(np.abs(a - restrict(b)))) for a, b in zip(levels, levels[1:]))


def _unit_nodes(n: int, ndim: int = 2) -> list[np.ndarray]:
    x = np.linspace(0.0, 1.0, n + 1)
    return np.meshgrid(*([x] * ndim), indexing="ij")


def poisson_sine() -> Study:
    """−Δu = 2π² sin(πx) sin(πy) on [0,1]², u = 0: 5-point + pyamg, vs exact."""
    ns, errors = (8, 16, 32, 64), []
    for n in ns:
        X, Y = _unit_nodes(n)
        exact = np.sin(np.pi * X) * np.sin(np.pi * Y)
        errors.append(np.max(np.abs(solve_poisson(2 * np.pi**2 * exact, 1.0 / n) - exact)))
    return Study("poisson 2d sin·sin", "5-point, pyamg", "h", tuple(1 / n for n in ns), tuple(errors), 2.0)


def poisson_variable() -> Study:
    """−∇·(a∇u) = f, a = 1 + x²y, u = exp(x + y/2) (non-zero Dirichlet data), vs exact."""
    ns, errors = (8, 16, 32, 64), []
    for n in ns:
        X, Y = _unit_nodes(n)
        exact = np.exp(X + 0.5 * Y)
        a = 1.0 + X**2 * Y
        f = -(1.25 * a + 2 * X * Y + 0.5 * X**2) * exact
        errors.append(np.max(np.abs(solve_poisson(f, 1.0 / n, bc_values=exact, a=a) - exact)))
    return Study("poisson 2d a=1+x²y, exp BC", "5-point mean-face, pyamg", "h", tuple(1 / n for n in ns),
                 tuple(errors), 2.0)


def poisson_3d() -> Study:
    """−Δu = 3π² Π sin(πx_i) on [0,1]³: 7-point + pyamg, vs exact."""
    ns, errors = (4, 8, 16, 32), []
    for n in ns:
        X, Y, Z = _unit_nodes(n, 3)
        exact = np.sin(np.pi * X) * np.sin(np.pi * Y) * np.sin(np.pi * Z)
        errors.append(np.max(np.abs(solve_poisson(3 * np.pi**2 * exact, 1.0 / n) - exact)))
    return Study("poisson 3d sin³", "7-point, pyamg", "h", tuple(1 / n for n in ns), tuple(errors), 2.0)


def helmholtz() -> Study:
    """−Δu − k²u = f with k² = 40 (indefinite: between the 1st and 2nd eigenvalue), sparse LU."""
    k2, ns, errors = 40.0, (16, 32, 64, 128), []
    for n in ns:
        X, Y = _unit_nodes(n)
        exact = np.sin(np.pi * X) * np.sin(2 * np.pi * Y)
        errors.append(np.max(np.abs(solve_poisson((5 * np.pi**2 - k2) * exact, 1.0 / n, k2=k2) - exact)))
    return Study("helmholtz 2d k²=40", "5-point, sparse LU", "h", tuple(1 / n for n in ns), tuple(errors),
                 2.0)


def darcy_smooth() -> Study:
    """FNO Darcy operator with a = 1 + ½ sin(2πx) cos(πy), u = sin(πx) sin(πy), manufactured f."""
    sizes, errors = (17, 33, 65, 129), []
    for s in sizes:
        X, Y = _unit_nodes(s - 1)
        sx, cx, s2x, c2x = np.sin(np.pi * X), np.cos(np.pi * X), np.sin(2 * np.pi * X), np.cos(2 * np.pi * X)
        sy, cy = np.sin(np.pi * Y), np.cos(np.pi * Y)
        a = 1.0 + 0.5 * s2x * cy
        f = 2 * np.pi**2 * a * sx * sy - (np.pi * c2x * cy) * (np.pi * cx * sy) \
            - (-0.5 * np.pi * s2x * sy) * (np.pi * sx * cy)
        errors.append(np.max(np.abs(darcy(a, f) - sx * sy)))
    return Study("darcy smooth a", "5-point mean-face, SuperLU", "h", tuple(1 / (s - 1) for s in sizes),
                 tuple(errors), 2.0)


def pinnacle_u0(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Initial condition of PINNacle's nonlinear diffusion case (three Gaussians)."""
    return (0.25 * np.exp(-((X - 0.3) ** 2 + (Y - 0.2) ** 2) / 0.1)
            + 0.4 * np.exp(-15 * ((X + 0.5) ** 2 + (Y + 0.1) ** 2))
            + 0.3 * np.exp(-20 * (X**2 + (Y + 0.5) ** 2)))


def _square(s: int) -> list[np.ndarray]:
    x = np.linspace(-1.0, 1.0, s)
    return np.meshgrid(x, x, indexing="ij")


def nonlinear_diffusion_space() -> Study:
    """PINNacle nonlinear diffusion to t = 0.1 with dt ∝ h (so the total error is O(h²)), self-convergence."""
    grids = (17, 33, 65, 129)
    finals = [nonlinear_diffusion(pinnacle_u0(*_square(s)), 0.1, 2**i).u[-1] for i, s in enumerate(grids)]
    return Study("nonlinear diffusion, space", "5-point Δ(u²) + CN-Newton, dt ∝ h", "h",
                 tuple(2 / (s - 1) for s in grids[:-1]), _max_diffs(finals, lambda u: u[::2, ::2]), 2.0)


def nonlinear_diffusion_time() -> Study:
    """PINNacle nonlinear diffusion to t = 1 on 21² nodes, halving dt, self-convergence."""
    u0 = pinnacle_u0(*_square(21))
    steps = (4, 8, 16, 32, 64)
    finals = [nonlinear_diffusion(u0, 1.0, n).u[-1] for n in steps]
    return Study("nonlinear diffusion, time", "Crank–Nicolson + Newton", "dt",
                 tuple(1 / n for n in steps[:-1]), _max_diffs(finals, lambda u: u), 2.0)


def burgers_time() -> Study:
    """Periodic Burgers ν = 0.05, u0 = sin x, n = 64, t = 1: ETDRK4 vs dt = 0.05/64."""
    run = lambda dt: burgers(np.sin, (0, 2 * np.pi), 0.05, [0.0, 1.0], n=64, dt=dt).u[-1]
    reference, dts = run(0.05 / 64), (0.05, 0.025, 0.0125, 0.00625)
    return Study("burgers periodic, time", "ETDRK4 (Kassam–Trefethen)", "dt", dts,
                 tuple(float(np.max(np.abs(run(dt) - reference))) for dt in dts), 4.0)


def burgers_space() -> Study:
    """Periodic Burgers ν = 0.05, u0 = sin x + ½, t ≤ 1, dt = 5e-4: vs Cole–Hopf, doubling n."""
    ns, errors = (64, 128, 256), []
    for n in ns:
        t, x, u = burgers(lambda s: np.sin(s) + 0.5, (0, 2 * np.pi), 0.05, [0.0, 0.5, 1.0], n=n, dt=5e-4)
        errors.append(np.max(np.abs(u - burgers_sine_exact(x, t, 0.05, mean=0.5))))
    return Study("burgers periodic, space", "Fourier 2/3-dealiased vs Cole–Hopf", "n", ns, tuple(errors),
                 "spectral")


def allen_cahn_time() -> Study:
    """Allen–Cahn benchmark on n = 256 Fourier points to t = 1: ETDRK4 vs dt = 0.05/64."""
    run = lambda dt: allen_cahn(n_t=2, n_x=256, n=256, dt=dt).u[-1]
    reference, dts = run(0.05 / 64), (0.05, 0.025, 0.0125, 0.00625)
    return Study("allen–cahn, time", "ETDRK4 (Kassam–Trefethen)", "dt", dts,
                 tuple(float(np.max(np.abs(run(dt) - reference))) for dt in dts), 4.0)


def heat_time() -> Study:
    """Heat κ = 0.5 on [0,1], 32 intervals, u0 = sin(πx) to t = 0.4: CN vs the exact semi-discrete mode."""
    n, kappa, t_end = 32, 0.5, 0.4
    h, x = 1.0 / n, np.linspace(0, 1, n + 1)
    semi_discrete = np.exp(-kappa * 4 / h**2 * np.sin(np.pi * h / 2) ** 2 * t_end) * np.sin(np.pi * x)
    steps = (2, 4, 8, 16)
    errors = [np.max(np.abs(heat_crank_nicolson(lambda s: np.sin(np.pi * s), n, t_end, m, kappa=kappa).u[-1]
                            - semi_discrete)) for m in steps]
    return Study("heat 1d, time", "Crank–Nicolson", "dt", tuple(t_end / m for m in steps), tuple(errors), 2.0)


def heat_space() -> Study:
    """Heat κ = 0.7 on [0,2], u0 = x(2−x)eˣ sin(πx/2), t = 0.2, dt = h: CN vs the sine series."""
    u0 = lambda s: s * (2 - s) * np.exp(s) * np.sin(np.pi * s / 2)
    ns, errors = (10, 20, 40, 80), []
    for n in ns:
        t, x, u = heat_crank_nicolson(u0, n, 0.2, n, length=2.0, kappa=0.7)
        errors.append(np.max(np.abs(u[-1] - heat_exact(u0, x, t[-1:], kappa=0.7, length=2.0)[0])))
    return Study("heat 1d, space (dt ∝ h)", "3-point + Crank–Nicolson", "h", tuple(2 / n for n in ns),
                 tuple(errors), 2.0)


def _antiderivative_study(method: str, scheme: str) -> Study:
    ns, errors = (16, 32, 64, 128), []
    for n in ns:
        x = np.linspace(0, 2, n + 1)
        s = antiderivative(np.stack([np.cos(3 * x), np.exp(x)]), x, method=method)
        errors.append(np.max(np.abs(s - np.stack([np.sin(3 * x) / 3, np.exp(x) - 1]))))
    return Study(f"antiderivative {method}", scheme, "h", tuple(2 / n for n in ns), tuple(errors), 4.0)


def antiderivative_simpson() -> Study:
    """∫ cos 3x and ∫ eˣ on [0, 2], cumulative Simpson."""
    return _antiderivative_study("simpson", "cumulative Simpson")


def antiderivative_rk45() -> Study:
    """∫ cos 3x and ∫ eˣ on [0, 2], RK45 on the cubic spline (DeepONet recipe)."""
    return _antiderivative_study("rk45", "RK45 on cubic spline")


STUDIES: dict[str, Callable[[], Study]] = {f.__name__: f for f in (
    poisson_sine, poisson_variable, poisson_3d, helmholtz, darcy_smooth, nonlinear_diffusion_space,
    nonlinear_diffusion_time, burgers_time, burgers_space, allen_cahn_time, heat_time, heat_space,
    antiderivative_simpson, antiderivative_rk45)}


def run(names=None) -> list[Study]:
    """Run the named studies (default: all) and return them in order."""
    return [STUDIES[name]() for name in (names or STUDIES)]
