#!/usr/bin/env bash
# Vendor the parts of MathJax that the book uses, so equations typeset with no network.
#
#   bash scripts/vendor_mathjax.sh VERSION DEST       e.g.  3.2.2 _mathjax/mathjax
#
# Fetches mathjax@VERSION from the npm registry with `npm pack` into .cache/npm/ (skipped when
# the tarball is already cached), then copies only
#   es5/tex-mml-chtml.js, es5/output/chtml/fonts/woff-v2/, es5/input/tex/extensions/, LICENSE
# into DEST. DEST must not be under _static/: Jupyter Book 1 injects every .js file found
# under _static/ into every page. _config.yml serves DEST's parent via html_extra_path.
# This runs at set-up time only; nothing is downloaded while the book is built or read.
# MathJax is Apache-2.0; its LICENSE is copied next to the files.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 VERSION DEST   (e.g. $0 3.2.2 _mathjax/mathjax)" >&2
    exit 2
fi
version=$1
dest=$2

# The download cache lives at the repository root, whatever the caller's directory;
# a relative DEST is relative to the caller's directory, as usual.
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

cache="$root/.cache/npm"
tgz="$cache/mathjax-$version.tgz"

# Already vendored at this version? Nothing to do. (The version is read from the bundle
# itself: a stamp file in DEST would be copied into the site.)
if [ -f "$dest/tex-mml-chtml.js" ] && [ -d "$dest/output/chtml/fonts/woff-v2" ] \
   && [ -d "$dest/input/tex/extensions" ] && [ -f "$dest/LICENSE" ] \
   && grep -qF "VERSION=\"$version\"" "$dest/tex-mml-chtml.js"; then
    echo "MathJax $version already vendored in ${dest#"$root"/}"
    exit 0
fi

mkdir -p "$cache"
if [ ! -s "$tgz" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm is not installed; it is needed once to fetch mathjax@$version" >&2
        echo "       (Debian: apt-get install -y npm), or put mathjax-$version.tgz in .cache/npm/" >&2
        exit 1
    fi
    echo "Fetching mathjax@$version from the npm registry into .cache/npm/ ..."
    if ! out=$(cd "$cache" && npm pack --loglevel=error "mathjax@$version" 2>&1); then
        echo "error: 'npm pack mathjax@$version' failed:" >&2
        echo "$out" >&2
        echo "       Check access to the npm registry (npm config get registry), or put" >&2
        echo "       mathjax-$version.tgz (from 'npm pack mathjax@$version') in .cache/npm/." >&2
        rm -f "$tgz"
        exit 1
    fi
    if [ ! -s "$tgz" ]; then
        echo "error: npm pack succeeded but $tgz is missing (npm said: $out)" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! tar -xzf "$tgz" -C "$tmp"; then
    echo "error: could not extract $tgz (corrupt download?); delete it and run again" >&2
    exit 1
fi
pkg="$tmp/package"
for need in es5/tex-mml-chtml.js es5/output/chtml/fonts/woff-v2 es5/input/tex/extensions LICENSE; do
    if [ ! -e "$pkg/$need" ]; then
        echo "error: mathjax@$version has no $need; this script expects MathJax 3.x" >&2
        exit 1
    fi
done

# Build the new copy next to DEST, then swap it in, so an interrupted run never leaves
# a half-filled DEST that looks complete.
staging="$dest.tmp.$$"
trap 'rm -rf "$tmp" "$staging"' EXIT
rm -rf "$staging"
mkdir -p "$staging/output/chtml/fonts" "$staging/input/tex"
cp "$pkg/es5/tex-mml-chtml.js" "$staging/"
cp -R "$pkg/es5/output/chtml/fonts/woff-v2" "$staging/output/chtml/fonts/"
cp -R "$pkg/es5/input/tex/extensions" "$staging/input/tex/"
cp "$pkg/LICENSE" "$staging/"
rm -rf "$dest"
mv "$staging" "$dest"

echo "MathJax $version vendored in ${dest#"$root"/} ($(du -sh "$dest" | cut -f1))"
