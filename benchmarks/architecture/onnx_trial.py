"""ONNX Runtime against serving's own compiled estimators (walked trees, direct booster calls).

For each catalog model below (trained as AutoML trains it: one trial, refitted on all rows),
on the preprocessed rows of its table (with missing values), it measures per engine:
one-row latency p50/p99 and 1,000-row batch latency p50 (in-process, many repeats), fidelity
(max abs difference from the estimator's own predict_proba / predict), the time to build the
engine; and once: the install size of ONNX Runtime and its converters, the import time and
memory of ``import onnxruntime``, and the lines of code each side needs.

The ONNX packages are not trainforge dependencies. To run it:

    pip install onnxruntime skl2onnx onnxmltools
    PYTHONPATH=src python benchmarks/architecture/onnx_trial.py

Engines: "compiled" is what serving runs (``serving.estimators.compile_estimator``); "onnx"
is the model converted (onnxmltools for LightGBM and XGBoost, skl2onnx for scikit-learn,
CatBoost's own exporter) and run by an ``InferenceSession`` on one thread; "own" is the
estimator's own predict. A model that fails to convert is reported as such.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ONE_ROW_REPEATS = 2_000
BATCH_REPEATS = 30
BATCH_ROWS = 1_000
# (table, target, algorithm): the boosters and forests the walkers exist for, and a linear model
MODELS = [("credit_g", "class", a) for a in ("lightgbm", "xgboost", "catboost", "random_forest",
                                               "extra_trees", "linear")]
MODELS += [("wine", "cultivar", a) for a in ("lightgbm", "xgboost", "random_forest")]
MODELS += [("concrete", "compressive_strength", a) for a in ("lightgbm", "xgboost", "catboost",
                                                              "random_forest")]
ONNX_PACKAGES = ["onnxruntime", "onnx", "skl2onnx", "onnxmltools", "protobuf", "flatbuffers",
                 "ml_dtypes"]
Engine = Callable[[list[Any]], np.ndarray]
WALKER_FILES = ["forests.py", "xgboost_trees.py", "catboost_trees.py", "booster_row.py"]


@dataclasses.dataclass
class Trained:
    name: str
    estimator: Any
    matrix: np.ndarray  # preprocessed rows of the table, float64, NaN for missing
    classify: bool
    n_classes: int


def train(table: str, target: str, algorithm: str) -> Trained:
    from trainforge.data.read import read_table
    from trainforge.data.targets import infer_task
    from trainforge.training.automl import search
    from trainforge.training.refit import refit_on_all

    dataset = read_table(ROOT / "examples" / f"{table}.csv")
    task = infer_task(dataset, target)
    frame = dataset.frame.sample(frac=1.0, random_state=0)
    features = [c for c in frame.columns if c != target]
    result = search(frame, task=task, schema=dataset.schema, features=features, deadline=None,
                    trials=1, seed=0, algorithm=algorithm)
    model = refit_on_all(result, frame, task=task, schema=dataset.schema, features=features,
                         deadline=None)
    assert model is not None
    member = model.members[0]
    rows = frame[features].copy()
    numbers = [c for c in features if rows[c].dtype.kind in "fi"]
    rows.loc[rows.index[::7], numbers[0]] = np.nan  # missing values, as requests send them
    from trainforge.algorithms.model import coerce_frame

    matrix = np.asarray(member.preprocessor.transform(coerce_frame(rows, model.features)),
                        dtype="float64")
    matrix = np.tile(matrix, (max(1, -(-BATCH_ROWS // len(matrix))), 1))[:BATCH_ROWS]
    return Trained(f"{table}/{algorithm}", member.estimator, matrix,
                   task.kind.is_classification, len(model.classes))


# ---- the engines: each takes the preprocessed columns the compiled plans produce ------------------------------------------------------------------------------
def _compiled_call(t: Trained) -> Callable[[list[Any]], np.ndarray]:
    try:
        from trainforge.serving.estimators import Output, compile_estimator
    except ImportError:  # the code before the compiler table (be3b086): its if-chain
        from trainforge.serving.compiled import _estimator_call  # type: ignore[attr-defined]

        return _estimator_call(t.estimator, classify=t.classify,  # type: ignore[no-any-return]
                               n_classes=t.n_classes)
    return compile_estimator(t.estimator, Output(classify=t.classify, n_classes=t.n_classes))[0]


def compiled_engine(t: Trained) -> Engine:
    from trainforge.serving.plans import FastPathMiss

    call, own = _compiled_call(t), own_engine(t)

    def run(columns: list[Any]) -> np.ndarray:
        try:
            return call(columns)
        except FastPathMiss:  # CatBoost's walk leaves missing values to CatBoost, as serving
            return own(columns)

    return run


def own_engine(t: Trained) -> Engine:
    estimator = copy.copy(t.estimator)
    if getattr(estimator, "n_jobs", None) not in (None, 1):
        estimator.n_jobs = 1  # as serving runs it
    predict = estimator.predict_proba if t.classify else estimator.predict
    return lambda columns: np.asarray(predict(_matrix(columns, "float64")), dtype="float64")


def _matrix(columns: list[Any], dtype: str) -> np.ndarray:
    """The rows as the compiled path builds them from the plans' columns."""
    if len(columns[0]) == 1:
        return np.array([c[0] for c in columns], dtype=dtype).reshape(1, -1)
    return np.array(columns, dtype=dtype).T


def _onnx_model(t: Trained) -> tuple[bytes, str]:
    """The estimator as ONNX bytes, and the input dtype it takes (glue, counted below)."""
    from skl2onnx.common.data_types import DoubleTensorType

    n_columns = t.matrix.shape[1]
    kind = type(t.estimator).__name__
    if kind in ("LightGBMModel", "XGBoostModel"):
        from onnxmltools.convert.common.data_types import FloatTensorType
    if kind == "LightGBMModel":
        import onnxmltools

        onnx = onnxmltools.convert_lightgbm(
            t.estimator.booster_, initial_types=[("X", FloatTensorType([None, n_columns]))],
            zipmap=False, target_opset=15)  # the converter's highest
        return onnx.SerializeToString(), "float32"
    if kind == "XGBoostModel":
        import onnxmltools

        onnx = onnxmltools.convert_xgboost(
            t.estimator.booster_, initial_types=[("X", FloatTensorType([None, n_columns]))],
            target_opset=15)
        return onnx.SerializeToString(), "float32"
    if kind == "CatBoostModel":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            t.estimator.booster_.save_model(str(path), format="onnx")
            return path.read_bytes(), "float32"
    from skl2onnx import convert_sklearn

    # double inputs and thresholds (ai.onnx.ml opset 3): float32 would move rows across splits
    onnx = convert_sklearn(t.estimator, initial_types=[("X", DoubleTensorType([None, n_columns]))],
                           options={id(t.estimator): {"zipmap": False}} if t.classify else None,
                           target_opset={"": 17, "ai.onnx.ml": 3})
    return onnx.SerializeToString(), "float64"


def onnx_engine(t: Trained) -> Engine:
    import onnxruntime as ort

    model, dtype = _onnx_model(t)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # as serving runs
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [o.name for o in session.get_outputs()]
    wanted = outputs[-1] if t.classify else outputs[0]  # probabilities / values

    def run(columns: list[Any]) -> np.ndarray:
        out = session.run([wanted], {name: _matrix(columns, dtype)})[0]
        if isinstance(out, list):  # CatBoost's export: one {class: probability} map per row
            out = [[row[k] for k in sorted(row)] for row in out]
        out = np.asarray(out, dtype="float64")
        if t.classify and out.ndim == 1:
            return np.column_stack([1.0 - out, out])
        return out if t.classify else out.reshape(-1)

    return run


# ---- measuring --------------------------------------------------------------------------------
def _latencies_ms(engine: Engine, rows: list[list[Any]], repeats: int) -> np.ndarray:
    for row in rows[:20]:
        engine(row)  # warm up
    times = np.empty(repeats)
    for i in range(repeats):
        row = rows[i % len(rows)]
        started = time.perf_counter_ns()
        engine(row)
        times[i] = (time.perf_counter_ns() - started) / 1e6
    return times


def _columns(matrix: np.ndarray) -> list[Any]:
    return [column.tolist() for column in matrix.T]


def measure(t: Trained, engine_of: Callable[[Trained], Engine]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        engine = engine_of(t)
        build_ms = (time.perf_counter() - started) * 1e3
        got = engine(_columns(t.matrix))
    except Exception as error:  # noqa: BLE001 (a converter refusing a model is a finding)
        return {"error": f"{type(error).__name__}: {str(error)[:160]}"}
    truth = own_engine(t)(_columns(t.matrix))
    one = _latencies_ms(engine, [_columns(t.matrix[i:i + 1]) for i in range(200)],
                        ONE_ROW_REPEATS)
    batch = _latencies_ms(engine, [_columns(t.matrix)], BATCH_REPEATS)
    return {"build_ms": round(build_ms, 1),
            "one_row_p50_ms": round(float(np.percentile(one, 50)), 4),
            "one_row_p99_ms": round(float(np.percentile(one, 99)), 4),
            "batch_1000_p50_ms": round(float(np.percentile(batch, 50)), 3),
            "max_abs_diff": float(np.max(np.abs(got - truth)))}


def install_size_mb() -> dict[str, float]:
    sizes = {}
    for package in ONNX_PACKAGES:
        files = importlib.metadata.files(package) or []
        sizes[package] = round(sum(f.size or 0 for f in files) / 2**20, 1)
    return sizes


def import_cost() -> dict[str, float]:
    """Seconds and MB of resident memory (Linux's VmRSS) that `import onnxruntime` adds to a
    Python that has numpy already (median of 5 fresh processes)."""
    probe = ("import time, numpy\n"
             "def rss():\n"
             "    line = next(l for l in open('/proc/self/status') if l.startswith('VmRSS'))\n"
             "    return int(line.split()[1]) / 1024\n"
             "before, started = rss(), time.perf_counter()\n"
             "import onnxruntime\n"
             "print(time.perf_counter() - started, rss() - before)")
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(5)]
    return {"import_s": round(float(np.median([float(r[0]) for r in runs])), 3),
            "import_rss_mb": round(float(np.median([float(r[1]) for r in runs])), 1)}


def code_lines() -> dict[str, int]:
    serving = ROOT / "src" / "trainforge" / "serving"
    walkers = sum(len((serving / f).read_text().splitlines()) for f in WALKER_FILES)
    source = Path(__file__).read_text()
    glue = source[source.index("def _onnx_model"):source.index("# ---- measuring")]
    return {"walker_files": walkers,
            "estimators_py": len((serving / "estimators.py").read_text().splitlines()),
            "onnx_glue": len(glue.strip().splitlines())}


def main() -> None:
    """``--compiled-only``: the compiled path alone (to measure the code before the table)."""
    engines = [("compiled", compiled_engine)]
    if "--compiled-only" not in sys.argv:
        engines.append(("own", own_engine))
        if importlib.util.find_spec("onnxruntime") is None:
            sys.exit("this trial needs ONNX Runtime: pip install onnxruntime skl2onnx onnxmltools")
        import onnxruntime

        print(f"onnxruntime {onnxruntime.__version__}")
        engines.insert(1, ("onnx", onnx_engine))
    print(f"python {sys.version.split()[0]}")
    for table, target, algorithm in MODELS:
        trained = train(table, target, algorithm)
        row = {engine: measure(trained, of) for engine, of in engines}
        print(json.dumps({trained.name: row}), flush=True)
    if "--compiled-only" not in sys.argv:
        print(json.dumps({"install_mb": install_size_mb(), **import_cost(), **code_lines()}))


if __name__ == "__main__":
    main()
