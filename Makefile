# Every target sets itself up: a .venv, the CPU build of torch first (so pip never pulls
# the multi-GB CUDA build), then the package with its dev extra.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-quick lint notebooks clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sciml demo --out runs/demo

# One BLAS/OpenMP thread per test process, two processes (pytest-xdist) for the two cores.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --durations=15 tests

lint: $(STAMP)
	$(BIN)/ruff check sciml problems solvers tests benchmarks

$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py --quick

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_notebooks.py
