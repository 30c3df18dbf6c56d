#!/usr/bin/env bash
# compare.sh: indexer beside the single-purpose tools a user would pick for
# one job (Debian's rhash, jdupes and plocate/updatedb), side by side in one
# run, on the benchmark trees made by tools/mktree. See
# docs/performance.md#beside-the-single-purpose-tools.
#
#   tools/bench/compare.sh                 # trees S and T, 5 rounds
#   ROUNDS=3 TREES=S FILES_S=20000 tools/bench/compare.sh
#
# Environment:
#   WORK     where the binaries, trees, data directories and databases go
#            (default /tmp/indexer-compare; trees are kept between runs)
#   TREES    which trees: S (small files, seed 1), T (tiny files, seed 3)
#   FILES_S  files in S (default 100000, as docs/performance.md's S)
#   FILES_T  files in T (default 300000)
#   ROUNDS   rounds of each job (default 5); the short queries run 4x as many
#   PRIORITY indexer-scan's --priority (default normal: the tools it is
#            compared with run at normal priority too)
#   HASH     HASH=0 leaves out job a): one first scan makes DATA, unmeasured
#
# Set-up installs rhash, jdupes and plocate with apt-get when they are
# missing (as root, or through sudo), builds indexer, indexer-scan and
# indexer-project from this checkout and makes the trees. Each round runs
# the tool and the indexer one after the other, alternating which goes
# first, with a warm page cache. It reports the median of the rounds, the
# range, and the ratio of the medians.
#
# The jobs (DATA is a fresh data directory for a), then kept):
#   a) hash everything: rhash -r --md5 --sha1 --sha256 TREE
#      against a first indexer-scan TREE into an empty DATA (hashes, log,
#      index: end to end)
#   b) duplicates now, 10 files changed: jdupes -r TREE from scratch
#      against indexer-scan TREE then indexer dupes --limit 0 --json
#      (process starts included); dupes' CPU time (user + system) is
#      reported too, which a loaded machine disturbs far less than the wall
#      time
#   c) find a name: plocate -d DB f0001 against indexer find f0001 (and
#      with --limit 0, which prints every match as plocate does)
#   d) keep the name index current: updatedb -o DB -U TREE against a rescan
#      with nothing changed
#   e) indexer-scan --watch TREE (WATCH=0 leaves it out): the time from a
#      file written to it listed by indexer find (p50, p99 of 20 per round,
#      polling indexer find), duplicates asked while the watch keeps the
#      index current, and the CPU the watch uses over IDLE seconds (default
#      30) with nothing changing
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/indexer-compare}
TREES=${TREES:-S T}
FILES_S=${FILES_S:-100000}
FILES_T=${FILES_T:-300000}
ROUNDS=${ROUNDS:-5}
PRIORITY=${PRIORITY:-normal}
WATCH=${WATCH:-1}
HASH=${HASH:-1}
IDLE=${IDLE:-30}

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*"; exit 1; }

# --- set-up ---------------------------------------------------------------
need=()
for t in rhash jdupes plocate updatedb; do
	command -v "$t" >/dev/null || need+=("$t")
done
if ((${#need[@]})); then
	say "installing rhash jdupes plocate (missing: ${need[*]})"
	sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get install -y rhash jdupes plocate >/dev/null ||
		die "apt-get install rhash jdupes plocate failed"
fi

mkdir -p "$WORK/bin" "$WORK/trees"
say "building the binaries into $WORK/bin"
# Built as the README's quick start builds them: static (CGO_ENABLED=0).
(cd "$repo" && CGO_ENABLED=0 go build -o "$WORK/bin/" ./cmd/indexer ./cmd/indexer-scan ./cmd/indexer-project ./cmd/indexer-watch)
bin=$WORK/bin

tree_flags() {
	case $1 in
	S) echo "-files $FILES_S -size small -seed 1" ;;
	T) echo "-files $FILES_T -size tiny -seed 3" ;;
	*) die "unknown tree $1 (S or T)" ;;
	esac
}

make_tree() {
	local name=$1 flags dir
	flags=$(tree_flags "$name")
	dir=$WORK/trees/$name
	# The flags it was made with are kept beside it: other flags, a new tree.
	if [[ -f $dir.flags && $(cat "$dir.flags") == "$flags" ]]; then
		(cd "$dir" && pwd -P) # find(1) and the index see its real path
		return
	fi
	rm -rf "$dir" "$dir.flags"
	say "making tree $name ($flags) in $dir"
	# shellcheck disable=SC2086
	go -C "$repo/tools" run ./mktree -out "$dir" $flags >&2
	echo "$flags" >"$dir.flags"
	echo "$dir"
}

# --- measuring ------------------------------------------------------------

# ms runs its arguments with output discarded and prints the wall time in
# milliseconds (with three decimals). A failing command stops the run.
ms() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>"$WORK/last.err" || {
		cat "$WORK/last.err" >&2
		die "failed: $*"
	}
	e=$(date +%s%N)
	awk -v d=$((e - s)) 'BEGIN { printf "%.3f\n", d / 1e6 }'
}

# msc runs its arguments as ms does and prints "WALL CPU" in milliseconds:
# CPU is the command's user and system time (getrusage, through bash's
# time), which the load disturbs far less than the wall time.
msc() {
	local s e t TIMEFORMAT='%3U %3S'
	s=$(date +%s%N)
	t=$({ time "$@" >/dev/null 2>"$WORK/last.err"; } 2>&1) || {
		cat "$WORK/last.err" >&2
		die "failed: $*"
	}
	e=$(date +%s%N)
	awk -v d=$((e - s)) -v t="$t" 'BEGIN { split(t, a, " "); printf "%.3f %.0f\n", d / 1e6, (a[1] + a[2]) * 1000 }'
}

# cpu_row LABEL "TIMES": a report line of CPU times in milliseconds.
cpu_row() {
	local m lo hi
	# shellcheck disable=SC2086
	read -r m lo hi <<<"$(stats $2)"
	report+=("| $1 | | CPU (user + system) $(fmt_ms "$m") ($(fmt_ms "$lo")-$(fmt_ms "$hi")) | |")
	say "${report[-1]}"
}

# stats prints "median min max" of the numbers given.
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s %s %s\n", m, v[1], v[NR] }'
}

# fmt_ms prints milliseconds as seconds when at least one.
fmt_ms() {
	awk -v x="$1" 'BEGIN { if (x >= 1000) printf "%.2f s", x / 1000; else printf "%.1f ms", x }'
}

report=()
# row JOB TOOL_LABEL INDEXER_LABEL "TOOL_TIMES" "INDEXER_TIMES"
row() {
	local job=$1 tl=$2 il=$3 t i tm tlo thi im ilo ihi
	# shellcheck disable=SC2206
	t=($4) i=($5)
	read -r tm tlo thi <<<"$(stats "${t[@]}")"
	read -r im ilo ihi <<<"$(stats "${i[@]}")"
	local ratio faster
	ratio=$(awk -v a="$im" -v b="$tm" 'BEGIN { printf "%.2f", a / b }')
	faster=$(awk -v a="$im" -v b="$tm" 'BEGIN { printf "%.1f", b / a }')
	report+=("| $job | $tl: $(fmt_ms "$tm") ($(fmt_ms "$tlo")-$(fmt_ms "$thi")) | $il: $(fmt_ms "$im") ($(fmt_ms "$ilo")-$(fmt_ms "$ihi")) | ${ratio}x (${faster}x faster) |")
	say "${report[-1]}"
}

# change10 rewrites the start of 10 files of the tree, different bytes each
# round, so the rescan finds 10 changed files.
change10() {
	local tree=$1 round=$2 n=0 f
	while IFS= read -r f && ((n < 10)); do
		printf 'changed %s %s\n' "$round" "$f" | dd of="$f" conv=notrunc status=none
		n=$((n + 1))
	done < <(find "$tree" -type f | sort | awk -v r="$round" '{ f[NR] = $0 } END {
		for (i = 0; i < 10; i++) print f[1 + (int(i * NR / 10) + r * 7) % NR] }')
	((n == 10)) || die "change10: found $n files to change"
}

# --- the jobs -------------------------------------------------------------

run_tree() {
	local name=$1 tree data db
	tree=$(make_tree "$name")
	data=$WORK/data-$name
	db=$WORK/plocate-$name.db
	local files bytes
	files=$(find "$tree" -type f | wc -l)
	bytes=$(du -sb "$tree" | cut -f1)
	say "tree $name: $files files, $bytes bytes; $ROUNDS rounds"
	report+=("" "Tree $name ($(tree_flags "$name")): $files files, $((bytes / 1000000)) MB, $ROUNDS rounds, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" ""
		"| job | tool, median (range) | indexer, median (range) | indexer / tool |" "| --- | --- | --- | --- |")

	# Warm the page cache: the tree, and the binaries.
	cat "$(find "$tree" -type f | head -1)" >/dev/null
	find "$tree" -type f -print0 | xargs -0 cat >/dev/null
	"$bin/indexer" --help >/dev/null 2>&1 || true
	"$bin/indexer-scan" --help >/dev/null 2>&1 || true

	local r ta=() ia=()
	for ((r = 0; r < ROUNDS * HASH; r++)); do
		rm -rf "$data"
		if ((r % 2)); then
			ia+=("$(ms "$bin/indexer-scan" --data "$data" --priority "$PRIORITY" "$tree")")
			ta+=("$(ms rhash -r --md5 --sha1 --sha256 "$tree")")
		else
			ta+=("$(ms rhash -r --md5 --sha1 --sha256 "$tree")")
			rm -rf "$data"
			ia+=("$(ms "$bin/indexer-scan" --data "$data" --priority "$PRIORITY" "$tree")")
		fi
	done
	if ((HASH)); then
		row "hash every file (md5, sha1, sha256)" "rhash -r" "first indexer-scan" "${ta[*]}" "${ia[*]}"
	else
		rm -rf "$data"
		"$bin/indexer-scan" --data "$data" --priority "$PRIORITY" --quiet "$tree" >/dev/null 2>&1 || die "the first scan failed"
	fi

	local tb=() ib=() ib1=() ib2=() ic2=() s d c
	dupes() {
		"$bin/indexer-scan" --data "$data" --priority "$PRIORITY" "$tree" >/dev/null 2>&1 &&
			"$bin/indexer" dupes --data "$data" --limit 0 --json
	}
	for ((r = 0; r < ROUNDS; r++)); do
		change10 "$tree" "$r"
		tb+=("$(ms jdupes -r "$tree")")
		s=$(ms "$bin/indexer-scan" --data "$data" --priority "$PRIORITY" "$tree")
		read -r d c <<<"$(msc "$bin/indexer" dupes --data "$data" --limit 0 --json)"
		ib1+=("$s") ib2+=("$d") ic2+=("$c")
		ib+=("$(awk -v a="$s" -v b="$d" 'BEGIN { printf "%.3f", a + b }')")
	done
	row "duplicates now, 10 files changed" "jdupes -r" "rescan + dupes --limit 0 --json" "${tb[*]}" "${ib[*]}"
	row "  (its two parts)" "jdupes -r" "rescan alone" "${tb[*]}" "${ib1[*]}"
	row "  (its two parts)" "jdupes -r" "dupes alone" "${tb[*]}" "${ib2[*]}"
	cpu_row "  (dupes alone)" "${ic2[*]}"

	updatedb -o "$db" -U "$tree" -l 0
	local q=$((ROUNDS * 4)) tc=() ic=() ic0=()
	for ((r = 0; r < q; r++)); do
		tc+=("$(ms plocate -d "$db" f0001)")
		ic+=("$(ms "$bin/indexer" find --data "$data" f0001)")
		ic0+=("$(ms "$bin/indexer" find --data "$data" --limit 0 f0001)")
	done
	local nt ni
	nt=$(plocate -d "$db" f0001 | wc -l)
	ni=$("$bin/indexer" find --data "$data" --limit 0 f0001 2>/dev/null | wc -l)
	row "find a name ($q rounds)" "plocate f0001 ($nt paths)" "indexer find f0001 (50)" "${tc[*]}" "${ic[*]}"
	row "find a name ($q rounds)" "plocate f0001 ($nt paths)" "indexer find --limit 0 f0001 ($ni)" "${tc[*]}" "${ic0[*]}"

	local td=() id=()
	for ((r = 0; r < ROUNDS; r++)); do
		td+=("$(ms updatedb -o "$db" -U "$tree" -l 0)")
		id+=("$(ms "$bin/indexer-scan" --data "$data" --priority "$PRIORITY" "$tree")")
	done
	row "keep the name index current (nothing changed)" "updatedb -U" "rescan" "${td[*]}" "${id[*]}"

	((WATCH)) && watch_tree "$name" "$tree" "$data" "${tb[*]}"
	return 0
}

# now_ms prints the time in milliseconds.
now_ms() { awk -v t="$(date +%s%N)" 'BEGIN { printf "%.3f\n", t / 1e6 }'; }

# cpu_ticks prints a process's user and system CPU time in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# cpu_ns prints the time a process's threads have spent on a CPU, in
# nanoseconds (schedstat: finer than the ticks' 10 ms; threads that ended
# are not counted, so measure a process at rest).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

watch_tree() {
	local name=$1 tree=$2 data=$3 jd=$4 probe=$2/watch-probe
	rm -rf "$probe"
	mkdir -p "$probe"
	"$bin/indexer-scan" --data "$data" --priority "$PRIORITY" --watch --quiet --log-level info "$tree" >/dev/null 2>"$WORK/watch.err" &
	local wpid=$! n=$((ROUNDS * 20)) i s e lat=() f
	until grep -q 'msg=watching' "$WORK/watch.err"; do
		kill -0 "$wpid" 2>/dev/null || { cat "$WORK/watch.err" >&2; die "indexer-scan --watch stopped"; }
		sleep 0.1
	done
	for ((i = 0; i < n; i++)); do
		f=p$RANDOM$RANDOM-$i.probe
		s=$(now_ms)
		echo "$i" >"$probe/$f"
		until "$bin/indexer" find --data "$data" --limit 1 "$f" 2>/dev/null | grep -q "$f"; do :; done
		e=$(now_ms)
		lat+=("$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')")
	done
	local p50 p99
	read -r p50 p99 <<<"$(printf '%s\n' "${lat[@]}" | sort -g | awk '{ v[NR] = $1 } END {
		printf "%s %s\n", v[int((NR + 1) * 0.5)], v[int(NR * 0.99 + 0.5)] }')"
	report+=("| a file written, listed by indexer find ($n files, --watch running) | | p50 $(fmt_ms "$p50"), p99 $(fmt_ms "$p99") | goal p99 < 1 s |")
	say "${report[-1]}"

	local dw=() dc=() d c
	for ((i = 0; i < ROUNDS; i++)); do
		change10 "$tree" "$((i + 100))"
		# The watch has rescanned once the 10 changes are in: wait for it.
		local before after
		before=$(grep -c 'watch: rescanned' "$WORK/watch.err" || true)
		until after=$(grep -c 'watch: rescanned' "$WORK/watch.err" || true); ((after > before)); do sleep 0.05; done
		sleep 1 # a second rescan of the same burst, if the delay split it
		read -r d c <<<"$(msc "$bin/indexer" dupes --data "$data" --limit 0 --json)"
		dw+=("$d") dc+=("$c")
	done
	row "duplicates now, --watch running" "jdupes -r" "dupes --limit 0 --json" "$jd" "${dw[*]}"
	cpu_row "  (dupes, --watch running)" "${dc[*]}"

	sleep 2
	local c0 c1 n0 n1 hz
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks "$wpid")
	n0=$(cpu_ns "$wpid")
	sleep "$IDLE"
	c1=$(cpu_ticks "$wpid")
	n1=$(cpu_ns "$wpid")
	report+=("| CPU of indexer-scan --watch over ${IDLE} s with nothing changing | | $(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f s", t / hz }') in clock ticks, $(awk -v n=$((n1 - n0)) 'BEGIN { printf "%.1f ms", n / 1e6 }') on CPU (schedstat) | none measurable |")
	say "${report[-1]}"
	kill "$wpid"
	wait "$wpid" 2>/dev/null || true
	rm -rf "$probe"
}

for t in $TREES; do
	run_tree "$t"
done
say ""
printf '%s\n' "${report[@]}"
