#!/bin/sh
# Build .venv-debian: the tests' environment on Debian 12's own Python (/usr/bin/python3) with the
# runtime dependencies from Debian's python3-* packages, the versions a Pi runs smgwd with
# (cryptography 38, lxml 4.9, urllib3 1.26 ...), where .venv has PyPI's newest. Only the test
# tools and the benchmark peers come from PyPI, under a constraints file that pins every runtime
# dependency to the Debian package's version, so pip can never replace one with a newer wheel.
# Used by `make test-debian`.
set -eu
VENV=${VENV:-.venv-debian}
DEBIAN_PYTHON=${DEBIAN_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/apt-missing.sh"
apt_install_missing debian-venv python3-venv python3-cryptography python3-lxml python3-asn1crypto python3-serial \
    python3-requests python3-ntplib
"$DEBIAN_PYTHON" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" - > "$VENV/debian-constraints.txt" <<'PY'
from importlib.metadata import version
for name in ("cryptography", "lxml", "asn1crypto", "pyserial", "requests", "urllib3", "ntplib"):
    print(f"{name}=={version(name)}")
PY
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$VENV/debian-constraints.txt" -e '.[test,bench]'
echo "debian-venv: $("$VENV/bin/python" --version) with $(tr '\n' ' ' < "$VENV/debian-constraints.txt")" >&2
