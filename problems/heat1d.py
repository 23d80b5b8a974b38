"""Heat equation u_t = κ u_xx on x ∈ [0, 1], t ∈ [0, 1], u(t, 0) = u(t, 1) = 0.

u0 = sin(πx) + ½ sin(3πx); exact u = e^{−κπ²t} sin(πx) + ½ e^{−9κπ²t} sin(3πx).
Points are (t, x).
"""

import math

import torch

import sciml as sm


def problem(kappa: float = 0.1) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 1.0) * sm.Interval(0.0, 1.0)

    def exact(p):
        t, x = p[:, 0], p[:, 1]
        return (torch.exp(-kappa * math.pi**2 * t) * torch.sin(math.pi * x)
                + 0.5 * torch.exp(-9 * kappa * math.pi**2 * t) * torch.sin(3 * math.pi * x))[:, None]

    def pde(u, p):
        return sm.partial(u, p, 0) - kappa * sm.partial(u, p, 1, 1)

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Dirichlet(domain.boundary, 0.0), sm.Initial(domain, exact)],
                      solution=exact, name="heat1d", parameters={"kappa": kappa})
