#!/usr/bin/env bash
# fix-citations.sh rewrites the code comments that cite sections of the
# out-of-tree specification (/work/shared/spec/*.md: "session-protocol.md §6.6",
# a bare "§5.1", "admin-interfaces.md Appendix C") into links to the protocol
# notes in docs/protocol/, using the map docs/protocol/CITATIONS.tsv.
#
# Usage: scripts/fix-citations.sh [--list | --dry-run] [ROOT]
#   ROOT       the repository to rewrite (default: the one holding this script)
#   --list     print every citation found, with the spec file it resolves to
#   --dry-run  print what would change (a diff) and rewrite nothing
#
# A citation that names its spec file is rewritten wherever it is; a bare "§x"
# takes its spec file from the file it sits in (default_spec and OVERRIDES
# below: the hub package means hub-and-securenat.md, and so on). RFC section
# numbers ("RFC 2131 §4.1") are never touched. At the end the script prints
# how many citations it rewrote and every "§" or "Appendix" it could not
# resolve, so they can be fixed by hand or the tables below extended.
set -euo pipefail
export LC_ALL=C
trap 'echo "fix-citations: failed at line $LINENO" >&2' ERR

mode=apply
case "${1:-}" in
--list) mode=list; shift ;;
--dry-run) mode=dry; shift ;;
-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
esac
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
map="$root/docs/protocol/CITATIONS.tsv"
[ -f "$map" ] || { echo "fix-citations: no map at $map" >&2; exit 1; }

# default_spec names the spec file that a bare "§x" in file $1 (relative to
# ROOT) refers to, or nothing when the file gives no context.
default_spec() {
	case "$1" in
	internal/hub/* | internal/l3/* | internal/securenat/* | internal/bridge/* | \
		internal/packetlog/* | e2e/securenat* | internal/config/policy.go | \
		internal/server/localbridge.go | internal/server/l3.go | internal/server/acl.go)
		echo hub-and-securenat.md ;;
	internal/wire/* | internal/client/* | internal/session/* | internal/pack/* | \
		internal/sha0/* | internal/server/conn.go | internal/server/login.go | \
		internal/server/bridgerole.go | internal/server/cascade.go)
		echo session-protocol.md ;;
	internal/admin/* | internal/config/* | internal/server/admin* | internal/server/hubadmin.go)
		echo admin-interfaces.md ;;
	esac
}

# OVERRIDES: "file section spec" for bare citations whose spec differs from
# the file's default.
OVERRIDES='
internal/server/admin_store.go 10.3 hub-and-securenat.md
internal/server/l3.go 6.4.10 admin-interfaces.md
internal/server/cascade.go 3 hub-and-securenat.md
'

declare -A override
while read -r f sec sp; do [ -n "$f" ] && override["$f|$sec"]=$sp; done <<<"$OVERRIDES"

# ere quotes a literal for a sed ERE.
ere() { sed -e 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"; }

# groups counts the capturing groups of an ERE (sed has no other kind).
groups() { local g=${1//\\(/}; g=${g//[^(]/}; echo ${#g}; }

# pattern turns a section key into the ERE that matches it in a comment:
# "6.5-6.7" also matches "6.5–6.7"; "Appendix C" also "App. C".
pattern() {
	local s=$1 p
	case "$s" in
	Appendix\ *) echo "(Appendix|App\\.) $(ere "${s#Appendix }")" ; return ;;
	esac
	p=$(ere "$s")
	p=${p//-/(-|–|/)}
	echo "§$p"
}

# A section ends where no digit or ".digit" follows.
end='([^0-9.]|\.[^0-9])'
# The s command's delimiter: a control character, since anchors hold "#".
D=$'\001'

# Read the map once, sections longest first so that "4.4.7-4.4.13" is tried
# before "4.4.7", and build the rules for citations that name their file: on
# one line, or the file at the end of one comment line and the section at
# the start of the next (the two lines are then joined).
explicit=$(mktemp)
trap 'rm -f "$explicit"' EXIT
R_SPEC=() R_SEC=() R_RULE=()
while IFS=$'\t' read -r spec sec docs; do
	p=$(pattern "$sec")
	s=$(ere "$spec")
	n=$(groups "$p")
	echo "s$D(spec/)?$s[ \t]*\n[ \t]*//[ \t]*$p$end$D$docs\\$((n + 2))${D}g" >>"$explicit"
	echo "s$D(spec/|spec )?$s[ \t]*$p$end$D$docs\\$((n + 2))${D}g" >>"$explicit"
	R_SPEC+=("$spec") R_SEC+=("$sec")
	R_RULE+=("s$D(spec |config |the spec, )?$p$end$D$docs\\$((n + 2))${D}g")
done < <(awk -F'\t' '!/^#/ && NF >= 2 { i = index($1, "§"); print length($1) "\t" substr($1, 1, i-1) "\t" substr($1, i+2) "\t" $2 }' "$map" |
	sort -t$'\t' -k1,1nr | cut -f2-)

# marks counts the citation marks in a file: "§" (not after "RFC n") and
# "Appendix X" / "App. X"; a range such as "§4–§7" counts twice.
marks() { { grep -oE '(RFC ?[0-9]+ )?§|Appendix [A-E]|App\. [A-E]' "$1" || true; } | grep -cv RFC || true; }

rewritten=0
unresolved=""
cd "$root"
files=$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*' | sed 's|^\./||' | sort)
for f in $files; do
	grep -q '§\|Appendix\|App\. [A-E]' "$f" || continue
	script=$(mktemp)
	# RFC sections are not ours: hide them first, restore them last.
	echo 's/(RFC ?[0-9]+ )§/\1@RFCSECTION@/g' >>"$script"
	cat "$explicit" >>"$script"
	# Bare citations, resolved by the file they sit in.
	def=$(default_spec "$f")
	for i in "${!R_SEC[@]}"; do
		sec=${R_SEC[$i]}
		sp=${override["$f|${sec%% *}"]:-${override["$f|$sec"]:-$def}}
		[ "$sp" = "${R_SPEC[$i]}" ] && echo "${R_RULE[$i]}" >>"$script"
	done
	# "(§4.4.4, §4.4.5)" may now name the same note twice.
	echo "s$D(docs/protocol/[a-z0-9.]+#[a-z0-9-]+)(, \\1)+$D\\1${D}g" >>"$script"
	echo 's/@RFCSECTION@/§/g' >>"$script"

	if [ "$mode" = list ]; then
		{ grep -n '§\|Appendix\|App\. [A-E]' "$f" | grep -Ev 'RFC ?[0-9]+ §' || true; } |
			sed "s|^|$f [bare § means ${def:-?}]:|"
		rm -f "$script"
		continue
	fi
	new=$(mktemp)
	sed -z -E -f "$script" "$f" >"$new"
	rm -f "$script"
	before=$(marks "$f")
	after=$(marks "$new")
	rewritten=$((rewritten + before - after))
	left=$(grep -n '§\|Appendix [A-E]\|App\. [A-E]' "$new" | grep -Ev 'RFC ?[0-9]+ §' || true)
	[ -z "$left" ] || unresolved+=$(sed "s|^|$f:|" <<<"$left")$'\n'
	if [ "$mode" = dry ]; then
		diff -u "$f" "$new" | sed "1,2s|$new|$f (rewritten)|" || true
		rm -f "$new"
	else
		if cmp -s "$f" "$new"; then rm -f "$new"; else cat "$new" >"$f"; rm -f "$new"; fi
	fi
done
[ "$mode" = list ] && exit 0
if [ "$mode" = dry ]; then echo "fix-citations: $rewritten citation marks would be rewritten"; else echo "fix-citations: $rewritten citation marks rewritten"; fi
if [ -n "$unresolved" ]; then
	echo "fix-citations: not resolved (fix by hand, or extend default_spec/OVERRIDES or the map):"
	printf '%s' "$unresolved"
	exit 2
fi
