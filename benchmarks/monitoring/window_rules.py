"""``--method windows`` outside the platform (issue 12, "the loop on real streams"): the
loop's updates replayed on a stream with the platform's own window code, cheaply, to compare
rules for the method on the same rows.

The first version is trained as the replay trains it (``tf.train``, ``lightgbm``, one trial,
on the first 10 %); its heaviest member is the template. Every ``--every`` batches (the
replay's policy: one elec2 day, 30 noaa days) the windows are blended on all rows labelled so
far (labels one batch late, as in the replay) and the blend predicts the batches up to the
next update. Prequential accuracy over the 90 % after the first 10 %.

It replays the method as ``training/windows.py`` has it now. The rules compared for issue 12
(each window's boosting rounds: the parent's, early-stopped on the window's own newest fifth,
or early-stopped on the holdout the weights are chosen on; the blend kept: the best met in
greedy selection's rounds, or the one after all of them) were knobs of ``blend_windows`` at
commit ``905f60e`` (``--variants parent/best own/last holdout/best …`` there); session s28's
(each window's rounds counted from the first version's, kept; all rows at 100 trees; the
parent's rounds and 100 trees both offered) were ``--rule`` knobs at ``2b3343d``. Here
``--parents-rounds`` replays the rule before s28. The figures are in benchmarks/RESULTS.md,
"The loop on real streams".

    PYTHONPATH=src python benchmarks/monitoring/window_rules.py noaa_weather
    PYTHONPATH=src python benchmarks/monitoring/window_rules.py elec2 --every 7

Two rules day by day: run each (its code on PYTHONPATH) with ``--answers RULE.npy``, then
``window_rules.py noaa_weather --compare A.npy B.npy`` counts the days they answer differently
and which of the two is right on them. ``--scheduled --answers S.npy`` saves instead the
answers of stream_loop.py's scheduled retrain (LightGBM from scratch on all rows seen, every
``Stream.schedule`` batches), to set the loop beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_loop import STREAMS, batches, first_rows, load, scheduled_answers

import trainforge as tf
from trainforge.data.task import Task
from trainforge.jobs.update import template_of, trees_from
from trainforge.training import windows
from trainforge.workspace import Workspace


def first_template(X, y, start: int):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as home:
        first = Path(home) / "first.csv"
        X.iloc[:start].assign(label=y[:start]).to_csv(first, index=False)
        ws = Workspace(Path(home) / "ws")
        tf.train(first, target="label", name="stream", algorithm="lightgbm", trials=1,
                 workspace=ws)
        first_version = ws.registry.load("stream:1")
        ws.close()
    model = first_version.tabular
    return model, template_of(model), trees_from(first_version)


def blended(members, frame, task: Task) -> np.ndarray:  # type: ignore[no-untyped-def]
    total = sum(m.weight for m in members)
    return sum(m.weight / total * windows._output(m, frame, task) for m in members)


def replay(X, y, start: int, parts, every: int, template, task: Task,  # type: ignore[no-untyped-def]
           counted_from: windows.TreesFrom | None) -> tuple[dict[str, object], np.ndarray]:
    """The figures, and every scored row's predicted class (the rows after the first ``start``)."""
    began = time.process_time()
    members, chosen, predicted = [template], [], []
    for i, part in enumerate(parts):
        predicted.append(blended(members, X.iloc[part], task).argmax(axis=1))
        if (i + 1) % every == 0 and i + 1 < len(parts):
            stop = part.stop  # this batch's labels are in
            blend = windows.blend_windows(template, X.iloc[:stop], y[:stop], task=task,
                                          trees_from=counted_from)
            members = blend.members
            template = max(members, key=lambda m: m.weight)  # as jobs/update.py's template_of
            chosen.append([s for s, w in zip(blend.sizes, blend.weights, strict=True) if w > 0])
            if (len(chosen) - 1) % 50 == 0:  # as stream_loop.py prints, to compare the two
                right = int((np.concatenate(predicted) == y[start:stop]).sum())
                print(f"  batch {i}/{len(parts)}: accuracy so far {right / (stop - start):.4f}, "
                      f"{len(chosen)} updates", flush=True)
    answers = np.concatenate(predicted)
    mean_windows = float(np.mean([len(c) for c in chosen])) if chosen else 0.0
    right = int((answers == y[start:]).sum())
    return {"accuracy": right / (len(y) - start), "right": right,
            "updates": len(chosen), "mean_windows": mean_windows,
            "cpu_s": time.process_time() - began}, answers


def compare(y: np.ndarray, start: int, first: np.ndarray, second: np.ndarray
            ) -> dict[str, object]:
    """Where two rules' answers (each scored row's class, in order) differ, and which is right
    there; ``lead``: the second's right answers minus the first's, day by day; ``p``: the
    two-sided exact binomial test of the rows apart (were neither rule better, each would be
    right on half of them; optimistic where neighbouring rows are not independent)."""
    truth = y[start:start + len(first)]
    apart = first != second
    lead = np.cumsum((second == truth).astype(int) - (first == truth).astype(int))
    second_right = int((second[apart] == truth[apart]).sum())
    return {"rows": len(first), "apart": int(apart.sum()),
            "first_right_there": int((first[apart] == truth[apart]).sum()),
            "second_right_there": second_right,
            "p": float(binomtest(second_right, int(apart.sum())).pvalue) if apart.any() else 1.0,
            "lead_min": int(lead.min()), "lead_max": int(lead.max()),
            "lead_final": int(lead[-1]), "rows_level": int((lead == 0).sum())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stream", choices=sorted(STREAMS))
    parser.add_argument("--every", type=int, default=None,
                        help="batches between updates (default: the replay's policy)")
    parser.add_argument("--batches", type=int, default=None, help="only the first N batches")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--answers", type=Path, default=None,
                        help="write each scored row's predicted class here (.npy), to compare "
                             "two rules day by day")
    parser.add_argument("--compare", type=Path, nargs=2, default=None, metavar="ANSWERS",
                        help="no replay: compare two rules' saved --answers")
    parser.add_argument("--parents-rounds", action="store_true",
                        help="every window the template's rounds (the rule before session s28)")
    parser.add_argument("--scheduled", action="store_true",
                        help="save the scheduled retrain's --answers, not the windows'")
    args = parser.parse_args()
    if args.scheduled and not args.answers:
        parser.error("--scheduled saves answers: name the file with --answers")
    stream = STREAMS[args.stream]
    X, y = load(stream)
    start = first_rows(stream, len(y))
    if args.compare:
        print(json.dumps(compare(y, start, *(np.load(path) for path in args.compare))))
        return
    parts = batches(len(y), start, stream.batch)
    if args.batches:
        parts = parts[:args.batches]
        X, y = X.iloc[:parts[-1].stop], y[:parts[-1].stop]
    if args.scheduled:
        answers, retrains = scheduled_answers(X.to_numpy(dtype=float), y, parts, stream.schedule)
        print(f"scheduled: {int((answers == y[start:]).sum()):,} of {len(answers):,} right, "
              f"{retrains} retrains", flush=True)
        np.save(args.answers, answers.astype(np.int8))  # class codes: two on these streams
        return
    every = args.every or (30 if stream.batch == 1 else 1)
    model, template, counted_from = first_template(X, y, start)
    if args.parents_rounds:
        counted_from = None
    print(f"{stream.name}: {len(y):,} rows, update every {every} batches; template "
          f"{template.estimator.n_estimators} rounds; windows' rounds counted from "
          f"{counted_from}", flush=True)
    figures, answers = replay(X, y, start, parts, every, template, model.task, counted_from)
    print(json.dumps(figures), flush=True)
    if args.answers:
        np.save(args.answers, answers.astype(np.int8))  # class codes: two on these streams
    if args.out:
        with args.out.open("a") as handle:
            handle.write(json.dumps({"stream": stream.name, "every": every,
                                     "rounds": "parent's" if counted_from is None else
                                     f"from {counted_from.trees} for {counted_from.rows} rows",
                                     **figures}) + "\n")


if __name__ == "__main__":
    main()
