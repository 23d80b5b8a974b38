"""Convection u_t + β u_x = 0 on x ∈ [0, 2π) periodic, t ∈ [0, 1], u₀ = sin x (Krishnapriyan et al. 2021).

Exact solution u = sin(x − βt). The vanilla PINN fails for β ≥ 30 (the "failure mode" case);
LPINN (Mojgani et al. 2023) solves it along characteristics. Points are (t, x). ``nu`` > 0 adds
diffusion ν u_xx (exact solution e^{−νt} sin(x − βt)); the problem is then named
"convection_diffusion". The reference test grid is 100 t × 256 x (endpoint excluded).
"""

import math

import torch

import sciml as sm


def problem(beta: float = 30.0, nu: float = 0.0) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 1.0) * sm.Interval(0.0, 2 * math.pi)

    def exact(p):
        return (torch.exp(-nu * p[:, 0]) * torch.sin(p[:, 1] - beta * p[:, 0]))[:, None]

    def pde(u, p):
        r = sm.partial(u, p, 0) + beta * sm.partial(u, p, 1)
        return r - nu * sm.partial(u, p, 1, 1) if nu else r

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Initial(domain, lambda p: torch.sin(p[:, 1])),
                                  sm.Periodic(domain, axis=1)],
                      solution=exact, name="convection_diffusion" if nu else "convection",
                      parameters={"beta": beta, "nu": nu})
