"""Classical reference solvers that make ground truth and datasets for sciml (numpy in, numpy out).

* :mod:`solvers.fd` — second-order finite differences on structured grids: the canonical
  variable-coefficient diffusion matrix, Poisson/Helmholtz (pyamg or sparse direct), FNO Darcy,
  PINNacle nonlinear diffusion (Crank–Nicolson + Newton).
* :mod:`solvers.spectral` — periodic Fourier pseudo-spectral: exact convection–diffusion, Burgers
  and Allen–Cahn with ETDRK4; Cole–Hopf exact Burgers (incl. the burgers1d benchmark).
* :mod:`solvers.heat` — 1-D heat: sine-series exact solution and Crank–Nicolson.
* :mod:`solvers.ode` — antiderivatives (DeepONet dataset).
"""

from ._common import Trajectory
from .fd import apply_diffusion, assemble_diffusion, darcy, laplacian, nonlinear_diffusion, solve_poisson
from .heat import heat_crank_nicolson, heat_exact
from .ode import antiderivative
from .spectral import allen_cahn, burgers, burgers_dirichlet, burgers_sine_exact, convection_diffusion, etdrk4

__all__ = [
    "Trajectory",
    "allen_cahn",
    "antiderivative",
    "apply_diffusion",
    "assemble_diffusion",
    "burgers",
    "burgers_dirichlet",
    "burgers_sine_exact",
    "convection_diffusion",
    "darcy",
    "etdrk4",
    "heat_crank_nicolson",
    "heat_exact",
    "laplacian",
    "nonlinear_diffusion",
    "solve_poisson",
]
