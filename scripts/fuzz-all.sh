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

# fuzz_one runs one target. Go 1.26's fuzzing coordinator can end a run that
# found nothing with a bare "context deadline exceeded" when -fuzztime runs out
# (golang/go#75804, fixed in Go 1.27). A real failure always writes its input
# under testdata/fuzz/<Target>/, so a deadline failure that wrote no new input
# is run once more, and only a second failure counts.
fuzz_one() {
	local dir=$1 target=$2 out corpus before attempt
	corpus="$dir/testdata/fuzz/$target"
	out=$(mktemp)
	for attempt in 1 2; do
		before=$(ls "$corpus" 2>/dev/null | sort || true)
		if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "./$dir" >"$out" 2>&1; then
			tail -n 30 "$out"
			rm -f "$out"
			return 0
		fi
		tail -n 30 "$out"
		if [ "$attempt" = 1 ] && grep -q '^    context deadline exceeded$' "$out" &&
			[ "$(ls "$corpus" 2>/dev/null | sort || true)" = "$before" ]; then
			echo "== $target: deadline race of the Go fuzzing coordinator (golang/go#75804), no input written; running it again"
			continue
		fi
		break
	done
	rm -f "$out"
	return 1
}

failed=()
n=0
# Each line: <package dir> <target>
while read -r dir target; do
	n=$((n + 1))
	echo "== fuzz $dir $target ($fuzztime)"
	if ! fuzz_one "$dir" "$target"; then
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
