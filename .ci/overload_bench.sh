#!/usr/bin/env bash
# Overload: accepted msgs/s and the broker-side busy-answer latency
# (`task bench:overload`; not part of CI). For each round and shape the
# broker (this tree's, and OLD_BIN's too when set, interleaved) is started,
# the bundled producer runs, the broker gets SIGTERM and its "busy answers,
# read to written" line is read.
#
#   ROUNDS (3) SECS (6) SHAPES ("16:256 64:256") CAP (1000: sendThreadPoolQueueCapacity)
#   ADMISSION (false: sendQueueAdmissionControl)  OLD_BIN (a broker binary to compare)
#   BACKPRESSURE ("false": sendQueueBackpressure; "false true" runs both, interleaved)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} SECS=${SECS:-6} SHAPES=${SHAPES:-"16:256 64:256"} CAP=${CAP:-1000} ADMISSION=${ADMISSION:-false}
BACKPRESSURE=${BACKPRESSURE:-false}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-overload-XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/sluice" ./cmd/sluice
go build -o "$work/producer" ./cmd/sluice-producer
bins=("$work/sluice")
[ -n "${OLD_BIN:-}" ] && bins=("$OLD_BIN" "$work/sluice")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "round binary backpressure pubs×inflight accepted/s | busy answers: count p50 p99 p999 | of which refused on arrival: count p50 p99 p999"
for r in $(seq "$ROUNDS"); do
	for shape in $SHAPES; do
		for bin in "${bins[@]}"; do for bp in $BACKPRESSURE; do
			dir=$(mktemp -d "$work/run-XXXX")
			port=$(free_port) ns=$(free_port) ha=$(free_port)
			printf 'listenPort=%s\nnamesrvListenPort=%s\nstorePathRootDir=%s/store\ngrpcServerPort=0\nmetricsPromExporterPort=0\nhaListenPort=%s\nsendThreadPoolQueueCapacity=%s\nsendQueueAdmissionControl=%s\nsendQueueBackpressure=%s\n' \
				"$port" "$ns" "$dir" "$ha" "$CAP" "$ADMISSION" "$bp" >"$dir/broker.conf"
			"$bin" -c "$dir/broker.conf" >"$dir/log" 2>&1 &
			pid=$!
			for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$ns") 2>/dev/null && break; sleep 0.1; done
			sleep 0.5
			"$work/producer" -n "127.0.0.1:$ns" -t B -s 1024 -w "${shape%:*}" --connections "${shape%:*}" --async "${shape#*:}" -d "${SECS}s" --json 2>/dev/null >"$dir/out.json" || true
			kill -TERM "$pid"; wait "$pid" || true
			python3 - "$r" "$(basename "$bin")" "$bp" "$shape" "$dir" <<'PY'
import json, sys
r, b, bp, shape, d = sys.argv[1:]
tps = json.load(open(d + "/out.json")).get("tps", 0)
lines = [json.loads(l) for l in open(d + "/log") if l.startswith("{")]
def last(msg):
    m = [l for l in lines if l.get("message", "").startswith(msg)]
    return m[-1] if m else {}
h, f = last("busy answers, read to written"), last("refusals on arrival")
print(r, b, bp, shape, round(tps), "|", h.get("busyAnswers", 0), h.get("p50", "-"), h.get("p99", "-"), h.get("p999", "-"),
      "|", f.get("refusals", 0), f.get("p50", "-"), f.get("p99", "-"), f.get("p999", "-"))
PY
			rm -rf "$dir"
		done; done
	done
done
