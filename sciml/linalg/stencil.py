"""``Stencil``: the single description of a structured-grid operator −∇·(a∇u).

Vertex-centred finite differences on a grid of ``shape`` unknowns (the interior nodes of a
(shape + 2)-node grid with spacing h, unknowns in row-major C order). The coefficient ``a`` is given at
all nodes, boundary nodes included; the coefficient of a face is the arithmetic mean of its two nodes
(the convention of ``solvers.fd.assemble_diffusion``). Boundaries, per side (axis 0 low, axis 0 high,
axis 1 low, ...):

* ``"dirichlet"``: the boundary node is eliminated (homogeneous value); its face stays on the diagonal;
* ``"neumann"``: zero flux through the face to the boundary node (the face is dropped).

``solid`` marks cells that are not unknowns of the PDE (obstacles): their rows become identity rows
decoupled from the fluid, and faces to them follow ``solid_bc`` ("neumann": no flux, the pressure-
projection setting of DCDM; "dirichlet": u = 0 on the solid). An operator with no Dirichlet face in a
connected fluid region is singular; :meth:`Stencil.nullspace_basis` gives the constants on each such region.

Stored as ``diag`` (*shape) and ``off`` (K, *shape) for K half neighbour offsets (see
:mod:`sciml.kernels.reference`), which is also the form of Galerkin coarse operators (9/27 points).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import InputError, check
from ..kernels import backend

AXIS_OFFSETS = {2: ((1, 0), (0, 1)), 3: ((1, 0, 0), (0, 1, 0), (0, 0, 1))}
NINE_POINT = ((1, 0), (0, 1), (1, 1), (1, -1))
BCS = ("dirichlet", "neumann")


def half_offsets(d: int) -> tuple[tuple[int, ...], ...]:
    """All offsets in {−1, 0, 1}^d whose first non-zero entry is positive (4 in 2D, 13 in 3D)."""
    out = []
    for o in itertools.product((-1, 0, 1), repeat=d):
        nz = [v for v in o if v]
        if nz and nz[0] > 0:
            out.append(o)
    return tuple(out)


class Stencil:
    """A symmetric structured-grid operator; build with :meth:`poisson`, :meth:`diffusion` or the
    constructor.

    shape: unknowns per axis (2 or 3 axes). a: scalar or nodal array of shape ``shape + 2`` (boundary
    nodes included). h: spacing, scalar or per axis (default 1/(n + 1): the unit box). bc: one of
    "dirichlet"/"neumann" or one per side (2·d entries). solid: bool array of ``shape``. points: 5 or 9
    in 2D (9 = the compact fourth-order "Mehrstellen" Laplacian, constant a, equal h, Dirichlet only),
    7 in 3D.
    """

    def __init__(
        self,
        shape,
        a=1.0,
        h=None,
        bc="dirichlet",
        solid=None,
        points: int | None = None,
        solid_bc: str = "neumann",
    ):
        shape = _as_shape(shape)
        d = len(shape)
        hs = _as_spacing(h, shape)
        bcs = _as_bcs(bc, d)
        check(solid_bc in BCS, f"solid_bc: expected one of {BCS}, got {solid_bc!r}")
        points = points or (5 if d == 2 else 7)
        check(
            (d, points) in ((2, 5), (2, 9), (3, 7)), f"points: expected 5 or 9 in 2D, 7 in 3D, got {points}"
        )
        anode = _as_coefficient(a, shape)
        solid_mask = _as_solid(solid, shape)
        if points == 9:
            check(
                np.ptp(anode) == 0 and len(set(hs)) == 1 and set(bcs) == {"dirichlet"} and solid_mask is None,
                "points: the 9-point stencil needs a constant coefficient, equal spacing, Dirichlet "
                "boundaries and no solid cells",
            )
        diag, off, offsets = _assemble(shape, anode, hs, bcs, solid_mask, solid_bc, points)
        self._set(shape, hs, offsets, diag, off, solid_mask)
        self.coefficient, self.bc, self.points, self.solid_bc = anode, bcs, points, solid_bc

    # --- constructors -------------------------------------------------------------------------------
    @classmethod
    def poisson(cls, shape, h=None, points: int | None = None) -> Stencil:
        """−Δ with homogeneous Dirichlet boundaries on ``shape`` unknowns of the unit box."""
        return cls(shape, 1.0, h=h, points=points)

    @classmethod
    def diffusion(cls, a, h=None, bc="dirichlet", solid=None, solid_bc: str = "neumann") -> Stencil:
        """−∇·(a∇u) with ``a`` at all nodes (boundary included): unknowns ``a.shape − 2``.
        Default h = 1/(N − 1) for N nodes per axis (the unit box)."""
        anode = np.asarray(a, dtype=np.float64)
        check(
            anode.ndim in (2, 3) and min(anode.shape) >= 3,
            f"a: expected a 2-D or 3-D nodal array with >= 3 nodes per axis, got shape {anode.shape}",
        )
        return cls(tuple(n - 2 for n in anode.shape), anode, h=h, bc=bc, solid=solid, solid_bc=solid_bc)

    @classmethod
    def from_arrays(cls, diag, off, offsets, h, solid=None) -> Stencil:
        """A stencil given directly by its arrays (Galerkin coarse operators)."""
        self = cls.__new__(cls)
        diag = torch.as_tensor(diag, dtype=torch.float64)
        self._set(
            tuple(diag.shape),
            tuple(h),
            tuple(map(tuple, offsets)),
            diag,
            torch.as_tensor(off, dtype=torch.float64),
            None if solid is None else torch.as_tensor(solid),
        )
        self.coefficient, self.bc, self.points, self.solid_bc = None, None, 1 + 2 * len(offsets), None
        return self

    @classmethod
    def from_sparse(cls, A, shape, h=None) -> Stencil:
        """Read a symmetric matrix whose unknowns are the C-ordered points of ``shape`` and which
        couples each point only to its 3^d − 1 neighbours (5/9/7/27-point operators) as a Stencil.
        InputError otherwise."""
        shape = _as_shape(shape)
        n = int(np.prod(shape))
        A = sp.csr_matrix(A, dtype=np.float64)
        check(A.shape == (n, n), f"shape: {shape} has {n} unknowns but A is {A.shape[0]}×{A.shape[1]}")
        check(abs(A - A.T).max() <= 1e-12 * abs(A).max(), "A: a stencil must be symmetric")
        idx = np.arange(n).reshape(shape)
        d = len(shape)
        diag = A.diagonal().reshape(shape)
        offsets, off, found = [], [], n
        for o in half_offsets(d):
            src = tuple(slice(max(0, -oi), m - max(0, oi)) for oi, m in zip(o, shape))
            dst = tuple(slice(max(0, oi), m - max(0, -oi)) for oi, m in zip(o, shape))
            v = np.zeros(shape)
            v[src] = -np.asarray(A[idx[src].ravel(), idx[dst].ravel()]).ravel().reshape(v[src].shape)
            nz = int(np.count_nonzero(v))
            if nz or sum(map(abs, o)) == 1:
                offsets.append(o)
                off.append(v)
                found += 2 * nz
        A.eliminate_zeros()
        check(found - int(np.count_nonzero(A.diagonal() == 0)) == A.nnz,
              f"A: couples unknowns that are not grid neighbours in shape {shape}; not a stencil operator")
        check(bool(np.all(diag > 0)), "A: a stencil needs a positive diagonal")
        self = cls.from_arrays(diag, np.stack(off), offsets, _as_spacing(h, shape), None)
        if len(offsets) == d and d == 2:
            self.points = 5
        elif len(offsets) == d:
            self.points = 7
        return self

    def _set(self, shape, h, offsets, diag, off, solid):
        self.shape, self.h, self.offsets = tuple(shape), tuple(h), tuple(offsets)
        self.diag = torch.as_tensor(diag, dtype=torch.float64)
        self.off = torch.as_tensor(off, dtype=torch.float64)
        self.solid = None if solid is None else torch.as_tensor(solid, dtype=torch.bool)
        self._copies: dict = {}

    # --- properties ---------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self) -> torch.dtype:
        return self.diag.dtype

    @property
    def device(self) -> torch.device:
        return self.diag.device

    @property
    def fluid(self) -> torch.Tensor | None:
        """Bool (*shape) mask of the PDE unknowns, or None when there are no solid cells."""
        return None if self.solid is None else ~self.solid

    def __repr__(self) -> str:
        return f"Stencil(shape={self.shape}, points={self.points}, bc={self.bc}, dtype={self.dtype})"

    def to(self, dtype=None, device=None) -> Stencil:
        """This stencil with arrays of ``dtype`` on ``device`` (cached)."""
        dtype = dtype or self.dtype
        device = torch.device(device) if device is not None else self.device
        if dtype == self.dtype and device == self.device:
            return self
        key = (dtype, str(device))
        if key not in self._copies:
            c = Stencil.__new__(Stencil)
            c.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_copies"})
            c._set(self.shape, self.h, self.offsets, self.diag, self.off, self.solid)
            c.diag = self.diag.to(dtype=dtype, device=device)
            c.off = self.off.to(dtype=dtype, device=device)
            c.solid = None if self.solid is None else self.solid.to(device)
            self._copies[key] = c
        return self._copies[key]

    # --- action ---------------------------------------------------------------------------------------
    def apply(self, u: torch.Tensor, prefer: str | None = None) -> torch.Tensor:
        """A u for u of shape (*batch, *shape) (torch); computed in u's dtype and device."""
        check(
            tuple(u.shape[u.dim() - self.ndim :]) == self.shape,
            f"u: expected trailing shape {self.shape}, got {tuple(u.shape)}",
        )
        st = self.to(u.dtype, u.device)
        batch = u.shape[: u.dim() - self.ndim]
        y = backend(u.device, prefer).stencil_apply(u.reshape(-1, *self.shape), st.diag, st.off, st.offsets)
        return y.reshape(*batch, *self.shape)

    def apply_columns(self, X: torch.Tensor) -> torch.Tensor:
        """A X for X of shape (n, k) (k vectors in C order of ``shape``)."""
        U = X.T.reshape(X.shape[1], *self.shape)
        return self.apply(U).reshape(X.shape[1], -1).T

    def __matmul__(self, x):
        if isinstance(x, torch.Tensor) and x.dim() <= 2 and x.shape[0] == self.n:
            return self.apply_columns(x[:, None])[:, 0] if x.dim() == 1 else self.apply_columns(x)
        return self.apply(x)

    def diagonal(self) -> torch.Tensor:
        """The diagonal of A as an (n,) float64 tensor."""
        return self.diag.reshape(-1).clone()

    def to_sparse(self) -> sp.csr_matrix:
        """A as a SciPy CSR matrix (n × n, float64, C-order unknowns)."""
        idx = np.arange(self.n).reshape(self.shape)
        rows, cols, vals = [idx.ravel()], [idx.ravel()], [self.diag.cpu().numpy().ravel()]
        for k, o in enumerate(self.offsets):
            src = tuple(slice(max(0, -oi), n - max(0, oi)) for oi, n in zip(o, self.shape))
            dst = tuple(slice(max(0, oi), n - max(0, -oi)) for oi, n in zip(o, self.shape))
            v = -self.off[k].cpu().numpy()[src].ravel()
            rows += [idx[src].ravel(), idx[dst].ravel()]
            cols += [idx[dst].ravel(), idx[src].ravel()]
            vals += [v, v]
        A = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(self.n, self.n)
        ).tocsr()
        A.eliminate_zeros()
        return A

    # --- null space ---------------------------------------------------------------------------------
    @functools.cached_property
    def _singular_regions(self) -> list[np.ndarray]:
        """Index arrays of the connected fluid regions with no Dirichlet face (constant null vectors)."""
        st = self.to(torch.float64, "cpu")
        fluid = np.ones(self.n, bool) if self.solid is None else ~self.solid.cpu().numpy().ravel()
        rowsum = st.apply(torch.as_tensor(fluid, dtype=torch.float64).reshape(1, *self.shape)).numpy().ravel()
        tol = 1e-10 * float(st.diag.abs().max())
        grounded = fluid & (np.abs(rowsum) > tol)
        if grounded.all() or (self.solid is None and grounded.any()):
            return []
        if self.solid is None:
            return [np.arange(self.n)]
        from scipy.sparse.csgraph import connected_components

        A = self.to_sparse()
        _, labels = connected_components(A, directed=False)
        out = []
        for lab in np.unique(labels[fluid]):
            idx = np.flatnonzero((labels == lab) & fluid)
            if not grounded[idx].any():
                out.append(idx)
        return out

    def nullspace_basis(self, dtype=torch.float64, device="cpu") -> torch.Tensor | None:
        """(n, m) orthonormal basis of the null space (constants on ungrounded fluid regions), or None."""
        regions = self._singular_regions
        if not regions:
            return None
        N = torch.zeros(self.n, len(regions), dtype=dtype, device=device)
        for j, idx in enumerate(regions):
            N[torch.as_tensor(idx, device=device), j] = 1.0 / np.sqrt(len(idx))
        return N


# --- assembly ---------------------------------------------------------------------------------------
def _as_shape(shape) -> tuple[int, ...]:
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise InputError(f"shape: expected a tuple of 2 or 3 sizes, got {shape!r}") from None
    check(len(shape) in (2, 3) and min(shape) >= 1, f"shape: expected 2 or 3 positive sizes, got {shape}")
    return shape


def _as_spacing(h, shape) -> tuple[float, ...]:
    if h is None:
        return tuple(1.0 / (n + 1) for n in shape)
    hs = np.broadcast_to(np.asarray(h, dtype=np.float64), (len(shape),))
    check(bool(np.all(np.isfinite(hs)) and np.all(hs > 0)), f"h: expected positive spacing(s), got {h!r}")
    return tuple(float(v) for v in hs)


def _as_bcs(bc, d: int) -> tuple[str, ...]:
    bcs = (bc,) * (2 * d) if isinstance(bc, str) else tuple(bc)
    check(
        len(bcs) == 2 * d and all(b in BCS for b in bcs),
        f"bc: expected 'dirichlet', 'neumann' or {2 * d} of them (one per side), got {bc!r}",
    )
    return bcs


def _as_coefficient(a, shape) -> np.ndarray:
    nodes = tuple(n + 2 for n in shape)
    arr = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(nodes, float(arr))
    check(
        arr.shape == nodes,
        f"a: expected a scalar or nodal values of shape {nodes} (boundary nodes included), got {arr.shape}",
    )
    check(bool(np.all(np.isfinite(arr))) and bool(np.all(arr > 0)), "a: expected finite positive values")
    return arr


def _as_solid(solid, shape) -> torch.Tensor | None:
    if solid is None:
        return None
    m = np.asarray(solid.cpu() if isinstance(solid, torch.Tensor) else solid)
    check(m.shape == tuple(shape), f"solid: expected a mask of shape {tuple(shape)}, got {m.shape}")
    m = m.astype(bool)
    check(not m.all(), "solid: every cell is solid, there is nothing to solve")
    return torch.as_tensor(m) if m.any() else None


def _node_status(shape, bcs, solid, solid_bc) -> np.ndarray:
    """Status of every node of the (shape + 2) grid: 0 unknown, 1 Dirichlet (value 0), 2 no flux."""
    d = len(shape)
    status = np.zeros(tuple(n + 2 for n in shape), np.int8)
    for ax in range(d):
        for side, pos in ((0, 0), (1, shape[ax] + 1)):
            idx = [slice(None)] * d
            idx[ax] = pos
            code = 1 if bcs[2 * ax + side] == "dirichlet" else 2
            view = status[tuple(idx)]
            # a node on several sides (a corner) is Dirichlet when any of its sides is
            status[tuple(idx)] = np.where(view == 1, 1, code)
    if solid is not None:
        inner = tuple(slice(1, n + 1) for n in shape)
        status[inner] = np.where(solid.numpy(), 1 if solid_bc == "dirichlet" else 2, 0)
    return status


def _assemble(shape, anode, hs, bcs, solid, solid_bc, points):
    d = len(shape)
    status = _node_status(shape, bcs, solid, solid_bc)
    if points == 9:
        h2 = hs[0] ** 2
        edges = [
            (o, (2.0 / 3.0 if sum(map(abs, o)) == 1 else 1.0 / 6.0) * float(anode.flat[0]) / h2)
            for o in NINE_POINT
        ]
    else:
        edges = [(o, None) for o in AXIS_OFFSETS[d]]
    inner = tuple(slice(1, n + 1) for n in shape)
    diag = np.zeros(shape)
    off = np.zeros((len(edges),) + tuple(shape))

    def at(arr, o):  # arr on the node grid, shifted by o, restricted to the unknowns
        return arr[tuple(slice(1 + oi, 1 + oi + n) for oi, n in zip(o, shape))]

    for k, (o, w) in enumerate(edges):
        for sign in (1, -1):
            so = tuple(sign * oi for oi in o)
            if w is None:  # face coefficient: mean of the two nodes, over h² along the axis
                ax = int(np.flatnonzero(o)[0])
                weight = 0.5 * (anode[inner] + at(anode, so)) / hs[ax] ** 2
            else:
                weight = np.full(shape, w)
            nb = at(status, so)
            diag += np.where(nb != 2, weight, 0.0)
            if sign == 1:
                off[k] = np.where(nb == 0, weight, 0.0)
    if solid is not None:
        s = solid.numpy()
        diag[s] = 1.0
        off[:, s] = 0.0
    edges_o = tuple(o for o, _ in edges)
    return torch.as_tensor(diag), torch.as_tensor(off), edges_o
