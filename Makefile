# ModelGuard developer commands. `make demo` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: bench-admission bench-scale compare-scanners demo sandbox test test-unit test-integration lint crds manifests testbin venv system-deps bench e2e e2e-local e2e-kind clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:  ## Debian packages used by tests, the demo and the sandbox (a no-op when installed)
	bash hack/install-system-deps.sh

testbin:  ## build or reuse the local control plane (cached under ~/.cache/modelguard)
	bash hack/testbin/build.sh >/dev/null

crds: $(STAMP)  ## regenerate crds/ from the API models, the chart's copy and manifests/install.yaml
	$(BIN)/modelguard crds --out crds
	cp crds/*.yaml charts/modelguard/crds/
	$(MAKE) manifests

manifests: $(STAMP) testbin  ## render manifests/install.yaml from the chart (cert-manager issues the webhook certificate)
	$$(bash hack/testbin/build.sh)/helm template modelguard charts/modelguard --namespace modelguard-system \
	  --include-crds --skip-tests --set webhook.certManager.enabled=true > manifests/install.yaml
	$(BIN)/python hack/chart_readme.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check operator
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/modelguard crds --out crds --check

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) testbin
	$(BIN)/pytest -m integration tests/integration $(PYTEST_ARGS)

test: system-deps $(STAMP) lint testbin  ## lint, type checks, unit and integration tests (integration never skips)
	$(BIN)/pytest tests $(PYTEST_ARGS)

demo: system-deps $(STAMP) testbin  ## the operator against a local control plane, on the example manifests
	$(BIN)/python hack/demo.py

sandbox: system-deps $(STAMP) testbin  ## a local control plane and the operator that keep running: kubectl apply your own YAML
	$(BIN)/python hack/sandbox.py

bench-admission: $(STAMP) testbin  ## admission latency with webhooks vs without (ends with a W1 line)
	$(BIN)/python bench/bench_admission.py

SCALE ?= 1000
bench-scale: $(STAMP) testbin  ## SCALE AIModels + SCALE AIDeployments settle (ends with an O2 line)
	SCALE=$(SCALE) $(BIN)/python bench/bench_scale.py

bench: $(STAMP)  ## benchmarks -> docs/benchmarks*.md (ratios to baselines of the same run)
	$(BIN)/python bench/bench_verify.py
	$(BIN)/python bench/bench_inspect.py
	$(BIN)/python bench/bench_admission.py
	$(BIN)/python bench/bench_scale.py

e2e:  ## the end-to-end suite against $$KUBECONFIG (ModelGuard installed)
	$(BIN)/pytest e2e -v

e2e-local: $(STAMP) system-deps testbin  ## images + a real node (containerd) + chart + e2e suite; needs root
	$(BIN)/python hack/e2e_local.py $(E2E_ARGS)

e2e-kind:  ## kind cluster + image + chart + e2e suite (needs Docker)
	bash e2e/kind.sh

clean:
	rm -rf .demo .sandbox .pytest_cache .mypy_cache .ruff_cache

SCANNERS_VENV ?= $(HOME)/.cache/modelguard/scanners
compare-scanners:  ## compare the PyPI model scanners with ModelGuard's inspection on the corpus (docs/inspection-engines.md)
	test -x $(SCANNERS_VENV)/bin/python || python3 -m venv $(SCANNERS_VENV)
	$(SCANNERS_VENV)/bin/pip install --quiet picklescan==1.0.5 fickling==0.1.12 modelscan==0.8.8 modelaudit==0.2.54
	$(SCANNERS_VENV)/bin/python bench/compare_scanners.py --doc docs/inspection-engines.md
