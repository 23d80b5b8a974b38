"""Differential operators on model outputs: grad, partial, laplacian, div, hessian.

Shapes follow the model output ``u`` of shape (N, k) at points ``x`` of shape (N, d):

========================  ==========================================================
``grad(u, x)``            (N, d) for k = 1, else the Jacobian (N, k, d)
``partial(u, x, i, j..)`` (N, k): ∂ⁿu/∂x_i∂x_j… (one index per derivative)
``laplacian(u, x, dims)`` (N, k): Σ_{i in dims} ∂²u/∂x_i² (all dims by default)
``hessian(u, x)``         (N, d, d) for k = 1, else (N, k, d, d)
``div(v, x, dims)``       (N, 1): Σ_i ∂v_i/∂x_i for a vector field v of shape (N, len(dims))
========================  ==========================================================

Two ways to the same numbers
----------------------------
By default the operators differentiate by reverse-mode autograd (``create_graph=True`` so the
result can be trained on). Models built from known pieces (affine maps, pointwise activations,
Fourier features, Gaussian embeddings) can instead push value, first derivatives and the
*diagonal* second derivatives forward in one pass — the forward-Laplacian idea of Li et al.
(2023, "Forward Laplacian", arXiv 2307.08214), here in its diagonal form so that spatial-only
Laplacians of space–time problems come out too. A model does so inside
:func:`forward_derivatives` when its input requires grad, and attaches a :class:`Jet` to its
output. The operators above use the jet when it was computed with respect to the very ``x``
they are given, and fall back to autograd otherwise (mixed partials differentiate the jet's
first derivatives by autograd). User residual code is the same either way; equality of the two
paths is tested for every model.

When a residual needs only one Laplacian (say Δu, or u_xx of a space–time problem) the
diagonal is more than needed: ``forward_derivatives(second=dims)`` asks models for just
Σ_{i in dims} ∂²u/∂x_i² — one stream instead of d, the trace form of Li et al. — and
``second=()`` for no second derivatives at all. :class:`~sciml.tasks.PDETask` chooses this by
recording, on a few points, which second derivatives the equations take
(:func:`record_second_derivatives`). Any other second derivative is still exact: it falls back
to autograd on the jet's first derivatives.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from .errors import InputError

__all__ = [
    "grad", "partial", "laplacian", "hessian", "div", "Jet", "forward_derivatives", "jets_enabled",
    "second_request", "record_second_derivatives",
    "JetStack", "jet_input", "jet_linear", "jet_pointwise", "jet_cat", "jet_output", "attached_jet", "attach_jet",
    "autograd_jet",
]


# ----------------------------------------------------------------------------------------------
# Jets: forward derivatives attached to a model output


@dataclass(frozen=True)
class Jet:
    """Forward derivatives of an output ``u`` (N, k) with respect to the input ``x`` (N, d).

    ``d1[n, c, i] = ∂u_c/∂x_i`` and ``d2[n, c, i] = ∂²u_c/∂x_i²``, both (N, k, d). A jet made
    for a trace request has ``d2 = None`` and ``lap[n, c] = Σ_{i in lap_dims} ∂²u_c/∂x_i²``
    (None too when no second derivatives were asked for, ``lap_dims = ()``).
    """

    x: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor | None
    lap: torch.Tensor | None = None
    lap_dims: tuple[int, ...] | None = None

    def second(self, dims: Sequence[int]) -> torch.Tensor | None:
        """Σ_{i in dims} ∂²u/∂x_i², (N, k), if this jet holds it, else None."""
        if self.d2 is not None:
            return self.d2[..., list(dims)].sum(-1)
        if self.lap is not None and tuple(sorted(dims)) == self.lap_dims:
            return self.lap
        return None


_state = threading.local()


def jets_enabled() -> bool:
    """True inside :func:`forward_derivatives` (models then attach jets to their outputs)."""
    return getattr(_state, "jets", False)


def second_request() -> tuple[int, ...] | None:
    """The second derivatives asked for: None = the whole diagonal, else the dims of one trace."""
    return getattr(_state, "second", None)


@contextlib.contextmanager
def forward_derivatives(enabled: bool = True, second: Sequence[int] | None = None) -> Iterator[None]:
    """Context in which jet-capable models propagate derivatives forward (see module doc).

    second : None for all pure second derivatives ∂²/∂x_i² (the default); a sequence of dims for
        only the Laplacian over them; () for none. Models that cannot narrow give the diagonal.
    """
    previous = jets_enabled(), second_request()
    _state.jets = enabled
    _state.second = None if second is None else tuple(sorted(int(i) for i in second))
    try:
        yield
    finally:
        _state.jets, _state.second = previous


@contextlib.contextmanager
def record_second_derivatives() -> Iterator[set]:
    """Collect the dims tuples of every second derivative the operators take from a jet.

    ``laplacian(u, x, dims)`` records ``dims`` and ``partial(u, x, i, i)`` records ``(i,)``.
    A PDE task probes its equations with this to choose ``forward_derivatives(second=...)``.
    """
    previous = getattr(_state, "record", None)
    seen: set = set()
    _state.record = seen
    try:
        yield seen
    finally:
        _state.record = previous


def _second_from_jet(jet: Jet, u: torch.Tensor, x: torch.Tensor, dims: list[int]) -> torch.Tensor:
    """Σ_{i in dims} ∂²u/∂x_i² from a jet: directly if it holds it, else autograd on d1."""
    record = getattr(_state, "record", None)
    if record is not None:
        record.add(tuple(sorted(dims)))
    out = jet.second(dims)
    if out is not None:
        return out
    return torch.stack([sum(_autograd(jet.d1[:, c, i], x)[:, i] for i in dims) for c in range(u.shape[1])], 1)


def _attached_jet(u: torch.Tensor, x: torch.Tensor) -> Jet | None:
    jet = getattr(u, "_sciml_jet", None)
    return jet if (jet is not None and jet.x is x) else None


class JetStack:
    """Value ``v`` (N, w), first derivatives ``d1`` (d, N, w) and pure second derivatives
    ``d2`` (d, N, w) of a hidden layer, as separate tensors.

    ``d1``/``d2`` may have a broadcast point axis of size 1 (derivatives that do not depend on
    the point, e.g. right after the first affine map), and ``d2`` may be None (identically 0):
    both save work in the early layers. Affine maps cost one matmul per stream; pointwise
    functions apply the chain rule elementwise. ``JetStack(t, d)`` also accepts the three
    streams stacked on a leading axis, ``t`` of shape (1 + 2d, N, w), and ``.t`` returns them so.

    ``lap_dims`` (from :func:`jet_input`'s ``second``) narrows the second stream: a tuple of dims
    makes ``d2`` (1, N, w) hold Σ_{i in dims} ∂²/∂x_i² (the trace update
    (f∘v)_Δ = f'(v) v_Δ + f''(v) Σ_i v_i² is linear in the stream); () drops it.
    """

    __slots__ = ("v", "d1", "_d2", "d", "lap_dims")

    def __init__(self, t: torch.Tensor | None = None, d: int | None = None, *, v=None, d1=None, d2=None,
                 lap_dims: tuple[int, ...] | None = None):
        if t is not None:
            d = int(d)
            v, d1, d2 = t[0], t[1 : 1 + d], t[1 + d :]
        self.v, self.d1, self._d2 = v, d1, d2
        self.d = d1.shape[0]
        self.lap_dims = lap_dims

    @property
    def value(self) -> torch.Tensor:
        return self.v

    @property
    def d2(self) -> torch.Tensor:
        return torch.zeros_like(self.d1) if self._d2 is None else self._d2

    @property
    def t(self) -> torch.Tensor:
        if self.lap_dims is not None:
            raise InputError("JetStack.t: a trace jet has no diagonal second derivatives to stack")
        n = self.v.shape[0]
        return torch.cat([self.v[None], self.d1.expand(self.d, n, -1), self.d2.expand(self.d, n, -1)], 0)


def jet_input(x: torch.Tensor, second: tuple[int, ...] | None = None) -> JetStack:
    """The jet of the identity map x -> x (first derivatives e_i, second derivatives 0).

    second : which second derivatives to carry (see :func:`forward_derivatives`); models that
        support narrowing pass :func:`second_request()`.
    """
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :]  # (d, 1, d): same at every point
    if second is not None and any(not 0 <= i < d for i in second):
        raise InputError(f"second: dims {second} out of range for points of dimension {d}")
    return JetStack(v=x, d1=eye, d2=None, lap_dims=second)


def jet_linear(j: JetStack, weight: torch.Tensor, bias: torch.Tensor | None = None) -> JetStack:
    """Affine map ``v W^T + b`` applied to a jet (derivatives get no bias)."""
    v = j.v @ weight.T
    if bias is not None:
        v = v + bias
    return JetStack(v=v, d1=j.d1 @ weight.T, d2=None if j._d2 is None else j._d2 @ weight.T, lap_dims=j.lap_dims)


def jet_pointwise(j: JetStack, f, df: Callable | None = None, d2f: Callable | None = None) -> JetStack:
    """Pointwise function with its first two derivatives: chain rule on every stream.

    (f∘v)' = f'(v) v',   (f∘v)'' = f''(v) v'² + f'(v) v''.
    ``f`` is an :class:`~sciml.nn.Activation` (which may share work between f, f', f''), or
    three callables ``f, df, d2f``.
    """
    v, d1 = j.v, j.d1
    if df is None:
        fv, s1, s2 = f.with_derivatives(v)  # (shares work: tanh is evaluated once)
    else:
        fv, s1, s2 = f(v), df(v), None if j.lap_dims == () else d2f(v)
    d1_out = s1 * d1
    if j.lap_dims == ():  # no second derivatives asked for
        return JetStack(v=fv, d1=d1_out, d2=None, lap_dims=())
    # (d1 * d1 is small when d1 is the same at every point, as after the input layer)
    if j.lap_dims is None:
        sq = d1 * d1
    else:
        dims = j.lap_dims  # sorted and distinct: a contiguous run is a slice (a view, no gather)
        part = d1[dims[0] : dims[-1] + 1] if dims[-1] - dims[0] == len(dims) - 1 else d1[list(dims)]
        sq = (part * part).sum(0, keepdim=True)
    if j._d2 is None:
        d2 = s2 * sq
    else:  # s1·d2 + s2·d1², fused
        d2 = torch.addcmul(s1 * j._d2, s2, sq)
    return JetStack(v=fv, d1=d1_out, d2=d2, lap_dims=j.lap_dims)


def jet_cat(jets: Sequence[JetStack]) -> JetStack:
    """Concatenate jets along the feature axis."""
    n = max(j.v.shape[0] for j in jets)
    d, lap_dims = jets[0].d, jets[0].lap_dims
    if any(j.lap_dims != lap_dims for j in jets):
        raise InputError("jets: cannot concatenate jets that carry different second derivatives")
    d1 = torch.cat([j.d1.expand(d, n, -1) for j in jets], -1)
    s = d if lap_dims is None else 1
    d2 = None if all(j._d2 is None for j in jets) else torch.cat([j.d2.expand(s, n, -1) for j in jets], -1)
    return JetStack(v=torch.cat([j.v for j in jets], -1), d1=d1, d2=d2, lap_dims=lap_dims)


def jet_output(j: JetStack, x: torch.Tensor) -> torch.Tensor:
    """Return the value (N, k) with its :class:`Jet` attached for the operators to find."""
    u = j.v
    n = u.shape[0]
    d1 = j.d1.expand(j.d, n, -1).permute(1, 2, 0)
    if j.lap_dims is None:
        u._sciml_jet = Jet(x, d1, j.d2.expand(j.d, n, -1).permute(1, 2, 0))
    elif j.lap_dims == ():
        u._sciml_jet = Jet(x, d1, None, None, ())
    else:
        lap = torch.zeros_like(u) if j._d2 is None else j._d2[0].expand(n, -1)
        u._sciml_jet = Jet(x, d1, None, lap, j.lap_dims)
    return u


def attached_jet(u: torch.Tensor, x: torch.Tensor) -> Jet | None:
    """The :class:`Jet` of ``u`` with respect to ``x`` if a model attached one, else None."""
    return _attached_jet(u, x)


def attach_jet(u: torch.Tensor, x: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor | None,
               lap: torch.Tensor | None = None, lap_dims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Attach derivatives ``d1``, ``d2`` (N, k, d) of ``u`` (N, k) with respect to ``x``
    (or, for a trace jet, ``d2=None`` with ``lap`` (N, k) over ``lap_dims``; see :class:`Jet`)."""
    u._sciml_jet = Jet(x, d1, d2, lap, lap_dims)
    return u


def autograd_jet(y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(d1, d2) of ``y`` (N, k) with respect to ``x`` (N, d) by autograd, both (N, k, d).

    For the small closed-form factors of a model (distance functions, boundary values) whose
    jets are combined with a network's forward jet by the product rule.
    """
    d1 = torch.stack([_autograd(y[:, c], x) for c in range(y.shape[1])], 1)
    d2 = torch.stack([torch.stack([_autograd(d1[:, c, i], x)[:, i] for i in range(x.shape[1])], -1)
                      for c in range(y.shape[1])], 1)
    return d1, d2


# ----------------------------------------------------------------------------------------------
# Operators


def _check(u: torch.Tensor, x: torch.Tensor, name: str = "u") -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise InputError(f"x: expected a tensor of points of shape (N, d), got {_shape(x)}")
    if not isinstance(u, torch.Tensor) or u.ndim != 2 or u.shape[0] != x.shape[0]:
        raise InputError(f"{name}: expected shape (N, k) with N = {x.shape[0]} like x, got {_shape(u)}")
    if not x.requires_grad:
        raise InputError("x: points must have requires_grad=True to be differentiated (fit sets this)")


def _shape(t) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def _dims(dims: Sequence[int] | int | None, d: int) -> list[int]:
    if dims is None:
        return list(range(d))
    dims = [dims] if isinstance(dims, int) else list(dims)
    for i in dims:
        if not (0 <= i < d):
            raise InputError(f"dims: index {i} out of range for points of dimension {d}")
    return dims


def _autograd(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d(sum y)/dx, (N, d), differentiable; zeros when y does not depend on x."""
    if not y.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def _jacobian(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N, k, d)."""
    jet = _attached_jet(u, x)
    if jet is not None:
        return jet.d1
    return torch.stack([_autograd(u[:, c], x) for c in range(u.shape[1])], 1)


def grad(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient ∇u: (N, d) for a scalar field u (N, 1), the Jacobian (N, k, d) otherwise."""
    _check(u, x)
    j = _jacobian(u, x)
    return j[:, 0] if u.shape[1] == 1 else j


def partial(u: torch.Tensor, x: torch.Tensor, *dims: int) -> torch.Tensor:
    """∂ⁿu/∂x_{i1}…∂x_{in} for ``dims = (i1, …, in)``: (N, k). ``partial(u, x, 1, 1)`` = u_yy."""
    _check(u, x)
    if not dims:
        raise InputError("dims: give at least one coordinate index, e.g. partial(u, x, 0)")
    dims_list = _dims(dims, x.shape[1])
    jet = _attached_jet(u, x)
    if jet is not None:
        i = dims_list[0]
        if len(dims_list) == 2 and dims_list[1] == i:
            return _second_from_jet(jet, u, x, [i])
        out = jet.d1[..., i]
        rest = dims_list[1:]
    else:
        out, rest = u, dims_list
    for i in rest:
        out = torch.stack([_autograd(out[:, c], x)[:, i] for c in range(out.shape[1])], 1)
    return out


def laplacian(u: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None) -> torch.Tensor:
    """Σ_{i in dims} ∂²u/∂x_i²: (N, k). ``dims`` selects coordinates (e.g. space, not time)."""
    _check(u, x)
    dims_list = _dims(dims, x.shape[1])
    jet = _attached_jet(u, x)
    if jet is not None:
        return _second_from_jet(jet, u, x, dims_list)
    cols = []
    for c in range(u.shape[1]):
        g = _autograd(u[:, c], x)
        cols.append(sum(_autograd(g[:, i], x)[:, i] for i in dims_list))
    return torch.stack(cols, 1)


def hessian(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Matrix of second derivatives: (N, d, d) for u (N, 1), else (N, k, d, d)."""
    _check(u, x)
    jac = _jacobian(u, x)
    rows = [torch.stack([_autograd(jac[:, c, i], x) for i in range(x.shape[1])], 1) for c in range(u.shape[1])]
    h = torch.stack(rows, 1)
    return h[:, 0] if u.shape[1] == 1 else h


def div(v: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None) -> torch.Tensor:
    """Divergence Σ_j ∂v_j/∂x_{dims[j]} of a vector field v (N, len(dims)): (N, 1)."""
    dims_list = _dims(dims, x.shape[1] if isinstance(x, torch.Tensor) and x.ndim == 2 else 0)
    _check(v, x, name="v")
    if v.shape[1] != len(dims_list):
        raise InputError(f"v: expected {len(dims_list)} components (one per dim), got {v.shape[1]}")
    return sum(_autograd(v[:, j], x)[:, i] for j, i in enumerate(dims_list))[:, None]
