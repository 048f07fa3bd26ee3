#!/bin/sh
# Install what a fresh Debian 12 machine lacks to build smgwd's virtual environment and run its tests.
# Debian's python3 ships without ensurepip until python3-venv is installed.
# The NTP tests run a real chronyd on a loopback port. Without a chronyd on the system, Debian's
# chrony package is downloaded and unpacked into .cache/chrony (apt-get download, dpkg -x):
# nothing is installed, no service is started, the system clock is left alone.
set -eu
PYTHON=${PYTHON:-python3}
CHRONY_CACHE=${CHRONY_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/chrony}
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
updated=""
apt_update() {
    [ -n "$updated" ] && return 0
    $SUDO apt-get update -q >/dev/null
    updated=yes
}

missing=""
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing="$missing python3-venv"
if [ -n "$missing" ]; then
    echo "host-deps: installing$missing" >&2
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
fi

# apt-get download needs only the package lists, not root; as root it would otherwise hand the
# download to the _apt user, who cannot write into the cache.
download_chrony() {
    (cd "$CHRONY_CACHE" && apt-get download -q -o APT::Sandbox::User="$(id -un)" chrony >/dev/null)
}
if ! command -v chronyd >/dev/null 2>&1 && [ ! -x /usr/sbin/chronyd ] \
        && [ ! -x "$CHRONY_CACHE/usr/sbin/chronyd" ]; then
    echo "host-deps: unpacking chrony into $CHRONY_CACHE (for the NTP tests; not installed)" >&2
    mkdir -p "$CHRONY_CACHE"
    download_chrony 2>/dev/null || { apt_update; download_chrony; }
    dpkg -x "$CHRONY_CACHE"/chrony_*.deb "$CHRONY_CACHE"
    rm -f "$CHRONY_CACHE"/chrony_*.deb
    "$CHRONY_CACHE/usr/sbin/chronyd" -v >/dev/null
fi
