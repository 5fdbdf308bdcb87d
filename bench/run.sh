#!/usr/bin/env bash
# Runs the benchmarks (built by bench/bench.mk), prints the results and
# rewrites bench/RESULTS.md. Invoked by `make bench`; BUILD names the build
# directory.
set -euo pipefail
build=${BUILD:-build}
b=$build/bench
results=bench/RESULTS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Load at the start: the ratios are built to survive a busy machine, but a
# reader comparing runs should know how busy it was.
load=$(cut -d' ' -f1-3 /proc/loadavg)

"$b/bench_dispatch" >"$tmp/dispatch"
"$b/bench_jit" "$b" >"$tmp/jit"
"$b/bench_reload" "$b/reload_policy.bpf.o" >"$tmp/reload"
"$b/bench_verify" "$build" >"$tmp/verify"
"$b/bench_pcache" "$build" >"$tmp/pcache"
# 6, 6b. pliantd end to end: pgbench against hooks compiled out / in /
# attached, with a buffer pool that holds the database and one that cannot.
bench/bench_pgbench.sh "$build" >"$tmp/pgbench"
POOL_MB=2 SECTION=6b bench/bench_pgbench.sh "$build" >"$tmp/pgbench_pool"
# 7. The Manager: live push vs restarting with the new policy.
bench/bench_push.sh "$build" >"$tmp/push"
# 9. Buffer pool policies: hot set + scans, live swap, hook overhead.
"$b/bench_pool" "$build" >"$tmp/pool"

# 4. Library size: the shipped artifact as `make` builds it.
so=$build/libpliant.so
cp "$so" "$tmp/lib.so"
strip "$tmp/lib.so"
stripped=$(stat -c %s "$tmp/lib.so")
text=$(size -A "$so" | awk '$1 == ".text" { print $2 }')
berkeley=$(size "$so" | awk 'NR == 2 { print $1 }')
kb() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1024 }'; }
size_ok=$(awk -v n="$stripped" 'BEGIN { print (n <= 160 * 1024) ? "met" : "**not met**" }')
{
    echo "## 4. Library size"
    echo
    echo "\`$so\` as built by \`make\`."
    echo
    echo "| measure | KB |"
    echo "|---|---:|"
    echo "| stripped file (\`strip\` of a copy) | $(kb "$stripped") |"
    echo "| .text section (\`size -A\`) | $(kb "$text") |"
    echo "| text segment: code + read-only data (\`size\`) | $(kb "$berkeley") |"
    echo
    echo "@target|library size, stripped|$(kb "$stripped") KB (.text $(kb "$text") KB)|<= 160 KB|$size_ok"
} >"$tmp/size"

{
    echo "# Pliant benchmark results"
    echo
    echo "Produced by \`make bench\` (which runs \`make -s -f bench/bench.mk BUILD=$build\`, then this"
    echo "script, \`bench/run.sh\`) on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
    echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"
    echo "  Linux $(uname -r); load average at start: $load"
    echo "- Compilers: $(${CC:-cc} --version | head -n1); $(${CLANG:-clang} --version | head -n1)"
    echo "- Method: every figure is a ratio measured within one run. Variants are interleaved round by"
    echo "  round (the first variant rotates), times are medians of per-round times and ratios medians of"
    echo "  per-round ratios, so a busy neighbour or a preemption moves numerator and denominator alike."
    echo "  Nothing is pinned; the tests never assert timings."
    echo
    echo "## Summary"
    echo
    echo "| figure | measured | target | status |"
    echo "|---|---|---|---|"
    cat "$tmp/dispatch" "$tmp/jit" "$tmp/reload" "$tmp/size" "$tmp/verify" "$tmp/pgbench" "$tmp/pgbench_pool" "$tmp/push" \
        "$tmp/pcache" "$tmp/pool" |
        awk -F'|' '/^@target\|/ { printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }'
    for part in dispatch jit reload size verify pgbench pgbench_pool push pcache pool; do
        echo
        grep -v '^@target|' "$tmp/$part"
    done
} >"$tmp/results.md"

# Collapse runs of blank lines the sections leave behind.
cat -s "$tmp/results.md" >"$results"
cat "$results"
