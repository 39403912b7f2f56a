"""Reading a table in a thread (as the server reads an upload) leaves the other threads their
turns while its text columns become numbers: pandas' to_numeric holds the GIL for a whole
column, so the reader converts a long column in slices."""

from __future__ import annotations

import threading
import time

import pandas as pd

from trainforge.data.read import _to_numbers


def test_a_long_text_column_becomes_numbers_without_stalling_other_threads():
    column = pd.Series(["12345"] * 1_000_000, dtype=object)  # one to_numeric call: ~0.5-1 s
    converter = threading.Thread(target=_to_numbers, args=(column,))
    gaps_s: list[float] = []
    converter.start()
    last = time.perf_counter()
    while converter.is_alive():
        time.sleep(0.005)
        now = time.perf_counter()
        gaps_s.append(now - last)
        last = now
    assert max(gaps_s) < 0.25  # a slice of 20,000 values takes ~20 ms


def test_a_column_converted_in_slices_equals_one_conversion():
    column = pd.Series(["1", "2.5", "3"] * 30_000, dtype=object)
    pd.testing.assert_series_equal(_to_numbers(column), pd.to_numeric(column))
