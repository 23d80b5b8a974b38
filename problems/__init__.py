"""Catalogue of benchmark PDEs: one module each, ``problem(**params) -> sciml.Problem``.

Every module is registered under the ``sciml.problems`` entry-point group in pyproject.toml,
so ``sciml.registry.load_problem(name)`` and ``sciml fit NAME`` find it; :func:`get` is the
same lookup from here.
"""

from sciml.registry import load_problem as get
from sciml.registry import problem_names as names

__all__ = ["get", "names"]
