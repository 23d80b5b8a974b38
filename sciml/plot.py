"""Figures as files (never windows): loss histories, fields on grids and meshes, convergence."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from .io import atomic_path

__all__ = ["plot_history", "plot_field", "plot_fields", "plot_convergence", "plot_result", "savefig"]


def savefig(fig, path: str | os.PathLike) -> Path:
    """Save and close ``fig`` atomically at ``path`` (format from the suffix)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def plot_history(history, path: str | os.PathLike, title: str | None = None) -> Path:
    """Loss and each loss term (log scale) against the step; metrics (``rel_l2``…) beside."""
    records = history.records if hasattr(history, "records") else list(history)
    steps = np.array([r["step"] for r in records])
    skip = {"step", "phase", "time", "lr", "rel_l2", "max_abs"}
    terms = [k for k in records[0] if k not in skip and not k.startswith(("w_", "best_", "val"))] if records else []
    metrics = [k for k in ("rel_l2", "val_loss", "val_rel_l2") if any(k in r for r in records)]
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11 if metrics else 6, 4), squeeze=False)
    ax = axes[0, 0]
    for k in terms:
        ys = np.array([r.get(k, np.nan) for r in records], dtype=float)
        ax.semilogy(steps, ys, lw=1.6 if k == "loss" else 1.0, label=k)
    switch = [r["step"] for a, r in zip(records, records[1:]) if a.get("phase") != r.get("phase")]
    for s in switch:
        ax.axvline(s, color="gray", ls="--", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.set_title(title or "training loss")
    if metrics:
        ax2 = axes[0, 1]
        for k in metrics:
            pts = [(r["step"], r[k]) for r in records if r.get(k) is not None]
            ax2.semilogy(*zip(*pts), marker=".", label=k)
        ax2.set_xlabel("step")
        ax2.legend(fontsize=8)
        ax2.set_title("held-out error")
    return savefig(fig, path)


def _draw_field(ax, points: np.ndarray, values: np.ndarray, triangles=None, labels=("x", "y"), cmap="viridis"):
    if points.shape[1] == 1:
        order = np.argsort(points[:, 0])
        ax.plot(points[order, 0], values[order])
        ax.set_xlabel(labels[0])
        return None
    import matplotlib.tri as mtri

    tri = mtri.Triangulation(points[:, 0], points[:, 1], triangles)
    im = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap)
    ax.set_aspect("equal" if labels == ("x", "y") else "auto")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    return im


def plot_field(points, values, path: str | os.PathLike, title: str = "", triangles=None,
               labels: Sequence[str] = ("x", "y")) -> Path:
    """One scalar field: a curve for 1-D points, a coloured triangulation for 2-D points (N, 2).

    ``triangles`` (M, 3) draws on a mesh's own cells; otherwise a Delaunay triangulation of the
    points is used (right for grids and convex domains).
    """
    return plot_fields(points, {title: values}, path, triangles=triangles, labels=labels)


def plot_fields(points, fields: Mapping[str, object], path: str | os.PathLike, triangles=None,
                labels: Sequence[str] = ("x", "y")) -> Path:
    """Several scalar fields on the same points side by side (e.g. prediction, reference, error)."""
    points = _np(points)
    fig, axes = plt.subplots(1, len(fields), figsize=(5.2 * len(fields), 4), squeeze=False, layout="constrained")
    for ax, (name, vals) in zip(axes[0], fields.items()):
        im = _draw_field(ax, points, _np(vals).reshape(-1), _np(triangles) if triangles is not None else None,
                         tuple(labels))
        if im is not None:
            fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(name)
    return savefig(fig, path)


def plot_convergence(residuals: Mapping[str, Sequence[float]], path: str | os.PathLike,
                     title: str = "relative residual") -> Path:
    """Residual histories of iterative solvers (log scale) against the iteration."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in residuals.items():
        ax.semilogy(np.arange(len(r)), _np(r), label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("‖r‖/‖b‖")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return savefig(fig, path)


def _plot_points(domain, n: int = 160):
    """Evaluation points and triangles for drawing a 1-D/2-D domain's fields."""
    tri = getattr(domain, "triangulation", None)
    if callable(tri):
        pts, triangles = tri()
        return torch.as_tensor(pts, dtype=torch.float64), triangles
    grid = getattr(domain, "grid", None)
    if callable(grid):
        return grid(n), None
    return domain.sample(n * n, np.random.default_rng(0)), None


def plot_result(result, out: Path) -> list[Path]:
    """Figures of a :class:`~sciml.Result`: history, and for 1-D/2-D problems the fields."""
    paths = [plot_history(result.history, out / "history.png")]
    problem = getattr(result.task, "problem", None)
    if problem is None or problem.dim > 2:
        return paths
    from .problem import Reference

    if isinstance(problem.solution, Reference):
        x, triangles = problem.solution.points, None
    else:
        x, triangles = _plot_points(problem.domain)
    u = result.predict(x).detach().cpu().double()
    labels = ("t", "x") if hasattr(problem.domain, "initial") else ("x", "y")
    fields = {"prediction": u[:, 0]}
    if problem.solution is not None:
        exact = problem.solution.values if isinstance(problem.solution, Reference) else problem._exact(x)
        fields["reference"] = exact[:, 0]
        fields["|error|"] = (u[:, 0] - exact[:, 0]).abs()
    paths.append(plot_fields(x, fields, out / "solution.png", triangles=triangles, labels=labels))
    return paths
