# mara: `make demo` runs the whole job end to end, `make test` runs the tests.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install system-packages demo test docs lint clean bench-serve bench-dirty bench-drift bench-train \
	bench-improve bench-autopilot bench-capture bench-dashboard bench-soak bench-capture-cost \
	bench-ray bench-serve-stages bench-serve-mlflow bench-serve-auth

# The project and its Python tools: all `make demo` needs (no root, no system package).
install: $(STAMP)

# Only the tests drive a real Prometheus (and promtool) and a headless Chromium: Debian's
# packages, installed by `make test` (as root). apt runs only when one is missing.
system-packages:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null \
		&& command -v chromium >/dev/null || { apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			prometheus chromium; }

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode is compiled at install, not by the first `mara` command (about 10 s of its run).
# The `ray` extra (`mara serve --engine ray`) is installed too: the tests run it on a local cluster.
# The docs group (MkDocs) is there too: `make test` builds the site.
# MkDocs' banner about its successor is not news to a build log.
export NO_MKDOCS_2_WARNING := 1
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --extra ray --group docs --python $(PYTHON)
$(STAMP): $(UV) pyproject.toml uv.lock
	$(SYNC) --compile-bytecode
	touch $(STAMP)

demo: install
	$(VENV)/bin/mara --home demo_home demo

test: install system-packages
	$(VENV)/bin/ruff check src tests benchmarks docs
	$(VENV)/bin/ruff format --check src tests benchmarks docs
	$(VENV)/bin/mkdocs build --strict --quiet
	$(VENV)/bin/pytest -q

# The documentation site, into site/ (`.venv/bin/mkdocs serve` to browse it while editing).
docs: install
	$(VENV)/bin/mkdocs build --strict

lint: install
	$(VENV)/bin/ruff check src tests benchmarks docs
	$(VENV)/bin/ruff format --check src tests benchmarks docs

bench-serve: install
	$(VENV)/bin/python benchmarks/serve/run.py

# Where a request's time goes, in process and over HTTP; mara against `mlflow models serve`.
bench-serve-stages: install
	nice -n 10 $(VENV)/bin/python benchmarks/serve/stages.py

bench-serve-mlflow: install
	nice -n 10 $(VENV)/bin/python benchmarks/serve/versus_mlflow.py

# What the token check costs predict: no tokens, tokens with predict open, --guard-predict.
bench-serve-auth: install
	nice -n 10 $(VENV)/bin/python benchmarks/serve/auth.py

# The evaluation-day path: train (generated problems and real tables), serve, traffic at once.
.PHONY: bench-serve-evaluation-day bench-compile
bench-serve-evaluation-day: install
	$(SYNC) --group bench-train
	nice -n 10 $(VENV)/bin/python benchmarks/serve/evaluation_day.py

# Compile time against speed of a large multiclass forest: lleaves' options and TL2cgen.
bench-compile: install
	$(SYNC) --group bench-compile
	nice -n 10 $(VENV)/bin/python benchmarks/serve/compile_options.py

bench-dirty: install
	$(VENV)/bin/python benchmarks/dirty/run.py

bench-drift: install
	UV=$(UV) PYTHON=$(PYTHON) bash benchmarks/drift/run.sh

bench-improve: install
	$(VENV)/bin/python benchmarks/improve/run.py

bench-autopilot: install
	$(VENV)/bin/python benchmarks/autopilot/run.py
	$(VENV)/bin/python benchmarks/autopilot/arrival.py

bench-capture: install
	$(VENV)/bin/python benchmarks/capture/run.py

# The real tables come from a package in the bench-train dependency group, not mara's own.
# The AutoML peers (FLAML, AutoGluon) have their own environment: AutoGluon pins pandas
# below mara's. Resumable: rows already in results.csv are kept.
PEERS_VENV := .venv-peers
PEERS_REQUIREMENTS := benchmarks/train/peers/requirements.txt
$(PEERS_VENV)/.installed: $(PEERS_REQUIREMENTS) | $(STAMP)
	$(UV) venv -q --allow-existing --python $(VENV)/bin/python $(PEERS_VENV)
	$(UV) pip sync -q --python $(PEERS_VENV)/bin/python $(PEERS_REQUIREMENTS)
	touch $@

bench-train: install $(PEERS_VENV)/.installed
	$(SYNC) --group bench-train
	nice -n 10 $(VENV)/bin/python benchmarks/train/run.py --seeds 0 1 2

# Not niced: it measures the wall time a user waits, so run it on an idle machine.
.PHONY: bench-train-wall
bench-train-wall: install
	$(SYNC) --group bench-train
	$(VENV)/bin/python benchmarks/train/wall.py

bench-dashboard: install system-packages
	$(VENV)/bin/python benchmarks/dashboard/run.py

.PHONY: bench-estimate
bench-estimate: install
	nice -n 10 $(VENV)/bin/python benchmarks/estimate/run.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) .uv demo_home site

# Reliability: a steady-load soak (SOAK_MINUTES=30 for the README figure) and the capture's cost
SOAK_MINUTES ?= 30
bench-soak: install
	$(VENV)/bin/python benchmarks/soak/run.py --minutes $(SOAK_MINUTES)

bench-capture-cost: install
	$(VENV)/bin/python benchmarks/capture_cost/run.py

# uvicorn against Ray Serve (a local one-node Ray cluster), the same app and traffic in one run
bench-ray: install
	nice -n 10 $(VENV)/bin/python benchmarks/ray/run.py
