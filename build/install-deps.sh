#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests and `make run` need, but
# only those that are missing: on a machine that has them this does nothing
# (no apt-get update).
#
#   build/install-deps.sh        PostgreSQL, OpenSSL, NSS tools (pk12util), CA certificates,
#                                Chromium (the browser tests)
#   build/install-deps.sh --ci   also the build tools CI needs: make, gcc (for go test -race), git
#
# Without root, a missing Chromium alone is not an error outside CI: the
# browser tests skip themselves then (under CI they fail).
#
# EXTRA_DEBIAN_PACKAGES="pkg ..." adds packages to check and install.
# Runs apt-get directly as root, through `sudo -n` otherwise, and fails with
# the command to run when neither is possible.
set -euo pipefail

ci=false
case "${1:-}" in
"") ;;
--ci) ci=true ;;
*)
	echo "usage: $0 [--ci]" >&2
	exit 2
	;;
esac

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
have openssl || missing+=(openssl)
have pk12util || missing+=(libnss3-tools)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if $ci; then
	have make || missing+=(make)
	have gcc || missing+=(gcc libc6-dev)
	have git || missing+=(git)
fi
for pkg in ${EXTRA_DEBIAN_PACKAGES:-}; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "System packages: all present"
	exit 0
fi

echo "Missing system packages: ${missing[*]}"
if ! have apt-get; then
	echo "error: no apt-get here; install the equivalent of: ${missing[*]}" >&2
	exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif have sudo && sudo -n true 2>/dev/null; then
	as_root=(sudo -n)
elif ! $ci && [ "${missing[*]}" = chromium ]; then
	echo "warning: chromium is not installed, so the browser tests will be skipped:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
	exit 0
else
	echo "error: installing packages needs root. Run:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

apt_opts=(-q -o DPkg::Lock::Timeout=300)
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y "${missing[@]}"
echo "Installed: ${missing[*]}"
