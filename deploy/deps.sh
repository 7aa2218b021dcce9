#!/bin/sh
# Install every build, test and run dependency of g3c from Debian's archive.
# Idempotent: packages already present are not touched; apt is only called
# when something is missing. Run as root (or with sudo available).
#
#   deploy/deps.sh          build, run and test dependencies (make run / make test)
#   deploy/deps.sh --bench  also the peer proxies and load tools of make bench
#
# Services shipped by these packages (squid, redis, dante, nginx, ...) are
# installed but never started here: tests and benchmarks start their own
# instances on loopback and stop them by PID.
set -eu

PKGS="build-essential pkg-config
libev-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler libnanomsg-dev
libyaml-dev libmaxminddb-dev libc-ares-dev libsystemd-dev libcmocka-dev
libhiredis-dev
python3 python3-pytest curl openssl clang libclang-rt-14-dev libfuzzer-14-dev
procps whois
nginx-light gnutls-bin libmaxmind-db-writer-perl libmaxmind-db-reader-perl python3-requests
python3-cryptography squid dante-server redis-server"

BENCH_PKGS="wrk trafficserver tinyproxy microsocks haproxy linux-perf util-linux"

if [ "${1:-}" = "--bench" ]; then
	PKGS="$PKGS $BENCH_PKGS"
fi

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

# Keep Debian's maintainer scripts from starting the packaged services
# (squid would take 127.0.0.1:3128 from make run): a policy-rc.d that
# denies every start, only for this install and only when none exists.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	made_policy=1
fi
cleanup() {
	if [ -n "$made_policy" ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT INT TERM

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
