"""``sciml solve``: solve A x = b from files with CG, AMG-PCG, MG-PCG, DCDM or learned-MG-PCG.

The lead's ``sciml/cli.py`` calls :func:`add_parser` and runs ``args.func(args)``; bad input raises
:class:`~sciml.errors.InputError` (exit code 2 there).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError, check

METHODS = ("cg", "jacobi", "ic0", "amg", "mg", "dcdm", "learned-mg")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "solve",
        help="solve a sparse SPD system A x = b",
        description="Solve A x = b (A symmetric positive definite) and write x. Geometric methods (mg, dcdm, "
        "learned-mg) need the grid of the unknowns: --shape, or a square/cube number of unknowns.",
    )
    p.add_argument("matrix", help="A as Matrix Market (.mtx) or SciPy sparse (.npz, scipy.sparse.save_npz)")
    p.add_argument("--rhs", required=True, help="b as a .npy array of shape (n,) or (n, k)")
    p.add_argument("--method", choices=METHODS, default="cg", help="solver (default: cg)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative residual tolerance (default: 1e-8)")
    p.add_argument("--maxiter", type=int, default=None, help="iteration limit")
    p.add_argument("--shape", default=None, help="grid of the unknowns in C order, e.g. 64,64 or 32,32,32")
    p.add_argument("--amg", choices=("sa", "rs"), default="sa", help="AMG kind for --method amg (default: sa)")
    p.add_argument("--model", default=None,
                   help="trained model name for dcdm / learned-mg (default: poisson<d>d-multilevel / poisson<d>d)")
    p.add_argument("--out", default="x.npy", help="where to write x (.npy, written atomically; default: x.npy)")
    p.set_defaults(func=run)
    return p


def read_matrix(path: str):
    import scipy.io
    import scipy.sparse as sp

    f = Path(path)
    check(f.exists(), f"matrix: file '{path}' does not exist")
    try:
        if f.suffix == ".mtx" or f.name.endswith(".mtx.gz"):
            A = scipy.io.mmread(str(f))
        elif f.suffix == ".npz":
            A = sp.load_npz(str(f))
        else:
            raise InputError(f"matrix: expected a .mtx or .npz file, got '{path}'")
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"matrix: cannot read '{path}' ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    return sp.csr_matrix(A)


def read_rhs(path: str) -> np.ndarray:
    f = Path(path)
    check(f.exists(), f"rhs: file '{path}' does not exist")
    try:
        return np.load(str(f), allow_pickle=False)
    except Exception as e:
        raise InputError(f"rhs: cannot read '{path}' as .npy ({type(e).__name__})") from None


def grid_shape(text: str | None, n: int) -> tuple[int, ...]:
    """--shape parsed, or the square (else cube) grid with n points."""
    if text:
        try:
            shape = tuple(int(v) for v in text.replace("x", ",").split(","))
        except ValueError:
            raise InputError(f"shape: expected sizes like 64,64, got {text!r}") from None
        check(int(np.prod(shape)) == n, f"shape: {shape} has {int(np.prod(shape))} points, A has {n} unknowns")
        return shape
    for d in (2, 3):
        m = round(n ** (1 / d))
        if m**d == n:
            return (m,) * d
    raise InputError(f"shape: {n} unknowns is neither a square nor a cube; give --shape")


def solve(A, b, method: str, rtol: float = 1e-8, maxiter=None, shape=None, amg_kind="sa", model=None):
    """(x, SolveInfo) of one of :data:`METHODS` on a SciPy matrix A."""
    from . import AMG, IncompleteCholesky, Jacobi, Multigrid, Stencil, cg
    from .dcdm import DCDM, pretrained
    from .learned_mg import LearnedMultigrid

    check(method in METHODS, f"method: expected one of {METHODS}, got {method!r}")
    check(math.isfinite(rtol) and rtol > 0, f"rtol: expected a positive number, got {rtol}")
    if method == "cg":
        return cg(A, b, rtol=rtol, maxiter=maxiter)
    if method in ("amg", "jacobi", "ic0"):
        M = AMG(A, kind=amg_kind) if method == "amg" else {"jacobi": Jacobi, "ic0": IncompleteCholesky}[method](A)
        x, info = cg(A, b, M=M, rtol=rtol, maxiter=maxiter)
        return x, _setup(info, M.setup_time)
    st = Stencil.from_sparse(A, grid_shape(shape, A.shape[0]))
    if method == "mg":
        M = Multigrid(st)
        x, info = cg(st, b, M=M, rtol=rtol, maxiter=maxiter)
        return x, _setup(info, M.setup_time)
    if method == "dcdm":
        net = DCDM.load(model) if model else pretrained(st.ndim)
        return net.solve(st, b, rtol=rtol, maxiter=maxiter or 1000)
    name = model or f"poisson{st.ndim}d"
    if model or LearnedMultigrid.exists(name):
        M = LearnedMultigrid.load(name, st)
    else:
        M = LearnedMultigrid(st, _train_learned_mg(st.ndim, name).params)
    x, info = cg(st, b, M=M, rtol=rtol, maxiter=maxiter)
    return x, _setup(info, M.setup_time)


def _train_learned_mg(dim: int, name: str):
    from . import Stencil
    from .learned_mg import LearnedMultigrid

    shape = (64, 64) if dim == 2 else (32, 32, 32)
    print(f"sciml: training learned-MG model {name!r} on {shape} Poisson (once)", file=sys.stderr)
    M = LearnedMultigrid.train(Stencil.poisson(shape))
    M.save(name)
    return M


def _setup(info, setup_time):
    from dataclasses import replace

    return replace(info, setup_time=setup_time)


def run(args) -> int:
    """Run ``sciml solve``: prints iterations, time and final residual, writes x; 0 if converged."""
    from ..io import atomic_path

    A = read_matrix(args.matrix)
    b = read_rhs(args.rhs)
    x, info = solve(A, b, args.method, args.rtol, args.maxiter, args.shape, args.amg, args.model)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(x))
    setup = f" + setup {info.setup_time:.3g} s" if info.setup_time else ""
    print(
        f"{args.method}: {info.reason} in {info.iterations} iterations, time {info.time:.3g} s{setup}, "
        f"relative residual {info.final_residual:.3e}"
    )
    print(f"wrote x {tuple(np.shape(x))} to {args.out}")
    if not info.converged:
        print(f"sciml: warning: {info.message}", file=sys.stderr)
    return 0 if info.converged else 1
