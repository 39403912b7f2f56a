#!/usr/bin/env bash
# The main job on a real dataset the project ships: train → leaderboard → test metrics →
# registered model → batch predictions → how to serve. Run with `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export TRAINFORGE_HOME="${TRAINFORGE_HOME:-$PWD/.trainforge-demo}"

echo "== trainforge demo: predict whether income > 50K from the 1994 US census (examples/adult.csv)"
echo "   workspace: $TRAINFORGE_HOME"
trainforge train examples/adult.csv --target income --name adult --time-budget 60

version=$(trainforge models show adult --json | python -c "import json,sys; print(json.load(sys.stdin)['version'])")
trainforge models alias adult "$version" production

echo
echo "== batch prediction of 5 rows with adult@production"
scratch=$(mktemp -d)
head -6 examples/adult.csv > "$scratch/new.csv"
trainforge predict adult@production "$scratch/new.csv" -o "$scratch/predictions.csv"
python - "$scratch/predictions.csv" <<'PY'
import sys, pandas as pd
print(pd.read_csv(sys.argv[1]).round(3).to_string(index=False))
PY

echo
echo "== the registry"
trainforge models list
echo
echo "Serve it:   TRAINFORGE_HOME=$TRAINFORGE_HOME .venv/bin/trainforge serve adult@production"
echo "then:       curl -s localhost:8000/v1/models/adult/predict -H 'content-type: application/json' \\"
echo "              -d '{\"records\": [{\"age\": 39, \"workclass\": \"State-gov\", \"education\": \"Bachelors\", \"hours_per_week\": 40}]}'"
echo "(a record may leave out a column the model saw missing in training; /docs lists every field)"
