"""Nonlinear diffusion (2+1)D: u_t = ν(|∇u|² + uΔu) on t ∈ [0, 1], x, y ∈ [−1, 1], u = 0 on ∂ (PIG / SPINN).

ν = 0.05; u₀ = 0.25 e^{−((x−0.3)² + (y−0.2)²)/0.1} + 0.4 e^{−15((x+0.5)² + (y+0.1)²)}
+ 0.3 e^{−20(x² + (y+0.5)²)}. No closed form: the reference is ``solvers.fd.nonlinear_diffusion``
(second order in space and time) on 101² nodes with 200 Crank–Nicolson steps, cached under
``sciml.data.cache_dir()``; the test set keeps every ``stride``-th node (default 26 t × 51²).
Points are (t, x, y).
"""

import functools

import numpy as np
import torch

import sciml as sm
from sciml.data.cache import cache_dir
from solvers.fd import nonlinear_diffusion

NU = 0.05


def initial(x, y):
    """u₀ for numpy arrays or torch tensors."""
    exp = torch.exp if isinstance(x, torch.Tensor) else np.exp
    return (0.25 * exp(-((x - 0.3) ** 2 + (y - 0.2) ** 2) / 0.1)
            + 0.4 * exp(-15 * ((x + 0.5) ** 2 + (y + 0.1) ** 2))
            + 0.3 * exp(-20 * (x**2 + (y + 0.5) ** 2)))


@functools.lru_cache(maxsize=2)
def reference(nu: float = NU, n_steps: int = 200, time_stride: int = 4, space_stride: int = 2):
    path = cache_dir() / f"nonlinear_diffusion_nu{nu:g}_steps{n_steps}.npz"
    if path.exists():
        with np.load(path) as f:
            t, x, u = f["t"], f["x"], f["u"]
    else:
        traj = nonlinear_diffusion(initial, 1.0, n_steps, t_eval=np.linspace(0.0, 1.0, 101), nu=nu)
        t, x, u = traj.t, traj.x[0], traj.u  # (101,), (101,), (101, 101, 101)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, t=t, x=x, u=u)
        tmp.replace(path)
    t, x, u = t[::time_stride], x[::space_stride], u[::time_stride, ::space_stride, ::space_stride]
    tt, xx, yy = np.meshgrid(t, x, x, indexing="ij")
    return sm.Reference(np.stack([tt.ravel(), xx.ravel(), yy.ravel()], 1), u.reshape(-1, 1))


def problem(nu: float = NU) -> sm.Problem:
    domain = sm.TimeDomain(0.0, 1.0) * sm.Rectangle((-1.0, -1.0), (1.0, 1.0))

    def pde(u, p):
        g = sm.grad(u, p)[:, 1:]
        return sm.partial(u, p, 0) - nu * ((g * g).sum(1, keepdim=True) + u * sm.laplacian(u, p, dims=(1, 2)))

    return sm.Problem(domain, equations=pde,
                      conditions=[sm.Initial(domain, lambda p: initial(p[:, 1], p[:, 2])),
                                  sm.Dirichlet(domain.boundary, 0.0)],
                      solution=reference(nu), name="nonlinear_diffusion", parameters={"nu": nu})
