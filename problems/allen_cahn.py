"""Allen–Cahn (1+1)D: u_t − ε u_xx + r u³ − r u = 0 on x ∈ [−1, 1] periodic, t ∈ [0, 1] (JAX-PI / PIG).

ε = 1e-4, r = 5, u₀ = x² cos(πx); periodic in u and u_x. The reference is
``solvers.spectral.allen_cahn`` (Fourier pseudo-spectral, ETDRK4) on the standard 201 t × 512 x
grid. The PIG paper trains it with causal weighting (``sciml.causal.CausalWeighting``).
Points are (t, x).
"""

import functools
import math

import numpy as np
import torch

import sciml as sm
from solvers.spectral import allen_cahn


@functools.lru_cache(maxsize=2)
def reference(eps: float = 1e-4, rate: float = 5.0) -> sm.Reference:
    traj = allen_cahn(eps=eps, rate=rate)
    tt, xx = np.meshgrid(traj.t, traj.x, indexing="ij")
    return sm.Reference(np.stack([tt.ravel(), xx.ravel()], 1), traj.u.reshape(-1, 1))


def problem(eps: float = 1e-4, rate: float = 5.0) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 1.0) * sm.Interval(-1.0, 1.0)

    def pde(u, p):
        return sm.partial(u, p, 0) - eps * sm.partial(u, p, 1, 1) + rate * (u**3 - u)

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Initial(domain, lambda p: p[:, 1] ** 2 * torch.cos(math.pi * p[:, 1])),
                                  sm.Periodic(domain, axis=1, derivatives=1)],
                      solution=reference(eps, rate), name="allen_cahn", parameters={"eps": eps, "rate": rate})
