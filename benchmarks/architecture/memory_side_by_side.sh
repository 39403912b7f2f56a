#!/usr/bin/env bash
# Peak memory and score of two source trees, side by side: for each dev table of ../shared/bench,
# the real `trainforge train && trainforge predict` at BUDGET seconds from BEFORE_SRC, then from
# AFTER_SRC, through the suite's own harness (peak_rss_mb: the process tree's summed RSS).
#   BEFORE_SRC=/path/to/old/src benchmarks/architecture/memory_side_by_side.sh [BUDGET]
# Results: $BENCH/results/{before,after}.jsonl; then
#   python automl_bench.py summary results/anchors-dev.jsonl results/before.jsonl results/after.jsonl --split dev
set -u
BUDGET=${1:-30}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" && pwd)}
BENCH=${BENCH_COPY:-/tmp/bench-memory}
AFTER_SRC=${AFTER_SRC:-$REPO/src}
: "${BEFORE_SRC:?give BEFORE_SRC, the src folder of the version to compare with (e.g. a git worktree)}"
mkdir -p "$BENCH/results"
cp "$SHARED/bench/automl_bench.py" "$SHARED/bench/suite.json" "$BENCH/"
ln -sfn "$SHARED/bench/data" "$BENCH/data"
cp "$SHARED/bench/results/anchors-dev.jsonl" "$BENCH/results/"
cd "$BENCH"
DATASETS=$("$REPO/.venv/bin/python" -c "import json; print(' '.join(d['name'] for d in json.load(open('suite.json'))['datasets'] if d.get('split', 'dev') == 'dev'))")
for ds in $DATASETS; do
  for side in before after; do
    if [ $side = before ]; then SRC=$BEFORE_SRC; else SRC=$AFTER_SRC; fi
    PYTHONPATH=$SRC "$REPO/.venv/bin/python" automl_bench.py run --tool cli --name "trainforge-$side" \
      --budget "$BUDGET" --split dev --datasets "$ds" --results "$BENCH/results/$side.jsonl" \
      --cmd "PYTHONPATH=$SRC TRAINFORGE_HOME={workdir}/home $REPO/.venv/bin/trainforge train {train} --target {target} --time-budget {budget} --name bench --seed 0 && PYTHONPATH=$SRC TRAINFORGE_HOME={workdir}/home $REPO/.venv/bin/trainforge predict bench {test} -o {out}"
  done
done
"$REPO/.venv/bin/python" automl_bench.py summary results/anchors-dev.jsonl results/before.jsonl \
  results/after.jsonl --split dev
