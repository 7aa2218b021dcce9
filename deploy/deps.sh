#!/bin/sh
# Install every build, test and run dependency of g3c from Debian's archive.
# Idempotent: packages already present are not touched; apt is only called
# when something is missing. Run as root (or with sudo available).
set -eu

PKGS="build-essential pkg-config
libev-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler libnanomsg-dev
libyaml-dev libmaxminddb-dev libc-ares-dev libsystemd-dev libcmocka-dev
python3 python3-pytest curl openssl clang libclang-rt-14-dev libfuzzer-14-dev
procps
nginx-light gnutls-bin libmaxmind-db-writer-perl libmaxmind-db-reader-perl python3-requests
python3-cryptography"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
