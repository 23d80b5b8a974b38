"""Klein–Gordon (2+1)D: u_tt − (u_xx + u_yy) + u² = f on t ∈ [0, 10], x, y ∈ [−1, 1] (PIG / SPINN case).

Exact u = (x + y) cos(kt) + xy sin(kt), so Δu = 0, u_tt = −k²u and f = u² − k²u. As in the PIG
code, the initial condition constrains u only (no u_t condition) and the lateral boundary values
come from the exact solution. Without a u_t condition the problem is not well posed (u_tt needs
two initial conditions); ``velocity=True`` adds the exact one, u_t(0, x, y) = k·x·y. Points are
(t, x, y). Reference: Kang et al., ICLR 2025.
"""

import torch

import sciml as sm


def problem(k: float = 2.0, velocity: bool = False) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 10.0) * sm.Rectangle((-1.0, -1.0), (1.0, 1.0))

    def exact(p):
        t, x, y = p[:, 0], p[:, 1], p[:, 2]
        return ((x + y) * torch.cos(k * t) + x * y * torch.sin(k * t))[:, None]

    def pde(u, p):
        u_star = exact(p)
        source = u_star**2 - k**2 * u_star
        return sm.partial(u, p, 0, 0) - sm.laplacian(u, p, dims=(1, 2)) + u**2 - source

    conditions = [sm.Initial(domain, exact), sm.Dirichlet(domain.boundary, exact)]
    if velocity:
        conditions.append(sm.Initial(domain, lambda p: k * p[:, 1] * p[:, 2], derivative=1))
    return sm.Problem(domain, equations=pde, conditions=conditions, solution=exact, name="klein_gordon",
                      parameters={"k": k, "velocity": velocity})
