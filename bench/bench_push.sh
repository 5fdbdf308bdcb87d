#!/usr/bin/env bash
# Live push vs restart (issue 6). Against one pliantd (release build,
# `pgbench -i -s 1` database, --synchronous normal):
#   push     `pliantctl push` of a signed package, alternating two
#            sched_enqueue policies: the client's time from request to
#            active (pliantctl's elapsed_ns), and the server's in-process
#            reload (total_ns: parse, signature, load with verification and
#            JIT, persist with fsync, swap) and its swap alone (attach_ns)
#   restart  the static alternative: SIGTERM, wait for exit, start with the
#            other policy on --attach, until a query answers (psql `select
#            1`), and until throughput is back (a short pgbench -S run at
#            >= 90% of the pre-restart rate)
# Prints a markdown section and @target lines for bench/run.sh.
#
# Usage: bench/bench_push.sh BUILD_DIR   (env: PUSHES, RESTARTS)
set -euo pipefail
build=${1:?usage: bench_push.sh BUILD_DIR}
pushes=${PUSHES:-200}
restarts=${RESTARTS:-5}

die() { echo "bench_push: $*" >&2; exit 1; }
pgbench=
for p in /usr/lib/postgresql/{15,16,17}/bin/pgbench /usr/bin/pgbench; do
    [ -x "$p" ] && { pgbench=$p; break; }
done
[ -n "$pgbench" ] || die "pgbench not found (scripts/install-deps.sh)"
psql=$(command -v psql) || die "psql not found"
pliantd=$build/pliantd ctl=$build/pliantctl ext=$build/extensions
[ -x "$pliantd" ] && [ -x "$ctl" ] || die "build first (make)"

tmp=$(mktemp -d /tmp/pliant-bench-push.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
data=$tmp/data
mkdir -p "$tmp/keys"
"$ctl" keygen "$tmp/admin" >/dev/null
cp "$tmp/admin.pub" "$tmp/keys/"
policy_a=$ext/sched_enqueue_default.bpf.o policy_b=$ext/sched_enqueue_short_first.bpf.o
"$ctl" pack "$policy_a" --hook sched_enqueue --version a --key "$tmp/admin.key" -o "$tmp/a.pkg" >/dev/null
"$ctl" pack "$policy_b" --hook sched_enqueue --version b --key "$tmp/admin.key" -o "$tmp/b.pkg" >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# start [--attach SPEC]: pliantd on $data; sets $port.
start() {
    rm -f "$tmp/port"
    "$pliantd" --trust -D "$data" -d bench -p 0 --port-file "$tmp/port" --synchronous normal \
        --trusted-keys-dir "$tmp/keys" "$@" 2>>"$tmp/log" &
    pid=$!
    while [ ! -s "$tmp/port" ]; do
        kill -0 "$pid" 2>/dev/null || die "pliantd did not start: $(tail -3 "$tmp/log")"
        sleep 0.001
    done
    port=$(cat "$tmp/port")
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
query() { "$psql" -X -q -h 127.0.0.1 -p "$port" -U bench -d bench -c 'select 1' >/dev/null 2>&1; }
tps() {
    "$pgbench" -h 127.0.0.1 -p "$port" -U bench -n -S -c 2 -j 2 -t 1000 bench 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int((NR - 1) * p + 0.5) + 1; print a[i] }'; }

start
"$pgbench" -h 127.0.0.1 -p "$port" -U bench -i -s 1 -q bench >"$tmp/init.out" 2>&1 || die "pgbench -i: $(cat "$tmp/init.out")"

# 1. Pushes while pgbench -S runs, alternating a and b.
"$pgbench" -h 127.0.0.1 -p "$port" -U bench -n -S -c 2 -j 1 -T 600 bench >"$tmp/bg.out" 2>&1 &
bg=$!
sleep 1
for i in $(seq "$pushes"); do
    pkg=$tmp/a.pkg
    [ $((i % 2)) -eq 0 ] && pkg=$tmp/b.pkg
    "$ctl" -D "$data" push "$pkg" --json >"$tmp/push.json" || die "push $i failed"
    sed -n 's/^ "\(elapsed_ns\|total_ns\|attach_ns\|load_ns\|persist_ns\)": \([0-9]*\).*/\1 \2/p' "$tmp/push.json" \
        >>"$tmp/pushes"
done
kill -TERM "$bg" 2>/dev/null || true # (background jobs of a script ignore SIGINT)
wait "$bg" 2>/dev/null || true
! grep -q "ERROR\|aborted" "$tmp/bg.out" || die "statements failed during the pushes: $(cat "$tmp/bg.out")"
ms_of() { awk -v k="$1" '$1 == k { printf "%.4f\n", $2 / 1e6 }' "$tmp/pushes"; }
e2e50=$(ms_of elapsed_ns | pct 0.5) e2e99=$(ms_of elapsed_ns | pct 0.99)
srv50=$(ms_of total_ns | pct 0.5) srv99=$(ms_of total_ns | pct 0.99)
load50=$(ms_of load_ns | pct 0.5) persist50=$(ms_of persist_ns | pct 0.5)
att50=$(ms_of attach_ns | pct 0.5) att99=$(ms_of attach_ns | pct 0.99)

# 2. Restarts: from SIGTERM to the first answered query, and to warm throughput.
for i in $(seq 5); do query; done
warm=$(for i in 1 2 3; do tps; done | pct 0.5)
base=$( (for i in $(seq 10); do t0=$(now_ms); query; echo $(($(now_ms) - t0)); done) | pct 0.5)
for r in $(seq "$restarts"); do
    spec=sched_enqueue=$policy_a
    [ $((r % 2)) -eq 0 ] && spec=sched_enqueue=$policy_b
    # The store would restore the pushed version; this run measures --attach.
    rm -f "$data/extensions/state.json"
    t0=$(now_ms)
    stop
    start --attach "$spec"
    until query; do sleep 0.001; done
    t1=$(now_ms)
    while :; do
        t=$(tps)
        awk -v t="$t" -v w="$warm" 'BEGIN { exit !(t >= 0.9 * w) }' && break
    done
    t2=$(now_ms)
    echo "$((t1 - t0)) $((t2 - t0))" >>"$tmp/restarts"
done
stop
r_query=$(cut -d' ' -f1 "$tmp/restarts" | pct 0.5)
r_warm=$(cut -d' ' -f2 "$tmp/restarts" | pct 0.5)
ratio_q=$(awk -v a="$e2e50" -v b="$r_query" 'BEGIN { printf "%.4f", a / b }')
ratio_w=$(awk -v a="$e2e50" -v b="$r_warm" 'BEGIN { printf "%.4f", a / b }')
times_q=$(awk -v a="$e2e50" -v b="$r_query" 'BEGIN { printf "%.0f", b / a }')

cat <<EOF
## 7. Live push vs restart

\`bench/bench_push.sh\`: one pliantd (\`pgbench -i -s 1\` database \`bench\`, \`--synchronous normal\`,
default workers) with \`pgbench -S -c 2\` running throughout. $pushes \`pliantctl push\` calls alternate two
signed sched_enqueue packages (\`sched_enqueue_default\` / \`sched_enqueue_short_first\`), each over the admin
Unix socket; then $restarts restarts, each from SIGTERM to a server started with the other policy on
\`--attach\`. Push latency is pliantctl's own time from sending the request to the reply that the version is
active (process start-up excluded); the server's reload is the same request inside pliantd (parse, Ed25519
check, ELF load with verification and JIT, package and state files written and fsync'ed, swap). Restart to
query ends when \`psql -c 'select 1'\` succeeds (one psql start, ${base} ms median against a running server, is
included); restart to warm when a \`pgbench -S -c 2 -t 1000\` run reaches 90% of the warm rate ($warm tps).
pliantd's shared buffer pool is not installed yet (each connection has SQLite's private cache), so "warm"
here is the connections' caches and the OS page cache, which survives the restart.

| figure | p50 ms | p99 ms |
|---|---:|---:|
| push, request to active (pliantctl) | $e2e50 | $e2e99 |
| in-process reload (server) | $srv50 | $srv99 |
| of which load + verify + JIT (p50) | $load50 | |
| of which persist, fsync'ed (p50) | $persist50 | |
| of which the swap (\`pl_hook_attach\`) | $att50 | $att99 |
| restart until a query answers | $r_query | |
| restart until throughput is back | $r_warm | |

Ratio reload : restart (push p50 / restart p50): **$ratio_q** to the first query (a push is ${times_q}x faster),
**$ratio_w** to warm throughput. No statement of the background pgbench failed during the pushes.

@target|live push p50 / restart-to-query p50|$ratio_q ($e2e50 ms vs $r_query ms)|< 1|$(awk -v r="$ratio_q" 'BEGIN { print (r < 1) ? "met" : "**not met**" }')
EOF
