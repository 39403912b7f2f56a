#!/usr/bin/env bash
# Simulated federations as processes (a Flower coordinator and a client process per holder,
# gRPC on 127.0.0.1): credit_g with 3 holders at three partitions, adult with 10 holders.
# Needs Flower's virtualenv (`make federated`). Figures: each run's table, and per round
# (seconds, bytes each way per client) in the package's federation.json; see RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TRAINFORGE_HOME="${TRAINFORGE_HOME:-$PWD/benchmarks/out/federated}"
export TRAINFORGE_FLOWER_VENV="${TRAINFORGE_FLOWER_VENV:-$PWD/.venv-flower}"
TF=".venv/bin/trainforge"
for partition in iid dirichlet:0.5 dirichlet:0.1; do
  $TF federated simulate examples/credit_g.csv --target class --clients 3 \
      --partition "$partition" --rounds 20 --name "credit-${partition//[:.]/-}"
done
$TF federated simulate examples/adult.csv --target income --clients 10 \
    --partition dirichlet:0.5 --rounds 5 --name adult-federated
.venv/bin/python - <<'PY'
import json, pathlib, os
models = pathlib.Path(os.environ["TRAINFORGE_HOME"]) / "artifacts" / "models"
for record_file in sorted(models.glob("*/*/federation.json")):
    record = json.loads(record_file.read_text())
    later = record["rounds"][1:] or record["rounds"]
    seconds = sorted(r["seconds"] for r in later)
    sizes = {c["bytes_up"] for r in record["rounds"] for c in r["clients"].values()}
    print(record_file.parent.parent.name, "round 1 %.1f s; later rounds median %.2f s;"
          % (record["rounds"][0]["seconds"], seconds[len(seconds) // 2]),
          "bytes per client per round each way", sorted(sizes),
          {k: {m: round(record[k][m], 4) for m in ("accuracy", "roc_auc") if m in record[k]}
           for k in ("federated", "centralised", "weighted")})
PY
