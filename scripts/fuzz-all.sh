#!/usr/bin/env bash
# Runs every fuzz target of the module for a while, one after the other.
#
#   scripts/fuzz-all.sh [FUZZTIME]      (default 10s; e.g. 5m for a long run)
#
# A target that finds a crashing input fails the script; Go keeps the input
# under the package's testdata/fuzz/<Target>/, where it becomes a regression
# seed once committed. scripts/test-all.sh runs this with the default time so
# that a new crash fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
fuzztime=${1:-10s}

failed=()
n=0
# Each line: <package dir> <target>
while read -r dir target; do
	n=$((n + 1))
	echo "== fuzz $dir $target ($fuzztime)"
	if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$dir" 2>&1 | tail -n 30; then
		failed+=("$dir $target")
	fi
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do
		echo "$(dirname "${f#./}") $t"
	done
done)

if [ ${#failed[@]} -gt 0 ]; then
	echo "== fuzzing found failures in ${#failed[@]} of $n targets:"
	printf '   %s\n' "${failed[@]}"
	exit 1
fi
echo "== all $n fuzz targets ran clean for $fuzztime each"
