#!/usr/bin/env bash
# SYNC_FLUSH beside ASYNC_FLUSH at P publishers each waiting for its ack
# (issue 14's goal: SYNC >= 75 % of ASYNC at 64), with the bundled
# producer against the broker binary; with OLD_BIN, an older broker binary
# is run interleaved with this tree's, round by round, so that the ratios
# are taken within one round of a shared machine's load.
# Each publisher has its own connection (--connections), as in the peer bench.
#
#	OLD_BIN=path/to/old/sluice ROUNDS=3 SECS=6 bash .ci/syncflush_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-6}
PUBS=${PUBS:-64}

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-syncflush-bench-XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/sluice" ./cmd/sluice
go build -o "$work/sluice-producer" ./cmd/sluice-producer
bins=(new)
declare -A BIN=([new]="$work/sluice")
if [ -n "${OLD_BIN:-}" ]; then
	bins=(old new)
	BIN[old]=$OLD_BIN
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run() {
	local bin=$1 mode=$2 dir port ns ha pid
	dir=$(mktemp -d "$work/run-XXXX")
	port=$(free_port)
	ns=$(free_port)
	ha=$(free_port)
	printf 'flushDiskType=%s_FLUSH\nlistenPort=%s\nnamesrvListenPort=%s\nstorePathRootDir=%s/store\ngrpcServerPort=0\nmetricsPromExporterPort=0\nhaListenPort=%s\n' \
		"$mode" "$port" "$ns" "$dir" "$ha" >"$dir/broker.conf"
	"$bin" -c "$dir/broker.conf" -log-level error >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_port "$ns"
	sleep 0.5
	"$work/sluice-producer" -n "127.0.0.1:$ns" -t SyncFlushBench -s 1024 -w "$PUBS" --connections "$PUBS" -d "${SECS}s" --json 2>/dev/null >"$dir/out.json" || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f %.2f" % (d["tps"], d["rtMillis"]["p50"]))' "$dir/out.json" 2>/dev/null || echo "0 0"
	rm -rf "$dir"
}

declare -A R
for r in $(seq "$ROUNDS"); do
	for b in "${bins[@]}"; do
		read -r a ap < <(run "${BIN[$b]}" ASYNC)
		read -r s sp < <(run "${BIN[$b]}" SYNC)
		ratio=$(python3 -c "import sys; a=float(sys.argv[1]); print('%.3f' % (float(sys.argv[2])/a) if a else '0')" "$a" "$s")
		R[$b]="${R[$b]:-} $ratio"
		printf 'round %d %-3s ASYNC %7s msgs/s (p50 %s ms)  SYNC %7s msgs/s (p50 %s ms)  SYNC/ASYNC %s\n' "$r" "$b" "$a" "$ap" "$s" "$sp" "$ratio"
	done
done
for b in "${bins[@]}"; do
	python3 -c "import statistics,sys; r=[float(x) for x in sys.argv[2].split()]; print('%s: SYNC/ASYNC at %s waiting publishers, per round %s, median %.2f' % (sys.argv[1], sys.argv[3], ' '.join('%.2f' % x for x in r), statistics.median(r)))" "$b" "${R[$b]}" "$PUBS"
done
