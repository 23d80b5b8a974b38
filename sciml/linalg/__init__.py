"""Linear systems: CG and flexible CG, structured-grid ``Stencil`` operators, geometric ``Multigrid``,
pyamg AMG, Jacobi and IC(0), and learned solvers (DCDM, a learned SPD multigrid preconditioner). Every solver returns
``(x, SolveInfo)``."""

from .amg import AMG, amg
from .classic import IncompleteCholesky, Jacobi, ichol, jacobi
from .dcdm import DCDM
from .info import SolveInfo
from .krylov import cg, flexible_cg
from .learned_mg import LearnedMultigrid
from .multigrid import Multigrid
from .operator import as_operator
from .stencil import Stencil

__all__ = [
    "cg",
    "flexible_cg",
    "Stencil",
    "Multigrid",
    "amg",
    "AMG",
    "jacobi",
    "Jacobi",
    "ichol",
    "IncompleteCholesky",
    "DCDM",
    "LearnedMultigrid",
    "SolveInfo",
    "as_operator",
]
