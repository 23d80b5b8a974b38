"""Neural ODEs on torchdiffeq with solver statistics, and the ERNODE/SRNODE regularisers.

``node = NeuralODE(func, method="dopri5", rtol=1e-5, atol=1e-5)``; ``y, stats = node(y0, t)``;
``loss = task_loss + ErrorRegularizer()(stats, epoch)``. See :mod:`sciml.ode.node` for how the
statistics are collected (Pal et al., ICML 2021; local variant ICML 2023).
"""

from .estimates import embedded_step
from .kinetic import KineticJacobianDynamics
from .node import NeuralODE
from .regularizers import ErrorRegularizer, ExponentialDecay, StiffnessRegularizer
from .stats import SolverStats, Step
from .tableau import ADAPTIVE_METHODS, FIXED_METHODS, Tableau, tableau

__all__ = [
    "ADAPTIVE_METHODS",
    "FIXED_METHODS",
    "ErrorRegularizer",
    "ExponentialDecay",
    "KineticJacobianDynamics",
    "NeuralODE",
    "SolverStats",
    "StiffnessRegularizer",
    "Step",
    "Tableau",
    "embedded_step",
    "tableau",
]
