"""Viscous Burgers u_t + u u_x = ν u_xx, x ∈ [−1, 1], t ∈ [0, 1], u0 = −sin(πx), u(±1) = 0.

ν = 0.01/π (Raissi et al. 2019; PINNacle "Burgers1d-C"). The reference comes from
``solvers.spectral.burgers_dirichlet`` (Cole–Hopf, exact to quadrature accuracy) on the
100 t × 256 x grid of the original data set. Points are (t, x).
"""

import functools
import math

import numpy as np
import torch

import sciml as sm
from solvers.spectral import burgers_dirichlet


@functools.lru_cache(maxsize=4)
def reference(nu: float) -> sm.Reference:
    traj = burgers_dirichlet(nu=nu)
    tt, xx = np.meshgrid(traj.t, traj.x, indexing="ij")
    return sm.Reference(np.stack([tt.ravel(), xx.ravel()], 1), traj.u.reshape(-1, 1))


def problem(nu: float = 0.01 / math.pi) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 1.0) * sm.Interval(-1.0, 1.0)

    def pde(u, p):
        return sm.partial(u, p, 0) + u * sm.partial(u, p, 1) - nu * sm.partial(u, p, 1, 1)

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Dirichlet(domain.boundary, 0.0),
                                  sm.Initial(domain, lambda p: -torch.sin(math.pi * p[:, 1]))],
                      solution=reference(nu), name="burgers1d", parameters={"nu": nu})
