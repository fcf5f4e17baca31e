"""The reference solutions (solutions/01_rnn_review.ipynb) against independent oracles:
centred finite differences written here, a direct formula, and PyTorch's nn.RNN."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_leaves_inputs_alone, numeric_grad

from autograder.exercises import rnn_review
from autograder.reference import reference

REF = reference(rnn_review).namespace
rng = np.random.default_rng(20261122)


def random_rnn(N=3, T=5, D=4, H=6):
    return (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
            rng.normal(size=(D, H)) / 2, rng.normal(size=(H, H)) / 2, rng.normal(size=H) / 2)




def assert_close_to_numeric(grad, numeric):
    """Centred differences are good to ~1e-9 absolute here; entries near 0 need that floor."""
    assert grad.shape == numeric.shape
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_step_forward_is_the_formula():
    x, h, Wx, Wh, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5)), \
        rng.normal(size=(5, 5)), rng.normal(size=5)
    h_next, _ = REF["rnn_step_forward"](x, h, Wx, Wh, b)
    by_hand = np.array([[np.tanh(sum(x[n, d] * Wx[d, j] for d in range(3))
                                 + sum(h[n, k] * Wh[k, j] for k in range(5)) + b[j])
                         for j in range(5)] for n in range(4)])
    assert h_next.dtype == np.float64
    np.testing.assert_allclose(h_next, by_hand, rtol=1e-12)


def test_forward_over_time_chains_the_step():
    x, h0, Wx, Wh, b = random_rnn()
    h, _ = REF["rnn_forward"](x, h0, Wx, Wh, b)
    state = h0
    for t in range(x.shape[1]):
        state = np.tanh(x[:, t] @ Wx + state @ Wh + b)
        np.testing.assert_allclose(h[:, t], state, rtol=1e-12)


@pytest.mark.parametrize("dims", [dict(N=3, D=4, H=5), dict(N=1, D=1, H=1)])
def test_step_backward_matches_finite_differences(dims):
    N, D, H = dims["N"], dims["D"], dims["H"]
    args = [rng.normal(size=s) for s in ((N, D), (N, H), (D, H), (H, H), (H,))]
    dout = rng.normal(size=(N, H))
    _, cache = REF["rnn_step_forward"](*args)
    grads = REF["rnn_step_backward"](dout, cache)

    def loss():
        return float(np.sum(REF["rnn_step_forward"](*args)[0] * dout))

    for arg, grad in zip(args, grads):
        assert_close_to_numeric(grad, numeric_grad(loss, arg))


@pytest.mark.parametrize("dims", [dict(N=2, T=4, D=3, H=5), dict(N=1, T=1, D=1, H=1)])
def test_backward_through_time_matches_finite_differences(dims):
    args = list(random_rnn(**dims))
    dout = rng.normal(size=(dims["N"], dims["T"], dims["H"]))
    _, cache = REF["rnn_forward"](*args)
    grads = REF["rnn_backward"](dout, cache)

    def loss():
        return float(np.sum(REF["rnn_forward"](*args)[0] * dout))

    for arg, grad in zip(args, grads):
        assert_close_to_numeric(grad, numeric_grad(loss, arg))


@pytest.mark.torch
def test_forward_and_backward_agree_with_torch_rnn():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle "
                                "is skipped (.ci/run installs torch==2.13.0)")
    x, h0, Wx, Wh, b = random_rnn(N=3, T=6, D=4, H=5)
    rnn = torch.nn.RNN(4, 5, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # torch keeps column-vector weights (H, D) and two biases
        rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    xt = torch.from_numpy(x).requires_grad_()
    h0t = torch.from_numpy(h0[None]).requires_grad_()
    out, _ = rnn(xt, h0t)
    dout = rng.normal(size=out.shape)
    out.backward(torch.from_numpy(dout))

    h, cache = REF["rnn_forward"](x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = REF["rnn_backward"](dout, cache)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, h0t.grad.numpy()[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dWx, rnn.weight_ih_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dWh, rnn.weight_hh_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, rnn.bias_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_reference_leaves_its_inputs_alone():
    assert_leaves_inputs_alone(REF["rnn_forward"], REF["rnn_backward"], random_rnn(), rng)


def test_gradient_check_passes_a_correct_backward_with_tiny_entries():
    """A correct backward must pass the grader's gradient check when one input row barely
    matters (dx entries about 1e-6 of the rest): centred differences resolve such an entry
    only to about 1e-10 absolute, so it is compared on the scale of the whole gradient.
    (Seen once: a correct rnn_step_backward lost its gradient-check points on dx = -3.2e-6.)"""
    from autograder.checks import grad_check
    from autograder.exercise import LocalStudent
    ex = next(e for e in rnn_review.EXERCISES if e.name == "rnn_step_backward")
    student = LocalStudent(reference(rnn_review).namespace)
    for seed in range(5):
        inputs = ex.make_inputs(ex.grad_dims, seed)
        inputs["Wx"][0] *= 1e-6          # dx[:, 0] = da @ Wx[0] is tiny
        result = grad_check(ex, student, ex.grad_dims, inputs)
        assert result.passed, result.message
    # and a real error (0.1% on dx) still fails
    bad = LocalStudent({**student.namespace, "rnn_step_backward": lambda dh, cache: tuple(
        g * (1.001 if k == 0 else 1) for k, g in enumerate(student.namespace["rnn_step_backward"](dh, cache)))})
    assert not grad_check(ex, bad, ex.grad_dims, ex.make_inputs(ex.grad_dims, 0)).passed
