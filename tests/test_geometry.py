"""Analytic domains, CSG and space-time: uniform sampling, boundaries with normals, distance functions."""

import math

import numpy as np
import pytest
import torch

from sciml import InputError
from sciml.geometry import (
    Box,
    Difference,
    Disk,
    Intersection,
    Interval,
    Polygon,
    Rectangle,
    SpaceTime,
    TimeDomain,
    Union,
)

L_VERTICES = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]  # the L-shape, area 3


def binomial_ok(hits: np.ndarray, p: float, k: float = 4.5) -> bool:
    """Fraction of hits within k standard deviations of the probability p."""
    n = len(hits)
    return abs(hits.mean() - p) <= k * math.sqrt(p * (1 - p) / n) + 1e-12


def r(x):
    return np.linalg.norm(x, axis=1)


# (domain, predicate on sample points, exact probability of the predicate, exact volume)
CASES = {
    "interval": (Interval(-1, 2), lambda x: (x[:, 0] > 0) & (x[:, 0] < 1), 1 / 3, 3.0),
    "rectangle": (Rectangle((0, 0), (2, 1)), lambda x: (x[:, 0] < 0.5) & (x[:, 1] < 0.5), 1 / 8, 2.0),
    "box": (Box((0, 0, 0), (1, 2, 3)), lambda x: np.all(x < [0.5, 1, 1], axis=1), 1 / 12, 6.0),
    "disk": (Disk((1, -1), 2), lambda x: r(x - [1, -1]) < 1, 1 / 4, 4 * math.pi),
    "polygon_ccw": (Polygon(L_VERTICES), lambda x: (x[:, 0] < 0) & (x[:, 1] < 0), 1 / 3, 3.0),
    "polygon_cw": (Polygon(L_VERTICES[::-1]), lambda x: (x[:, 0] > 0) & (x[:, 1] > 0), 1 / 3, 3.0),
    "rect_minus_disk": (Rectangle((-1, -1), (1, 1)) - Disk((0, 0), 0.5), lambda x: r(x) < 0.75,
                        math.pi * (0.75**2 - 0.25) / (4 - math.pi / 4), 4 - math.pi / 4),
    "union": (Rectangle((0, 0), (2, 1)) | Rectangle((1, 0), (3, 1)), lambda x: x[:, 0] > 2.5, 1 / 6, 3.0),
    "intersection": (Rectangle((0, 0), (2, 2)) & Disk((2, 2), 1), lambda x: r(x - [2, 2]) < 0.5, 1 / 4,
                     math.pi / 4),
    "spacetime": (TimeDomain(0, 2) * Disk((0, 0), 1), lambda x: (x[:, 0] < 0.5) & (x[:, 1] > 0), 1 / 8,
                  2 * math.pi),
}


@pytest.mark.parametrize("method", ["uniform", "sobol"])
@pytest.mark.parametrize("name", list(CASES))
def test_interior_samples_inside_and_uniform(name, method):
    domain, predicate, p, _ = CASES[name]
    x = domain.sample(20000, rng=0, method=method)
    assert x.dtype == torch.float64 and x.shape == (20000, domain.dim)
    assert domain.contains(x).all()
    assert binomial_ok(predicate(x.numpy()), p)


@pytest.mark.parametrize("name", list(CASES))
def test_volume(name):
    domain, _, _, volume = CASES[name]
    exact = not isinstance(domain, (Union, Intersection, Difference))
    assert domain.volume == pytest.approx(volume, rel=1e-12 if exact else 1e-3)


def test_csg_area_by_qmc_within_one_percent():
    domain = Difference(Rectangle((0, 0), (2, 1)), Disk((0, 0), 1))
    assert domain.volume == pytest.approx(2 - math.pi / 4, rel=0.01)
    assert domain.volume == pytest.approx(2 - math.pi / 4, rel=1e-3)  # 2^16 Sobol' points do much better


@pytest.mark.parametrize("domain, second_moment", [
    (Rectangle((0, 0), (2, 1)), (4 / 3 + 1 / 3)),
    (Disk((0, 0), 2), 2.0),  # E r^2 = R^2 / 2
    (Polygon(L_VERTICES), 2 / 3),  # E x^2 = E y^2 = 1/3
])
def test_sobol_integrates_better_than_monte_carlo_error(domain, second_moment):
    # a measure-preserving map keeps QMC accuracy: error far below the MC error ~ 1e-2 at n = 4096
    x = domain.sample(4096, rng=3, method="sobol").numpy()
    assert np.mean(np.sum(x**2, axis=1)) == pytest.approx(second_moment, abs=2e-3)


@pytest.mark.parametrize("name", list(CASES))
def test_boundary_points_on_boundary_with_unit_outward_normals(name):
    domain = CASES[name][0]
    p, n = domain.boundary.sample(3000, rng=1)
    assert p.dtype == n.dtype == torch.float64 and p.shape == n.shape == (3000, domain.dim)
    p, n = p.numpy(), n.numpy()
    assert domain.boundary.contains(p).all() and domain.contains(p).all()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    eps = 1e-6
    if isinstance(domain, SpaceTime):  # lateral boundary: no time component, space normal
        assert np.all(n[:, 0] == 0)
    assert not domain.contains(p + eps * n).any()
    assert domain.contains(p - eps * n).all()


@pytest.mark.parametrize("domain, measures", [
    (Rectangle((0, 0), (2, 1)), {"left": 1, "right": 1, "bottom": 2, "top": 2}),
    (Box((0, 0, 0), (1, 2, 3)), {"left": 6, "right": 6, "front": 3, "back": 3, "bottom": 2, "top": 2}),
    (Polygon(L_VERTICES), {"edge0": 1, "edge1": 1, "edge2": 1, "edge3": 1, "edge4": 2, "edge5": 2}),
    (Interval(0, 5), {"left": 1, "right": 1}),
    (Disk((0, 0), 0.5), {"circle": math.pi}),
])
def test_boundary_part_fractions_follow_measure(domain, measures):
    assert set(domain.boundary.parts) == set(measures)
    total = sum(measures.values())
    assert domain.boundary.measure == pytest.approx(total, rel=1e-12)
    p, _ = domain.boundary.sample(12000, rng=2)
    for name, measure in measures.items():
        part = domain.boundary[name]
        assert part.measure == pytest.approx(measure, rel=1e-12)
        assert binomial_ok(part.contains(p), measure / total)
        q, _ = part.sample(50, rng=0)
        assert part.contains(q).all()


def test_polygon_edge_normals_outward_in_both_orientations():
    for vertices in (L_VERTICES, L_VERTICES[::-1]):
        poly = Polygon(vertices)
        p, n = poly.boundary.sample(1000, rng=5)
        assert poly.contains(p - 1e-6 * n).all() and not poly.contains(p + 1e-6 * n).any()
    _, n = Polygon(L_VERTICES).boundary["edge0"].sample(5, rng=0)  # edge (-1,-1) -> (0,-1): normal -y
    np.testing.assert_allclose(n.numpy(), [[0, -1]] * 5)


def test_csg_boundary_parts_survive_and_are_prefixed_on_collision():
    union = Rectangle((0, 0), (2, 1)) | Rectangle((1, 0), (3, 1))  # = [0, 3] x [0, 1]
    measures = {k: v.measure for k, v in union.boundary.parts.items()}
    assert set(measures) == {"left", "right", "a.bottom", "a.top", "b.bottom", "b.top"}
    expected = {"left": 1, "right": 1, "a.bottom": 2, "a.top": 2, "b.bottom": 1, "b.top": 1}
    for k, v in expected.items():  # the overlapping copies of the bottom/top edges are counted once
        assert measures[k] == pytest.approx(v, abs=2e-3)
    assert union.boundary.measure == pytest.approx(8, abs=2e-3)
    p, _ = union.boundary.sample(8000, rng=0)
    assert binomial_ok(union.boundary["b.top"].contains(p), 1 / 8)

    diff = Rectangle((-1, -1), (1, 1)) - Disk((0, 0), 0.5)
    assert set(diff.boundary.parts) == {"left", "right", "bottom", "top", "circle"}
    assert diff.boundary["circle"].measure == pytest.approx(math.pi, rel=1e-3)
    assert diff.boundary.measure == pytest.approx(8 + math.pi, rel=1e-3)
    p, n = diff.boundary["circle"].sample(500, rng=0)  # flipped normals point into the hole
    np.testing.assert_allclose(n.numpy(), -p.numpy() / 0.5, atol=1e-12)
    p, _ = diff.boundary.sample(20000, rng=4)
    assert binomial_ok(diff.boundary["circle"].contains(p), math.pi / (8 + math.pi))

    inter = Rectangle((0, 0), (2, 2)) & Disk((2, 2), 1)  # quarter disk
    assert inter.boundary.measure == pytest.approx(2 + math.pi / 2, rel=1e-3)
    assert set(inter.boundary.parts) == {"right", "top", "circle"}


def test_reproducible_seeds_and_fresh_points_from_an_advancing_generator():
    domain = Rectangle((0, 0), (1, 1)) - Disk((0, 0), 0.5)
    for method in ("uniform", "sobol"):
        assert torch.equal(domain.sample(100, 7, method), domain.sample(100, 7, method))
        rng = np.random.default_rng(7)
        a, b = domain.sample(100, rng, method), domain.sample(100, rng, method)
        assert not torch.isclose(a[:, None], b[None]).all(-1).any()  # not one point repeated
        pa, _ = domain.boundary.sample(64, rng, method)
        pb, _ = domain.boundary.sample(64, rng, method)
        assert not torch.equal(pa, pb)
        assert torch.equal(domain.boundary.sample(64, 3, method)[0], domain.boundary.sample(64, 3, method)[0])
    rng = np.random.default_rng(0)
    x = Disk((0, 0), 1).sample(1000, rng, "sobol")  # n not a power of 2 is fine
    assert x.shape == (1000, 2)


DISTANCE_CASES = {
    # (domain, boundary points with their outward normals away from corners)
    "interval": (Interval(-1, 2), [[-1.0], [2.0]], [[-1.0], [1.0]]),
    "rectangle": (Rectangle((0, 0), (2, 1)), [[0, 0.5], [2, 0.5], [1, 0], [1, 1]],
                  [[-1, 0], [1, 0], [0, -1], [0, 1]]),
    "box": (Box((0, 0, 0), (1, 2, 3)), [[0, 1, 1.5], [0.5, 2, 1.5], [0.5, 1, 3]],
            [[-1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    "disk": (Disk((1, 1), 2), [[3, 1], [1, -1]], [[1, 0], [0, -1]]),
    "polygon": (Polygon(L_VERTICES), [[-0.5, -1], [0, -0.5], [0.5, 0], [1, 0.5], [0, 1], [-1, 0]],
                [[0, -1], [1, 0], [0, -1], [1, 0], [0, 1], [-1, 0]]),
    "difference": (Rectangle((-1, -1), (1, 1)) - Disk((0, 0), 0.5), [[0.5, 0], [0, -1]], [[-1, 0], [0, -1]]),
    "union": (Rectangle((0, 0), (2, 1)) | Disk((2, 0.5), 1), [[3, 0.5], [0, 0.5]], [[1, 0], [-1, 0]]),
    "intersection": (Rectangle((0, 0), (2, 2)) & Disk((2, 2), 1), [[2, 1.5], [2 - 0.6, 2 - 0.8]],
                     [[1, 0], [-0.6, -0.8]]),
}


@pytest.mark.parametrize("name", list(DISTANCE_CASES))
def test_distance_zero_on_boundary_positive_inside_normalized(name):
    domain, points, normals = DISTANCE_CASES[name]
    p, _ = domain.boundary.sample(500, rng=0)
    assert domain.distance(p).abs().max() < 1e-12
    x = domain.sample(500, rng=1).requires_grad_(True)
    d = domain.distance(x)
    assert d.shape == (500, 1) and (d > 0).all()
    (g,) = torch.autograd.grad(d.sum(), x, create_graph=True)
    hessian_diag = [torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0][:, i]
                    for i in range(domain.dim)]
    assert torch.isfinite(g).all() and all(torch.isfinite(h).all() for h in hessian_diag)
    # normalized to first order: phi(b - eps n) = eps + O(eps^2) and grad phi = -n on the boundary
    b, n, eps = torch.tensor(points, dtype=torch.float64), torch.tensor(normals, dtype=torch.float64), 1e-4
    inner = (b - eps * n).requires_grad_(True)
    phi = domain.distance(inner)
    np.testing.assert_allclose(phi.detach().numpy(), eps, rtol=2e-3, atol=0)
    (grad,) = torch.autograd.grad(phi.sum(), inner)
    np.testing.assert_allclose(grad.numpy(), -n.numpy(), atol=2e-3, rtol=0)
    assert (domain.distance(b + eps * n) < 0).all()  # signed: negative outside
    assert torch.isfinite(torch.autograd.grad(domain.distance(p.requires_grad_(True)).sum(), p)[0]).all()


def test_distance_float32_and_numpy_input():
    poly = Polygon(L_VERTICES)
    x = poly.sample(10, rng=0)
    d64 = poly.distance(x)
    d32 = poly.distance(x.float())
    assert d32.dtype == torch.float32
    np.testing.assert_allclose(d32.double().numpy(), d64.numpy(), rtol=1e-5, atol=1e-6)
    assert torch.equal(poly.distance(x.numpy()), d64)


def test_spacetime_columns_lateral_initial_final():
    space = Rectangle((0, 0), (2, 1))
    domain = TimeDomain(0, 2) * space
    assert isinstance(domain, SpaceTime) and domain.dim == 3 and domain.space is space
    lo, hi = domain.bounds
    np.testing.assert_array_equal(lo, [0, 0, 0]) and np.testing.assert_array_equal(hi, [2, 2, 1])
    x = domain.sample(4000, rng=0, method="sobol").numpy()
    assert binomial_ok(x[:, 0] < 0.5, 1 / 4) and binomial_ok(x[:, 1] < 0.5, 1 / 4)  # t first, then x, y
    assert set(domain.boundary.parts) == {"left", "right", "bottom", "top"}
    assert domain.boundary.measure == pytest.approx(2 * 6)
    p, n = domain.boundary["left"].sample(200, rng=0)
    assert (p[:, 1] == 0).all() and (n == torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)).all()
    assert domain.boundary["left"].measure == pytest.approx(2.0)
    for part, t, sign in ((domain.initial, 0.0, -1.0), (domain.final, 2.0, 1.0)):
        p, n = part.sample(300, rng=1)
        assert (p[:, 0] == t).all() and space.contains(p[:, 1:]).all()
        assert (n == torch.tensor([sign, 0, 0], dtype=torch.float64)).all()
        assert part.measure == pytest.approx(2.0) and part.contains(p).all()
    assert not domain.initial.contains(torch.tensor([[0.0, 3.0, 0.5], [1.0, 1.0, 0.5]])).any()
    x = domain.sample(20, rng=0)
    assert torch.equal(domain.distance(x), space.distance(x[:, 1:]))
    with pytest.raises(InputError, match="domain.initial"):
        domain.boundary["initial"]
    with pytest.raises(InputError, match="TimeDomain"):
        space * TimeDomain(0, 1)
    interval_time = TimeDomain(0, 1) * (Interval(0, 1) - Interval(0.25, 0.5))  # a CSG space
    x = interval_time.sample(5000, rng=0).numpy()
    assert ((x[:, 1] < 0.25) | (x[:, 1] > 0.5)).all() and binomial_ok(x[:, 1] < 0.25, 1 / 3)
    assert interval_time.boundary.measure == pytest.approx(4.0, abs=1e-3)  # four end points x [0, 1]


def test_time_domain_parts():
    t = TimeDomain(0, 3)
    assert set(t.boundary.parts) == {"initial", "final"}
    p, n = t.boundary["final"].sample(3, rng=0)
    assert (p == 3).all() and (n == 1).all()


def test_grid():
    g = Rectangle((0, 0), (2, 1)).grid((3, 2))
    np.testing.assert_array_equal(g.numpy(), [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]])  # 'ij' order
    assert Box((0, 0, 0), (1, 1, 1)).grid(4).shape == (64, 3)
    disk = Disk((0, 0), 1)
    g = disk.grid(101)
    assert disk.contains(g).all() and len(g) == pytest.approx(math.pi * 50**2, rel=0.01)  # h = 1/50
    assert len(Polygon(L_VERTICES).grid(5)) == 25 - 4  # the open quadrant x > 0, y < 0 has 4 grid points
    with pytest.raises(InputError, match="n: expected"):
        disk.grid(1)


def test_immutable():
    rect = Rectangle((0, 0), (1, 1))
    with pytest.raises(AttributeError):
        rect.lo = np.zeros(2)
    with pytest.raises(ValueError):
        rect.lo[0] = 5.0
    with pytest.raises(AttributeError):
        rect.boundary["left"].name = "x"
    lo, _ = rect.bounds
    lo[0] = 9.0
    assert rect.bounds[0][0] == 0.0


@pytest.mark.parametrize("build, message", [
    (lambda: Rectangle((0, 0), (1, 0)), "hi: expected hi > lo"),
    (lambda: Rectangle((0, 0), (1, 1, 1)), "hi: expected 2 numbers"),
    (lambda: Box((0, 0, 0), (1, float("nan"), 1)), "hi: expected finite"),
    (lambda: Interval(1, 1), "b: expected b > a"),
    (lambda: TimeDomain(1, 0), "t1: expected t1 > t0"),
    (lambda: Disk((0, 0), 0), "radius: expected a positive"),
    (lambda: Disk((0, 0, 0), 1), "center: expected 2 numbers"),
    (lambda: Polygon([(0, 0), (1, 0)]), "at least 3 vertices"),
    (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "not simple"),
    (lambda: Polygon([(0, 0), (1, 0), (2, 0)]), "zero area"),
    (lambda: Polygon([(0, 0), (1, 0), (float("inf"), 1)]), "finite"),
    (lambda: Rectangle((0, 0), (1, 1)) | Box((0, 0, 0), (1, 1, 1)), "different dimensions"),
    (lambda: Rectangle((0, 0), (1, 1)) & Rectangle((2, 2), (3, 3)), "empty"),
    (lambda: Rectangle((0, 0), (1, 1)).sample(10, method="halton"), "method: expected"),
    (lambda: Rectangle((0, 0), (1, 1)).sample(10, rng="seed"), "rng: expected"),
    (lambda: Rectangle((0, 0), (1, 1)).sample(-1), "n: expected"),
    (lambda: Rectangle((0, 0), (1, 1)).distance(torch.zeros(3, 3)), r"x: expected points of shape \(n, 2\)"),
    (lambda: Rectangle((0, 0), (1, 1)).contains(np.zeros(3)), r"x: expected points of shape \(n, 2\)"),
])
def test_bad_input_messages(build, message):
    with pytest.raises(InputError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


def test_unknown_part_lists_known_names():
    with pytest.raises(InputError, match="unknown boundary part 'side'.*'left', 'right', 'bottom', 'top'"):
        Rectangle((0, 0), (1, 1)).boundary["side"]


def test_polygon_triangulation_is_exact_for_a_nonconvex_comb():
    comb = Polygon([(0, 0), (5, 0), (5, 2), (4, 2), (4, 1), (3, 1), (3, 2), (2, 2), (2, 1), (1, 1), (1, 2),
                    (0, 2)])
    assert comb.volume == pytest.approx(8.0)
    x = comb.sample(20000, rng=0).numpy()
    assert comb.contains(x).all()
    assert binomial_ok(x[:, 1] > 1, 3 / 8)  # three teeth of area 1 above y = 1
    assert binomial_ok((x[:, 1] > 1) & (x[:, 0] > 4), 1 / 8)


def test_domains_pickle_and_stay_frozen():
    import copy
    import pickle

    domain = TimeDomain(0, 1) * (Rectangle((-1, -1), (1, 1)) - Disk((0, 0), 0.5))
    measure = domain.boundary.measure
    back = pickle.loads(pickle.dumps(domain))
    assert back.boundary.measure == measure and set(back.boundary.parts) == set(domain.boundary.parts)
    assert torch.equal(back.sample(50, rng=3, method="sobol"), domain.sample(50, rng=3, method="sobol"))
    clone = copy.deepcopy(domain.space)
    with pytest.raises(ValueError):
        clone.a.lo[0] = 1.0
