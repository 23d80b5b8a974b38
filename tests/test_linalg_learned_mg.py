"""The learned multigrid preconditioner is SPD for any parameters, starts as the Jacobi V-cycle,
and training lowers its contraction estimate."""

import numpy as np
import pytest
import torch

from sciml.errors import InputError
from sciml.linalg import LearnedMultigrid, Multigrid, Stencil, cg


def dense(M, n):
    return M(torch.eye(n, dtype=torch.float64)).numpy()


@pytest.mark.parametrize("seed", [0, 1])
def test_spd_for_arbitrary_parameters(seed):
    solid = np.zeros((15, 13), bool)
    solid[4:8, 5:9] = True
    st = Stencil(
        (15, 13),
        np.random.default_rng(seed).uniform(1, 20, (17, 15)),
        solid=solid,
        bc=("dirichlet", "neumann", "neumann", "neumann"),
    )
    L = LearnedMultigrid(st, max_coarse=4)
    with torch.no_grad():
        for p in L.params.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 4)
    B = dense(L, st.n)
    assert np.allclose(B, B.T, atol=1e-12 * np.abs(B).max()) and np.linalg.eigvalsh(B).min() > 0
    A = st.to_sparse().toarray()
    E = np.eye(st.n) - B @ A  # error propagation: spectrum in (−1, 1)
    ev = np.linalg.eigvals(E).real
    assert ev.min() > -1 and ev.max() < 1


def test_untrained_is_the_jacobi_v_cycle_and_training_helps():
    st = Stencil.poisson((31, 31))
    L0 = LearnedMultigrid(st)
    assert np.allclose(
        dense(L0, st.n), dense(Multigrid(st), st.n), rtol=0.05, atol=1e-3 * np.abs(dense(L0, st.n)).max()
    )
    e = torch.randn(8, 31, 31, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = float(L0.contraction_loss(e).detach())
    L = LearnedMultigrid.train(st, steps=40, batch=8, ritz=60, seed=0)
    after = float(L.contraction_loss(e).detach())
    assert after < before - 0.3  # the slowest-mode contraction factor drops by > 14%
    st2 = Stencil.poisson((63, 63))
    b = np.random.default_rng(0).standard_normal(st2.n)
    _, info = cg(st2, b, M=LearnedMultigrid(st2, L.params))
    _, ref = cg(st2, b, M=Multigrid(st2))
    assert info.converged and info.iterations <= ref.iterations + 1


def test_save_load_and_dimension_check(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    st = Stencil.poisson((15, 15))
    L = LearnedMultigrid(st)
    L.save("lm")
    L2 = LearnedMultigrid.load("lm", Stencil.poisson((31, 31)))
    assert L2.params.state_dict()["theta"].equal(L.params.state_dict()["theta"])
    with pytest.raises(InputError, match="2-D systems, got a 3-D"):
        LearnedMultigrid.load("lm", Stencil.poisson((7, 7, 7)))
