"""fit: reaches an error bound, repeats with a seed, resumes exactly, stops clearly."""

import math

import numpy as np
import pytest
import torch

import sciml as sm
from sciml.nn import MLP
from sciml.registry import load_problem


def mlp(problem, width=20, depth=2, seed=0, **kw):
    torch.manual_seed(seed)
    lo, hi = problem.domain.bounds
    return MLP(problem.dim, problem.output_dim, width, depth, input_bounds=(lo, hi), **kw)


def strip_time(history):
    return [{k: v for k, v in r.items() if k != "time"} for r in history.records]


def test_poisson_reaches_error_bound():
    problem = load_problem("poisson2d", hard=True)
    result = sm.fit(mlp(problem, 24, 3), problem, steps=120, lbfgs_steps=20, lr=3e-3, points=512,
                    dtype=torch.float64, progress=False, seed=0)
    assert result.stop_reason in ("completed",) or result.stop_reason.startswith("lbfgs: converged")
    assert result.metrics["rel_l2"] < 5e-3, result.metrics
    phases = result.history["phase"]
    assert phases[0] == "adam" and phases[-1] == "lbfgs"
    assert len(result.history) == result.metrics["steps"]


def test_hard_dirichlet_exact_on_boundary():
    problem = load_problem("poisson2d", hard=True)
    result = sm.fit(mlp(problem), problem, steps=5, optimizer="adam", points=64, progress=False)
    xb, _ = problem.domain.boundary.sample(200, np.random.default_rng(1))
    u = result.predict(xb)
    assert float(u.abs().max()) < 1e-6
    assert "dirichlet_boundary" not in result.history.keys()


def test_same_seed_same_history_and_jets_equal_autograd():
    problem = load_problem("heat1d")
    kw = dict(steps=12, lbfgs_steps=4, points=128, boundary_points=32, resample_every=3, dtype=torch.float64,
              progress=False, seed=3)
    a = sm.fit(mlp(problem, seed=1), problem, **kw)
    b = sm.fit(mlp(problem, seed=1), problem, **kw)
    assert strip_time(a.history) == strip_time(b.history)
    c = sm.fit(mlp(problem, seed=1), problem, derivatives="autograd", **kw)
    np.testing.assert_allclose(a.history["loss"], c.history["loss"], rtol=1e-9)


@pytest.mark.parametrize("split,sampling", [(5, "sobol"), (9, "sobol"), (5, "rad"), (9, "rad")])
def test_resume_gives_identical_history(tmp_path, split, sampling):
    """Checkpoint mid-Adam (5) and mid-L-BFGS (9); resuming reproduces every number, also when the
    points are drawn where the residual of the model is large."""
    problem = load_problem("heat1d")
    if sampling == "rad":
        sampling = sm.ResidualAdaptiveSampling(k=1, c=0.5, pool=3, base="sobol")
    kw = dict(steps=14, lbfgs_steps=6, points=96, boundary_points=24, resample_every=2, sampling=sampling,
              dtype=torch.float64, progress=False, seed=7, scheduler="cosine", adaptive=sm.LRAnnealing(every=3))
    full = sm.fit(mlp(problem, seed=2), problem, **kw)
    ckpt = tmp_path / "ckpt.pt"

    class StopAt:
        def __call__(self, info):
            return info.step + 1 == split

    part = sm.fit(mlp(problem, seed=2), problem, checkpoint=ckpt, callbacks=[StopAt()], **kw)
    assert len(part.history) == split and part.stop_reason.startswith("callback")
    resumed = sm.fit(mlp(problem, seed=99), problem, resume=ckpt, **kw)
    assert strip_time(resumed.history) == strip_time(full.history)
    for p, q in zip(resumed.model.parameters(), full.model.parameters()):
        assert torch.equal(p, q)


def test_best_model_keeps_the_lowest_evaluation_and_survives_resume(tmp_path):
    """BestModel holds the state of the lowest rel_l2 evaluation (re-evaluating it gives that number
    exactly); split at a checkpoint and resumed, it ends with the same step, value and state."""
    problem = load_problem("heat1d")
    kw = dict(steps=16, optimizer="adam", lr=3e-2, points=96, boundary_points=24, resample_every=2,
              eval_every=2, dtype=torch.float64, progress=False, seed=5)
    best = sm.BestModel()
    full = sm.fit(mlp(problem, seed=2), problem, callbacks=[best], **kw)
    evals = [e for e in full.history["rel_l2"] if e is not None]
    assert len(evals) == 8 and best.value == min(evals) and best.step == 2 * (evals.index(min(evals)) + 1)
    restored = best.restore(mlp(problem, seed=3).double())
    assert full.task.evaluate(restored)["rel_l2"] == best.value

    ckpt = tmp_path / "ckpt.pt"

    class StopAt:
        def __call__(self, info):
            return info.step + 1 == 7

    first = sm.BestModel()
    sm.fit(mlp(problem, seed=2), problem, checkpoint=ckpt, callbacks=[first, StopAt()], **kw)
    again = sm.BestModel()
    sm.fit(mlp(problem, seed=2), problem, resume=ckpt, callbacks=[again, StopAt()], **kw)
    assert (again.step, again.value) == (best.step, best.value)
    assert all(torch.equal(again.state[k], best.state[k]) for k in best.state)
    # resuming with a stateful callback the checkpoint has no state for is refused, not forgotten
    with pytest.raises(sm.InputError, match="no state for callback 1"):
        sm.fit(mlp(problem, seed=2), problem, resume=ckpt, callbacks=[StopAt(), sm.BestModel()], **kw)
    with pytest.raises(sm.InputError, match="no 'rel_l2' evaluation"):
        sm.BestModel().restore(restored)
    with pytest.raises(sm.InputError, match="metric"):
        sm.BestModel("")


def test_resume_from_other_model_is_refused(tmp_path):
    problem = load_problem("poisson2d")
    ckpt = tmp_path / "c.pt"
    sm.fit(mlp(problem, width=8), problem, steps=2, optimizer="adam", points=32, checkpoint=ckpt, progress=False)
    with pytest.raises(sm.InputError, match="another model"):
        sm.fit(mlp(problem, width=9), problem, steps=4, optimizer="adam", points=32, resume=ckpt, progress=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(sm.InputError, match="cannot read checkpoint"):
        sm.fit(mlp(problem, width=8), problem, steps=4, resume=tmp_path / "junk.pt", progress=False)


def test_nan_stops_naming_the_term_and_returns_last_good_state():
    domain = sm.Rectangle((0, 0), (1, 1))
    calls = {"n": 0}

    def pde(u, x):
        calls["n"] += x.shape[0] == 64  # training evaluations (not the task's 4-point probe)
        r = sm.laplacian(u, x) + 1.0
        return r * float("nan") if calls["n"] > 6 else r

    problem = sm.Problem(domain, equations={"poisson": pde}, conditions=[sm.Dirichlet(domain.boundary, 0.0)])
    model = mlp(problem)
    snapshots = []
    result = sm.fit(model, problem, steps=20, optimizer="adam", points=64, progress=False,
                    callbacks=[lambda info: snapshots.append([p.detach().clone() for p in info.model.parameters()])])
    assert result.stop_reason.startswith("nan: loss term 'poisson'") and "step 6" in result.stop_reason
    assert len(result.history) == 6
    # the returned model is the one the last finite loss was computed with (start of step 5)
    for p, q in zip(result.model.parameters(), snapshots[4]):
        assert torch.equal(p, q)
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_lbfgs_convergence_is_reported_not_silent():
    domain = sm.Interval(0, 1)
    problem = sm.Problem(domain, equations=lambda u, x: u - 2.0)  # exact answer: u = 2

    class Const(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, x):
            return self.c.expand(x.shape[0], 1)

    result = sm.fit(Const(), problem, steps=50, optimizer="lbfgs", points=16, progress=False)
    assert result.stop_reason.startswith("lbfgs: converged")
    assert len(result.history) < 50
    assert abs(float(result.model.c) - 2.0) < 1e-10
    # the first stall empties the curvature memory; fit stops only when the fresh optimizer's
    # first step leaves the loss unchanged too (two records after the restart)
    restarts = [r["step"] for r in result.history.records if r.get("lbfgs_restart")]
    assert restarts == [result.history.records[-1]["step"] - 2]


def test_adaptive_weights_change_and_are_recorded():
    problem = load_problem("poisson2d")
    result = sm.fit(mlp(problem), problem, steps=6, optimizer="adam", points=64, adaptive="lra", progress=False)
    w = result.history["w_dirichlet_boundary"]
    assert w[0] != 1.0 and all(v is not None and v > 0 for v in w)


def test_resampling_changes_points_also_for_sobol():
    problem = load_problem("poisson2d")
    task = sm.tasks.PDETask(problem, points=32, sampling="sobol", resample_every=1)
    task.setup(mlp(problem), sm.tasks.base.Context(torch.device("cpu"), torch.float32, seed=0))
    x0 = task.x.detach().clone()
    task.step_end(0)
    assert not torch.equal(x0, task.x)


def test_bad_inputs():
    problem = load_problem("poisson2d")
    model = mlp(problem)
    with pytest.raises(sm.InputError, match="residual has shape"):
        bad = sm.Problem(problem.domain, equations=lambda u, x: u[:5])
        sm.fit(model, bad, steps=1, progress=False)
    with pytest.raises(sm.InputError, match="NaN"):
        nanbc = sm.Problem(problem.domain, equations=lambda u, x: u,
                           conditions=[sm.Dirichlet(problem.domain.boundary, float("nan"))])
        sm.fit(model, nanbc, steps=1, progress=False)
    with pytest.raises(sm.InputError, match="nope"):
        sm.Dirichlet(problem.domain.boundary["nope"], 0.0)
    with pytest.raises(sm.InputError, match="weights: unknown"):
        sm.fit(model, problem, steps=1, weights={"bc": 1.0}, progress=False)
    with pytest.raises(sm.InputError, match="steps"):
        sm.fit(model, problem, steps=0, progress=False)
    with pytest.raises(sm.InputError, match="optimizer"):
        sm.fit(model, problem, steps=1, optimizer="adagrad", progress=False)
    with pytest.raises(sm.InputError, match="x: expected points"):
        sm.fit(MLP(3, 1), problem, steps=1, progress=False)
    with pytest.raises(sm.InputError, match="equations"):
        sm.Problem(problem.domain, equations=3)


def test_result_save_and_plot(tmp_path):
    problem = load_problem("poisson2d")
    result = sm.fit(mlp(problem), problem, steps=4, optimizer="adam", points=32, progress=False)
    out = result.save(tmp_path / "run")
    assert (out / "history.json").exists() and (out / "model.pt").exists()
    assert sm.History.load(out / "history.json").records == result.history.records
    figures = result.plot(tmp_path / "figs")
    assert [f.name for f in figures] == ["history.png", "solution.png"]
    assert all(f.stat().st_size > 1000 for f in figures)
    assert math.isfinite(result.metrics["rel_l2"])
