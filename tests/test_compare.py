"""How a wrong array is described: shape problems, where it differs, and bug patterns."""
from __future__ import annotations

import numpy as np

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
    a = E.copy()
    a[1, 2, 0] = np.nan
    v = compare(a, E, "h", 1e-7, "NTH")
    assert not v.ok and "NaN or inf in 1 of 30 entries (first at h[1, 2, 0])" in v.message
