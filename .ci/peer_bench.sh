#!/usr/bin/env bash
# Sluice beside NATS JetStream on the same shapes, interleaved, with ratios
# (`task bench:peer`; not part of CI). Sluice is driven by the bundled
# producer (cmd/sluice-producer), NATS by its own bench tool (`nats bench`).
# Both get 1 KiB bodies, each publisher on its own connection, loopback.
#
#   ROUNDS (3)   interleaved rounds; the medians are printed at the end
#   SECS (10)    seconds per Sluice run; NATS runs send MSGS_PER_SEC*SECS
#   NATS_SERVER_VERSION, NATSCLI_VERSION   what `go install` takes
#   SLUICE_CONF  extra broker.conf lines for every Sluice run, e.g.
#                SLUICE_CONF='sendQueueBackpressure=true'
#   CEILING (1)  also drive the null broker (cmd/sluice-producer/internal/
#                nullbroker: answers every send SEND_OK at once, stores
#                nothing) on the ASYNC shapes: the rate no broker could beat
#                with this producer on this machine. 0 skips it.
#
# A shape is publishers x in-flight per publisher (1 = waits for each ack),
# plus the flush mode: ASYNC (Sluice ASYNC_FLUSH, NATS defaults) or SYNC
# (Sluice SYNC_FLUSH, NATS jetstream sync_interval: always).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
NATS_SERVER_VERSION=${NATS_SERVER_VERSION:-v2.15.2}
NATSCLI_VERSION=${NATSCLI_VERSION:-v0.5.0}
CEILING=${CEILING:-1}
SHAPES=${SHAPES:-"ASYNC:1:1 ASYNC:16:1 ASYNC:64:1 ASYNC:1:256 ASYNC:16:256 ASYNC:64:256 SYNC:64:1 SYNC:1:1"}

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-peer-bench-XXXXXX")
bin="$work/bin"
mkdir -p "$bin"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

echo "installing nats-server $NATS_SERVER_VERSION and nats $NATSCLI_VERSION (go install, module proxy)"
GOBIN="$bin" go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
GOBIN="$bin" go install "github.com/nats-io/natscli/nats@$NATSCLI_VERSION"
go build -o "$bin/sluice" ./cmd/sluice
go build -o "$bin/sluice-producer" ./cmd/sluice-producer
go build -o "$bin/nullbroker" ./cmd/sluice-producer/internal/nullbroker

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# sluice MODE PUBS INFLIGHT -> accepted msgs/s
sluice() {
	local mode=$1 pubs=$2 inflight=$3 dir port ns ha pid async=()
	dir=$(mktemp -d "$work/sluice-XXXX")
	port=$(free_port)
	ns=$(free_port)
	ha=$(free_port)
	# No gRPC listener and no metrics port: their defaults (8081, 5557)
	# would collide with any other broker on the machine.
	printf 'flushDiskType=%s_FLUSH\nlistenPort=%s\nnamesrvListenPort=%s\nstorePathRootDir=%s/store\ngrpcServerPort=0\nmetricsPromExporterPort=0\nhaListenPort=%s\n' \
		"$mode" "$port" "$ns" "$dir" "$ha" >"$dir/broker.conf"
	[ -n "${SLUICE_CONF:-}" ] && printf '%s\n' "$SLUICE_CONF" >>"$dir/broker.conf"
	"$bin/sluice" -c "$dir/broker.conf" -log-level error >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_port "$ns" || { echo "sluice did not start: $(head -c 300 "$dir/log")" >&2; }
	sleep 0.5
	# The goal's memory figure: the broker's anonymous memory (RssAnon, the
	# resident set without the mapped commit-log pages), peak of 0.2 s samples.
	(peak=0; while kill -0 "$pid" 2>/dev/null; do
		a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		[ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" >"$dir/rss"
		sleep 0.2
	done) &
	[ "$inflight" -gt 1 ] && async=(--async "$inflight")
	"$bin/sluice-producer" -n "127.0.0.1:$ns" -t PeerBench -s 1024 -w "$pubs" --connections "$pubs" "${async[@]}" -d "${SECS}s" --json 2>/dev/null >"$dir/out.json" || true
	stop "$pid"
	wait 2>/dev/null || true
	echo $(( $(cat "$dir/rss" 2>/dev/null || echo 0) / 1024 )) >"$work/rss-last"
	python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["tps"])' "$dir/out.json" 2>/dev/null || echo 0
	rm -rf "$dir"
}

# ceiling PUBS INFLIGHT -> msgs/s the producer gets from the null broker
ceiling() {
	local pubs=$1 inflight=$2 dir port ns pid async=()
	dir=$(mktemp -d "$work/null-XXXX")
	port=$(free_port)
	ns=$(free_port)
	"$bin/nullbroker" -n "127.0.0.1:$ns" -b "127.0.0.1:$port" 2>"$dir/log" &
	pid=$!
	pids+=("$pid")
	wait_port "$ns" || { echo "nullbroker did not start: $(head -c 300 "$dir/log")" >&2; }
	[ "$inflight" -gt 1 ] && async=(--async "$inflight")
	"$bin/sluice-producer" -n "127.0.0.1:$ns" -t PeerBench -s 1024 -w "$pubs" --connections "$pubs" "${async[@]}" -d "${SECS}s" --json 2>/dev/null >"$dir/out.json" || true
	stop "$pid"
	python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["tps"])' "$dir/out.json" 2>/dev/null || echo 0
	rm -rf "$dir"
}

# nats MODE PUBS INFLIGHT MSGS -> msgs/s
nats() {
	local mode=$1 pubs=$2 inflight=$3 msgs=$4 dir port pid out
	dir=$(mktemp -d "$work/nats-XXXX")
	port=$(free_port)
	{
		echo "listen: 127.0.0.1:$port"
		echo "jetstream { store_dir: \"$dir/js\""
		[ "$mode" = SYNC ] && echo "  sync_interval: always"
		echo "}"
	} >"$dir/nats.conf"
	"$bin/nats-server" -c "$dir/nats.conf" >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_port "$port"
	local sub=(sync)
	[ "$inflight" -gt 1 ] && sub=(async --batch "$inflight")
	out=$("$bin/nats" -s "nats://127.0.0.1:$port" bench js pub "${sub[@]}" peer.bench --create --purge \
		--clients "$pubs" --msgs "$msgs" --size 1KB --no-progress 2>&1 || true)
	stop "$pid"
	rm -rf "$dir"
	# The aggregate line: "... stats: 12,345 msgs/sec ~ ..."
	echo "$out" | grep -E 'stats: [0-9,]+ msgs/sec' | head -1 | sed -E 's/.*stats: ([0-9,]+) msgs\/sec.*/\1/; s/,//g' || echo 0
}

ratio() { python3 -c "import sys; n=float(sys.argv[2] or 0); print('%.2f' % (float(sys.argv[1])/n) if n else '-')" "$1" "${2:-0}"; }

declare -A S N C
for r in $(seq "$ROUNDS"); do
	for shape in $SHAPES; do
		IFS=: read -r mode pubs inflight <<<"$shape"
		c=
		if [ "$CEILING" = 1 ] && [ "$mode" = ASYNC ]; then
			c=$(ceiling "$pubs" "$inflight")
			C[$shape]="${C[$shape]:-} $c"
		fi
		s=$(sluice "$mode" "$pubs" "$inflight")
		rss=$(cat "$work/rss-last" 2>/dev/null || echo 0)
		[ "$rss" -gt "${RSS_PEAK:-0}" ] && RSS_PEAK=$rss
		# Give NATS about as many messages as Sluice took in the same time.
		msgs=$(( s * SECS > 1000 ? s * SECS : 1000 ))
		n=$(nats "$mode" "$pubs" "$inflight" "$msgs")
		S[$shape]="${S[$shape]:-} $s"
		N[$shape]="${N[$shape]:-} $n"
		printf 'round %d %-14s sluice %8s msgs/s  nats %8s msgs/s  ratio %s  sluice RssAnon peak %s MiB\n' "$r" "$shape" "$s" "${n:-0}" \
			"$(ratio "$s" "${n:-0}")" "$rss"
		[ -n "$c" ] && printf '        %-14s null broker %8s msgs/s: ceiling / nats %s, sluice / ceiling %s\n' "$shape" "$c" \
			"$(ratio "$c" "${n:-0}")" "$(ratio "$s" "$c")"
	done
done

echo
echo "medians over $ROUNDS rounds (mode:publishers:in-flight; machine load varies, compare ratios)"
for shape in $SHAPES; do
	python3 - "$shape" "${S[$shape]}" "${N[$shape]}" "${C[$shape]:-}" <<'EOF'
import statistics, sys
shape, s, n = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
c = [float(x) for x in sys.argv[4].split()]
ratios = [a / b for a, b in zip(s, n) if b > 0]
line = "%-14s sluice %8.0f  nats %8.0f  ratio of medians %.2f  median ratio %s" % (
    shape, statistics.median(s), statistics.median(n),
    statistics.median(s) / statistics.median(n) if statistics.median(n) else 0,
    "%.2f" % statistics.median(ratios) if ratios else "-")
if c:
    cn = [a / b for a, b in zip(c, n) if b > 0]
    sc = [a / b for a, b in zip(s, c) if b > 0]
    line += "  | null broker %8.0f: ceiling/nats %s, sluice/ceiling %s" % (
        statistics.median(c), "%.2f" % statistics.median(cn) if cn else "-",
        "%.2f" % statistics.median(sc) if sc else "-")
print(line)
EOF
done

if [[ -n "${S[ASYNC:64:1]:-}" && -n "${S[SYNC:64:1]:-}" ]]; then
	python3 - "${S[ASYNC:64:1]}" "${S[SYNC:64:1]}" <<'EOF'
import statistics, sys
a, s = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
r = [y / x for x, y in zip(a, s) if x]
print("Sluice SYNC_FLUSH / ASYNC_FLUSH at 64 waiting publishers: per round %s, median %.2f" % (
    " ".join("%.2f" % x for x in r), statistics.median(r) if r else 0))
EOF
fi
echo "Sluice RssAnon peak over every shape and round: ${RSS_PEAK:-0} MiB (goal: at most 100)"
