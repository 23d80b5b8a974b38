"""Look problems up by name.

Problem modules register under the entry-point group ``sciml.problems`` (see pyproject.toml):
``name = "module:function"`` where ``function(**params) -> sciml.Problem``. The catalogue shipped
in ``problems/`` registers that way, and so can any other package — sciml itself never imports
``problems``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .errors import InputError

GROUP = "sciml.problems"


def _entries() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def problem_names() -> list[str]:
    """Names of the registered problems, sorted."""
    return sorted(_entries())


def problem_factory(name: str):
    """The function ``(**params) -> Problem`` registered as ``name``."""
    entries = _entries()
    if name not in entries:
        known = ", ".join(sorted(entries)) or "(none registered: is the package installed?)"
        raise InputError(f"problem: unknown name '{name}'; known: {known}")
    return entries[name].load()


def load_problem(name: str, **params):
    """Build the registered problem ``name`` with its parameters."""
    factory = problem_factory(name)
    try:
        return factory(**params)
    except TypeError as e:
        raise InputError(f"problem '{name}': bad parameters {sorted(params)} ({e})") from None
