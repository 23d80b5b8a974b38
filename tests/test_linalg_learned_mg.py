"""The learned multigrid preconditioner is SPD for any parameters, starts as the Jacobi V-cycle,
and training lowers its contraction estimate."""

import json

import numpy as np
import pytest
import torch

from sciml.errors import InputError
from sciml.linalg import LearnedMultigrid, Multigrid, Stencil, cg
from sciml.linalg.dcdm import scale_invariant_loss
from sciml.linalg.learned_mg import LearnedSmoothers


def dense(M, n):
    return M(torch.eye(n, dtype=torch.float64)).numpy()


@pytest.mark.parametrize("seed, sweeps", [(0, 2), (1, 3), (2, 4)])
def test_spd_for_arbitrary_parameters(seed, sweeps):
    solid = np.zeros((15, 13), bool)
    solid[4:8, 5:9] = True
    st = Stencil(
        (15, 13),
        np.random.default_rng(seed).uniform(1, 20, (17, 15)),
        solid=solid,
        bc=("dirichlet", "neumann", "neumann", "neumann"),
    )
    L = LearnedMultigrid(st, LearnedSmoothers(sweeps), max_coarse=4)
    with torch.no_grad():
        for p in L.params.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 4)
    B = dense(L, st.n)
    assert np.allclose(B, B.T, atol=1e-12 * np.abs(B).max()) and np.linalg.eigvalsh(B).min() > 0
    A = st.to_sparse().toarray()
    E = np.eye(st.n) - B @ A  # error propagation: spectrum in (−1, 1)
    ev = np.linalg.eigvals(E).real
    assert ev.min() > -1 and ev.max() < 1


@pytest.mark.parametrize("sweeps", [2, 5, 8])
def test_smoothing_polynomial_is_bounded_by_one_for_arbitrary_parameters(sweeps):
    P = LearnedSmoothers(sweeps)
    t = torch.linspace(0, 1, 20001, dtype=torch.float64)[1:]  # λ / λ_G
    for seed in range(20):
        with torch.no_grad():
            for p in P.parameters():
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 5)
        for level in (0, 1):
            w = P.weights(level)[0].detach().double()
            p = torch.prod(1 - w[:, None] * t[None], dim=0)
            assert float(p.abs().max()) < 1 and float(1 / w.max()) > 0.146


def test_untrained_is_the_jacobi_v_cycle_and_training_helps():
    st = Stencil.poisson((31, 31))
    L0 = LearnedMultigrid(st)
    assert np.allclose(
        dense(L0, st.n), dense(Multigrid(st), st.n), rtol=0.05, atol=1e-3 * np.abs(dense(L0, st.n)).max()
    )
    e = torch.randn(8, 31, 31, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = float(L0.contraction_loss(e).detach())
    L = LearnedMultigrid.train(st, steps=60, batch=8, ritz=60, seed=0, sweeps=2)
    after = float(L.contraction_loss(e).detach())
    assert after < before - 0.3  # the slowest-mode contraction factor drops by > 14%
    st2 = Stencil.poisson((127, 127))
    b = np.random.default_rng(0).standard_normal(st2.n)
    for rtol in (1e-4, 1e-8):  # fewer CG iterations than the untrained V(2, 2) cycle at 16× the training size
        _, info = cg(st2, b, M=LearnedMultigrid(st2, L.params), rtol=rtol)
        _, ref = cg(st2, b, M=Multigrid(st2), rtol=rtol)
        assert info.converged and info.iterations < ref.iterations, (rtol, info.iterations, ref.iterations)


def test_pcg_loss_with_one_step_is_the_dcdm_loss():
    st = Stencil.poisson((15, 17))
    L = LearnedMultigrid(st, LearnedSmoothers(3), max_coarse=16)
    b = torch.randn(5, 15, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b = b / b.flatten(1).norm(dim=1).reshape(-1, 1, 1)
    y = L.cycle_grid(b).detach()
    ref = [float(scale_invariant_loss(b[i].reshape(1, -1), y[i].reshape(1, -1), st.apply(y[i : i + 1]).reshape(1, -1)))
           for i in range(5)]
    assert float(L.pcg_loss(b, 1).detach()) == pytest.approx(float(np.mean(np.log(ref))), rel=1e-10)
    with pytest.raises(InputError, match="loss: expected one of"):
        LearnedMultigrid.train(st, steps=1, loss="dcdm")


def test_save_load_and_dimension_check(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    st = Stencil.poisson((15, 15))
    L = LearnedMultigrid(st)
    L.save("lm")
    L2 = LearnedMultigrid.load("lm", Stencil.poisson((31, 31)))
    assert L2.params.state_dict()["theta"].equal(L.params.state_dict()["theta"])
    with pytest.raises(InputError, match="2-D systems, got a 3-D"):
        LearnedMultigrid.load("lm", Stencil.poisson((7, 7, 7)))
    meta_file = tmp_path / "models/learned_mg/lm.json"
    assert LearnedMultigrid.exists("lm")
    meta = json.loads(meta_file.read_text())
    meta["polynomial"] = "quadratic-pairs"  # a model saved before the l1 (pointwise λ) parametrisation
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="older smoother parametrisation"):
        LearnedMultigrid.load("lm", st)
    assert not LearnedMultigrid.exists("lm")  # so that callers retrain it
