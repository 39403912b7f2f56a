"""Semi-supervised against labeled-only, with 5 % of the labels kept.

A dataset is split 80/20 (stratified, seed 0); in the 80 % only 5 % of the rows keep their
label (seeded), the others are unlabeled. trainforge trains twice with the same budget: on the
labeled rows alone, and on the whole 80 % (it notices the unlabeled rows and tries the
unlabeled texts' vocabulary, self-training and label spreading). Both predict the same 20 %
they never saw.

With ``--trials N`` both runs search the same N trials on the same labeled rows, so they
start from the same recipe and differ only by what the unlabeled rows add: the fair
comparison, and the one the target is judged on. With a time budget alone the searches
differ: labeled-only searches for 85 % of the budget, the run with unlabeled rows for 35 %
(the rest goes to the semi-supervised folds), so a loss may be the smaller search's.

    python benchmarks/semi/bench_semi.py sms --budget 120
    python benchmarks/semi/bench_semi.py telco_churn --budget 120 --trials 20
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def load(name: str) -> tuple[pd.DataFrame, str]:
    if name == "sms":
        with gzip.open(SHARED / "data/sms_spam/SMSSpamCollection.gz", "rt",
                       encoding="utf-8") as handle:
            rows = [line.split("\t", 1) for line in handle.read().splitlines() if line.strip()]
        return pd.DataFrame(rows, columns=["label", "text"]), "label"
    suite = json.loads((SHARED / "bench/suite.json").read_text())
    entry = next(d for d in suite["datasets"] if d["name"] == name)
    return pd.read_csv(SHARED / "bench" / entry["path"]), entry["target"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--labeled", type=float, default=0.05)
    parser.add_argument("--trials", type=int, default=None)
    args = parser.parse_args()
    frame, target = load(args.name)
    frame[target] = frame[target].astype(str)
    train, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame[target])
    keep = np.random.default_rng(0).random(len(train)) < args.labeled
    partly = train.copy()
    partly.loc[~keep, target] = None
    os.environ.setdefault("TRAINFORGE_HOME", tempfile.mkdtemp(prefix="bench-semi-"))
    import trainforge as tf

    classes = sorted(frame[target].unique())
    positive = classes[-1] if args.name != "sms" else "spam"
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, table in (("labeled only", partly.loc[keep]), ("with unlabeled rows", partly)):
            path = Path(scratch) / f"{args.name}_{'semi' if len(table) > keep.sum() else 'lab'}.csv"
            table.to_csv(path, index=False)
            started = time.perf_counter()
            model = tf.train(path, target=target, time_budget=args.budget, trials=args.trials)
            wall = time.perf_counter() - started
            proba = model.predict_proba(test.drop(columns=[target]))
            predicted = np.asarray(model.predict(test.drop(columns=[target])), dtype=str)
            truth = test[target].to_numpy(dtype=str)
            scores = {"accuracy": accuracy_score(truth, predicted)}
            if len(classes) == 2:
                scores["f1_" + positive] = f1_score(truth, predicted, pos_label=positive)
                scores["roc_auc"] = roc_auc_score(truth == positive, proba[positive])
            else:  # balanced accuracy is what a multiclass task optimises by default
                scores["balanced_accuracy"] = balanced_accuracy_score(truth, predicted)
                scores["f1_macro"] = f1_score(truth, predicted, average="macro")
            semi = model.manifest["lineage"].get("semi_supervised")
            results[label] = {"scores": scores, "wall_s": wall, "semi_supervised": semi}
            print(f"{label:22s} {json.dumps(scores)}  ({wall:.0f} s)")
            if semi:
                print("   kept:", semi["kept"], "|", json.dumps(semi["methods"]))
    print(json.dumps({"dataset": args.name, "labeled_share": args.labeled,
                      "n_labeled": int(keep.sum()), "n_unlabeled": int((~keep).sum()),
                      "n_test": len(test), "budget_s": args.budget, "trials": args.trials,
                      "comparison": (f"same {args.trials} trials" if args.trials else
                                     "same time budget, search shares 85 % vs 35 %"),
                      "results": results},
                     default=str))


if __name__ == "__main__":
    main()
