"""Unstructured meshes (triangles, quads, tetrahedra) as domains, read and written with meshio."""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import atomic_path
from ._frozen import FrozenMap
from ._simplex import nearest_simplex, sample_simplices, simplex_measures
from .boundary import Boundary, Facets
from .domain import Domain

CELL_DIM = {"triangle": 2, "quad": 2, "tetra": 3}
_FACETS = {  # local vertex indices of each cell's facets
    "triangle": [(0, 1), (1, 2), (2, 0)],
    "quad": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra": [(1, 2, 3), (0, 3, 2), (0, 1, 3), (0, 2, 1)],
}
_SIMPLICES = {"triangle": [(0, 1, 2)], "quad": [(0, 1, 2), (0, 2, 3)], "tetra": [(0, 1, 2, 3)]}
FACET_TYPE = {2: "line", 3: "triangle"}
_QUERY_CHUNK = 65536


def _infer_cell_type(points: np.ndarray, k: int) -> str:
    """3 vertices: triangle; 4: tetra if the points span 3-D, else quad."""
    if k == 3:
        return "triangle"
    if k == 4:
        return "tetra" if points.shape[1] == 3 and np.ptp(points[:, 2]) > 0 else "quad"
    raise InputError(f"cells: expected 3 (triangle) or 4 (quad, tetra) vertices per cell, got {k}")


def boundary_facets(cells: np.ndarray, cell_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Facets used by exactly one cell: (vertex indices (f, dim), owning cell (f,))."""
    local = np.array(_FACETS[cell_type])
    facets = cells[:, local].reshape(-1, local.shape[1])  # cell-major
    owner = np.repeat(np.arange(len(cells)), len(local))
    _, first, counts = np.unique(np.sort(facets, axis=1), axis=0, return_index=True, return_counts=True)
    once = np.sort(first[counts == 1])
    return facets[once], owner[once]


def _facet_keys(facets: np.ndarray) -> np.ndarray:
    """Orientation-free row keys for matching facets."""
    return np.ascontiguousarray(np.sort(facets, axis=1)).view([("", facets.dtype)] * facets.shape[1]).ravel()


class Mesh(Domain):
    """A conforming mesh of triangles or quads (2-D) or tetrahedra (3-D) as a domain.

    ``Mesh(points (n, dim), cells (m, k), cell_type=None, boundary_parts={name: facets (j, dim)},
    point_data={name: (n, ...)})``; ``Mesh.read(path)`` reads any meshio format, with gmsh physical
    groups on boundary lines (2-D) / triangles (3-D) as named boundary parts. Sampling is exact: a cell
    (quads split in two triangles) by measure, then uniform barycentric coordinates. The boundary is
    every facet used by exactly one cell, with outward normals. A mesh has no distance function.
    """

    def __init__(self, points, cells, cell_type: str | None = None,
                 boundary_parts: Mapping[str, np.ndarray] | None = None,
                 point_data: Mapping[str, np.ndarray] | None = None):
        points = np.asarray(points, dtype=np.float64)
        cells = np.asarray(cells)
        if points.ndim != 2 or points.shape[1] not in (2, 3) or not np.all(np.isfinite(points)):
            raise InputError(f"points: expected a finite (n, 2) or (n, 3) array, got shape {points.shape}")
        if cells.ndim != 2 or len(cells) == 0 or not np.issubdtype(cells.dtype, np.integer):
            raise InputError(f"cells: expected a non-empty (m, k) integer array, got {cells.dtype} "
                             f"{cells.shape}")
        if cell_type is None:
            cell_type = _infer_cell_type(points, cells.shape[1])
        self._check_cell_type(cell_type, cells.shape[1])
        dim = CELL_DIM[cell_type]
        if points.shape[1] == 3 and dim == 2:
            if np.any(np.abs(points[:, 2]) > 1e-12 * max(1.0, float(np.abs(points).max()))):
                raise InputError("points: a triangle/quad mesh must lie in the plane z = 0 "
                                 "(surface meshes in 3-D are not domains)")
            points = points[:, :2]
        if points.shape[1] != dim:
            raise InputError(f"points: {cell_type} cells need {dim}-D points, got {points.shape[1]}-D")
        cells = cells.astype(np.int64)
        if cells.min() < 0 or cells.max() >= len(points):
            raise InputError(f"cells: vertex indices must lie in [0, {len(points)}), "
                             f"got [{cells.min()}, {cells.max()}]")
        simplices = points[cells[:, np.array(_SIMPLICES[cell_type])].reshape(-1, dim + 1)]
        measures = simplex_measures(simplices)
        degenerate = measures <= 1e-14 * float(np.ptp(points, axis=0).max()) ** dim
        if np.any(degenerate):
            bad = int(np.argmax(degenerate)) // len(_SIMPLICES[cell_type])
            raise InputError(f"cells: cell {bad} is degenerate (zero {'area' if dim == 2 else 'volume'})")
        facets, owner = boundary_facets(cells, cell_type)
        normals = self._outward_normals(points, cells, facets, owner)
        parts = {}
        for name, part in (boundary_parts or {}).items():
            parts[str(name)] = self._part_indices(name, part, facets, dim)
        data = _point_arrays(point_data, len(points))
        for values in data.values():
            values.flags.writeable = False
        self._set(dim=dim, points=points, cells=cells, cell_type=cell_type, _simplices=simplices,
                  _measures=measures, _facets=facets, _normals=normals, _parts=FrozenMap(parts),
                  point_data=FrozenMap(data), _unit_dim=dim)

    @staticmethod
    def _check_cell_type(cell_type: str, k: int) -> None:
        expected = {"triangle": 3, "quad": 4, "tetra": 4}
        if cell_type not in expected:
            raise InputError(f"cell_type: expected one of 'triangle', 'quad', 'tetra', got {cell_type!r}")
        if k != expected[cell_type]:
            raise InputError(f"cells: {cell_type} cells have {expected[cell_type]} vertices, got {k}")

    @staticmethod
    def _outward_normals(points, cells, facets, owner) -> np.ndarray:
        """Unit normals of the boundary facets pointing away from their cell's centroid."""
        v = points[facets]  # (f, dim, dim)
        if points.shape[1] == 2:
            t = v[:, 1] - v[:, 0]
            n = np.column_stack([t[:, 1], -t[:, 0]])
        else:
            n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        away = np.sum((v.mean(1) - points[cells[owner]].mean(1)) * n, axis=1)
        return n * np.sign(away)[:, None]

    @staticmethod
    def _part_indices(name, part, facets, dim) -> np.ndarray:
        part = np.asarray(part)
        if part.ndim != 2 or part.shape[1] != dim or not np.issubdtype(part.dtype, np.integer):
            raise InputError(f"boundary_parts[{name!r}]: expected an integer (j, {dim}) array of facets")
        keys = _facet_keys(facets.astype(np.int64))
        order = np.argsort(keys)
        wanted = _facet_keys(part.astype(np.int64))
        pos = np.clip(np.searchsorted(keys[order], wanted), 0, len(keys) - 1)
        found = keys[order][pos] == wanted
        if not np.all(found):
            missing = int((~found).sum())
            raise InputError(f"boundary_parts[{name!r}]: {missing} facet(s) are not on the boundary")
        return np.unique(order[pos])

    # ---- Domain API ----
    @property
    def bounds(self):
        return self.points.min(0), self.points.max(0)

    @property
    def volume(self) -> float:
        return float(self._measures.sum())

    def _propose(self, u):
        points, _ = sample_simplices(self._simplices, self._measures, u)
        return (points,), None

    def _contains(self, x, tol):
        if tol < 0:
            return self._contains(x, -tol) & (nearest_simplex(self.points[self._facets], x)[0] > -tol)
        out = np.zeros(len(x), bool)
        for s in range(0, len(x), _QUERY_CHUNK):
            out[s:s + _QUERY_CHUNK] = self._locate_cells(x[s:s + _QUERY_CHUNK], tol)
        return out

    def _locate_cells(self, x: np.ndarray, tol: float) -> np.ndarray:
        """Barycentric test against the simplices registered in each point's grid bucket."""
        lo, size, shape, table, inverse, origin, slack = self._locator
        bucket = np.clip(((x - lo) / size).astype(np.int64), 0, np.array(shape) - 1)
        candidates = table[np.ravel_multi_index(bucket.T, shape)]  # (n, c), -1 = none
        valid = candidates >= 0
        c = np.where(valid, candidates, 0)
        rest = np.einsum("ncij,ncj->nci", inverse[c], x[:, None, :] - origin[c])
        lam = np.concatenate([1.0 - rest.sum(-1, keepdims=True), rest], axis=-1)
        inside = lam.min(-1) >= -(tol + 1e-12) * slack[c]
        return np.any(inside & valid, axis=1)

    @functools.cached_property
    def _locator(self):
        """Uniform bucket grid over the bounding box: bucket -> padded list of overlapping simplices."""
        s, dim = self._simplices, self.dim
        lo, hi = self.bounds
        per_axis = np.ceil((2 * len(s)) ** (1 / dim) * (hi - lo) / (hi - lo).max())  # ~2 buckets per simplex
        shape = tuple(int(v) for v in np.maximum(1, per_axis))
        size = (hi - lo) / np.array(shape) * (1 + 1e-12)
        pad = 1e-9 * size  # simplices also register in buckets they only touch
        smin = np.clip(((s.min(1) - pad - lo) / size).astype(np.int64), 0, np.array(shape) - 1)
        smax = np.clip(((s.max(1) + pad - lo) / size).astype(np.int64), 0, np.array(shape) - 1)
        span = smax - smin + 1
        pairs_bucket, pairs_simplex = [], []
        for offset in np.ndindex(*span.max(0)):
            ok = np.all(np.array(offset) < span, axis=1)
            cell = smin[ok] + np.array(offset)
            pairs_bucket.append(np.ravel_multi_index(cell.T, shape))
            pairs_simplex.append(np.flatnonzero(ok))
        bucket, simplex = np.concatenate(pairs_bucket), np.concatenate(pairs_simplex)
        order = np.argsort(bucket, kind="stable")
        bucket, simplex = bucket[order], simplex[order]
        counts = np.bincount(bucket, minlength=int(np.prod(shape)))
        table = np.full((len(counts), max(int(counts.max()), 1)), -1, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        table[bucket, np.arange(len(bucket)) - starts[bucket]] = simplex
        edges = s[:, 1:] - s[:, :1]  # (m, dim, dim) rows = edge vectors
        inverse = np.linalg.inv(np.transpose(edges, (0, 2, 1)))
        slack = 1.0 / self._measures ** (1 / dim)  # barycentric tolerance per unit length
        return lo, size, shape, table, inverse, s[:, 0], slack

    def _distance(self, x):
        raise InputError("Mesh has no distance function; impose Dirichlet conditions softly (penalty) "
                         "or describe the domain with Polygon / CSG primitives")

    def _make_boundary(self) -> Boundary:
        vertices = self.points[self._facets]
        parts = {name: Facets(name, vertices[idx], self._normals[idx]) for name, idx in self._parts.items()}
        return Facets("boundary", vertices, self._normals, parts)

    # ---- mesh specifics ----
    def triangulation(self) -> tuple[np.ndarray, np.ndarray]:
        """(points (n, 2), triangles (m, 3)) for plotting (quads split in two); 2-D meshes only."""
        if self.dim != 2:
            raise InputError("triangulation(): only 2-D meshes have a plotting triangulation")
        return self.points.copy(), self.cells[:, np.array(_SIMPLICES[self.cell_type])].reshape(-1, 3)

    @classmethod
    def read(cls, path) -> Mesh:
        """Read any meshio format; gmsh physical groups on boundary facets become named parts."""
        import meshio

        p = Path(path)
        if not p.is_file():
            raise InputError(f"mesh file '{path}' does not exist")
        formats = list(meshio.extension_to_filetypes.get(p.suffix.lower(), []))
        if not formats:
            raise InputError(f"cannot read mesh file '{path}': unknown extension '{p.suffix}'")
        formats.sort(key=lambda f: f != "gmsh")  # '.msh' is also ANSYS; try gmsh first
        reasons = []
        for fmt in formats:
            out = io.StringIO()
            try:  # meshio prints failures and may call sys.exit: silence and contain both
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    m = meshio.read(p, file_format=fmt)
                break
            except (Exception, SystemExit) as e:  # any reader failure is "cannot read"
                said = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
                reasons.append(said[0] if said else f"{type(e).__name__}: {e}".strip())
        else:
            raise InputError(f"cannot read mesh file '{path}': {'; '.join(reasons)}".replace("\n", " "))
        return cls._from_meshio(m, path)

    @classmethod
    def _from_meshio(cls, m, path) -> Mesh:
        blocks = [(i, b) for i, b in enumerate(m.cells) if b.type in CELL_DIM]
        if any(b.type == "tetra" for _, b in blocks):
            blocks = [(i, b) for i, b in blocks if b.type == "tetra"]
        if not blocks:
            raise InputError(f"mesh file '{path}' has no triangle, quad or tetra cells")
        types = {b.type for _, b in blocks}
        if len(types) == 1:
            cell_type = types.pop()
            cells = np.concatenate([b.data for _, b in blocks])
        else:  # triangles and quads together: split the quads
            cell_type = "triangle"
            cells = np.concatenate([b.data[:, np.array(_SIMPLICES[b.type])].reshape(-1, 3)
                                    for _, b in blocks])
        dim = CELL_DIM[cell_type]
        facets, _ = boundary_facets(cells.astype(np.int64), cell_type)
        parts = _tagged_facets(m, dim, _facet_keys(facets.astype(np.int64)))
        data = {k: v for k, v in m.point_data.items() if not k.startswith("gmsh:")}
        return cls(m.points, cells, cell_type, parts, data)

    def write(self, path, point_data: Mapping[str, np.ndarray] | None = None,
              file_format: str | None = None) -> Path:
        """Write the mesh (and ``point_data``, each (n, ...)) with meshio, atomically.

        The format comes from the extension unless ``file_format`` is given; ".msh" means gmsh 4.1
        (ASCII; binary when there is point data), which also stores the named boundary parts as
        physical groups. Other formats store cells and point data only. Returns the path.
        """
        import meshio

        target = Path(path)
        fmt = file_format or ("gmsh" if target.suffix.lower() == ".msh" else None)
        data = {**self.point_data, **_point_arrays(point_data, len(self.points))}
        points = np.hstack([self.points, np.zeros((len(self.points), 3 - self.dim))])
        cells = [meshio.CellBlock(self.cell_type, self.cells)]
        options, cell_data, field_data = {}, {}, {}
        if fmt in ("gmsh", "gmsh22"):
            options["binary"] = bool(data)  # meshio's ASCII NodeData writer is broken under numpy 2
            if self._parts:
                cells, cell_data, field_data, data["gmsh:dim_tags"] = self._gmsh_tags(cells)
        mesh = meshio.Mesh(points, cells, point_data=data, cell_data=cell_data, field_data=field_data)
        try:
            with atomic_path(target) as tmp:
                meshio.write(tmp, mesh, file_format=fmt, **options)
        except (meshio.WriteError, ValueError, KeyError, OSError) as e:
            raise InputError(f"cannot write mesh file '{path}': {e}".replace("\n", " ")) from None
        return target

    def _gmsh_tags(self, cells):
        """Cell blocks, gmsh:physical / gmsh:geometrical cell data, field_data and node entity tags."""
        import meshio

        names = list(self._parts)
        domain_name = next(f"domain{i}" if i else "domain" for i in range(len(names) + 1)
                           if (f"domain{i}" if i else "domain") not in names)
        physical = [np.full(len(self.cells), len(names) + 1)]
        geometrical = [np.full(len(self.cells), 1)]
        field_data = {domain_name: np.array([len(names) + 1, self.dim])}
        dim_tags = np.tile([self.dim, 1], (len(self.points), 1))
        by_size = sorted(range(len(names)), key=lambda j: -len(self._parts[names[j]]))
        for j in by_size:  # smaller parts last: they keep nodes of their own
            facets = self._facets[self._parts[names[j]]]
            dim_tags[np.unique(facets)] = (self.dim - 1, j + 1)
        for j, name in enumerate(names):
            cells.append(meshio.CellBlock(FACET_TYPE[self.dim], self._facets[self._parts[name]]))
            physical.append(np.full(len(self._parts[name]), j + 1))
            geometrical.append(np.full(len(self._parts[name]), j + 1))
            field_data[name] = np.array([j + 1, self.dim - 1])
        entities = {tuple(t) for t in dim_tags.tolist()}
        if len(entities) < len(names) + 1:  # some entity got no node of its own: gmsh 4.1 cannot say it
            raise InputError("cannot write these boundary parts to gmsh 4.1 (a part or the domain has no "
                             "node of its own); write file_format='gmsh22'")
        return cells, {"gmsh:physical": physical, "gmsh:geometrical": geometrical}, field_data, dim_tags

    def __repr__(self) -> str:
        parts = f", parts={list(self._parts)}" if self._parts else ""
        return f"Mesh({len(self.points)} points, {len(self.cells)} {self.cell_type} cells{parts})"


def _point_arrays(point_data: Mapping | None, n: int) -> dict[str, np.ndarray]:
    """{name: array copy with n rows} from arrays or tensors; InputError naming a wrong one."""
    out = {}
    for name, values in (point_data or {}).items():
        values = np.array(values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values)
        if values.ndim == 0 or len(values) != n:
            raise InputError(f"point_data[{name!r}]: expected {n} rows (one per point), got {values.shape}")
        out[str(name)] = values
    return out


def _tagged_facets(m, dim: int, boundary_keys: np.ndarray) -> dict[str, np.ndarray]:
    """{name: facets (j, dim)} from gmsh physical tags on facet blocks, boundary facets only."""
    physical = m.cell_data.get("gmsh:physical")
    if physical is None or len(physical) != len(m.cells):
        return {}
    names = {int(tag): name for name, (tag, tag_dim) in ((k, v[:2]) for k, v in m.field_data.items())
             if int(tag_dim) == dim - 1}
    parts: dict[str, list[np.ndarray]] = {}
    for block, tags in zip(m.cells, physical):
        if block.type != FACET_TYPE[dim]:
            continue
        facets = block.data.astype(np.int64)
        on_boundary = np.isin(_facet_keys(facets), boundary_keys)
        for tag in np.unique(tags):
            rows = (tags == tag) & on_boundary
            if rows.any():
                parts.setdefault(names.get(int(tag), f"tag{int(tag)}"), []).append(facets[rows])
    return {name: np.concatenate(f) for name, f in parts.items()}

