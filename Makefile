# Two commands do everything on a fresh machine (Python 3.11+ and make; nothing else):
#   make book   set up .venv from pinned versions, then build the HTML book into _build/html
#   make test   the same set-up, then every test (unit, grader, notebooks with nbval, built book)
# and `make lab` opens the chapters in JupyterLab.
# PYTHON picks the interpreter that makes .venv (`make PYTHON=python3.12 book`); see
# scripts/check_python.sh for when an existing .venv is kept or rebuilt.
PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
# Extra pip options for the set-up, e.g. `--no-index --find-links .cache/wheels` (offline,
# as tests/test_python_versions.py installs).
PIP_OPTIONS ?=
# The supported Python versions (pyproject.toml's requires-python and classifiers say the same;
# tests/test_python_versions.py checks that they agree and installs the lock on each).
PYTHON_VERSIONS := 3.11 3.12 3.13
WHEELS  := .cache/wheels
MATHJAX_VERSION := 3.2.2
MATHJAX := _mathjax/mathjax/tex-mml-chtml.js

.PHONY: setup book serve lab test test-fast release bench bench-setup bench-torch clean distclean
.PHONY: browser-test wheels

# An unsupported interpreter stops here with one line naming the minimum (before pip runs); a
# .venv made by another interpreter than the one asked for, or whose python no longer runs, is
# deleted and rebuilt.
setup:
	@sh scripts/check_python.sh "$(PYTHON)" "$(VENV)" "$(origin PYTHON)"
	@$(MAKE) --no-print-directory -q $(STAMP) || $(MAKE) --no-print-directory $(STAMP)

# The venv is created only when missing: with the default PYTHON a working .venv made by
# another supported interpreter is kept, and must not be overwritten by `python3 -m venv`.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_OPTIONS) -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_OPTIONS) --no-deps --no-build-isolation -e .
	touch $@

# MathJax is served from the built site (never a CDN). It comes from the django-static-mathjax
# package that requirements.lock pins (installed by `make setup`); only the files the book uses
# are copied (see scripts/vendor_mathjax.sh). No npm.
$(MATHJAX): requirements.lock | setup
	PYTHON=$(BIN)/python bash scripts/vendor_mathjax.sh $(MATHJAX_VERSION) _mathjax/mathjax
	touch $@

# The student's front end: JupyterLab on the chapters, in the default browser (it prints its
# address, usually http://localhost:8888/lab; Ctrl-C stops it). LAB_ARGS adds options, e.g.
# `make lab LAB_ARGS="--port=8899 --no-browser"`. As root (containers) JupyterLab refuses to
# start without --allow-root, so it is added then.
LAB_ARGS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
lab: setup
	$(BIN)/jupyter lab --notebook-dir=chapters $(LAB_ROOT) $(LAB_ARGS)

# `make book INSTRUCTOR=1`: the instructor edition (solutions collapsed under each exercise),
# built from solutions/ into _build/instructor/_build/html.
INSTRUCTOR ?=
book: setup $(MATHJAX)
ifeq ($(INSTRUCTOR),)
	# --all: an incremental build would keep stale pages (navigation) when a chapter is added
	$(BIN)/jupyter-book build --all -W -n --keep-going .
else
	$(BIN)/python -m autograder.instructor_book . _build/instructor
	$(BIN)/jupyter-book build --all -W -n --keep-going _build/instructor
	@echo "The instructor edition is in _build/instructor/_build/html"
	@echo "Serve it with: $(BIN)/python -m http.server -d _build/instructor/_build/html"
endif
ifeq ($(INSTRUCTOR),)
	@echo
	@echo "The book is in _build/html (open _build/html/index.html)."
	@echo "Serve it with: $(BIN)/python -m http.server -d _build/html   (or: make serve)"
endif

serve:
	$(BIN)/python -m http.server -d _build/html

# Every test. The book is built first because tests/test_book.py reads the built HTML; the
# wheels are fetched first because tests/test_python_versions.py installs them offline.
test: book wheels
	$(MAKE) book INSTRUCTOR=1
	$(BIN)/python -m pytest -rs -n 2 --dist loadfile --nbval solutions chapters tests

# Without the book build (for quick iteration).
test-fast: setup
	$(BIN)/python -m pytest -rs -n 2 --dist loadfile tests

# The built book in headless Chromium (tests/test_browser.py): every page opened from a local
# server, checked (network, MathJax, images, tracebacks, no solution code, navigation) and
# screenshotted into _build/screenshots/. Needs Debian's chromium and chromium-driver
# (apt-get install -y chromium chromium-driver); here it fails, instead of skipping, without them.
browser-test: book
	REQUIRE_BROWSER=1 SE_OFFLINE=true $(BIN)/python -m pytest -p no:cacheprovider tests/test_browser.py -v

release: setup
	$(BIN)/python -m autograder release

# The class benchmark (bench/grade_class.py) grades the same synthetic class with our grader
# and with nbgrader 0.9.6's `autograde`. nbgrader lives in its own venv (it would fight the
# pinned jupyter-book stack in .venv); `make bench-setup` makes it once, from PyPI, with the
# numpy and matplotlib the notebooks need (same versions as requirements.lock). Nothing is
# downloaded while the bench runs; without that venv the bench times our grader alone.
BENCH_VENV := .cache/bench-venv
bench-setup: $(BENCH_VENV)/.installed-stamp

$(BENCH_VENV)/.installed-stamp: requirements.lock
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check nbgrader==0.9.6 \
		$$(grep -E '^(numpy|matplotlib)==' requirements.lock)
	touch $@

bench: setup
	$(BIN)/python bench/grade_class.py $(BENCH_ARGS)

# The reference RNN, LSTM and GRU against PyTorch on this CPU (needs torch; a report, not a
# test). Writes bench/results/ (committed: the numbers chapter 4's cost figure quotes).
bench-torch: setup
	$(BIN)/python bench/rnn_torch_ratio.py --json bench/results/rnn_torch_ratio.json | tee bench/results/rnn_torch_ratio.txt

# The wheels of every pinned package for each supported Python version, for
# tests/test_python_versions.py (which installs them with --no-index, never downloading).
# Fetched by the .venv's pip for Linux x86-64 wheels of each version (no interpreter needed);
# about 230 MB in one folder (pure-Python wheels are shared).
WHEELS_STAMP := $(WHEELS)/.stamp
# and the numpy wheels the Gradescope zip installs on each Python it accepts (2.2.6 for 3.10),
# for tests/test_gradescope.py's simulated images (scripts/gradescope_wheels.sh)
GRADESCOPE_WHEELS_STAMP := $(WHEELS)/.gradescope-stamp
wheels: $(WHEELS_STAMP) $(GRADESCOPE_WHEELS_STAMP)
$(GRADESCOPE_WHEELS_STAMP): autograder/gradescope.py | setup
	bash scripts/gradescope_wheels.sh $(WHEELS)
	touch $@
$(WHEELS_STAMP): requirements.lock | setup
	@mkdir -p $(WHEELS)
	for v in $(PYTHON_VERSIONS); do \
		$(BIN)/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
			--python-version $$v -r requirements.lock -d $(WHEELS) || exit 1; \
	done
	touch $@

# `make clean`: what the build made (the book, its screenshots, the vendored MathJax).
# `make distclean`: also the virtual environment and the download caches (.cache: wheels, the
# bench venv), back to a fresh clone's state; the next `make` sets everything up again.
clean:
	rm -rf _build _mathjax

distclean: clean
	rm -rf $(VENV) .cache *.egg-info
