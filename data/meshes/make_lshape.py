"""Build data/meshes/lshape.msh: the L-shaped domain (-1, 1)^2 minus [0, 1) x (-1, 0].

The re-entrant corner is the origin; in polar coordinates (theta from the positive x axis) the domain
is 0 < theta < 3*pi/2, so u = r^(2/3) sin(2 theta / 3) vanishes on both re-entrant edges and is
singular at the origin. Triangulation: a structured grid of h = 2/N squares (N = 40), each split by
its (lower-left, upper-right) diagonal: 3 (N/2)^2 * 2 = 2400 triangles, 1281 nodes.

Boundary line elements carry gmsh physical groups: "reentrant" = the two edges meeting at the origin
({y = 0, 0 <= x <= 1} and {x = 0, -1 <= y <= 0}, length 2), "outer" = the other four edges
(length 6); the triangles are in the physical group "domain". Written as gmsh 4.1 ASCII via meshio.

Run: python data/meshes/make_lshape.py  (deterministic; rewrites lshape.msh next to this script)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sciml.geometry import Mesh
from sciml.geometry.mesh import boundary_facets

N = 40  # squares per axis over [-1, 1]


def lshape(n: int = N) -> Mesh:
    """The structured L-shape mesh with boundary parts "outer" and "reentrant"."""
    x = np.linspace(-1.0, 1.0, n + 1)
    index = -np.ones((n + 1, n + 1), dtype=np.int64)  # node number of grid point (i, j), -1 if unused
    triangles = []
    for i in range(n):
        for j in range(n):
            if x[i] >= 0 and x[j + 1] <= 0:  # square inside the removed quadrant [0, 1) x (-1, 0]
                continue
            a, b, c, d = (i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)
            triangles += [(a, b, c), (a, c, d)]  # counter-clockwise
    used = sorted({corner for tri in triangles for corner in tri})
    for k, (i, j) in enumerate(used):
        index[i, j] = k
    points = np.array([(x[i], x[j]) for i, j in used])
    cells = np.array([[index[i, j] for i, j in tri] for tri in triangles], dtype=np.int64)
    facets, _ = boundary_facets(cells, "triangle")
    mid = points[facets].mean(axis=1)
    tol = 1e-12
    reentrant = ((np.abs(mid[:, 1]) < tol) & (mid[:, 0] > 0)) | ((np.abs(mid[:, 0]) < tol) & (mid[:, 1] < 0))
    return Mesh(points, cells, "triangle", {"outer": facets[~reentrant], "reentrant": facets[reentrant]})


def main() -> None:
    import meshio

    path = Path(__file__).with_name("lshape.msh")
    lshape().write(path)
    raw = meshio.read(path, file_format="gmsh")  # check that plain meshio sees the tags
    assert set(raw.field_data) == {"outer", "reentrant", "domain"}, raw.field_data
    assert len(raw.cell_data["gmsh:physical"]) == len(raw.cells)
    mesh = Mesh.read(path)
    lengths = {name: part.measure for name, part in mesh.boundary.parts.items()}
    assert abs(mesh.volume - 3.0) < 1e-12 and abs(mesh.boundary.measure - 8.0) < 1e-12, (mesh.volume, lengths)
    assert abs(lengths["outer"] - 6.0) < 1e-12 and abs(lengths["reentrant"] - 2.0) < 1e-12, lengths
    print(f"wrote {path}: {len(mesh.points)} nodes, {len(mesh.cells)} triangles, area {mesh.volume:g}, "
          f"boundary parts {lengths}")


if __name__ == "__main__":
    main()
