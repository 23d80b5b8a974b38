"""Immutable objects: attributes are set once in ``__init__`` and never again."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class Frozen:
    """Base of every domain and boundary: assignment after construction raises AttributeError.

    ``__init__`` sets attributes with ``self._set(name=value)``; numpy arrays are made read-only.
    ``functools.cached_property`` still works (it writes the instance ``__dict__`` directly).
    """

    def _set(self, **attributes) -> None:
        for name, value in attributes.items():
            if isinstance(value, np.ndarray):
                value = value.copy()
                value.flags.writeable = False
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __setstate__(self, state: dict) -> None:  # unpickling / deepcopy: freeze again
        self._set(**state)


class FrozenMap(Mapping):
    """A read-only, picklable mapping (named parts, point data)."""

    def __init__(self, items: Mapping | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)
