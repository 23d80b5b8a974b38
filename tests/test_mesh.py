"""Meshes: the shipped L-shape, quad and tetra meshes through meshio, tags, round trips, bad files."""

import itertools
import math
import os
import pickle
from pathlib import Path

import meshio
import numpy as np
import pytest
import torch

from sciml import InputError
from sciml.geometry import Disk, Mesh, Polygon, TimeDomain

LSHAPE = Path(__file__).resolve().parents[1] / "data" / "meshes" / "lshape.msh"
L_VERTICES = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]


def binomial_ok(hits, p, k=4.5):
    return abs(np.mean(hits) - p) <= k * math.sqrt(p * (1 - p) / len(hits))


@pytest.fixture(scope="module")
def lshape():
    return Mesh.read(LSHAPE)


def test_lshape_area_parts_and_outward_normals(lshape):
    assert lshape.dim == 2 and lshape.cell_type == "triangle" and 2000 <= len(lshape.cells) <= 4000
    assert lshape.volume == pytest.approx(3.0, rel=1e-12)
    assert set(lshape.boundary.parts) == {"outer", "reentrant"}
    assert lshape.boundary.measure == pytest.approx(8.0, rel=1e-12)
    assert lshape.boundary["outer"].measure == pytest.approx(6.0, rel=1e-12)
    assert lshape.boundary["reentrant"].measure == pytest.approx(2.0, rel=1e-12)
    p, n = lshape.boundary.sample(4000, rng=0)
    p, n = p.numpy(), n.numpy()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    assert lshape.contains(p).all() and lshape.boundary.contains(p).all()
    assert lshape.contains(p - 1e-6 * n).all() and not lshape.contains(p + 1e-6 * n).any()
    assert binomial_ok(lshape.boundary["reentrant"].contains(p), 2 / 8)
    q, m = lshape.boundary["reentrant"].sample(500, rng=1)
    q, m = q.numpy(), m.numpy()
    on_x_axis = np.abs(q[:, 1]) < 1e-12  # edge y = 0, 0 <= x <= 1: normal -y; edge x = 0, y <= 0: normal +x
    assert np.all(on_x_axis | (np.abs(q[:, 0]) < 1e-12))
    np.testing.assert_allclose(m[on_x_axis], [[0, -1]] * on_x_axis.sum(), atol=1e-12)
    np.testing.assert_allclose(m[~on_x_axis], [[1, 0]] * (~on_x_axis).sum(), atol=1e-12)


def test_lshape_sampling_uniform_and_location_matches_polygon(lshape):
    x = lshape.sample(30000, rng=2).numpy()
    assert lshape.contains(x).all()
    for sx, sy in ((1, 1), (-1, 1), (-1, -1)):
        assert binomial_ok((sx * x[:, 0] > 0) & (sy * x[:, 1] > 0), 1 / 3)
    xs = lshape.sample(4096, rng=2, method="sobol").numpy()
    assert np.mean(np.sum(xs**2, axis=1)) == pytest.approx(2 / 3, abs=2e-3)
    rng = np.random.default_rng(0)
    probe = rng.uniform(-1.2, 1.2, (20000, 2))
    np.testing.assert_array_equal(lshape.contains(probe), Polygon(L_VERTICES).contains(probe))
    assert not lshape.contains(np.array([[0.5, -0.5], [1.01, 0.0], [0.0, -1.01]])).any()
    assert lshape.contains(np.array([[0.0, 0.0], [1.0, 1.0], [0.3, 0.0], [0.0, -0.7]])).all()


def test_lshape_in_csg_and_space_time(lshape):
    holed = lshape - Disk((-0.5, 0.5), 0.25)
    assert holed.volume == pytest.approx(3 - math.pi / 16, rel=1e-3)
    assert set(holed.boundary.parts) == {"outer", "reentrant", "circle"}
    x = holed.sample(1000, rng=0)
    assert holed.contains(x).all()
    cylinder = TimeDomain(0, 1) * lshape
    assert cylinder.boundary["reentrant"].measure == pytest.approx(2.0)
    p, n = cylinder.boundary.sample(100, rng=0)
    assert (n[:, 0] == 0).all() and lshape.boundary.contains(p[:, 1:]).all()
    with pytest.raises(InputError, match="Mesh has no distance function"):
        lshape.distance(x)
    back = pickle.loads(pickle.dumps(lshape))
    assert back.volume == lshape.volume and back.contains(np.array([[0.5, 0.5]])).all()
    assert len(lshape.grid(11)) == 121 - 25  # the open quadrant x > 0, y < 0 holds 5 x 5 grid points


@pytest.mark.parametrize("suffix", [".msh", ".vtu"])
def test_write_read_round_trip_with_point_data(lshape, tmp_path, suffix):
    r = np.linalg.norm(lshape.points, axis=1)
    theta = np.mod(np.arctan2(lshape.points[:, 1], lshape.points[:, 0]), 2 * np.pi)
    u = r ** (2 / 3) * np.sin(2 * theta / 3)
    path = tmp_path / f"solution{suffix}"
    assert lshape.write(path, point_data={"u": u, "grad": torch.zeros(len(u), 3)}) == path
    assert sorted(os.listdir(tmp_path)) == [path.name]  # atomic: no temporary left behind
    back = Mesh.read(path)
    assert back.volume == pytest.approx(3.0) and len(back.cells) == len(lshape.cells)
    order = np.lexsort(back.points.T)  # meshio may renumber nodes: compare by coordinates
    np.testing.assert_array_equal(back.points[order], lshape.points[np.lexsort(lshape.points.T)])
    np.testing.assert_allclose(back.point_data["u"][order], u[np.lexsort(lshape.points.T)], rtol=1e-14)
    assert back.point_data["grad"].shape == (len(u), 3)
    if suffix == ".msh":  # gmsh keeps the physical groups
        lengths = {k: round(v.measure, 12) for k, v in back.boundary.parts.items()}
        assert lengths == {"outer": 6.0, "reentrant": 2.0}
    with pytest.raises(InputError, match=r"point_data\['u'\]: expected 1281 rows"):
        lshape.write(tmp_path / "bad.vtu", point_data={"u": u[:-1]})


def _quad_mesh(nx=4, ny=2):
    """[0, 2] x [0, 1] in nx x ny quads."""
    x, y = np.meshgrid(np.linspace(0, 2, nx + 1), np.linspace(0, 1, ny + 1), indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])
    idx = np.arange(x.size).reshape(x.shape)
    quads = np.array([[idx[i, j], idx[i + 1, j], idx[i + 1, j + 1], idx[i, j + 1]]
                      for i in range(nx) for j in range(ny)])
    return meshio.Mesh(points, [("quad", quads)])


def test_quad_mesh_samples_uniformly(tmp_path):
    path = tmp_path / "quads.vtu"
    meshio.write(path, _quad_mesh())
    mesh = Mesh.read(path)
    assert mesh.cell_type == "quad" and mesh.cells.shape == (8, 4) and mesh.points.shape == (15, 2)
    assert mesh.volume == pytest.approx(2.0) and mesh.boundary.measure == pytest.approx(6.0)
    assert mesh.triangulation()[1].shape == (16, 3)
    x = mesh.sample(20000, rng=0).numpy()
    assert mesh.contains(x).all()
    assert binomial_ok((x[:, 0] < 0.3) & (x[:, 1] < 0.7), 0.3 * 0.7 / 2)  # crosses cell and diagonal lines
    p, n = mesh.boundary.sample(3000, rng=1)
    assert mesh.contains(p - 1e-6 * n).all() and not mesh.contains(p + 1e-6 * n).any()
    assert binomial_ok(np.abs(p[:, 1].numpy() - 1) < 1e-12, 2 / 6)


def _tet_cube(n=3):
    """Unit cube in n^3 cubes, each split into 6 tetrahedra along the main diagonal (Kuhn)."""
    g = np.linspace(0, 1, n + 1)
    points = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    idx = np.arange(len(points)).reshape(n + 1, n + 1, n + 1)
    tets = []
    for i, j, k in itertools.product(range(n), repeat=3):
        for perm in itertools.permutations(range(3)):
            corner, path = np.array([i, j, k]), [idx[i, j, k]]
            for axis in perm:
                corner = corner + np.eye(3, dtype=int)[axis]
                path.append(idx[tuple(corner)])
            tets.append(path)
    return points, np.array(tets)


def test_tetra_mesh_of_unit_cube(tmp_path):
    points, tets = _tet_cube()
    path = tmp_path / "cube.msh"
    meshio.write(path, meshio.Mesh(points, [("tetra", tets)]), file_format="gmsh", binary=False)
    mesh = Mesh.read(path)
    assert mesh.dim == 3 and mesh.cell_type == "tetra" and len(mesh.cells) == 162
    assert mesh.volume == pytest.approx(1.0, rel=1e-12)
    assert mesh.boundary.measure == pytest.approx(6.0, rel=1e-12)
    x = mesh.sample(20000, rng=0).numpy()
    assert binomial_ok(np.all(x < 0.5, axis=1), 1 / 8) and binomial_ok(x[:, 2] > 0.9, 0.1)
    p, n = mesh.boundary.sample(2000, rng=0)
    p, n = p.numpy(), n.numpy()
    assert np.allclose(np.abs(n).sum(1), 1.0) and np.all(np.abs(p - 0.5).max(1) > 0.5 - 1e-12)
    assert mesh.contains(p - 1e-6 * n).all() and not mesh.contains(p + 1e-6 * n).any()
    probe = np.random.default_rng(1).uniform(-0.2, 1.2, (5000, 3))
    np.testing.assert_array_equal(mesh.contains(probe), np.all((probe >= 0) & (probe <= 1), axis=1))
    with pytest.raises(InputError, match="only 2-D meshes"):
        mesh.triangulation()


def test_mesh_from_arrays_with_parts_and_bad_parts():
    points, tets = _tet_cube(2)
    tris = np.concatenate([tets[:, list(f)] for f in itertools.combinations(range(4), 3)])
    top_facets = np.unique(np.sort(tris[np.all(points[tris][:, :, 2] == 1, axis=1)], axis=1), axis=0)
    assert len(top_facets) == 8  # 4 squares x 2 triangles on z = 1
    tagged = Mesh(points, tets, boundary_parts={"top": top_facets})
    assert tagged.boundary["top"].measure == pytest.approx(1.0)
    _, n = tagged.boundary["top"].sample(10, rng=0)
    np.testing.assert_allclose(n.numpy(), [[0, 0, 1]] * 10, atol=1e-12)
    with pytest.raises(InputError, match=r"boundary_parts\['inner'\]: 1 facet\(s\) are not on the boundary"):
        Mesh(points, tets, boundary_parts={"inner": np.array([[13, 0, 1]])})
    with pytest.raises(InputError, match="cells: vertex indices"):
        Mesh(points, tets + 100)
    with pytest.raises(InputError, match="degenerate"):
        Mesh(np.array([[0, 0], [1, 0], [2, 0.0]]), np.array([[0, 1, 2]]))


def test_unknown_part_name_lists_known_parts(lshape):
    with pytest.raises(InputError, match="unknown boundary part 'wall'.*'outer', 'reentrant'"):
        lshape.boundary["wall"]


def test_bad_mesh_files(tmp_path):
    with pytest.raises(InputError, match="mesh file 'nope.msh' does not exist"):
        Mesh.read("nope.msh")
    garbage = tmp_path / "garbage.msh"
    garbage.write_text("this is not a mesh\n")
    with pytest.raises(InputError, match="cannot read mesh file '.*garbage.msh': ") as info:
        Mesh.read(garbage)
    assert "\n" not in str(info.value)
    lines = tmp_path / "lines.vtu"
    points = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    meshio.write(lines, meshio.Mesh(points, [("line", np.array([[0, 1], [1, 2]]))]))
    with pytest.raises(InputError, match="mesh file '.*lines.vtu' has no triangle, quad or tetra cells"):
        Mesh.read(lines)
    with pytest.raises(InputError, match="unknown extension"):
        Mesh.read(garbage.rename(tmp_path / "garbage.xyz123"))
