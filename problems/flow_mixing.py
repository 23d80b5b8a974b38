"""Flow mixing (2+1)D: u_t + a u_x + b u_y = 0 on t ∈ [0, 4], x, y ∈ [−4, 4] (PIG / SPINN case).

A vortex with tangential speed v_t = sech²(r) tanh(r), r = √(x² + y²), v_max = 0.385:
a = −(v_t/v_max)(y/r), b = (v_t/v_max)(x/r); exact u = −tanh((y/2) cos ωt − (x/2) sin ωt) with
ω = v_t/(r v_max). Initial and lateral boundary values from the exact solution. Points (t, x, y).
"""

import torch

import sciml as sm

V_MAX = 0.385


def _rotation_rate(x, y):
    """ω = v_t/(r v_max) = sech²(r) tanh(r)/(r v_max), with tanh(r)/r → 1 at r = 0."""
    r = torch.sqrt(x * x + y * y)
    tanh_over_r = torch.where(r > 1e-12, torch.tanh(r) / r.clamp_min(1e-12), torch.ones_like(r))
    return tanh_over_r / torch.cosh(r) ** 2 / V_MAX


def problem() -> sm.Problem:
    domain = sm.TimeDomain(0.0, 4.0) * sm.Rectangle((-4.0, -4.0), (4.0, 4.0))

    def exact(p):
        t, x, y = p[:, 0], p[:, 1], p[:, 2]
        w = _rotation_rate(x, y)
        return (-torch.tanh(0.5 * y * torch.cos(w * t) - 0.5 * x * torch.sin(w * t)))[:, None]

    def pde(u, p):
        x, y = p[:, 1:2], p[:, 2:3]
        w = _rotation_rate(x, y)  # a = −ω y, b = ω x
        g = sm.grad(u, p)
        return g[:, 0:1] - w * y * g[:, 1:2] + w * x * g[:, 2:3]

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Initial(domain, exact), sm.Dirichlet(domain.boundary, exact)],
                      solution=exact, name="flow_mixing", parameters={"v_max": V_MAX})
