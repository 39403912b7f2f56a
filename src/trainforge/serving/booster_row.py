"""One-row LightGBM prediction through the C API's fast single-row path.

``Booster.predict`` rebuilds a predictor on every call, about 0.1 ms before any tree is walked.
LightGBM's C API has a path made for serving single rows
(``LGBM_BoosterPredictForMatSingleRowFastInit`` once, then ``…SingleRowFast`` per row) that
skips that setup; it computes the same numbers as ``predict``. The library handle is the one
the lightgbm package already loaded.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities / values, as predict() gives
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64

RowFn = Callable[[Sequence[float]], list[float]]


def _library() -> Any:
    from lightgbm import basic

    return getattr(basic, "_LIB", None)


def single_row_predictor(booster: Any, num_iteration: int | None) -> RowFn | None:
    """A function from one row of floats to the booster's outputs, or None if unavailable."""
    library = _library()
    if library is None or not hasattr(library, "LGBM_BoosterPredictForMatSingleRowFastInit"):
        return None
    n_columns = int(booster.num_feature())
    n_outputs = int(booster.num_model_per_iteration())
    config = ctypes.c_void_p()
    status = library.LGBM_BoosterPredictForMatSingleRowFastInit(
        booster._handle, ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0),
        ctypes.c_int(num_iteration if num_iteration and num_iteration > 0 else -1),
        ctypes.c_int(_FLOAT64), ctypes.c_int32(n_columns), ctypes.c_char_p(b"num_threads=1"),
        ctypes.byref(config))
    if status != 0:
        return None
    row_type = ctypes.c_double * n_columns
    result = (ctypes.c_double * n_outputs)()
    length = ctypes.c_int64()
    predict = library.LGBM_BoosterPredictForMatSingleRowFast
    one_at_a_time = threading.Lock()  # the config and the result buffer are shared

    def predict_row(values: Sequence[float]) -> list[float]:
        with one_at_a_time:
            if predict(config, row_type(*values), ctypes.byref(length), result) != 0:
                raise RuntimeError(library.LGBM_GetLastError().decode("utf-8"))
            return result[:length.value]

    # the config holds the booster: free it with the function, keep the booster until then
    weakref.finalize(predict_row, library.LGBM_FastConfigFree, config)
    predict_row.booster = booster  # type: ignore[attr-defined]
    return predict_row
