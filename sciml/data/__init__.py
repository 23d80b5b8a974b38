"""Datasets: random fields, builders that call `solvers/`, a checked cache."""

from .cache import cache_dir
from .datasets import FieldDataset, build, entry_dir, generate, known, load, read_entry
from .fields import RBFField1D, darcy_coefficient, grf_cosine, grf_periodic_1d
from .normalize import Normalized

__all__ = [
    "cache_dir",
    "load",
    "known",
    "generate",
    "build",
    "entry_dir",
    "read_entry",
    "FieldDataset",
    "Normalized",
    "grf_cosine",
    "grf_periodic_1d",
    "darcy_coefficient",
    "RBFField1D",
]
