#!/usr/bin/env bash
# Vendor the parts of MathJax that the book uses, so equations typeset with no network.
#
#   bash scripts/vendor_mathjax.sh VERSION DEST       e.g.  3.2.2 _mathjax/mathjax
#
# MathJax comes from the Python package django-static-mathjax, pinned in requirements.lock
# (3.2.2.1: MathJax 3.2.2's files, Apache-2.0, as plain data under mathjax/static/mathjax/),
# installed into the virtual environment by `make setup`. No npm, no download here. Only
#   es5/tex-mml-chtml.js, es5/output/chtml/fonts/woff-v2/, es5/input/tex/extensions/, LICENSE
# are copied into DEST (about 3 MB of the package's 43 MB). DEST must not be under _static/:
# Jupyter Book 1 injects every .js file found under _static/ into every page. _config.yml
# serves DEST's parent via html_extra_path.
#
# The Python whose site-packages hold the package: $PYTHON, else .venv/bin/python at the
# repository root.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 VERSION DEST   (e.g. $0 3.2.2 _mathjax/mathjax)" >&2
    exit 2
fi
version=$1
dest=$2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$dest" in
    /*) ;;
    *) dest="$PWD/$dest" ;;
esac
case "$dest" in
    */_static/*|*/_static)
        echo "error: DEST ($dest) must not be under _static/ (Jupyter Book would inject every .js into every page)" >&2
        exit 2 ;;
esac

# Already vendored at this version? Nothing to do. (The version is read from the bundle
# itself: a stamp file in DEST would be copied into the site.)
if [ -f "$dest/tex-mml-chtml.js" ] && [ -d "$dest/output/chtml/fonts/woff-v2" ] \
   && [ -d "$dest/input/tex/extensions" ] && [ -f "$dest/LICENSE" ] \
   && grep -qF "VERSION=\"$version\"" "$dest/tex-mml-chtml.js"; then
    echo "MathJax $version already vendored in ${dest#"$root"/}"
    exit 0
fi

python=${PYTHON:-$root/.venv/bin/python}
# The package's folder, found through its installed files (importlib.metadata), not by
# importing it. Prints "<distribution version> <folder>".
if ! found=$("$python" - <<'EOF'
import sys
from importlib import metadata
try:
    dist = metadata.distribution("django-static-mathjax")
except metadata.PackageNotFoundError:
    sys.exit("django-static-mathjax is not installed")
for f in dist.files or ():
    if f.as_posix() == "mathjax/static/mathjax/LICENSE":
        print(dist.version, dist.locate_file(f).parent)
        break
else:
    sys.exit("django-static-mathjax %s has no mathjax/static/mathjax/LICENSE" % dist.version)
EOF
); then
    echo "error: MathJax's files not found with $python (run 'make setup': requirements.lock pins django-static-mathjax)" >&2
    exit 1
fi
pkg=${found#* }
for need in es5/tex-mml-chtml.js es5/output/chtml/fonts/woff-v2 es5/input/tex/extensions LICENSE; do
    if [ ! -e "$pkg/$need" ]; then
        echo "error: django-static-mathjax ${found%% *} has no $need in $pkg; this script expects MathJax 3.x" >&2
        exit 1
    fi
done
if ! grep -qF "VERSION=\"$version\"" "$pkg/es5/tex-mml-chtml.js"; then
    echo "error: django-static-mathjax ${found%% *} in $pkg does not hold MathJax $version" >&2
    exit 1
fi

# Build the new copy next to DEST, then swap it in, so an interrupted run never leaves
# a half-filled DEST that looks complete.
staging="$dest.tmp.$$"
trap 'rm -rf "$staging"' EXIT
rm -rf "$staging"
mkdir -p "$staging/output/chtml/fonts" "$staging/input/tex"
cp "$pkg/es5/tex-mml-chtml.js" "$staging/"
cp -R "$pkg/es5/output/chtml/fonts/woff-v2" "$staging/output/chtml/fonts/"
cp -R "$pkg/es5/input/tex/extensions" "$staging/input/tex/"
cp "$pkg/LICENSE" "$staging/"
rm -rf "$dest"
mv "$staging" "$dest"

echo "MathJax $version vendored in ${dest#"$root"/} from django-static-mathjax ${found%% *} ($(du -sh "$dest" | cut -f1))"
