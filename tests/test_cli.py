"""The `sciml` command: fits from a name or a file, writes outputs, fails cleanly."""

import json
import subprocess
import sys
import textwrap

import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_fit_registered_problem_writes_outputs(tmp_path):
    out = tmp_path / "h"
    p = run("fit", "helmholtz2d", "--model", "mlp", "--steps", "30", "--points", "128", "--width", "16",
            "--depth", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "rel_l2" in p.stdout
    history = json.loads((out / "history.json").read_text())["records"]
    assert len(history) == 30 and history[0]["phase"] == "adam" and history[-1]["phase"] == "lbfgs"
    for name in ("checkpoint.pt", "model.pt", "metrics.json", "history.png", "solution.png"):
        assert (out / name).stat().st_size > 0, name
    assert "fit" in p.stderr  # the progress bar


def test_demo_runs(tmp_path):
    """`make demo`'s command, shortened: it builds its own argument set, so a new `fit` option must reach it."""
    p = run("demo", "--steps", "20", "--out", str(tmp_path / "d"), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "helmholtz2d: rel_l2 = " in p.stdout and (tmp_path / "d" / "solution.png").stat().st_size > 0


def test_fit_python_file(tmp_path):
    f = tmp_path / "my_problem.py"
    f.write_text(textwrap.dedent("""
        import sciml as sm
        domain = sm.Interval(0.0, 1.0)
        problem = sm.Problem(domain, equations=lambda u, x: sm.laplacian(u, x) + 2.0,
                             conditions=[sm.Dirichlet(domain.boundary, 0.0)],
                             solution=lambda x: x * (1 - x))
        fit_options = {"optimizer": "adam", "lr": 1e-2}
    """))
    out = tmp_path / "o"
    p = run("fit", str(f), "--steps", "20", "--points", "64", "--out", str(out), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "metrics.json").read_text())["metrics"]["steps"] == 20


def test_keep_best_writes_the_model_of_the_lowest_error(tmp_path):
    import torch

    import sciml as sm
    from sciml.nn import build
    from sciml.registry import load_problem

    out = tmp_path / "b"
    p = run("fit", "poisson2d", "--steps", "40", "--optimizer", "adam", "--lr", "1e-2", "--points", "128",
            "--width", "16", "--depth", "2", "--eval-every", "5", "--keep-best", "--out", str(out), "--no-progress")
    assert p.returncode == 0, p.stderr
    saved = torch.load(out / "best_model.pt", weights_only=False)
    evals = [e for e in json.loads((out / "history.json").read_text())["records"] if e.get("rel_l2") is not None]
    lowest = min(evals, key=lambda r: r["rel_l2"])
    assert saved["rel_l2"] == lowest["rel_l2"] and saved["step"] == lowest["step"] + 1
    assert f"best: rel_l2 = {lowest['rel_l2']:.3e}" in p.stdout
    problem = load_problem("poisson2d")
    model = build("mlp", problem, width=16, depth=2)
    model.load_state_dict(saved["model"])
    task = sm.tasks.PDETask(problem)
    task.setup(model, sm.tasks.base.Context(torch.device("cpu"), torch.float32, seed=0))
    assert abs(task.evaluate(model)["rel_l2"] - saved["rel_l2"]) < 1e-6


def test_keep_best_without_a_reference_is_refused(tmp_path):
    f = tmp_path / "no_solution.py"
    f.write_text("import sciml as sm\nproblem = sm.Problem(sm.Interval(0.0, 1.0), equations=lambda u, x: u - 1.0)\n")
    p = run("fit", str(f), "--keep-best", "--steps", "2", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "--keep-best: problem" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_bad_input_exits_2_without_traceback(tmp_path):
    p = run("fit", "nope", "--out", str(tmp_path / "x"))
    assert p.returncode == 2
    assert "unknown name 'nope'" in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["fit", "poisson2d", "--model", "nope"], "model: unknown 'nope'"),
    (["fit", "missing_file.py"], "does not exist"),
    (["fit", "poisson2d", "--param", "a1"], "--param: expected NAME=VALUE"),
    (["fit", "poisson2d", "--param", "b=1"], "bad parameters ['b']"),
    (["fit", "poisson2d", "--steps", "2", "--out", "{blocker}/sub"], "--out: cannot create directory"),
])
def test_bad_input_messages(args, message, tmp_path, capsys):
    from sciml.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    args = [a.replace("{blocker}", str(blocker)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "x")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
