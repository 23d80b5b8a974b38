"""Operator-learning datasets made by the reference solvers of ``solvers/``: generate → cache → load.

``load(name, **params)`` returns a :class:`FieldDataset` whose items are dicts of tensors:

=================  ====================================================  =====================================
name               items                                                 solver
=================  ====================================================  =====================================
``antiderivative`` ``{"u": (m,), "y": (1,), "s": (1,)}`` pointwise;       ``solvers.ode.antiderivative``
                   ``{"u": (m,), "y": (P, 1), "s": (P,)}`` cartesian      (s' = u, s(0) = 0)
``darcy``          ``{"a": (1, s, s), "u": (1, s, s)}``                   ``solvers.fd.darcy`` (−∇·(a∇u) = 1)
``burgers``        ``{"u0": (1, s), "u": (nt, s)}``                       ``solvers.spectral.burgers``
=================  ====================================================  =====================================

Every sample ``i`` draws from its own generator ``numpy.random.default_rng(SeedSequence(seed,
spawn_key=(i,)))``, so a dataset does not depend on how many worker processes made it, and the
first ``k`` samples of a size-``n`` set are the size-``k`` set. Samples are generated in chunks by
a process pool. Each cache entry is a directory ``<cache_dir>/<name>/<name>-<hash>/`` with
``data.npz`` and ``meta.json`` (generator, parameters, seed, versions, sha256 checksum, seconds,
samples/s), published by renaming a complete temporary directory. An entry whose checksum does not
match (or that lacks a file) is rebuilt with a warning, never loaded.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import torch

from ..errors import InputError, check
from ..io import atomic_path, write_json
from .cache import cache_dir
from .fields import DARCY_KINDS, RBFField1D, darcy_coefficient, grf_periodic_1d

FORMAT_VERSION = 1


def sample_rng(seed: int, i: int) -> np.random.Generator:
    """The generator of sample ``i`` of a dataset with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))


class FieldDataset(torch.utils.data.Dataset):
    """A map-style dataset of dicts of tensors, backed by whole tensors (one row per sample).

    ``fields``: name → tensor with the samples along axis 0. ``rows``: optional name → (len,) index
    tensor mapping item → row of that field (so several items can share one input function
    without copies). ``inputs``: the field names fed to the model, in order; ``target``: the field
    the model predicts. ``meta``: the cache metadata. Every field must be finite.
    """

    def __init__(
        self,
        fields: dict[str, torch.Tensor],
        inputs: tuple[str, ...],
        target: str,
        rows: dict[str, torch.Tensor] | None = None,
        meta: dict | None = None,
    ):
        check(len(fields) > 0, "fields: expected at least one field")
        self.fields = {k: torch.as_tensor(v) for k, v in fields.items()}
        self.rows = dict(rows or {})
        lengths = {k: (len(self.rows[k]) if k in self.rows else len(v)) for k, v in self.fields.items()}
        check(len(set(lengths.values())) == 1, f"fields: expected the same number of items, got {lengths}")
        for k, v in self.fields.items():
            check(
                v.is_floating_point() or k in self.rows,
                f"{k}: expected a floating-point tensor, got {v.dtype}",
            )
            bad = ~torch.isfinite(v.reshape(len(v), -1)).all(dim=1)
            if bool(bad.any()):
                raise InputError(f"{k}: contains NaN or inf (first bad sample {int(bad.nonzero()[0])})")
        for name in (*inputs, target):
            check(
                name in self.fields,
                f"inputs/target: unknown field {name!r}, fields are {sorted(self.fields)}",
            )
        self.inputs, self.target = tuple(inputs), target
        self.meta = dict(meta or {})
        self._len = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._len

    def batch(self, index) -> dict[str, torch.Tensor]:
        """Items ``index`` (int tensor/list/slice) stacked into one dict of tensors."""
        return {k: v[self.rows[k][index]] if k in self.rows else v[index] for k, v in self.fields.items()}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        check(-self._len <= i < self._len, f"index: expected an item index in [0, {self._len}), got {i}")
        return self.batch(i)

    def subset(self, index) -> FieldDataset:
        """A new dataset of items ``index`` (materialised rows)."""
        index = torch.as_tensor(index, dtype=torch.long) if not isinstance(index, slice) else index
        return FieldDataset(self.batch(index), self.inputs, self.target, meta=self.meta)

    def to(self, dtype: torch.dtype | None = None, device=None) -> FieldDataset:
        """The same items with floating fields cast to ``dtype`` / moved to ``device``."""
        fields = {
            k: v.to(device=device, dtype=dtype if v.is_floating_point() else None)
            for k, v in self.fields.items()
        }
        rows = {k: v.to(device) for k, v in self.rows.items()}
        return FieldDataset(fields, self.inputs, self.target, rows, self.meta)


# ----------------------------------------------------------------------------------------------
# Builders. Each turns (params, sample indices) into arrays with the samples on axis 0; they run
# in worker processes and import `solvers` lazily (sciml itself never imports solvers).


def _antiderivative_chunk(p: dict, indices: range) -> dict[str, np.ndarray]:
    """GRF u on the 1000-point grid; s = ∫₀^x u on that grid (solver), then u at the sensors and
    s at the query points by the not-a-knot cubic spline (error O(h⁴) ≈ 1e-12)."""
    from solvers.ode import antiderivative

    field = _rbf_field(p["length_scale"])
    rngs = [sample_rng(p["seed"], i) for i in indices]
    u_grid = field.from_normals(np.stack([rng.standard_normal(field.n_grid) for rng in rngs]))
    s_grid = antiderivative(u_grid, field.grid, method="simpson")
    if p["layout"] == "pointwise":
        y = np.stack([rng.uniform(0.0, 1.0, p["points"]) for rng in rngs])
    else:
        y = np.broadcast_to(np.linspace(0.0, 1.0, p["points"]), (len(rngs), p["points"]))
    s = np.stack([field.evaluate(s_grid[k], y[k])[0] for k in range(len(rngs))])
    return {"u": field.evaluate(u_grid, np.linspace(0.0, 1.0, p["m"])), "y": np.array(y), "s": s}


_FIELDS: dict[float, RBFField1D] = {}


def _rbf_field(length_scale: float) -> RBFField1D:
    """One Cholesky factor per worker process and length scale."""
    if length_scale not in _FIELDS:
        _FIELDS[length_scale] = RBFField1D(length_scale=length_scale)
    return _FIELDS[length_scale]


def _darcy_chunk(p: dict, indices: range) -> dict[str, np.ndarray]:
    from solvers.fd import darcy

    fine = p["fine"] or p["resolution"]
    stride = (fine - 1) // (p["resolution"] - 1)
    a = np.stack([darcy_coefficient(sample_rng(p["seed"], i), fine, p["kind"]) for i in indices])
    u = np.stack([darcy(coef, f=p["f"]) for coef in a])
    return {"a": a[:, None, ::stride, ::stride], "u": u[:, None, ::stride, ::stride]}


def _burgers_chunk(p: dict, indices: range) -> dict[str, np.ndarray]:
    from solvers.spectral import burgers

    s = p["resolution"]
    k = max(1, math.ceil(p["solver_points"] / s))
    t_eval = np.linspace(0.0, p["t_end"], p["nt"] + 1)
    u0s, us = [], []
    for i in indices:
        u0 = grf_periodic_1d(sample_rng(p["seed"], i), s * k, p["gamma"], p["tau"], p["sigma"])[0]
        traj = burgers(u0, x_domain=(0.0, 1.0), nu=p["nu"], t_eval=t_eval, n=s * k)
        u0s.append(u0[::k][None])
        us.append(traj.u[1:, ::k])
    return {"u0": np.stack(u0s), "u": np.stack(us)}


@dataclass(frozen=True)
class Builder:
    """A named dataset: defaults of its parameters, the chunk generator, the model's fields."""

    generate: Callable[[dict, range], dict[str, np.ndarray]]
    defaults: dict
    inputs: tuple[str, ...]
    target: str
    check_params: Callable[[dict], None]


def _check_antiderivative(p: dict) -> None:
    check(
        p["layout"] in ("pointwise", "cartesian"),
        f"layout: expected 'pointwise' or 'cartesian', got {p['layout']!r}",
    )
    check(_is_count(p["m"], 2), f"m: expected an integer >= 2 (sensors), got {p['m']!r}")
    check(_is_count(p["points"], 1), f"points: expected an integer >= 1, got {p['points']!r}")
    check(p["length_scale"] > 0, f"length_scale: expected > 0, got {p['length_scale']!r}")


def _check_darcy(p: dict) -> None:
    check(p["kind"] in DARCY_KINDS, f"kind: expected one of {sorted(DARCY_KINDS)}, got {p['kind']!r}")
    check(_is_count(p["resolution"], 3), f"resolution: expected an integer >= 3, got {p['resolution']!r}")
    if p["fine"] is not None:
        ok = _is_count(p["fine"], p["resolution"]) and (p["fine"] - 1) % (p["resolution"] - 1) == 0
        check(
            ok,
            f"fine: expected a grid size with (fine-1) divisible by (resolution-1) = {p['resolution'] - 1} "
            f"(FNO: fine=421 gives 211, 141, 106, 85, 61, 43, 29), got {p['fine']!r}",
        )


def _check_burgers(p: dict) -> None:
    check(
        _is_count(p["resolution"], 4) and p["resolution"] % 2 == 0,
        f"resolution: expected an even integer >= 4, got {p['resolution']!r}",
    )
    check(_is_count(p["nt"], 1), f"nt: expected an integer >= 1 (saved times after t=0), got {p['nt']!r}")
    check(p["nu"] > 0 and p["t_end"] > 0, f"nu, t_end: expected > 0, got {p['nu']!r}, {p['t_end']!r}")


def _is_count(v, minimum: int) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum


BUILDERS: dict[str, Builder] = {
    # DeepONet antiderivative (Lu et al. 2021): GRF l = 0.2, m = 100 sensors, y ~ U[0, 1].
    "antiderivative": Builder(
        _antiderivative_chunk,
        {"n": 10000, "m": 100, "points": 1, "length_scale": 0.2, "layout": "pointwise"},
        ("u", "y"),
        "s",
        _check_antiderivative,
    ),
    # FNO Darcy: −∇·(a∇u) = 1 on (0,1)², u = 0 on the boundary, piecewise-constant thresholded GRF a.
    "darcy": Builder(
        _darcy_chunk,
        {"n": 1000, "resolution": 64, "kind": "smooth", "fine": None, "f": 1.0},
        ("a",),
        "u",
        _check_darcy,
    ),
    # Periodic Burgers u_t + u u_x = ν u_xx on [0, 1) (PI-DeepONet recipe: ν = 0.01, γ = 4, τ = 5, σ = 25²).
    "burgers": Builder(
        _burgers_chunk,
        {
            "n": 1000,
            "resolution": 128,
            "nu": 0.01,
            "t_end": 1.0,
            "nt": 1,
            "gamma": 4.0,
            "tau": 5.0,
            "sigma": 625.0,
            "solver_points": 1024,
        },
        ("u0",),
        "u",
        _check_burgers,
    ),
}


def known() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(BUILDERS)


def _params(name: str, params: dict) -> tuple[Builder, dict]:
    if name not in BUILDERS:
        raise InputError(f"name: unknown dataset {name!r}; known datasets are {', '.join(known())}")
    builder = BUILDERS[name]
    unknown = set(params) - set(builder.defaults) - {"seed"}
    check(
        not unknown,
        f"{name}: unknown parameter(s) {sorted(unknown)}; expected {sorted(builder.defaults)} or seed",
    )
    p = {**builder.defaults, "seed": 0, **params}
    check(_is_count(p["n"], 1), f"n: expected an integer >= 1 (number of samples), got {p['n']!r}")
    check(_is_count(p["seed"], 0), f"seed: expected an integer >= 0, got {p['seed']!r}")
    builder.check_params(p)
    return builder, p


def entry_dir(name: str, **params) -> Path:
    """The cache directory of a dataset (whether or not it exists yet)."""
    _, p = _params(name, params)
    key = json.dumps({"name": name, "format": FORMAT_VERSION, **p}, sort_keys=True, default=str)
    return cache_dir() / name / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_entry(directory: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of a cache entry; :class:`InputError` if missing, partial or corrupt."""
    d = Path(directory)
    meta_path, data_path = d / "meta.json", d / "data.npz"
    check(meta_path.is_file() and data_path.is_file(), f"cache: entry {d} is missing or partial")
    try:
        meta = json.loads(meta_path.read_text())
        expected = meta["checksum"]["sha256"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"cache: unreadable metadata {meta_path}") from None
    check(
        sha256(data_path) == expected, f"cache: checksum mismatch for {data_path} (corrupt or partial file)"
    )
    with np.load(data_path) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, meta


def generate(name: str, workers: int | None = None, chunk: int | None = None, **params) -> tuple[dict, dict]:
    """Generate a dataset without touching the cache: ``(arrays, info)``.

    ``workers`` processes (default: CPU count; 1 = in this process) each make chunks of ``chunk``
    samples. ``info`` holds the resolved parameters, wall seconds and samples per second.
    """
    builder, p = _params(name, params)
    n = p["n"]
    workers = min(os.cpu_count() or 1, n) if workers is None else workers
    check(_is_count(workers, 1), f"workers: expected an integer >= 1, got {workers!r}")
    chunk = chunk or max(1, min(64, math.ceil(n / (4 * workers))))
    ranges = [range(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    start = time.perf_counter()
    if workers == 1:
        parts = [builder.generate(p, r) for r in ranges]
    else:
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            parts = list(pool.map(builder.generate, [p] * len(ranges), ranges))
    arrays = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    seconds = time.perf_counter() - start
    return arrays, {"params": p, "seconds": seconds, "samples_per_second": n / seconds, "workers": workers}


def build(name: str, workers: int | None = None, **params) -> Path:
    """Generate a dataset and publish its cache entry; returns the entry directory.

    The files are written (atomically) into a fresh temporary directory beside the entry, which is
    then renamed onto the entry: readers see a complete entry or none, and of two processes
    building the same entry at once the first to finish wins (the other keeps it).
    """
    arrays, info = generate(name, workers=workers, **params)
    d = entry_dir(name, **params)
    d.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{d.name}.", dir=d.parent))
    try:
        with atomic_path(tmp_dir / "data.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{k: v.astype(np.float32) for k, v in arrays.items()})
            checksum = sha256(tmp)
        write_json(tmp_dir / "meta.json", _metadata(name, arrays, info, checksum))
        _publish(tmp_dir, d)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return d


def _publish(tmp_dir: Path, d: Path) -> None:
    """Rename ``tmp_dir`` onto ``d``; a valid entry already there is kept, a broken one replaced."""
    try:
        os.rename(tmp_dir, d)
        return
    except OSError:
        pass  # d exists (and is not empty)
    try:
        read_entry(d)
        return  # another process published a valid entry meanwhile
    except InputError:
        shutil.rmtree(d, ignore_errors=True)
    try:
        os.rename(tmp_dir, d)
    except OSError:
        read_entry(d)  # lost a second race: the winner's entry must be valid


def _metadata(name: str, arrays: dict, info: dict, checksum: str) -> dict:
    return {
        "name": name,
        "format": FORMAT_VERSION,
        "generator": f"{__name__}.{BUILDERS[name].generate.__name__}",
        "params": info["params"],
        "seed": info["params"]["seed"],
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "checksum": {"sha256": checksum, "file": "data.npz"},
        "seconds": info["seconds"],
        "samples_per_second": info["samples_per_second"],
        "workers": info["workers"],
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
            "sciml": _sciml_version(),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _sciml_version() -> str:
    from .. import __version__

    return __version__


def load(name: str, workers: int | None = None, **params) -> FieldDataset:
    """The dataset ``name`` with ``params`` (see the module table), generated on first use and cached.

    Unknown ``name`` raises :class:`InputError` listing the known names. A cached entry with a
    missing or mismatched checksum is rebuilt (with a warning).
    """
    builder, p = _params(name, params)
    d = entry_dir(name, **params)
    try:
        arrays, meta = read_entry(d)
    except InputError as err:
        if (d / "meta.json").exists() or (d / "data.npz").exists():
            warnings.warn(f"{err}; rebuilding", RuntimeWarning, stacklevel=2)
        d = build(name, workers=workers, **params)
        arrays, meta = read_entry(d)
    fields = {k: torch.from_numpy(v) for k, v in arrays.items()}
    rows = None
    if name == "antiderivative" and p["layout"] == "pointwise":
        # n functions × P points → n·P items {"u": (m,), "y": (1,), "s": (1,)}; u shared by its P items.
        n, P = fields["y"].shape
        rows = {"u": torch.arange(n).repeat_interleave(P)}
        fields["y"], fields["s"] = fields["y"].reshape(-1, 1), fields["s"].reshape(-1, 1)
    elif name == "antiderivative":
        fields["y"] = fields["y"].unsqueeze(-1)
    return FieldDataset(fields, builder.inputs, builder.target, rows=rows, meta=meta)
