#!/usr/bin/env bash
# Runs the tabular suite through the real `trainforge train` and `trainforge predict` commands
# (the budget covers the whole train command: reading, search, report, registration),
# from a writable copy of the bench folder.
#   benchmarks/automl/run.sh [BUDGET] [DATASET ...]
set -euo pipefail
BUDGET=${1:-30}; shift || true
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" && pwd)}
BENCH=${BENCH_COPY:-/tmp/bench}
mkdir -p "$BENCH/results"
cp $SHARED/bench/automl_bench.py $SHARED/bench/suite.json "$BENCH/"
ln -sfn $SHARED/bench/data "$BENCH/data"
cp $SHARED/bench/results/anchors-dev.jsonl "$BENCH/results/"
cd "$BENCH"
DATASETS=()
if [ $# -gt 0 ]; then DATASETS=(--datasets "$@"); fi
"$REPO/.venv/bin/python" automl_bench.py run --tool cli --name trainforge --budget "$BUDGET" \
  --split dev "${DATASETS[@]}" --results "$REPO/benchmarks/automl/results/trainforge-cli-${BUDGET}s.jsonl" \
  --cmd "TRAINFORGE_HOME={workdir}/home $REPO/.venv/bin/trainforge train {train} --target {target} --time-budget {budget} --name bench --seed 0 \
         && TRAINFORGE_HOME={workdir}/home $REPO/.venv/bin/trainforge predict bench {test} -o {out}"
"$REPO/.venv/bin/python" automl_bench.py summary results/anchors-dev.jsonl \
  "$REPO/benchmarks/automl/results/trainforge-cli-${BUDGET}s.jsonl" --split dev --per-dataset
