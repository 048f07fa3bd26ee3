#!/bin/sh
# Install what a fresh Debian 12 machine lacks to build smgwd's virtual environment.
# Debian's python3 ships without ensurepip until python3-venv is installed.
set -eu
PYTHON=${PYTHON:-python3}
missing=""
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing="$missing python3-venv"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "host-deps: installing$missing" >&2
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
