#!/bin/sh
# Install what building and checking the Debian packages needs on a Debian 12 machine:
# Debian's build tooling (debhelper, dh-python with the pyproject plugin), help2man for the man
# pages, lintian, systemd for systemd-analyze and systemd-sysusers (a container may lack it), and
# man-db, with which `systemd-analyze verify` checks that Documentation=man:… pages exist.
# Used by `make deb` and `make deb-check`; `make test` does not need any of it.
set -eu
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
# Tool -> Debian package. The pyproject plugin and python3-all have no command, so they are
# checked with dpkg-query.
need="debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools help2man lintian systemd man-db"
missing=""
for pkg in $need; do
    status=$(dpkg-query -W -f '${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing="$missing $pkg" ;;
    esac
done
if [ -n "$missing" ]; then
    echo "deb-deps: installing$missing" >&2
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
