"""`sciml solve` through sciml.linalg.cli: every method on a small Poisson system, and bad input."""

import argparse

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from sciml.errors import InputError
from sciml.linalg import Stencil
from sciml.linalg.cli import add_parser


def parse(argv):
    parser = argparse.ArgumentParser(prog="sciml")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture()
def system(tmp_path):
    A = Stencil.poisson((24, 24)).to_sparse()
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    scipy.io.mmwrite(str(tmp_path / "A.mtx"), A)
    sp.save_npz(tmp_path / "A.npz", A)
    np.save(tmp_path / "b.npy", b)
    return tmp_path, A, b


@pytest.mark.parametrize("method", ["cg", "jacobi", "ic0", "amg", "mg"])
def test_solve_writes_x_and_prints_figures(system, method, capsys):
    d, A, b = system
    out = d / f"x_{method}.npy"
    args = parse(
        [
            "solve",
            str(d / ("A.mtx" if method == "cg" else "A.npz")),
            "--rhs",
            str(d / "b.npy"),
            "--method",
            method,
            "--rtol",
            "1e-10",
            "--out",
            str(out),
        ]
    )
    assert args.func(args) == 0
    x = np.load(out)
    assert np.linalg.norm(A @ x - b) <= 1e-9 * np.linalg.norm(b)
    text = capsys.readouterr().out
    assert "iterations" in text and "relative residual" in text and str(out) in text
    assert not list(d.glob(".x_*"))  # no temporary file left behind


def test_dcdm_method_with_a_named_model(system, tmp_path, monkeypatch):
    from sciml.linalg import DCDM

    monkeypatch.setenv("SCIML_DATA", str(tmp_path / "cache"))
    DCDM.train(Stencil.poisson((16, 16)), steps=5, batch=2, ritz=20).save("tiny")
    d, A, b = system
    args = parse(
        [
            "solve",
            str(d / "A.npz"),
            "--rhs",
            str(d / "b.npy"),
            "--method",
            "dcdm",
            "--model",
            "tiny",
            "--rtol",
            "1e-3",
            "--out",
            str(d / "x.npy"),
        ]
    )
    code = args.func(args)
    x = np.load(d / "x.npy")
    assert code in (0, 1) and x.shape == b.shape and np.all(np.isfinite(x))


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--rhs", "missing.npy"], "rhs: file"),
        (["--rhs", "b.npy", "--method", "mg", "--shape", "10,10"], "shape"),
        (["--rhs", "short.npy"], "length"),
        (["--rhs", "b.npy", "--rtol", "-1"], "rtol"),
    ],
)
def test_bad_input_raises_input_error(system, argv, match, monkeypatch):
    d, A, b = system
    monkeypatch.chdir(d)
    np.save(d / "short.npy", b[:10])
    args = parse(["solve", "A.npz", *argv])
    with pytest.raises(InputError, match=match):
        args.func(args)
    args = parse(["solve", "nothere.mtx", "--rhs", "b.npy"])
    with pytest.raises(InputError, match="does not exist"):
        args.func(args)
    (d / "bad.mtx").write_text("not a matrix")
    with pytest.raises(InputError, match="cannot read"):
        args = parse(["solve", "bad.mtx", "--rhs", "b.npy"])
        args.func(args)
