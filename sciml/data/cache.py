"""Where generated datasets and trained solver models live.

``$SCIML_DATA`` if set; else ``data/cache`` of the checkout when sciml runs from one; else the
user cache directory (``$XDG_CACHE_HOME/sciml`` or ``~/.cache/sciml``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache directory (created if missing)."""
    env = os.environ.get("SCIML_DATA")
    if env:
        d = Path(env)
    else:
        checkout = Path(__file__).resolve().parents[2]
        if (checkout / "pyproject.toml").exists() and (checkout / "data").is_dir():
            d = checkout / "data" / "cache"
        else:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
            d = Path(base) / "sciml"
    d.mkdir(parents=True, exist_ok=True)
    return d
