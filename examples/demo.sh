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
record=$(python - <<'PY'
import json, pandas as pd
row = pd.read_csv("examples/adult.csv", nrows=1).drop(columns=["income"]).iloc[0]
print(json.dumps({"records": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}]}))
PY
)
echo "Serve it:   TRAINFORGE_HOME=$TRAINFORGE_HOME .venv/bin/trainforge serve adult@production"
echo "then:       curl -s localhost:8000/v1/models/adult/predict -H 'content-type: application/json' -d '$record'"
echo "API docs:   http://127.0.0.1:8000/docs  (the report path is printed above, after the test metrics)"
echo
echo "Images and text train the same way (networks; see README, 'Images and text'):"
echo "            .venv/bin/trainforge train examples/digits --time-budget 120"
echo "            .venv/bin/trainforge train examples/sms_spam.csv --target label --time-budget 180"
echo "No target? Segments and anomalies, registered and served the same way:"
echo "            .venv/bin/trainforge cluster examples/wine.csv --exclude cultivar"
echo "            .venv/bin/trainforge anomalies examples/credit_g.csv --exclude class"
