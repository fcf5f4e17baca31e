# Two commands do everything on a fresh machine:
#   make book   set up .venv from pinned versions, then build the HTML book into _build/html
#   make test   the same set-up, then every test (unit, grader, notebooks with nbval, built book)
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
MATHJAX_VERSION := 3.2.2
MATHJAX := _mathjax/mathjax/tex-mml-chtml.js

.PHONY: setup book serve test test-fast release bench bench-setup bench-torch clean
.PHONY: browser-test wheels

# numpy wheels for the Gradescope zip's simulated images (tests/test_gradescope.py installs
# from here with no index: tests download nothing). Fetched once, at set-up.
WHEELS_STAMP := .cache/wheels/.fetched
wheels: $(WHEELS_STAMP)

$(WHEELS_STAMP): autograder/gradescope.py | setup
	bash scripts/gradescope_wheels.sh .cache/wheels
	touch $@

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# MathJax is served from the built site (never a CDN). npm's tarball is fetched at set-up,
# not at read time; only the files the book uses are copied (see scripts/vendor_mathjax.sh).
$(MATHJAX):
	bash scripts/vendor_mathjax.sh $(MATHJAX_VERSION) _mathjax/mathjax

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

# Every test. The book is built first because tests/test_book.py reads the built HTML.
test: book wheels
	$(MAKE) book INSTRUCTOR=1
	$(BIN)/python -m pytest -rs -n 2 --dist loadfile --nbval solutions chapters tests

# Without the book build (for quick iteration).
test-fast: setup wheels
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

clean:
	rm -rf _build
