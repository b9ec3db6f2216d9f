#!/usr/bin/env bash
# Fetch the corpus source packages named in training/sources_*.txt into a cache dir.
#
#   training/fetch_sources.sh [CACHE_DIR] [python|npm|debian ...]
#
# CACHE_DIR defaults to .cache/corpus-sources (gitignored). Layout:
#   CACHE_DIR/pypi/    wheels or sdists from `pip download --no-deps`
#   CACHE_DIR/npm/     tarballs from `npm pack`
#   CACHE_DIR/debian/  .deb files from `apt-get download`, each unpacked under
#                      CACHE_DIR/debian/unpacked/<deb file name without .deb>/
# A package that fails to fetch is reported and skipped; the script never stops on one failure.
# Already-fetched packages are not fetched again. Needs the network to PyPI, npm and Debian only.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${1:-$repo/.cache/corpus-sources}"
shift || true
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(python npm debian)
jobs="${FETCH_JOBS:-4}"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python=python3

names() { grep -v '^\s*#' "$1" | sed 's/\s*#.*//' | awk 'NF{print $1}'; }

fetch_python() {
    local dir="$cache/pypi"
    mkdir -p "$dir"
    echo "fetch: pypi -> $dir" >&2
    names "$here/sources_python.txt" | xargs -P "$jobs" -I{} sh -c '
        "$0" -m pip download --quiet --no-deps --disable-pip-version-check -d "$1" "{}" >/dev/null 2>&1 \
            && echo "  ok   {}" >&2 || echo "  FAIL {}" >&2' "$python" "$dir"
}

fetch_npm() {
    local dir="$cache/npm"
    mkdir -p "$dir"
    echo "fetch: npm -> $dir" >&2
    names "$here/sources_npm.txt" | xargs -P "$jobs" -I{} sh -c '
        npm pack --silent --pack-destination "$0" "{}" >/dev/null 2>&1 \
            && echo "  ok   {}" >&2 || echo "  FAIL {}" >&2' "$dir"
}

fetch_debian() {
    local dir="$cache/debian"
    mkdir -p "$dir/unpacked"
    echo "fetch: debian -> $dir" >&2
    (cd "$dir" && names "$here/sources_debian.txt" | xargs -P "$jobs" -I{} sh -c '
        ls {}_*.deb >/dev/null 2>&1 || apt-get download -q "{}" >/dev/null 2>&1 \
            && echo "  ok   {}" >&2 || echo "  FAIL {} (run apt-get update first?)" >&2')
    for deb in "$dir"/*.deb; do
        [ -e "$deb" ] || continue
        dest="$dir/unpacked/$(basename "$deb" .deb)"
        [ -e "$dest/.done" ] && continue
        mkdir -p "$dest" && dpkg-deb -x "$deb" "$dest" && touch "$dest/.done"
    done
}

for kind in "${kinds[@]}"; do
    case "$kind" in
        python) fetch_python ;;
        npm) fetch_npm ;;
        debian) fetch_debian ;;
        *) echo "fetch: unknown source kind '$kind' (python, npm, debian)" >&2; exit 2 ;;
    esac
done
echo "fetch: done; $(du -sh "$cache" | cut -f1) in $cache" >&2
