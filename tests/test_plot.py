"""Figures are files: 1-D curves, fields on grids and meshes, histories, convergence."""

import numpy as np
import torch

import sciml as sm
from sciml import plot
from sciml.registry import load_problem


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_fields_curves_and_convergence(tmp_path):
    x = torch.linspace(0, 1, 50)[:, None]
    assert _is_png(plot.plot_field(x, torch.sin(6 * x), tmp_path / "curve.png", title="u"))
    mesh = load_problem("poisson_lshape").domain
    pts, tri = mesh.triangulation()
    f = plot.plot_fields(pts, {"x": pts[:, 0], "y": pts[:, 1]}, tmp_path / "mesh.png", triangles=tri)
    assert _is_png(f)
    assert _is_png(plot.plot_convergence({"cg": [1, 1e-2, 1e-5], "mg": [1, 1e-4]}, tmp_path / "conv.png"))
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_history_plot_marks_phases(tmp_path):
    h = sm.History([{"step": i, "phase": "adam" if i < 5 else "lbfgs", "loss": 1.0 / (i + 1), "pde": 0.5 / (i + 1),
                     **({"rel_l2": 0.1 / (i + 1)} if i % 3 == 2 else {})} for i in range(10)])
    assert _is_png(plot.plot_history(h, tmp_path / "h.png"))
    assert h.last("rel_l2") == 0.1 / 9 and h["phase"][5] == "lbfgs"
    assert np.isclose(h["loss"][0], 1.0)
