"""sciml: scientific machine learning for PDEs on PyTorch.

Define a PDE in a few lines and ``fit`` a model to it; solve PDE linear systems with classical
and learned Krylov methods; learn solution operators; regularise neural ODEs by their solver.
"""

from . import data, linalg, losses, nn, ode, ops, tasks
from .causal import CausalWeighting
from .conditions import Dirichlet, HardConstraint, Initial, Neumann, Observations, Periodic, Robin
from .errors import InputError
from .fit import BestModel, History, Result, StepInfo, fit, seed_everything
from .geometry import (
    Boundary,
    Box,
    Difference,
    Disk,
    Domain,
    Intersection,
    Interval,
    Mesh,
    Polygon,
    Rectangle,
    SpaceTime,
    TimeDomain,
    Union,
)
from .losses import MSE, DarcyResidualFD, RelativeH1, RelativeL2, WeakFormResidual
from .ops import div, grad, hessian, laplacian, partial
from .problem import Problem, Reference
from .sampling import ResidualAdaptiveSampling
from .weighting import LRAnnealing

__version__ = "0.1.0"

__all__ = [
    "Problem", "Reference", "fit", "Result", "History", "StepInfo", "BestModel", "seed_everything",
    "Dirichlet", "Neumann", "Robin", "Periodic", "Initial", "Observations", "HardConstraint",
    "Domain", "Boundary", "Interval", "Rectangle", "Box", "Disk", "Polygon", "TimeDomain", "SpaceTime", "Mesh",
    "Union", "Intersection", "Difference",
    "grad", "partial", "laplacian", "div", "hessian", "ops", "nn", "ode", "tasks", "linalg", "data", "losses",
    "MSE", "RelativeL2", "RelativeH1", "DarcyResidualFD", "WeakFormResidual",
    "CausalWeighting", "LRAnnealing", "ResidualAdaptiveSampling", "InputError",
]
