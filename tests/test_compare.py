"""How a wrong array is described: shape problems, where it differs, and bug patterns."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.compare import compare, rel_errors

rng = np.random.default_rng(7)
E = rng.normal(size=(2, 5, 3))


def test_equal_arrays_pass_and_rounding_noise_passes():
    assert compare(E.copy(), E, "h", 1e-7, "NTH").ok
    assert compare(E * (1 + 1e-12), E, "h", 1e-7, "NTH").ok


def test_near_zero_entries_do_not_blow_up_the_relative_error():
    e = np.array([1.0, 1e-17])
    assert compare(np.array([1.0, -1e-17]), e, "db", 1e-7).ok
    assert rel_errors(np.array([1.0, 1e-3]), e)[1] > 0.99


def test_wrong_shape_names_the_axes_and_spots_a_transpose():
    v = compare(E.transpose(1, 0, 2), E, "h", 1e-7, "NTH")
    assert not v.ok and v.error == np.inf
    assert "h has shape (5, 2, 3), expected (2, 5, 3) (N, T, H)" in v.message
    assert "transposed or swapped" in v.message


def test_not_an_array_and_wrong_dtype():
    assert "should be a numpy array" in compare([[1.0]], E, "h", 1e-7).message
    assert "dtype <U1" in compare(np.array(["a"]), np.zeros(1), "b", 1e-7).message


def test_says_which_timesteps_differ():
    a = E.copy()
    a[:, 3:] += 1.0
    v = compare(a, E, "h", 1e-7, "NTH")
    assert "timesteps t=3..4 differ, the others match" in v.message
    assert "12 of 30 entries differ" in v.message


def test_patterns_sign_factor_zeros_nan():
    assert "negative of the expected" in compare(-E, E, "dx", 1e-7).message
    assert "times 2 (a missing or extra factor)" in compare(2 * E, E, "dx", 1e-7).message
    assert "all zeros" in compare(np.zeros_like(E), E, "dWh", 1e-7).message
    assert "times 0.5 (a missing" in compare(E / 2, E, "dx", 1e-7).message
    assert "times 1.01 (a missing" in compare(1.01 * E, E, "dx", 1e-7).message
    a = E.copy()
    a[1, 2, 0] = np.nan
    v = compare(a, E, "h", 1e-7, "NTH")
    assert not v.ok and "NaN or inf in 1 of 30 entries (first at h[1, 2, 0])" in v.message


# -- issue 13: sharper messages --------------------------------------------------------

def test_a_float32_result_is_named_as_such():
    """Is a float32 answer told by its dtype, not as 'got 0.0650703, expected 0.0650703'?"""
    from autograder.compare import compare
    e = np.random.default_rng(0).normal(size=(3, 4))
    v = compare(e.astype(np.float32), e, "h", 1e-8, "NH")
    assert not v.ok and v.message.startswith("h has dtype float32, not float64 (its values match "
                                             "to float32's precision only)")


def test_an_integer_result_is_named_as_such():
    from autograder.compare import compare
    e = np.random.default_rng(0).normal(size=(3, 4)) * 3
    v = compare(e.astype(np.int64), e, "h", 1e-8, "NH")
    assert not v.ok and "h has dtype int64, not float64 (integers: the values were rounded" in v.message


@pytest.mark.parametrize("block, others", [(1, "i, g, o match"), (3, "i, f, g match")])
def test_fused_gate_gradients_are_localised_by_block(block, others):
    from autograder.compare import compare
    H = 3
    e = np.random.default_rng(1).normal(size=(5, 4 * H))
    a = e.copy()
    a[:, block * H:(block + 1) * H] *= 1.5
    v = compare(a, e, "dWx", 1e-8, "DG", blocks=("i", "f", "g", "o"))
    name = "ifgo"[block]
    assert f"by gate block: the {name} block of dWx differs; {others}" in v.message


def test_hidden_case_messages_never_quote_the_expected_value():
    from autograder.compare import compare
    e = np.array([[0.5, -0.25]])
    a = np.array([[0.5, 0.75]])
    assert "expected -0.25" in compare(a, e, "h", 1e-8, "NH").message
    hidden = compare(a, e, "h", 1e-8, "NH", reveal=False).message
    assert "expected" not in hidden and "got 0.75, relative error 1" in hidden


def test_a_ratio_close_to_1_is_not_called_a_factor():
    """Issue 13: 'got -0.0335763, expected -0.0335643; it is the expected value times 1 (a
    missing or extra factor)' for a ratio of 1.00036 (a missing bias, with H=1)."""
    e = np.array([[-0.0335643, 0.0121, -0.2, 0.05]])
    v = compare(e * (-0.0335763 / -0.0335643), e, "dx", 1e-7)
    assert not v.ok and "got -0.0335763, expected -0.0335643" in v.message
    assert "factor" not in v.message and "times" not in v.message, v.message
