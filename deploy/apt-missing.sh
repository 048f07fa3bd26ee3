# Sourced by deploy/deb-deps.sh and deploy/debian-venv.sh: install the Debian packages that are not
# installed yet. Usage: apt_install_missing LABEL PACKAGE... (LABEL prefixes the one line it prints).
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

apt_install_missing() {
    label=$1
    shift
    missing=""
    for pkg in "$@"; do
        status=$(dpkg-query -W -f '${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        case "$status" in
            ii*) ;;
            *) missing="$missing $pkg" ;;
        esac
    done
    if [ -n "$missing" ]; then
        echo "$label: installing$missing" >&2
        $SUDO apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
    fi
}
