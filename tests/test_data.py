"""Random fields (spectra, covariances) and the generate → cache → load path of sciml.data."""

import json

import numpy as np
import pytest
import scipy.fft
import torch

import sciml.data as sd
from sciml.data.fields import DARCY_KINDS, cosine_spectrum
from sciml.errors import InputError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    return tmp_path


def test_cosine_field_covariance_matches_kl_expansion():
    s, n = 12, 4000
    g = sd.grf_cosine(np.random.default_rng(0), s, alpha=2.0, tau=3.0, n=n)
    # theory: C(p, q) = Σ_k c_k² ψ_k(p) ψ_k(q) with ψ the orthonormal DCT-II basis (MATLAB idct2)
    basis = scipy.fft.idct(np.eye(s), norm="ortho", axis=0)  # basis[:, k] = ψ_k on the grid
    c2 = cosine_spectrum(s, 2.0, 3.0) ** 2
    pairs = [((0, 0), (0, 0)), ((5, 6), (5, 6)), ((5, 6), (6, 6)), ((0, 0), (11, 11)), ((3, 3), (3, 8))]
    for p, q in pairs:
        theory = np.einsum("ab,a,b,a,b->", c2, basis[p[0]], basis[p[1]], basis[q[0]], basis[q[1]])
        empirical = np.mean(g[:, p[0], p[1]] * g[:, q[0], q[1]])
        var = np.einsum("ab,a,b->", c2, basis[p[0]] ** 2, basis[p[1]] ** 2)
        assert abs(empirical - theory) < 5 * var * np.sqrt(2.0 / n), (p, q, empirical, theory)
    # the DCT of a sample recovers s·coef·ξ: zero constant mode, spectrum decaying like |k|^(-α)
    assert np.allclose(scipy.fft.dctn(g, axes=(1, 2), norm="ortho")[:, 0, 0], 0.0, atol=1e-12)


def test_rough_field_is_rougher_and_threshold_gives_two_values():
    rng = np.random.default_rng(1)
    smooth = sd.grf_cosine(rng, 64, 2.0, DARCY_KINDS["smooth"]["tau"], n=20)
    rough = sd.grf_cosine(rng, 64, 2.0, DARCY_KINDS["rough"]["tau"], n=20)

    def sign_changes(g):
        return np.mean(np.abs(np.diff(np.sign(g), axis=-1)) > 0)

    assert sign_changes(rough) > 1.2 * sign_changes(smooth)
    a = sd.darcy_coefficient(np.random.default_rng(2), 32, "smooth")
    assert set(np.unique(a)) == {3.0, 12.0}
    with pytest.raises(InputError, match="kind"):
        sd.darcy_coefficient(rng, 32, "wavy")


def test_rbf_field_covariance_and_interpolation():
    field = sd.RBFField1D(length_scale=0.2, n_grid=200)
    u = field.sample(np.random.default_rng(0), 4000)
    x = field.grid
    for i, j in [(20, 20), (20, 60), (100, 180), (0, 199)]:
        theory = np.exp(-0.5 * (x[i] - x[j]) ** 2 / 0.2**2)
        assert abs(np.mean(u[:, i] * u[:, j]) - theory) < 0.1
    assert np.allclose(field.evaluate(u[:3], x), u[:3], atol=1e-12)  # interpolates the grid values


def test_periodic_field_variance():
    s, n, gamma, tau, sigma = 64, 3000, 2.0, 3.0, 1.0
    u = sd.grf_periodic_1d(np.random.default_rng(0), s, gamma, tau, sigma, n=n)
    k = np.fft.fftfreq(s, 1.0 / s)
    std2 = sigma**2 * (4 * np.pi**2 * k**2 + tau**2) ** (-gamma)
    std2[0] = 0.0
    assert abs(u.mean()) < 0.05 * np.sqrt(std2.sum())
    assert np.var(u) == pytest.approx(std2.sum(), rel=0.05)


def test_darcy_cache_round_trip_and_determinism(cache):
    ds = sd.load("darcy", n=4, resolution=17, kind="smooth", workers=1)
    assert len(ds) == 4 and ds.inputs == ("a",) and ds.target == "u"
    item = ds[0]
    assert item["a"].shape == (1, 17, 17) and item["u"].shape == (1, 17, 17)
    assert float(item["u"][0, 0, 0]) == 0.0 and float(item["u"].max()) > 0.0
    d = sd.entry_dir("darcy", n=4, resolution=17, kind="smooth")
    meta = json.loads((d / "meta.json").read_text())
    assert meta["params"]["seed"] == 0 and meta["checksum"]["sha256"] == sd.datasets.sha256(d / "data.npz")
    assert meta["samples_per_second"] > 0 and "numpy" in meta["versions"]
    stamp = (d / "data.npz").stat().st_mtime_ns
    again = sd.load("darcy", n=4, resolution=17, kind="smooth")
    assert (d / "data.npz").stat().st_mtime_ns == stamp  # served from the cache
    assert torch.equal(again.fields["u"], ds.fields["u"])
    # per-sample seeds: parallel == serial, and a smaller set is a prefix of a larger one
    par, _ = sd.generate("darcy", n=5, resolution=17, workers=2, chunk=2)
    assert np.array_equal(par["u"][:4].astype(np.float32), ds.fields["u"].numpy())


def test_corrupt_or_partial_cache_is_rebuilt(cache):
    ds = sd.load("darcy", n=3, resolution=9, workers=1)
    d = sd.entry_dir("darcy", n=3, resolution=9)
    raw = bytearray((d / "data.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "data.npz").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="checksum mismatch"):
        sd.read_entry(d)
    with pytest.warns(RuntimeWarning, match="checksum"):
        rebuilt = sd.load("darcy", n=3, resolution=9, workers=1)
    assert torch.equal(rebuilt.fields["a"], ds.fields["a"])
    (d / "meta.json").unlink()  # partial entry: data without metadata
    with pytest.warns(RuntimeWarning, match="partial"):
        sd.load("darcy", n=3, resolution=9, workers=1)
    assert sd.read_entry(d)[1]["params"]["n"] == 3


def test_darcy_fno_stride_recipe(cache):
    arrays, _ = sd.generate("darcy", n=2, resolution=9, fine=33, workers=1)
    a_fine = sd.darcy_coefficient(sd.datasets.sample_rng(0, 1), 33, "smooth")
    assert np.array_equal(arrays["a"][1, 0], a_fine[::4, ::4])
    with pytest.raises(InputError, match="fine"):
        sd.generate("darcy", n=1, resolution=10, fine=33)


def test_antiderivative_pointwise_and_cartesian(cache):
    ds = sd.load("antiderivative", n=6, points=3, workers=1)
    assert len(ds) == 18 and ds.inputs == ("u", "y") and ds.target == "s"
    assert {k: tuple(v.shape) for k, v in ds[4].items()} == {"u": (100,), "y": (1,), "s": (1,)}
    assert torch.equal(ds[3]["u"], ds[5]["u"])  # items of one function share u
    cart = sd.load("antiderivative", n=3, m=101, points=101, layout="cartesian", workers=1)
    item = cart[1]
    assert item["y"].shape == (101, 1) and item["s"].shape == (101,)
    s, u, h = item["s"].double(), item["u"].double(), 0.01
    assert abs(float(s[0])) < 1e-6  # s(0) = 0
    ds_dy = (-s[4:] + 8 * s[3:-1] - 8 * s[1:-3] + s[:-4]) / (12 * h)  # fourth-order central difference
    assert torch.allclose(ds_dy, u[2:-2], atol=2e-4)  # s' = u


def test_burgers_shapes(cache):
    ds = sd.load("burgers", n=2, resolution=32, nt=2, solver_points=64, workers=1)
    item = ds[1]
    assert item["u0"].shape == (1, 32) and item["u"].shape == (2, 32)
    assert (
        torch.isfinite(item["u"]).all()
        and float(item["u"].abs().max()) <= float(item["u0"].abs().max()) + 1e-6
    )


def test_bad_dataset_requests(cache):
    with pytest.raises(InputError, match="antiderivative, burgers, darcy"):
        sd.load("navier")
    with pytest.raises(InputError, match="resolutoin"):
        sd.load("darcy", resolutoin=64)
    with pytest.raises(InputError, match="n:"):
        sd.load("darcy", n=0)
    bad = torch.zeros(3, 1, 4, 4)
    bad[2, 0, 1, 1] = float("nan")
    with pytest.raises(InputError, match="a: contains NaN"):
        sd.FieldDataset({"a": bad, "u": torch.zeros(3, 1, 4, 4)}, ("a",), "u")
    with pytest.raises(InputError, match="same number"):
        sd.FieldDataset({"a": torch.zeros(3, 2), "u": torch.zeros(2, 2)}, ("a",), "u")


def test_an_entry_is_published_whole_and_the_first_build_wins(cache):
    d = sd.build("darcy", n=2, resolution=9, workers=1)
    first = (d / "meta.json").read_text()
    assert sd.build("darcy", n=2, resolution=9, workers=1) == d  # a second builder finds a valid entry
    assert (d / "meta.json").read_text() == first
    assert sorted(p.name for p in d.parent.iterdir()) == [d.name]  # no temporary directories left
