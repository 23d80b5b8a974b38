"""The fused C kernel of the PIG jet (sciml/kernels/pig_jet.c) equals its torch twin, forward and backward."""

import warnings

import pytest
import torch

from sciml.kernels import native
from sciml.nn.pig import PIG, _diag_jet_backward_torch, _diag_jet_torch

pytestmark = pytest.mark.skipif(not native.available(torch.float64), reason="no C compiler for the native kernels")

TOL = {torch.float32: dict(rtol=2e-5, atol=2e-5), torch.float64: dict(rtol=1e-11, atol=1e-11)}


def _case(k, n_g, d, n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 2.4 * torch.rand(n, d, generator=g, dtype=dtype) - 1.2  # some points far outside every Gaussian
    means = 2 * torch.rand(k, n_g, d, generator=g, dtype=dtype) - 1
    s = 1 + 20 * torch.rand(k, n_g, d, generator=g, dtype=dtype)  # σ from 0.05 to 1
    w = torch.randn(k, n_g, generator=g, dtype=dtype)
    go = torch.randn(1 + 2 * d, n, k, generator=g, dtype=dtype)
    return x, means, s, w, go


def _scaled(a, ref):
    """Error relative to the largest entry of the reference (the jet rows differ in scale by s²)."""
    return (a - ref) / ref.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k,n_g,d,n", [(4, 37, 2, 131), (3, 100, 3, 70), (1, 9, 1, 65), (2, 64, 4, 5)])
def test_forward_and_backward_equal_torch_twin(dtype, k, n_g, d, n):
    x, means, s, w, go = _case(k, n_g, d, n, dtype)
    ref = _diag_jet_torch(x, means, s, w, chunk=16)
    out = native.pig_jet_forward(x, means, s, w)
    assert out.shape == ref.shape == (1 + 2 * d, n, k)
    for row in range(1 + 2 * d):
        torch.testing.assert_close(_scaled(out[row], ref[row]), torch.zeros_like(ref[row]), **TOL[dtype])
    value = native.pig_jet_forward(x, means, s, w, derivatives=False)
    assert value.shape == (1, n, k)
    torch.testing.assert_close(value, out[:1], rtol=0, atol=0)
    value_only = torch.cat([go[:1], torch.zeros_like(go[1:])])
    for upstream, fused_upstream in ((go, go), (value_only, go[:1])):  # full jet; value alone (its own loop)
        grads = native.pig_jet_backward(x, means, s, w, fused_upstream)
        for a, b in zip(grads, _diag_jet_backward_torch(x, means, s, w, upstream, chunk=16)):
            assert a.shape == b.shape
            torch.testing.assert_close(_scaled(a, b), torch.zeros_like(b), **TOL[dtype])


def test_threads_give_the_same_result():
    x, means, s, w, go = _case(4, 50, 2, 200, torch.float64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = (native.pig_jet_forward(x, means, s, w), *native.pig_jet_backward(x, means, s, w, go))
        torch.set_num_threads(2)
        two = (native.pig_jet_forward(x, means, s, w), *native.pig_jet_backward(x, means, s, w, go))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_pig_training_gradients_match_with_and_without_kernel(monkeypatch):
    """A Laplacian residual loss through sm.fit's jet path: same loss and parameter gradients either way."""
    import sciml as sm

    def loss_and_grads():
        torch.manual_seed(3)
        m = PIG(2, n_gaussians=40, sigma=0.2).double()
        x = (2 * torch.rand(90, 2, dtype=torch.float64) - 1).requires_grad_()
        with sm.ops.forward_derivatives():
            u = m(x)
            r = sm.laplacian(u, x) + u
        loss = (r ** 2).mean() + (m(x.detach()) ** 2).mean()
        return loss.detach(), torch.autograd.grad(loss, [p for p in m.parameters() if p.requires_grad])

    fused = loss_and_grads()
    monkeypatch.setenv("SCIML_KERNELS", "torch")
    twin = loss_and_grads()
    torch.testing.assert_close(fused[0], twin[0], rtol=1e-12, atol=0)
    for a, b in zip(fused[1], twin[1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_missing_compiler_falls_back_with_one_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("SCIML_CACHE_DIR", str(tmp_path))
    native._library.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert not native.available(torch.float32)
            assert not native.available(torch.float32)  # cached: warned once
        assert len([w for w in caught if "native kernels unavailable" in str(w.message)]) == 1
        m = PIG(2, n_gaussians=5)
        assert m(torch.zeros(3, 2)).shape == (3, 1)  # the torch twin still serves
    finally:
        monkeypatch.undo()
        native._library.cache_clear()
    assert native.available(torch.float32)  # rebuilt (or found in the cache) with the real compiler
