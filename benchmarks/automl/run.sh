#!/usr/bin/env bash
# Runs the tabular suite on trainforge's AutoML from a writable copy of the bench folder.
#   benchmarks/automl/run.sh [BUDGET] [DATASET ...]
set -euo pipefail
BUDGET=${1:-30}; shift || true
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=${BENCH_COPY:-/tmp/bench}
mkdir -p "$BENCH/results"
cp /work/shared/bench/automl_bench.py /work/shared/bench/suite.json "$BENCH/"
ln -sfn /work/shared/bench/data "$BENCH/data"
cp /work/shared/bench/results/anchors-dev.jsonl "$BENCH/results/"
cd "$BENCH"
DATASETS=()
if [ $# -gt 0 ]; then DATASETS=(--datasets "$@"); fi
"$REPO/.venv/bin/python" automl_bench.py run --tool cli --name trainforge --budget "$BUDGET" \
  --split dev "${DATASETS[@]}" --results "$REPO/benchmarks/automl/results/trainforge-${BUDGET}s.jsonl" \
  --cmd "$REPO/.venv/bin/python $REPO/benchmarks/automl/fit_predict.py --train {train} --test {test} --target {target} --task {task} --budget {budget} --out {out}"
"$REPO/.venv/bin/python" automl_bench.py summary results/anchors-dev.jsonl \
  "$REPO/benchmarks/automl/results/trainforge-${BUDGET}s.jsonl" --split dev --per-dataset
