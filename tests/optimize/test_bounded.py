"""clover.optimize.bounded.BoundedInts draws NumPy's numbers from NumPy's state."""

import numpy as np
import pytest

from clover.optimize.bounded import BoundedInts


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_same_stream_as_numpy_interleaved_with_random(seed):
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    ints = BoundedInts(ours)
    bounds = np.random.default_rng(seed + 99).integers(1, 40, size=5000).tolist()
    bounds += [1, 2, 3, 2**31, 2**32 - 1, 7, 2**31 + 5]
    for i, n in enumerate(bounds):
        assert ints(n) == int(theirs.integers(n)), (i, n)
        if i % 3 == 0:  # the annealer's acceptance draws share the state
            assert ours.random() == theirs.random()
    assert ours.bit_generator.state == theirs.bit_generator.state


def test_a_one_value_range_draws_nothing():
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert BoundedInts(rng)(1) == 0
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("n", [0, -1, 2**32])
def test_out_of_range_is_refused(n):
    with pytest.raises(ValueError, match="outside"):
        BoundedInts(np.random.default_rng(0))(n)
