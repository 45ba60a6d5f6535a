# Two commands matter: `make demo` and `make test`. Both bootstrap what they need from a fresh clone
# with only python3, node and npm: a .venv with pinned packages and the pinned npm packages (solc-js).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test conformance lint bench clean

setup: $(STAMP) node_modules/.installed

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@echo "compiling the engine's kernels (numba, once per machine; cached on disk)"
	$(PY) -c "from evm_ext.model import load_model; load_model('models/mnist_mlp/mnist_mlp.aiem').run_bytes(bytes(784))"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(VENV)/bin/aievm demo

test: setup
	$(PY) -m pytest -q

conformance: setup
	$(PY) -m evm_ext.conformance --all

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(VENV)/bin/aievm bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
