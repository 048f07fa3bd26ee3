#!/bin/sh
# Install what building and checking the Debian packages needs on a Debian 12 machine:
# Debian's build tooling (debhelper, dh-python with the pyproject plugin), help2man for the man
# pages, lintian, systemd for systemd-analyze and systemd-sysusers (a container may lack it), and
# man-db, with which `systemd-analyze verify` checks that Documentation=man:… pages exist.
# Used by `make deb` and `make deb-check`; `make test` does not need any of it.
set -eu
. "$(dirname "$0")/apt-missing.sh"
# Tool -> Debian package. The pyproject plugin and python3-all have no command, so they are
# checked with dpkg-query.
apt_install_missing deb-deps debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools help2man \
    lintian systemd man-db
