#!/usr/bin/env bash
# The project's test command: prerequisites, vet, unit tests, fuzz targets, e2e tests.
#
#   scripts/test-all.sh
#
# As root it installs the Debian packages the e2e tests need (real SoftEther
# 5.01 programs, iperf3, busybox, tcpdump, curl, openvpn, wireguard-go, wireguard-tools) when any is missing. Without root
# it says so and goes on; the e2e tests then skip, except with CI=true,
# where they fail instead of passing silently.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh machine has Go in /usr/local/go without it being on PATH.
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"

pkgs=(softether-vpnserver softether-vpnclient softether-vpncmd softether-vpnbridge iperf3 busybox tcpdump iproute2 curl openvpn wireguard-go wireguard-tools etcd-server)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "== installing ${missing[*]}"
		apt-get -o DPkg::Lock::Timeout=600 update -qq
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${pkgs[@]}" >/dev/null
	else
		echo "NOTE: not root, cannot install ${missing[*]}; the e2e tests will skip (or fail with CI=true)"
	fi
fi

echo "== go vet ./..."
go vet ./...

echo "== unit tests (race detector for internal/...)"
go test -race ./internal/...
go test $(go list ./... | grep -v -e '/internal/' -e '/e2e$')

echo "== fuzz targets, ${ETHERVPN_FUZZTIME:-10s} each (scripts/fuzz-all.sh 5m runs them longer)"
./scripts/fuzz-all.sh "${ETHERVPN_FUZZTIME:-10s}"

echo "== e2e tests (server: ${ETHERVPN_E2E_SERVER:-ethervpn})"
go test -v -timeout 30m ./e2e/
echo "== all tests passed"
