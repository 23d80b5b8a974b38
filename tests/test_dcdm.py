"""DCDM: the network of the reference, Ritz-vector data, the scale-invariant loss, the solver loop,
size transfer, persistence with checksums and the dimension check."""

import json

import numpy as np
import pytest
import torch

from sciml.errors import InputError
from sciml.linalg import DCDM, Stencil, cg
from sciml.linalg.dcdm import scale_invariant_loss
from sciml.linalg.dcdm_net import DCDMNet, pad_bc
from sciml.linalg.ritz import lanczos_ritz, spectrum_biased_rhs


@pytest.mark.parametrize("dim, layout, count", [(3, "from64", 97_457), (2, "from64", 32_657), (3, "from128", 152_881)])
def test_parameter_counts_match_the_reference(dim, layout, count):
    assert sum(p.numel() for p in DCDMNet(dim, layout).parameters()) == count


def test_network_handles_odd_sizes_and_is_translation_equivariant_inside():
    net = DCDMNet(2)
    x = torch.zeros(1, 1, 21, 17)
    x[0, 0, 10, 8] = 1
    assert net(x).shape == x.shape


def test_ritz_values_are_eigenvalues_and_loss_is_scale_invariant():
    n = 12
    st = Stencil.poisson((n, n))
    exact = np.sort(
        [
            (4 * (np.sin(np.pi * i / (2 * (n + 1))) ** 2 + np.sin(np.pi * j / (2 * (n + 1))) ** 2)) * (n + 1) ** 2
            for i in range(1, n + 1)
            for j in range(1, n + 1)
        ]
    )
    basis = lanczos_ritz(lambda v: st.apply(v.reshape(1, n, n)).reshape(-1), st.n, 80, seed=0)
    assert basis.values[-1].item() == pytest.approx(exact[-1], rel=1e-10)
    assert basis.values[0].item() == pytest.approx(exact[0], rel=1e-10)
    V = basis.vectors.double()
    assert torch.allclose(V @ V.T, torch.eye(V.shape[0], dtype=torch.float64), atol=1e-5)
    r = spectrum_biased_rhs(basis, 4, torch.Generator().manual_seed(0))
    assert torch.allclose(r.norm(dim=1), torch.ones(4))
    y = torch.randn(4, st.n)
    Ay = st.apply(y.reshape(4, n, n)).reshape(4, -1)
    assert scale_invariant_loss(r, y, Ay) == pytest.approx(float(scale_invariant_loss(r, -3 * y, -3 * Ay)), rel=1e-5)
    Ainv_r = torch.as_tensor(np.linalg.solve(st.to_sparse().toarray(), r.double().T.numpy()).T, dtype=torch.float32)
    assert float(scale_invariant_loss(r, Ainv_r, st.apply(Ainv_r.reshape(4, n, n)).reshape(4, -1))) < 1e-8


@pytest.fixture(scope="module")
def model():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield DCDM.train(Stencil.poisson((32, 32)), steps=300, batch=8, ritz=160, seed=0)
    finally:
        torch.set_num_threads(threads)


def test_dcdm_trained_at_32_beats_cg_at_64(model):
    assert model.meta["loss_last"] < 0.2 * model.meta["loss_first"]
    st = Stencil.poisson((64, 64))
    b = np.random.default_rng(0).standard_normal(st.n)
    x, info = model.solve(st, b, rtol=1e-4)
    _, ref = cg(st, b, rtol=1e-4)
    assert info.converged and info.final_residual <= 1e-4
    assert info.iterations <= ref.iterations / 3, (info.iterations, ref.iterations)
    assert info.extra["network_time"] > 0


def test_energy_error_never_increases_and_other_geometry(model):
    solid = np.zeros((40, 40), bool)
    solid[10:22, 14:26] = True
    st = Stencil((40, 40), solid=solid, bc=("dirichlet", "neumann", "neumann", "neumann"))
    A = st.to_sparse().toarray()
    b = np.where(solid.ravel(), 0.0, np.random.default_rng(1).standard_normal(st.n))
    xs = np.linalg.solve(A, b)
    energies = []
    x, info = model.solve(st, b, rtol=1e-6, maxiter=200, callback=lambda xk: energies.append((xk - xs) @ A @ (xk - xs)))
    assert info.converged and np.all(np.diff(energies) <= 1e-9 * energies[0])
    _, ref = cg(st, b, rtol=1e-6)
    assert info.iterations < ref.iterations


def test_save_load_roundtrip_checksum_and_dimension_check(model, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    model.save("poisson32")
    loaded = DCDM.load("poisson32")
    r = torch.randn(1, 1, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(loaded.net.state_dict().values(), model.net.state_dict().values()))
    assert torch.allclose(loaded.net(r), model.net(r), rtol=1e-5, atol=1e-6) and loaded.meta["train_shape"] == [32, 32]
    with pytest.raises(InputError, match="no trained dcdm model"):
        DCDM.load("nope")
    meta = json.loads((tmp_path / "models/dcdm/poisson32.json").read_text())
    meta["sha256"] = "0" * 64
    (tmp_path / "models/dcdm/poisson32.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="checksum"):
        DCDM.load("poisson32")
    with pytest.raises(InputError, match="2-D, got a 3-D"):
        model.solve(Stencil.poisson((8, 8, 8)), np.ones(512))


def test_network_input_keeps_its_magnitude_per_cell_at_other_sizes(model):
    assert model.meta["train_fluid"] == 32 * 32 and model.input_scale(32 * 32) == 1.0
    r = torch.randn(64 * 64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    q = model.direction((64, 64))(r)
    x = (2 * r / r.norm(dim=0)).T.reshape(2, 1, 64, 64).float()  # √(64² / 32²) = 2
    with torch.no_grad():
        ref = model.net(x).reshape(2, -1).T.double()
    assert torch.equal(q, ref)
    solid = torch.zeros(64, 64, dtype=torch.bool)
    solid[:, :48] = True  # a quarter of the cells fluid: as many as at training, scale 1
    st = Stencil((64, 64), solid=solid.numpy(), bc=("dirichlet", "neumann", "neumann", "neumann"))
    assert model.input_scale(int(st.fluid.sum())) == 1.0


def test_multilevel_network_is_bias_free_and_its_depth_follows_the_grid():
    torch.manual_seed(0)
    net = DCDMNet(2, "multilevel")
    assert sum(p.numel() for p in net.parameters()) == 18_608
    r = torch.randn(2, 1, 40, 24)
    assert torch.equal(net(torch.zeros(1, 1, 40, 24)), torch.zeros(1, 1, 40, 24))
    assert torch.allclose(net(3.5 * r), 3.5 * net(r), rtol=1e-4, atol=1e-5)  # positively homogeneous
    depths = []
    original = net._cycle
    net._cycle = lambda z, levels: (depths.append(z.shape[-1]), original(z, levels))[1]
    for n in (16, 64, 65):
        depths.clear()
        assert net(torch.randn(1, 1, n, n)).shape == (1, 1, n, n)
        assert depths[-1] < 8, (n, depths)  # coarsened to below 2·coarsest cells per side
        assert len(depths) == net.levels((n, n)) == {16: 3, 64: 5, 65: 5}[n]
    x = torch.randn(1, 1, 64, 64)
    uncapped = net(x)
    net.max_levels = 5  # the natural depth of 64²: the same network
    assert torch.equal(net(x), uncapped)
    net.max_levels, depths[:] = 3, []
    capped = net(x)
    assert depths == [64, 32, 16] and net.levels((64, 64)) == 3 and net.levels((64, 64), capped=False) == 5
    assert not torch.allclose(capped, uncapped)
    assert DCDMNet(3, "multilevel")(torch.randn(1, 1, 9, 16, 12)).shape == (1, 1, 9, 16, 12)


def test_odd_network_is_h_of_r_minus_h_of_minus_r_odd_and_homogeneous_for_every_real_factor():
    torch.manual_seed(0)
    plain = DCDMNet(2, "multilevel")
    odd = DCDMNet(2, "multilevel", odd=True)
    odd.load_state_dict(plain.state_dict())  # the same parameters: odd is a wrapper, not a new layer
    r = torch.randn(3, 1, 24, 20)
    for bc in (None, ("neumann", "dirichlet", "dirichlet", "neumann")):
        assert torch.allclose(odd(r, bc=bc), plain(r, bc=bc) - plain(-r, bc=bc), rtol=1e-5, atol=1e-6)
    assert torch.allclose(odd(-r), -odd(r), rtol=1e-5, atol=1e-6)
    assert torch.allclose(odd(-2.5 * r), -2.5 * odd(r), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(plain(-r), -plain(r), rtol=0.1, atol=0.1 * plain(r).abs().max().item())  # even part


def test_odd_model_keeps_odd_on_save_and_is_not_mistaken_for_a_plain_one_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    recipe = dict(steps=2, batch=2, ritz=20, layout="multilevel")
    model = DCDM.cached("m", [(8, 8)], odd=True, **recipe)
    assert model.net.odd and model.meta["odd"] is True
    x = torch.randn(1, 1, 16, 16)
    loaded = DCDM.load("m")
    assert loaded.net.odd and torch.equal(loaded.net(x), model.net(x))
    again = DCDM.cached("m", [(8, 8)], odd=True, **recipe)  # the same recipe: loaded, not retrained
    assert torch.equal(again.net.first.weight, model.net.first.weight)
    plain = DCDM.cached("m", [(8, 8)], **recipe)  # another recipe (not odd): retrained and saved
    assert not plain.net.odd and DCDM.load("m").meta["odd"] is False


@pytest.fixture(scope="module")
def multilevel():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield DCDM.train([Stencil.poisson((16, 16)), Stencil.poisson((32, 32))], steps=300, batch=8, ritz=160,
                         seed=0, layout="multilevel", cosine=True)
    finally:
        torch.set_num_threads(threads)


def test_multilevel_dcdm_iterations_stay_nearly_flat_where_the_paper_layout_grows(model, multilevel):
    """Trained at 16² and 32² (two depths, cosine-annealed lr), applied unchanged at 128²: iterations
    grow by at most 1.5× from 32² to 128² (measured 13 → 17), while the one-pooling-level layout of the paper, trained
    at 32², needs more than twice as many at 128² (measured 50)."""
    ml = multilevel
    assert ml.meta["train_shapes"] == [[16, 16], [32, 32]] and ml.meta["train_shape"] == [16, 16]
    assert ml.meta["lr_schedule"] == "cosine" and ml.meta["loss_last"] < 0.1 * ml.meta["loss_first"]
    its = {}
    for n in (32, 128):
        st = Stencil.poisson((n, n))
        b = np.random.default_rng(0).standard_normal(st.n)
        its[n] = ml.solve(st, b, rtol=1e-6, maxiter=300)[1].iterations
    paper = model.solve(st, b, rtol=1e-6, maxiter=300)[1].iterations
    assert its[128] <= 1.5 * its[32], its
    assert 2 * its[128] < paper, (its, paper)
    with pytest.raises(InputError, match="one dimension"):
        DCDM.train([Stencil.poisson((8, 8)), Stencil.poisson((8, 8, 8))], steps=1)


def test_odd_network_keeps_the_deep_recursion_converging_where_the_plain_one_stalls():
    """The recipe of RECIPES scaled down (16² and 32², bottoms 1, 2, 4, 300 steps): the plain network
    stalls at 128² (measured: not converged in 300 iterations), the odd one trained alike converges
    (measured 9 at 32², 13 at 128², to 1e-6)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        its = {}
        for odd in (False, True):
            model = DCDM.train([Stencil.poisson((16, 16)), Stencil.poisson((32, 32))], steps=300, batch=8,
                               ritz=160, seed=0, layout="multilevel", cosine=True, coarsest=(1, 2, 4), odd=odd)
            for n in (32, 128):
                st = Stencil.poisson((n, n))
                b = np.random.default_rng(0).standard_normal(st.n)
                info = model.solve(st, b, rtol=1e-6, maxiter=100)[1]
                its[odd, n] = info.iterations if info.converged else None
    finally:
        torch.set_num_threads(threads)
    assert its[False, 128] is None, its
    assert its[True, 32] is not None and its[True, 128] is not None and its[True, 128] <= 2 * its[True, 32], its


def test_pretrained_trains_once_then_loads_and_rejects_unknown_layouts(tmp_path, monkeypatch):
    from sciml.linalg import dcdm

    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    monkeypatch.setitem(dcdm.RECIPES, ("multilevel", 2), {"shapes": [(8, 8), (16, 16)], "steps": 4, "batch": 2,
                                                          "ritz": 20, "cosine": True})
    first = dcdm.pretrained(2, verbose=False)
    assert first.net.layout == "multilevel" and first.meta["train_shapes"] == [[8, 8], [16, 16]]
    assert (tmp_path / "models/dcdm/poisson2d-multilevel.pt").exists()
    again = dcdm.pretrained(2, verbose=False)
    assert all(torch.equal(a, b) for a, b in zip(first.net.state_dict().values(), again.net.state_dict().values()))
    # a cached model made with another recipe is not reused: retrained (and re-saved) with the new one
    monkeypatch.setitem(dcdm.RECIPES, ("multilevel", 2), {"shapes": [(8, 8), (16, 16)], "steps": 4, "batch": 2,
                                                          "ritz": 20, "cosine": True, "coarsest": (1, 4)})
    newer = dcdm.pretrained(2, verbose=False)
    assert newer.meta["train_coarsest"] == [1, 4] and first.meta["train_coarsest"] == [4]
    assert dcdm.DCDM.load("poisson2d-multilevel").meta["train_coarsest"] == [1, 4]
    with pytest.raises(InputError, match="layout: expected one of"):
        dcdm.pretrained(2, layout="from256")


def test_training_cycles_the_recursion_bottom_and_the_model_keeps_the_last(tmp_path, monkeypatch):
    """coarsest=(1, 2, 4): one value per pass over the operators, so a 16² grid is trained at 5, 4 and 3
    levels; the saved model solves with coarsest 4 and loads with it."""
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    seen = []
    original = DCDMNet.forward
    monkeypatch.setattr(DCDMNet, "forward",
                        lambda net, r, bc=None: (seen.append(net.levels(r.shape[2:])), original(net, r, bc))[1])
    model = DCDM.train([Stencil.poisson((8, 8)), Stencil.poisson((16, 16))], steps=7, batch=2, ritz=20,
                       layout="multilevel", coarsest=(1, 2, 4))
    assert seen == [4, 5, 3, 4, 2, 3, 4]  # (8², 16²) at bottoms 1, 2, 4, then 1 again
    assert model.net.coarsest == 4 and model.meta["coarsest"] == 4 and model.meta["train_coarsest"] == [1, 2, 4]
    model.save("bottoms")
    assert DCDM.load("bottoms").net.coarsest == 4
    deep = DCDM.train(Stencil.poisson((8, 8)), steps=1, batch=2, ritz=20, layout="multilevel", coarsest=(4, 1))
    deep.save("deep")
    assert DCDM.load("deep").net.coarsest == 1 and DCDM.load("deep").net.levels((8, 8)) == 4
    with pytest.raises(InputError, match="coarsest: expected a positive integer"):
        DCDM.train(Stencil.poisson((8, 8)), steps=1, layout="multilevel", coarsest=(2, 0))
    with pytest.raises(InputError, match="coarsest: only the multilevel layout"):
        DCDM.train(Stencil.poisson((8, 8)), steps=1, coarsest=2)


def test_recursion_capped_at_the_trained_depth_is_kept_on_save_and_set_on_cached_models(tmp_path, monkeypatch):
    """max_levels="trained": the deepest recursion of training (16² down to 1²: 5 levels) caps the
    network at solve time, survives save/load, and a cached model gets a recipe's cap without retraining."""
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    recipe = dict(steps=3, batch=2, ritz=20, layout="multilevel", coarsest=(1, 4))
    model = DCDM.train([Stencil.poisson((8, 8)), Stencil.poisson((16, 16))], max_levels="trained", **recipe)
    assert model.trained_depth == 5 and model.net.max_levels == 5 and model.meta["max_levels"] == 5
    assert model.net.levels((256, 256)) == 5 and model.net.levels((256, 256), capped=False) == 7
    x = torch.randn(1, 1, 256, 256)
    capped = model.net(x)
    model.save("capped")
    loaded = DCDM.load("capped")
    assert loaded.net.max_levels == 5 and torch.equal(loaded.net(x), capped)
    assert DCDM.cached("capped", [(8, 8), (16, 16)], **recipe).net.max_levels is None  # the recipe sets no cap
    again = DCDM.cached("capped", [(8, 8), (16, 16)], max_levels=6, **recipe)
    assert again.net.max_levels == 6 and torch.equal(again.net.first.weight, model.net.first.weight)
    assert DCDM.train(Stencil.poisson((8, 8)), steps=1, batch=2, ritz=20).trained_depth is None  # one pooling level
    with pytest.raises(InputError, match="max_levels: expected a positive integer, 'trained' or None"):
        model.cap_depth(0)


def test_solve_time_recursion_bottom_is_kept_on_save_and_set_on_cached_models(tmp_path, monkeypatch):
    """solve_coarsest / set_coarsest: the recursion bottom at solve time (default: the last bottom of
    training) changes the depth on the same weights, survives save/load, and a cached model gets a
    recipe's bottom without retraining."""
    monkeypatch.setenv("SCIML_DATA", str(tmp_path))
    recipe = dict(steps=3, batch=2, ritz=20, layout="multilevel", coarsest=(1, 4))
    model = DCDM.train([Stencil.poisson((8, 8)), Stencil.poisson((16, 16))], **recipe)
    assert model.net.coarsest == 4 and model.net.levels((64, 64)) == 5  # 64 → 4
    x = torch.randn(1, 1, 64, 64)
    at4 = model.net(x)
    assert model.set_coarsest(2) is model and model.net.levels((64, 64)) == 6 and model.meta["coarsest"] == 2
    at2 = model.net(x)
    assert not torch.allclose(at2, at4)  # one level deeper: another network output on the same weights
    model.save("bottom2")
    loaded = DCDM.load("bottom2")
    assert loaded.net.coarsest == 2 and torch.equal(loaded.net(x), at2)
    assert DCDM.cached("bottom2", [(8, 8), (16, 16)], **recipe).net.coarsest == 4  # the recipe's default
    again = DCDM.cached("bottom2", [(8, 8), (16, 16)], solve_coarsest=2, **recipe)
    assert again.net.coarsest == 2 and torch.equal(again.net.first.weight, model.net.first.weight)
    trained2 = DCDM.train(Stencil.poisson((8, 8)), steps=1, batch=2, ritz=20, layout="multilevel",
                          coarsest=(1, 4), solve_coarsest=2)
    assert trained2.net.coarsest == 2 and trained2.meta["train_coarsest"] == [1, 4]
    with pytest.raises(InputError, match="coarsest: expected a positive integer or None"):
        model.set_coarsest(0)
    with pytest.raises(InputError, match="coarsest: only the multilevel layout recurses"):
        DCDM.train(Stencil.poisson((8, 8)), steps=1, batch=2, ritz=20).set_coarsest(2)


def test_padding_follows_the_boundary_conditions():
    """Zeros on Dirichlet sides, the edge value on no-flux sides; all-Dirichlet is the plain zero padding,
    so models trained before keep their outputs on Dirichlet systems."""
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    bc = ("neumann", "dirichlet", "dirichlet", "neumann")  # axis 0 low, axis 0 high, axis 1 low, axis 1 high
    p = pad_bc(x, [(1, 1), (1, 1)], bc)[0, 0]
    assert p[0, 1:-1].equal(x[0, 0, 0]) and p[-1].abs().sum() == 0  # no flux below, Dirichlet above
    assert p[:, 0].abs().sum() == 0 and p[1:-1, -1].equal(x[0, 0, :, -1])  # Dirichlet left, no flux right
    assert pad_bc(x, [(1, 1), (1, 1)], ("dirichlet",) * 4).equal(torch.nn.functional.pad(x, (1, 1, 1, 1)))
    torch.manual_seed(0)
    net = DCDMNet(2, "multilevel")
    r = torch.randn(2, 1, 20, 24)
    with torch.no_grad():
        assert net(r).equal(net(r, bc="dirichlet"))
        conv = net.first  # a 3×3 convolution: 'same' output, replicate padding on no-flux sides
        ref = torch.nn.functional.conv2d(torch.nn.functional.pad(r, (1, 1, 1, 1), mode="replicate"), conv.weight)
        assert torch.allclose(conv(r), torch.nn.functional.conv2d(r, conv.weight, padding=1))
        conv.bc = ("neumann",) * 4
        assert torch.allclose(conv(r), ref)
        conv3 = DCDMNet(3, "multilevel").first
        r3 = torch.randn(1, 1, 6, 5, 4)
        assert torch.allclose(conv3(r3), torch.nn.functional.conv3d(r3, conv3.weight, padding=1))
        conv3.bc = ("neumann",) * 6
        ref3 = torch.nn.functional.conv3d(torch.nn.functional.pad(r3, (1,) * 6, mode="replicate"), conv3.weight)
        assert torch.allclose(conv3(r3), ref3)


def test_boundary_padding_fixes_dcdm_next_to_no_flux_walls(multilevel):
    """Trained on Dirichlet Poisson only: on the obstacle domain (no-flux walls and disk, open top) the
    network padded with zeros proposes Dirichlet-like directions near the walls (measured 117 iterations
    at 64²); padded by the boundary conditions, the same weights need 26."""
    n = 64
    y, x = np.mgrid[:n, :n] + 0.5
    solid = (x - 0.5 * n) ** 2 + (y - 0.35 * n) ** 2 < (0.2 * n) ** 2
    st = Stencil((n, n), solid=solid, bc=("neumann", "dirichlet", "neumann", "neumann"))
    b = np.where(solid.ravel(), 0, np.random.default_rng(0).standard_normal(st.n))
    padded = multilevel.solve(st, b, rtol=1e-6, maxiter=300)[1]
    zeros = multilevel.solve(st, b, rtol=1e-6, maxiter=300, boundary_padding=False)[1]
    assert padded.converged and 2 * padded.iterations < zeros.iterations, (padded.iterations, zeros.iterations)


@pytest.mark.parametrize("dim, layout", [(2, "multilevel"), (2, "from64"), (3, "multilevel")])
def test_channels_last_weights_give_the_contiguous_networks_output(dim, layout):
    """DCDMNet keeps its weights channels-last (the fast CPU convolution path); the output equals that of
    the same weights in the default layout to float32 rounding, with boundary padding too."""
    torch.manual_seed(0)
    net = DCDMNet(dim, layout, odd=layout == "multilevel")
    fmt = torch.channels_last if dim == 2 else torch.channels_last_3d
    assert all(p.is_contiguous(memory_format=fmt) for p in net.parameters() if p.dim() == dim + 2)
    twin = DCDMNet(dim, layout, odd=layout == "multilevel")
    twin.load_state_dict(net.state_dict())
    twin.to(memory_format=torch.contiguous_format)
    assert all(p.is_contiguous() for p in twin.parameters())
    r = torch.randn(2, 1, *(20 if dim == 2 else 12,) * dim)
    for bc in (None, ("neumann", "dirichlet") * dim):
        with torch.no_grad():
            y, y0 = net(r, bc=bc), twin(r, bc=bc)
        assert torch.allclose(y, y0, rtol=1e-4, atol=1e-5 * y0.abs().max().item())
