# Two entry points for a fresh machine (see README):
#   make run    install everything, then run the pipeline on the embedded sample
#   make test   install everything, then run the test suite
#
# The environment is a Python 3.10 virtual environment in .venv (TFX 1.16
# supports Python 3.9-3.10 only), installed with the committed constraints.txt
# so every machine gets the same, already-resolved versions.

VENV    ?= .venv
PYTHON  ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
             $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint docs flink clean sample

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.10 not found: install it (e.g. pyenv install 3.10.13) or pass PYTHON=/path/to/python3.10"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=68" wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/mtrec run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff over the whole tree (configured in pyproject.toml); CI runs it.
lint: install
	$(BIN)/ruff check .

# Flink 1.18.1 and Beam's Flink job server for beam_runner = "flink" (needs Java 17 and Maven).
flink: install
	$(BIN)/mtrec flink setup

# Regenerates docs/configuration.md's table of settings from the config fields.
docs: install
	$(BIN)/python -m mtrec.pipeline.config_file docs/configuration.md

# Regenerates data/sample from its generator (deterministic; committed output).
sample: install
	$(BIN)/python -m mtrec.data.generate_sample

clean:
	rm -rf $(VENV) mtrec_output .pytest_cache
