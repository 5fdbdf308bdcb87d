#!/usr/bin/env bash
# pliantd demo (the second half of `make demo`): a PostgreSQL-wire server on
# SQLite, driven by the stock psql and pgbench, first with its built-in
# policies, then with three eBPF policies signed and pushed LIVE by the
# Manager's pliantctl over the admin socket (no restart):
#   authorize_readonly_tenant  tenant "reports" may read, not write (42501)
#   progress_deadline          statements running over 500 ms are canceled (57014)
#   query_end_latency_hist     every statement's latency into a log2 histogram map
# Everything lives in a temp dir on loopback ephemeral ports, removed at exit.
#
# Usage: scripts/demo.sh [BUILD_DIR]    (default: build)
set -euo pipefail
build=${1:-build}
pliantd=$build/pliantd
ctl=$build/pliantctl
ext=$build/extensions

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$pliantd" ] && [ -x "$ctl" ] || die "$pliantd or $ctl missing: run make first"
psql=$(command -v psql) || die "psql not found (scripts/install-deps.sh installs postgresql-client)"
pgbench=
for p in /usr/lib/postgresql/{15,16,17}/bin/pgbench /usr/bin/pgbench; do
    [ -x "$p" ] && { pgbench=$p; break; }
done
[ -n "$pgbench" ] || die "pgbench not found (scripts/install-deps.sh installs postgresql-15)"

tmp=$(mktemp -d /tmp/pliantd-demo.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# start [--attach SPEC]...: pliantd on $tmp/data serving shop (tenant 0)
# and reports (tenant 1), trust auth, a free port; sets $port.
start() {
    rm -f "$tmp/port"
    "$pliantd" --trust -D "$tmp/data" -d shop -d reports -p 0 --port-file "$tmp/port" --workers 2 "$@" \
        2>>"$tmp/server.log" &
    pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/port" ] && { port=$(cat "$tmp/port"); return 0; }
        kill -0 "$pid" 2>/dev/null || die "pliantd did not start: $(tail -5 "$tmp/server.log")"
        sleep 0.05
    done
    die "pliantd: no port after 5 s"
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || die "pliantd exited with status $?"
    pid=
}
# sql DB STATEMENT: psql, showing the statement, SQLSTATEs in errors (VERBOSITY
# verbose), and not stopping the demo on an error the demo means to show.
sql() {
    local db=$1; shift
    printf '   %s=> %s\n' "$db" "$*"
    "$psql" -X -h 127.0.0.1 -p "$port" -U demo -d "$db" -v VERBOSITY=terse \
        -c '\set VERBOSITY verbose' -c "$*" 2>&1 | sed 's/^/      /' || true
}
tps() { sed -n 's/^tps = \([0-9]*\).* .*/\1/p'; }
RUNAWAY="with recursive n(x) as (select 1 union all select x + 1 from n where x < 1e12) select count(*) from n"

say "1. pliantd with built-in policies: databases shop (tenant 0) and reports (tenant 1)"
start
note "listening on 127.0.0.1:$port; each database is one SQLite file in $tmp/data"
note "pgbench -i -s 1 shop: 100,000 accounts through the PostgreSQL wire protocol"
"$pgbench" -h 127.0.0.1 -p "$port" -U demo -i -s 1 -q shop >"$tmp/init.out" 2>&1 ||
    die "pgbench -i failed: $(cat "$tmp/init.out")"
note "pgbench select-only, 4 clients, 3 s, prepared statements:"
t=$("$pgbench" -h 127.0.0.1 -p "$port" -U demo -n -S -c 4 -j 2 -T 3 -M prepared shop 2>&1 | tps)
note "   $t transactions/s"
sql reports "create table sales(region text, amount int); insert into sales values ('north', 120), ('south', 80)"
sql reports "select region, amount from sales order by region"
note "psql's describe commands read the PostgreSQL catalog pliantd emulates from SQLite's schema:"
sql shop '\d pgbench_accounts'
note "tenant reports can write: nothing restricts it yet."

say "2. pliantctl pushes three eBPF policies LIVE (verified, signed, checked by the server, swapped in)"
"$ctl" keygen "$tmp/admin" | sed 's/^/   /'
mkdir -p "$tmp/data/trusted_keys" && cp "$tmp/admin.pub" "$tmp/data/trusted_keys/"
note "the server runs only code signed by a key in $tmp/data/trusted_keys"
for p in authorize:authorize_readonly_tenant query_progress:progress_deadline query_end:query_end_latency_hist; do
    hook=${p%%:*} obj=$ext/${p#*:}.bpf.o
    "$ctl" pack "$obj" --hook "$hook" --version 1 --key "$tmp/admin.key" -o "$tmp/$hook.pkg" >/dev/null ||
        die "pack $obj failed"
    "$ctl" -D "$tmp/data" push "$tmp/$hook.pkg" | sed 's/^/   /'
done
note "a program that does not fit its hook is refused before it is packed (verifier, with the source line):"
"$ctl" pack "$ext/query_end_latency_hist.bpf.o" --hook admit --version 1 -o "$tmp/bad.pkg" 2>&1 |
    sed 's/^/   /' || true

say "3. authorize_readonly_tenant: reports may read, every write is refused (SQLSTATE 42501)"
sql reports "select region, amount from sales order by region"
sql reports "insert into sales values ('east', 99)"
sql reports "drop table sales"
note "tenant shop is not affected:"
sql shop "update pgbench_branches set bbalance = bbalance + 1 where bid = 1"

say "4. progress_deadline: a runaway query is canceled after 500 ms (SQLSTATE 57014)"
t0=$(date +%s%N)
sql shop "$RUNAWAY"
note "returned after $(( ($(date +%s%N) - t0) / 1000000 )) ms; the session and server go on:"
sql shop "select count(*) as accounts from pgbench_accounts"

say "5. The same pgbench run with the policies attached"
t=$("$pgbench" -h 127.0.0.1 -p "$port" -U demo -n -S -c 4 -j 2 -T 3 -M prepared shop 2>&1 | tps)
note "   $t transactions/s"

say "6. query_end_latency_hist: its histogram map, read live with pliantctl map dump"
note "successful statements per latency bucket (server-measured run time, log2 ns):"
"$ctl" -D "$tmp/data" map dump latency_log2_ns | awk 'NR > 1 && $2 > 0 { print $1, $2 }' >"$tmp/hist"
[ -s "$tmp/hist" ] || die "the histogram map is empty"
while read -r b n; do
    awk -v b="$b" -v n="$n" 'BEGIN {
        lo = 2 ^ b; u = "ns"; if (lo >= 1e6) { lo /= 1e6; u = "ms" } else if (lo >= 1e3) { lo /= 1e3; u = "us" }
        printf "     >= %7.1f %s  %8d\n", lo, u, n }'
done <"$tmp/hist"

say "7. Detach the authorizer live: reports may write again; hooks and audit log"
"$ctl" -D "$tmp/data" detach authorize | sed 's/^/   /'
sql reports "insert into sales values ('east', 99)"
sql shop "select hook, version, invocations, avg_ns from pliant_hooks where attached = 1"
"$ctl" -D "$tmp/data" audit | cut -c1-110 | sed 's/^/   /'
stop
say "Done. Policies are plain C compiled to eBPF: extensions/*.bpf.c"
