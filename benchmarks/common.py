"""Shared benchmark plumbing: machine/version info and writing JSON + a markdown table."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict:
    """CPU, core count, Python and package versions, date: written beside every result."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "numpy", "scipy", "pyamg", "torchdiffeq", "triton", "deepxde", "neuraloperator", "sciml"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": sys.version.split()[0], "platform": platform.platform(), "versions": versions,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) >= 1e-2 or v == 0 else f"{v:.2e}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, payload: dict, table: str, notes: str = "") -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md`` atomically."""
    from sciml.io import atomic_path, write_json

    payload = {"machine": machine_info(), **payload}
    j = write_json(RESULTS / f"{name}.json", payload)
    m = payload["machine"]
    header = (f"# {name}\n\nMachine: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}; "
              f"{m['date']}; versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + "\n\n")
    md = RESULTS / f"{name}.md"
    with atomic_path(md) as tmp:
        tmp.write_text(header + table + "\n" + (f"\n{notes}\n" if notes else ""))
    return j, md
