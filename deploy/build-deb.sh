#!/usr/bin/env bash
# Build the Debian packages (python3-smgwd, smgwd, smgw-sim; Architecture: all) with Debian's
# own tooling: debhelper + dh-python/pybuild, from a copy of the source tree with deploy/debian
# laid out as debian/. Results: dist/*.deb, dist/*.changes, dist/*.buildinfo.
# Run by `make deb` (which installs the build tools first: deploy/deb-deps.sh).
set -euo pipefail
# Debian's interpreter and tools only: a python3 earlier on PATH (pyenv, a venv) lacks Debian's
# build modules and would not be what the packages run on.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH VIRTUAL_ENV
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)
debversion=$(dpkg-parsechangelog -l deploy/debian/changelog -SVersion)
case "$debversion" in
    "$version"|"$version"-*|"$version"+*) ;;
    *) echo "build-deb: deploy/debian/changelog is at $debversion but pyproject.toml at $version;" \
            "add a changelog entry (dch -v $version -c deploy/debian/changelog)" >&2
       exit 1 ;;
esac

work=build/deb
src=$work/smgwd-$version
rm -rf "$work"
mkdir -p "$src" dist
# The source tree as git sees it (tracked and new files, nothing .gitignore'd), or without git
# the tree minus build products and caches.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [ -e "$f" ] && cp -a --parents "$f" "$src"   # skip files deleted in the work tree
    done < <(git ls-files -z --cached --others --exclude-standard -- . ':!:deploy/debian')
else
    tar -cf - --exclude=./.git --exclude=./.venv --exclude=./.cache --exclude=./build \
        --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ --exclude=.hypothesis \
        --exclude=.mypy_cache --exclude=.pytest_cache --exclude=./deploy/debian . | tar -xf - -C "$src"
fi
cp -a deploy/debian "$src/debian"

(cd "$src" && dpkg-checkbuilddeps && dpkg-buildpackage -us -uc -A)
rm -f dist/*.deb dist/*.changes dist/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo dist/
echo "build-deb: built" >&2
ls -1 dist/*.deb >&2
