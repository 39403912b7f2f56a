"""Fit on a train CSV and write test predictions in the bench harness's format.

Used by /work/shared/bench/automl_bench.py (``--tool cli``) until the CLI exists:

    python automl_bench.py run --tool cli --name trainforge --budget 30 \
        --results results/trainforge.jsonl \
        --cmd '/work/main/.venv/bin/python /work/main/benchmarks/automl/fit_predict.py \
               --train {train} --test {test} --target {target} --task {task} \
               --budget {budget} --out {out}'

The budget covers the whole command, interpreter start-up included: the search's deadline is
the process start + budget − the time kept for predicting and writing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import psutil

STARTED_WALL = psutil.Process().create_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--leaderboard", default=None, help="write the leaderboard JSON here")
    args = parser.parse_args()

    import pandas as pd

    from trainforge.data.read import read_table
    from trainforge.data.targets import clean_target, feature_columns, infer_task
    from trainforge.data.task import TaskKind
    from trainforge.training.automl import search

    # the process started before this line: count interpreter start-up and imports too
    started = time.monotonic() - (time.time() - STARTED_WALL)
    dataset = read_table(args.train)
    task = infer_task(dataset, args.target, kind=TaskKind(args.task) if args.task else None)
    train, _ = clean_target(dataset, task)
    features = feature_columns(dataset.schema, args.target, frame=train)
    test = read_table(args.test).frame
    keep_s = 0.8 + 5e-6 * len(test) * max(1, len(features))  # predict, write, exit
    deadline = started + args.budget - keep_s
    fitted_at = time.monotonic()
    result = search(train, task=task, schema=dataset.schema, features=features,
                    deadline=deadline, trials=args.trials, seed=args.seed)
    fit_s = time.monotonic() - fitted_at
    print(f"search ended {time.monotonic() - deadline:+.2f} s after its deadline; "
          f"{result.n_trials} trials", file=sys.stderr)

    predicted_at = time.monotonic()
    if task.kind.is_classification:
        proba = result.model.predict_proba(test)
        raw = pd.read_csv(args.train, usecols=[args.target], dtype=str)[args.target]
        spelling = _raw_spelling(train[args.target], raw.loc[train.index])
        out = pd.DataFrame({spelling.get(c, c): proba[:, i] for i, c in enumerate(task.classes)})
    else:
        out = pd.DataFrame({"prediction": result.model.predict(test)})
    predict_s = time.monotonic() - predicted_at
    out.to_csv(args.out, index=False)
    Path(f"{args.out}.meta.json").write_text(json.dumps(
        {"fit_time_s": fit_s, "predict_time_s": predict_s}))
    if args.leaderboard:
        Path(args.leaderboard).write_text(json.dumps({
            "validation_score": result.validation_score, "train_score": result.train_score,
            "n_trials": result.n_trials, "elapsed_s": result.elapsed_s,
            "leaderboard": [vars(c) for c in result.leaderboard]}, indent=1, default=str))


def _raw_spelling(cleaned: object, raw: object) -> dict[str, str]:
    """Each cleaned class label → the label as the train file spells it."""
    import pandas as pd

    pairs = pd.DataFrame({"cleaned": pd.Series(cleaned).astype(str).to_numpy(),
                          "raw": pd.Series(raw).astype(str).to_numpy()}).drop_duplicates()
    return dict(zip(pairs["cleaned"], pairs["raw"], strict=False))


if __name__ == "__main__":
    main()
