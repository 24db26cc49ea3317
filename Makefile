# Set-up on a fresh machine needs only Python >= 3.10: every target creates .venv and
# installs the project (editable) with the extras it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test gallery quickstart lectures lectures-full bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,viz,distributed]"
	touch $(STAMP)

install: $(STAMP)

# The main job: the lecture diagram gallery (SVG + PNG + index.html + step-by-step pages).
gallery: $(STAMP)
	$(BIN)/python -m viz gallery --out gallery

quickstart: $(STAMP)
	$(BIN)/python examples/quickstart.py

# Every lecture demo (examples/lectures/) in quick mode, about a minute: printed tables,
# figures and lectures/index.html. lectures-full runs the full versions (the WaveNet demo
# alone trains for about half an hour).
lectures: $(STAMP)
	$(BIN)/python examples/lectures/run_all.py --out lectures --quick

lectures-full: $(STAMP)
	$(BIN)/python examples/lectures/run_all.py --out lectures

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do OMP_NUM_THREADS=1 $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) gallery lectures .pytest_cache .hypothesis
