# Two commands do all set-up on a fresh machine: `make demo` and `make test`
# (`make test-fast` is the same without the tests marked slow).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-cluster test-federated federated install bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# re-install only when the project's dependencies change
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0  # first: any other torch spec pulls a CUDA build
	$(BIN)/pip install --quiet -e '.[test,postgres,dl,rl]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	bash examples/demo.sh

# two workers, one test file each at a time: a file's module fixtures (a trained model, a
# running server) are built once, and the waits of one (servers, subprocesses) overlap the other
test: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not cluster and not federated"

# the fast tier, under 3 minutes on 2 cores: every package's tests but those marked slow
test-fast: install
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow and not cluster and not federated"

# the distributed journey: PostgreSQL, SeaweedFS and a two-node Ray cluster, each started by
# the test on 127.0.0.1 (a few minutes on 2 cores; .ci/run runs it after make test). Each file
# runs in a pytest process of its own: Ray keeps state in the process across ray.init and
# ray.shutdown, and batch prediction's actors never started after the other files' clusters in
# one process (a user's commands each run in a process of their own)
test-cluster: install
	$(BIN)/python -m pytest -m cluster --collect-only -q | grep -o '^tests/[^:]*\.py' | sort -u | \
	  while read -r file; do $(BIN)/python -m pytest -m cluster "$$file" || exit 1; done

# Flower's own virtualenv (its pins clash with the platform's FastAPI and Typer): Flower, CPU
# PyTorch, pandas, scikit-learn; a few hundred MB, so not part of `make install`
FLOWER_VENV := .venv-flower
FLOWER_STAMP := $(FLOWER_VENV)/.installed

$(FLOWER_STAMP): src/trainforge/federated/environment.py | $(STAMP)
	$(BIN)/trainforge federated setup --venv $(FLOWER_VENV)
	touch $(FLOWER_STAMP)

federated: $(FLOWER_STAMP)

# federations of real processes (a coordinator and clients over gRPC on 127.0.0.1; a few
# minutes on 2 cores; .ci/run runs it after make test)
test-federated: federated
	TRAINFORGE_FLOWER_VENV=$(CURDIR)/$(FLOWER_VENV) $(BIN)/python -m pytest -m federated

# slow measurements (about 60 minutes); figures go to benchmarks/RESULTS.md by hand
bench: install
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/serving/bench_serving.py
	bash benchmarks/automl/run.sh 30
	$(BIN)/python benchmarks/loop/bench_overhead.py --rounds 5 --epochs 2
	$(BIN)/python benchmarks/images/bench_images.py mnist --budget 300
	$(BIN)/python benchmarks/images/bench_images.py fashion_mnist --budget 300
	$(BIN)/python benchmarks/text/bench_sms.py --budget 300
	$(BIN)/python benchmarks/clustering/bench_clustering.py
	$(BIN)/python benchmarks/rl/bench_cartpole.py
	$(BIN)/python benchmarks/semi/bench_semi.py sms --budget 120
	$(BIN)/python benchmarks/semi/bench_semi.py telco_churn --budget 120
	$(BIN)/python benchmarks/semi/bench_semi.py telco_churn --trials 20
	$(BIN)/python benchmarks/semi/bench_semi.py satimage --budget 120
	$(BIN)/python benchmarks/semi/bench_semi.py satimage --trials 20

clean:
	rm -rf $(VENV) $(FLOWER_VENV) build *.egg-info
