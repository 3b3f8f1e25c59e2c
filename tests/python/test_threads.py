"""The binding's C calls release the GIL, so Python threads run beside them.

The idea: while a long C call runs (a scaled-dot attention sized to take
about a quarter of a second), a "ticker" thread loops in Python and notes
every pause of more than a millisecond between two of its iterations. If
the call held the GIL, the ticker could not run at all while it lasted: one
pause would cover the whole call. If the call releases the GIL, the ticker
keeps going and its longest pause inside the call is a scheduler hiccup.

To time the call exactly, attend.attention's `lib` is swapped for a stand-in
that times each at_dot_attention call and passes it on. Routed to the
binding's own function, that is what the binding does. Routed to the same C
function loaded through ctypes.PyDLL (which keeps the GIL during the call),
it is the control: the same measurement must then see the ticker stopped,
which shows the test goes red if the binding ever holds the GIL.

Checked:
  * the ticker runs during the binding's call (longest pause < half the
    call; up to three tries, since a loaded machine can stall any thread,
    but no stall can fake progress under a held GIL), and is stopped for
    the whole call under PyDLL;
  * two threads calling the binding at once are inside C at the same time
    (their calls overlap) and get identical results; under PyDLL the calls
    take turns.

Run by ctest (python_threads) through pytest, or by hand:
  ATTEND_LIBRARY=build/libattend.so PYTHONPATH=python \\
      /usr/bin/python3 -m pytest -q tests/python/test_threads.py
"""
import contextlib
import ctypes
import sys
import threading
import time
import unittest

import numpy as np

import attend
import attend._lib
import attend.attention

TRIES = 3
LONG_CALL_SECONDS = 0.25  # the size of the inputs is doubled until a call takes this


class TimedLibrary:
    """Stands in for attend.attention's `lib`: at_dot_attention runs
    `function` and records (thread id, start, end) of each call; every other
    name is the real library's."""

    def __init__(self, function):
        self._function = function
        self.calls = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(attend._lib.lib, name)

    def at_dot_attention(self, *args):
        start = time.perf_counter()
        status = self._function(*args)
        end = time.perf_counter()
        with self._lock:
            self.calls.append((threading.get_ident(), start, end))
        return status


def pydll_dot_attention():
    """at_dot_attention from the same file, loaded with ctypes.PyDLL: the
    GIL stays held during the call. Same argument and result types."""
    real = attend._lib.lib.at_dot_attention
    function = ctypes.PyDLL(attend._lib.lib._name).at_dot_attention
    function.argtypes, function.restype = real.argtypes, real.restype
    return function


@contextlib.contextmanager
def routed_through(function):
    """Within the block, attend.dot_attention calls `function` (timed)."""
    if not hasattr(attend.attention, "lib"):
        raise AssertionError("attend.attention has no `lib` to time the C call through; "
                             "update TimedLibrary to how the binding calls C now")
    timed = TimedLibrary(function)
    saved = attend.attention.lib
    attend.attention.lib = timed
    try:
        yield timed
    finally:
        attend.attention.lib = saved


class Ticker(threading.Thread):
    """Loops in Python until stopped, keeping every pause > 1 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ticks = 0
        self.pauses = []  # (start, end)
        self.stopped = False

    def run(self):
        last = time.perf_counter()
        while not self.stopped:
            now = time.perf_counter()
            if now - last > 0.001:
                self.pauses.append((last, now))
            last = now
            self.ticks += 1

    def longest_pause_within(self, start, end):
        """The longest part of one pause that falls inside [start, end]."""
        inside = [min(b, end) - max(a, start) for a, b in self.pauses]
        return max([0.0] + inside)


_inputs = None


def long_inputs():
    """(q, k, v) of shape (B, 1024, 2048), B doubled from 1 (up to 8) until
    one binding call takes LONG_CALL_SECONDS; made once."""
    global _inputs
    if _inputs is None:
        rng = np.random.default_rng(14)
        for batch in (1, 2, 4, 8):
            q = rng.standard_normal((batch, 1024, 2048), dtype=np.float32)
            start = time.perf_counter()
            attend.dot_attention(q, q, q)
            if time.perf_counter() - start >= LONG_CALL_SECONDS:
                break
        _inputs = (q, q.copy(), q.copy())
    return _inputs


def ticker_during_one_call(function):
    """Run one long dot_attention through `function` while a Ticker runs;
    return (call seconds, longest ticker pause inside the call, ticks)."""
    q, k, v = long_inputs()
    ticker = Ticker()
    ticker.start()
    while ticker.ticks == 0:
        time.sleep(0.001)
    with routed_through(function) as timed:
        attend.dot_attention(q, k, v)
    ticker.stopped = True
    ticker.join()
    (_, start, end), = timed.calls
    return end - start, ticker.longest_pause_within(start, end), ticker.ticks


def two_threads_at_once(function):
    """Two threads each run one long dot_attention through `function`,
    released together; return their (start, end) windows and results.

    The GIL's switch interval is made longer than the calls, so a thread
    gives up the GIL only where it blocks or a C call releases it. Else,
    under PyDLL, the GIL could pass to the other thread between the end of
    the C call and the timestamp after it, and windows that never ran at
    the same time would look overlapping."""
    q, k, v = long_inputs()
    barrier = threading.Barrier(2)
    results = [None, None]

    def work(i):
        barrier.wait()
        results[i] = attend.dot_attention(q, k, v)

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        with routed_through(function) as timed:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    windows = sorted((start, end) for _, start, end in timed.calls)
    if len(windows) != 2 or None in results:
        raise AssertionError(f"expected two finished calls, got windows {windows}")
    return windows, results


class TheGilIsReleased(unittest.TestCase):
    def test_a_thread_runs_during_the_call(self):
        tries = []
        for _ in range(TRIES):
            seconds, pause, ticks = ticker_during_one_call(attend._lib.lib.at_dot_attention)
            tries.append(f"call {seconds:.3f} s, longest ticker pause {pause:.3f} s, "
                         f"{ticks} ticks")
            if pause < 0.5 * seconds:
                return
        self.fail("the ticker thread stopped while the binding was in C (GIL held?):\n  "
                  + "\n  ".join(tries))

    def test_control_pydll_holds_the_gil_and_the_ticker_stops(self):
        seconds, pause, ticks = ticker_during_one_call(pydll_dot_attention())
        self.assertGreaterEqual(
            pause, 0.8 * seconds,
            f"under PyDLL the ticker should stop for the whole call: call {seconds:.3f} s, "
            f"longest pause {pause:.3f} s ({ticks} ticks); this test cannot see a held GIL")

    def test_two_threads_are_in_c_at_the_same_time(self):
        tries = []
        for _ in range(TRIES):
            (first, second), (one, two) = two_threads_at_once(attend._lib.lib.at_dot_attention)
            for got, want in zip(two, one):
                np.testing.assert_array_equal(got, want)
            tries.append(f"windows {first[0]:.3f}-{first[1]:.3f} and "
                         f"{second[0]:.3f}-{second[1]:.3f}")
            if second[0] < first[1]:
                return
        self.fail("the two threads' C calls never overlapped (GIL held?):\n  "
                  + "\n  ".join(tries))

    def test_control_pydll_calls_take_turns(self):
        (first, second), _ = two_threads_at_once(pydll_dot_attention())
        self.assertGreaterEqual(
            second[0], first[1],
            f"under PyDLL the calls should take turns, but they overlapped: "
            f"{first} and {second}; this test cannot see a held GIL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
