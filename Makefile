PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test demo bench clean data

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

test: setup
	bash tests/browser/ensure_chromium.sh || echo "warning: no chromium; the browser test will be skipped (it fails under CI)"
	$(PY) -m pytest -q tests

clean:
	rm -rf outputs runs .pytest_cache

# 2 s of real video with sound (data/pancake-flip.mkv; data/README.md gives its source)
# -> 4x slow motion with the shipped checkpoint (checkpoints/slomo-dis.pt)
demo: setup
	mkdir -p outputs
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m slomo convert data/pancake-flip.mkv --scale 4 \
		--output outputs/pancake-flip-x4.mp4 --overwrite
	@echo "demo output: $(CURDIR)/outputs/pancake-flip-x4.mp4"


# Speed and memory figures for bench/README.md (slow: run by hand, never in CI)
bench: setup
	$(PY) bench/convert_speed.py --threads 1
	$(PY) bench/convert_speed.py --threads ''
	$(PY) bench/matrix.py
	OMP_NUM_THREADS=1 $(PY) bench/ablation.py
	OMP_NUM_THREADS=1 $(PY) bench/memory.py
	OMP_NUM_THREADS=1 $(PY) bench/precision_train.py
	$(PY) bench/plot.py

# Rebuild the bundled teaching data (data/README.md) from the original footage: make data FOOTAGE=/path/to/footage
data: setup
	test -n "$(FOOTAGE)" || { echo "usage: make data FOOTAGE=<folder with videos/, frames/, triplets/>"; exit 2; }
	OMP_NUM_THREADS=1 $(PY) data/build_bundle.py --root "$(FOOTAGE)"
