"""``Generator.integers(n)`` of a NumPy generator, drawn the same way but about three times
cheaper per call.

The replicated-space search (:mod:`clover.optimize.replicated`) draws a few million small
integers per zone-year, one at a time (each draw decides the next), and a call of
``Generator.integers`` costs microseconds of argument handling. :class:`BoundedInts` calls the
generator's own ``next_uint32`` through its bit generator's ctypes interface (NumPy's
documented ``BitGenerator.ctypes``) and applies NumPy's algorithm for a range below 2³²
(Lemire's multiply-and-reject on 32-bit draws, ``random_bounded_uint64_fill`` with
``use_masked=False``; a range of one value draws nothing). The numbers are NumPy's and the
state is the generator's, so ``Generator.random()`` and ``integers`` calls interleave with it
exactly as before; ``tests/optimize/test_bounded.py`` checks the stream against NumPy's.
"""

from __future__ import annotations

import numpy as np

_MASK32 = 0xFFFFFFFF


class BoundedInts:
    """``ints(n)`` == ``int(rng.integers(n))`` for ``1 <= n < 2**32``, on ``rng``'s state."""

    def __init__(self, rng: np.random.Generator) -> None:
        iface = rng.bit_generator.ctypes
        self._rng = rng  # keeps the state the pointer points into alive
        self._next32 = iface.next_uint32
        self._state = iface.state

    def __call__(self, n: int) -> int:
        if n == 1:  # NumPy: a range of one value returns it without drawing
            return 0
        if not 1 < n <= _MASK32:
            raise ValueError(f"BoundedInts: n = {n} outside [1, 2**32 - 1]")
        m = self._next32(self._state) * n
        leftover = m & _MASK32
        if leftover < n:
            threshold = (_MASK32 - (n - 1)) % n
            while leftover < threshold:
                m = self._next32(self._state) * n
                leftover = m & _MASK32
        return m >> 32
