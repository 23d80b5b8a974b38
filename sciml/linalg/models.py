"""Trained solver models in the cache: ``cache_dir()/models/<kind>/<name>.pt`` + ``<name>.json``
(metadata and the SHA-256 of the weights). A missing file or a checksum mismatch raises
:class:`~sciml.errors.InputError`: never a silent wrong load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, check


def models_dir(kind: str) -> Path:
    from ..data import cache_dir

    d = cache_dir() / "models" / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_model(kind: str, name: str, state: dict, meta: dict) -> Path:
    """Write the state dict and its metadata atomically; returns the .pt path."""
    from ..io import atomic_path, write_json

    check(
        bool(name) and all(c.isalnum() or c in "-_." for c in name),
        f"name: expected a plain file name, got {name!r}",
    )
    d = models_dir(kind)
    pt = d / f"{name}.pt"
    with atomic_path(pt) as tmp:
        torch.save(state, tmp)
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
    write_json(
        d / f"{name}.json",
        {
            **meta,
            "name": name,
            "kind": kind,
            "sha256": digest,
            "versions": {"torch": torch.__version__, "numpy": np.__version__},
        },
    )
    return pt


def load_model(kind: str, name: str) -> tuple[dict, dict]:
    """(state dict, metadata) of a saved model; InputError if missing or corrupted."""
    d = models_dir(kind)
    pt, js = d / f"{name}.pt", d / f"{name}.json"
    if not (pt.exists() and js.exists()):
        have = sorted(p.stem for p in d.glob("*.json"))
        raise InputError(f"name: no trained {kind} model {name!r} in {d} (available: {have or 'none'})")
    meta = json.loads(js.read_text())
    digest = hashlib.sha256(pt.read_bytes()).hexdigest()
    check(digest == meta.get("sha256"), f"name: checksum mismatch for {kind} model {name!r} ({pt}); retrain it")
    return torch.load(pt, map_location="cpu", weights_only=True), meta


def model_exists(kind: str, name: str) -> bool:
    d = models_dir(kind)
    return (d / f"{name}.pt").exists() and (d / f"{name}.json").exists()
