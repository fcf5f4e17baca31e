#!/bin/sh
# Before `make` creates or uses the virtual environment: is the interpreter supported, and
# was the existing venv made by the interpreter asked for?
#
#   sh scripts/check_python.sh PYTHON VENV ORIGIN
#
# PYTHON  the interpreter `make` was given (PYTHON=..., default python3)
# VENV    the virtual environment's folder (.venv)
# ORIGIN  $(origin PYTHON): "file" when PYTHON is the Makefile's default, "command line" or
#         "environment" when the user chose it
#
# - An existing VENV whose python runs and is supported (3.11 or newer) is kept, unless the
#   user named an interpreter (ORIGIN not "file") other than the one that made it: then it is
#   deleted (so that `make` rebuilds it) with one line saying so. With the default PYTHON a
#   working venv is kept whatever made it, so `make PYTHON=python3.12 book` then `make test`
#   does not rebuild.
# - A VENV whose python no longer runs (its interpreter was removed or upgraded) or is older
#   than the minimum is deleted, with one line saying so.
# - When there is no usable VENV, PYTHON must run and be 3.11 or newer; otherwise ONE line on
#   stderr names the minimum and how to choose another interpreter, and the exit status is 1
#   (before pip ever runs, so no resolver dump).
# Plain POSIX sh, and Python code that runs on any Python (even 2.7), since the point is to
# judge interpreters that may be too old.
set -u

if [ "$#" -ne 3 ]; then
    echo "usage: $0 PYTHON VENV ORIGIN" >&2
    exit 2
fi
py=$1
venv=$2
origin=$3

MIN_MAJOR=3
MIN_MINOR=11
MIN="$MIN_MAJOR.$MIN_MINOR"
HINT="install Python 3.11, 3.12 or 3.13 and run e.g. 'make PYTHON=python3.12 book'"

# "<major>.<minor>.<micro> <base prefix>" of an interpreter: the same for a base interpreter
# and for every venv made from it.
IDENT='import sys; print("%d.%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.version_info[2], getattr(sys, "base_prefix", sys.prefix)))'
OK="import sys; sys.exit(0 if sys.version_info[:2] >= ($MIN_MAJOR, $MIN_MINOR) else 1)"

# PYTHON must run and be supported: checked first when the user named it, else only when there
# is no usable venv; always before a venv is deleted.
check_py() {
    if ! command -v "$py" >/dev/null 2>&1; then
        echo "error: '$py' not found; this book needs Python $MIN or newer: $HINT" >&2
        exit 1
    fi
    ver=$("$py" -c "$IDENT" 2>/dev/null) || {
        echo "error: '$py' did not run; this book needs Python $MIN or newer: $HINT" >&2
        exit 1
    }
    if ! "$py" -c "$OK" 2>/dev/null; then
        echo "error: this book needs Python $MIN or newer, and $py is Python ${ver%% *}: $HINT" >&2
        exit 1
    fi
}

if [ "$origin" != "file" ]; then
    check_py || exit 1
fi

if [ -e "$venv" ] || [ -L "$venv" ]; then
    have=$("$venv/bin/python" -c "$IDENT" 2>/dev/null) || have=""
    why=""
    if [ -z "$have" ]; then
        why="its python does not run (was its interpreter removed or upgraded?)"
    elif ! "$venv/bin/python" -c "$OK" 2>/dev/null; then
        why="it was made by Python ${have%% *}, older than $MIN"
    elif [ "$origin" != "file" ]; then
        want=$("$py" -c "$IDENT" 2>/dev/null) || want=""
        if [ -n "$want" ] && [ "$want" != "$have" ]; then
            why="it was made by Python ${have%% *} (${have#* }), not by $py (Python ${want%% *}, ${want#* })"
        fi
    fi
    if [ -z "$why" ]; then
        exit 0  # a working venv: keep it
    fi
    check_py || exit 1  # never delete a venv that cannot be rebuilt
    echo "$venv: $why; deleting it to rebuild it with $py" >&2
    rm -rf "$venv"
    exit 0
fi

check_py || exit 1
exit 0
