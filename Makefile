# Two commands do all the set-up: `make run` and `make test` (see README.md).
# Everything else here is a helper target those two use, or a developer convenience.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The install stamp changes whenever the dependency list changes, so a pull that adds a
# dependency reinstalls on the next `make run`/`make test` without a manual step.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: run test test-slow lint typecheck install models bench bench-baselines clean demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

models: install
	$(BIN)/vigil models install

# The first-run demo needs real footage: ../shared/data when present, else Debian's opencv-doc
# (OpenCV's vtest.avi), installed here when we can (root with apt); `vigil demo --video FILE`
# takes any other clip. For your own cameras: `vigil run --config vigil.yaml`.
DEMO_FOOTAGE := $(firstword $(wildcard ../shared/data/opencv_vtest/vtest.avi /usr/share/doc/opencv-doc/examples/data/vtest.avi))

run: models
ifeq ($(DEMO_FOOTAGE),)
	-@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's opencv-doc for the demo footage (vtest.avi)"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends opencv-doc; fi
endif
	$(BIN)/vigil demo

lint: install
	$(BIN)/ruff check src tests bench training
	$(BIN)/ruff format --check src tests bench training

typecheck: install
	$(BIN)/mypy

# pytest exits 5 when it collected nothing; that must fail, never pass silently.
test: models lint typecheck
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-slow: models
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

# The face benchmark's baseline (face_recognition on dlib) is installed for `make bench` only: it
# is not a dependency of Vigil. dlib-bin is a binary wheel; face_recognition pins the source build
# of dlib, hence --no-deps (see bench/bench_faces.py).
bench-baselines: install
	$(BIN)/python -c "import face_recognition" 2>/dev/null || { \
	  $(BIN)/python -m pip install --quiet dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 && \
	  $(BIN)/python -m pip install --quiet --no-deps face_recognition==1.3.0; }

bench: models bench-baselines
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build src/*.egg-info
