# shellcheck shell=sh
# peer_env.sh - the environment PyTorch, the benchmarks' peer, runs in:
# found by measuring, on this machine, every time.
#
# Sourced (not run) by bench/run_train_step.sh, run_dates_bench.sh and
# run_attention_bench.sh; plain POSIX sh, so both sh and bash can source it.
#
# The idea (/work/shared/BENCHMARKING.md): Debian's torch does its products
# through OpenBLAS 0.3.21, and which kernels OpenBLAS runs depends on the CPU
# and on OPENBLAS_CORETYPE. A CPU it does not know (an Intel Xeon family 6
# model 207, say) gets the generic Prescott kernels when nothing is set: a
# sixth of the speed of the SkylakeX ones. A pin left in the environment
# (OPENBLAS_CORETYPE=Haswell) can halve it too. No fixed setting is right on
# every machine, so peer_probe times one sgemm in the peer's own process
# (torch.mm, 1024 x 1024 float32, 1 thread, best of a few) for each candidate
#     as-found  the environment as it is
#     unset     OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed
#     Haswell, SkylakeX, Cooperlake, SapphireRapids   OPENBLAS_CORETYPE=that
# in PEER_PROBE_ROUNDS alternating rounds (best per candidate), skips a
# candidate whose process fails, prints GFLOP/s per candidate with the core
# OPENBLAS_VERBOSE=2 names, and keeps the fastest in PEER_CORETYPE.
#
# Then
#     peer_tuned THREADS CMD ARGS...      the peer tuned: the measured
#         coretype, OPENBLAS_NUM_THREADS=THREADS, OMP_WAIT_POLICY=PASSIVE when
#         THREADS >= 2, Debian's jemalloc preloaded (MALLOC_CONF below);
#     peer_as_found THREADS CMD ARGS...   the peer in the environment as
#         found (the script itself calls torch.set_num_threads(THREADS)).
# Each bench reports the better of the two per case as "the peer".
#
# These variables change for the peer's process only: the functions pass
# them through env(1) to CMD. Nothing here is exported to the calling shell,
# so attend's own runs, the tests and CI never see them.
#
# Set by peer_probe: PEER_CORETYPE (a candidate name above), PEER_CORE (the
# "Core:" OpenBLAS reported for it), PEER_GFLOPS, PEER_ASFOUND_CORE and
# PEER_ASFOUND_GFLOPS.
# Variables read: PYTHON (/usr/bin/python3), PEER_CORETYPES (the candidate
# list above), PEER_PROBE_ROUNDS (2), PEER_LOG (a file that also gets the
# table; none by default).

PEER_PYTHON=${PYTHON:-/usr/bin/python3}
PEER_JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
PEER_MALLOC_CONF=oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1
PEER_CORETYPES=${PEER_CORETYPES:-as-found unset Haswell SkylakeX Cooperlake SapphireRapids}
PEER_PROBE_ROUNDS=${PEER_PROBE_ROUNDS:-2}
PEER_CORETYPE=

# One sgemm in torch, the way the benches' products reach OpenBLAS.
PEER_SGEMM_PY='
import time, torch
torch.set_num_threads(1)
n = 1024
a, b, c = torch.rand(n, n), torch.rand(n, n), torch.empty(n, n)
torch.mm(a, b, out=c)
best = float("inf")
for _ in range(7):
    t0 = time.perf_counter()
    torch.mm(a, b, out=c)
    best = min(best, time.perf_counter() - t0)
print("gflops %.1f" % (2.0 * n ** 3 / best * 1e-9))
'

peer_die() {
    echo "peer_env: $*" >&2
    exit 1
}

# peer_with_coretype CANDIDATE CMD ARGS... - CMD with OpenBLAS's core type
# as CANDIDATE says (see the list at the top).
peer_with_coretype() {
    case $1 in
    as-found)
        shift
        "$@"
        ;;
    unset)
        shift
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"
        ;;
    *)
        peer_c_type=$1
        shift
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$peer_c_type" "$@"
        ;;
    esac
}

# peer_tuned THREADS CMD ARGS... - CMD as the tuned peer (peer_probe first).
peer_tuned() {
    [ -n "$PEER_CORETYPE" ] || peer_die "peer_tuned before peer_probe"
    peer_t_threads=$1
    shift
    if [ "$peer_t_threads" -ge 2 ]; then
        set -- OMP_WAIT_POLICY=PASSIVE "$@"
    fi
    peer_with_coretype "$PEER_CORETYPE" env OPENBLAS_NUM_THREADS="$peer_t_threads" \
        LD_PRELOAD="$PEER_JEMALLOC" MALLOC_CONF="$PEER_MALLOC_CONF" "$@"
}

# peer_as_found THREADS CMD ARGS... - CMD in the environment as found.
peer_as_found() {
    shift
    "$@"
}

# peer_probe - measure every candidate, print the table, set PEER_CORETYPE.
peer_probe() {
    "$PEER_PYTHON" -c 'import torch' 2>/dev/null ||
        peer_die "$PEER_PYTHON cannot import torch (apt-get install python3-torch)"
    [ -r "$PEER_JEMALLOC" ] || peer_die "$PEER_JEMALLOC missing (apt-get install libjemalloc2)"
    peer_p_raw=$(mktemp) || peer_die "mktemp failed"
    peer_p_round=1
    while [ "$peer_p_round" -le "$PEER_PROBE_ROUNDS" ]; do
        for peer_p_c in $PEER_CORETYPES; do
            # the tuned environment but for the core type, so the figure is
            # the one the tuned peer will see
            if peer_p_out=$(peer_with_coretype "$peer_p_c" env OPENBLAS_VERBOSE=2 \
                OPENBLAS_NUM_THREADS=1 LD_PRELOAD="$PEER_JEMALLOC" \
                MALLOC_CONF="$PEER_MALLOC_CONF" \
                timeout 120 "$PEER_PYTHON" -c "$PEER_SGEMM_PY" 2>&1); then
                peer_p_gf=$(printf '%s\n' "$peer_p_out" | sed -n 's/^gflops //p' | tail -n 1)
            else
                peer_p_gf=
            fi
            peer_p_core=$(printf '%s\n' "$peer_p_out" | sed -n 's/^Core: *//p' | tail -n 1)
            echo "$peer_p_c ${peer_p_core:-?} ${peer_p_gf:-failed}" >>"$peer_p_raw"
        done
        peer_p_round=$((peer_p_round + 1))
    done
    # best per candidate; the table; the fastest
    peer_p_table=$(awk -v asfound="${OPENBLAS_CORETYPE-none}" -v rounds="$PEER_PROBE_ROUNDS" '
        { order[$1] = order[$1] ? order[$1] : ++n; name[order[$1]] = $1; core[$1] = $2
          if ($3 != "failed" && (!($1 in best) || $3 + 0 > best[$1])) best[$1] = $3 + 0 }
        END {
            printf "OpenBLAS kernels for the peer: torch.mm 1024^3 float32, 1 thread, best of 7 calls x %d rounds\n", rounds
            printf "  %-20s %-16s %10s\n", "OPENBLAS_CORETYPE", "Core: (verbose)", "GFLOP/s"
            for (i = 1; i <= n; i++) {
                c = name[i]; label = c == "as-found" ? "as found: " asfound : c
                printf "  %-20s %-16s %10s\n", label, core[c], (c in best) ? sprintf("%.1f", best[c]) : "failed"
                if ((c in best) && (pick == "" || best[c] > best[pick])) pick = c
            }
            if (pick == "") { print "PICK -"; exit }
            printf "PICK %s %s %.1f %s %s\n", pick, core[pick], best[pick],
                   core["as-found"], ("as-found" in best) ? sprintf("%.1f", best["as-found"]) : "failed"
        }' "$peer_p_raw")
    rm -f "$peer_p_raw"
    printf '%s\n' "$peer_p_table" | grep -v '^PICK' >&2
    [ -z "${PEER_LOG:-}" ] || printf '%s\n' "$peer_p_table" | grep -v '^PICK' >>"$PEER_LOG"
    # shellcheck disable=SC2046 # the PICK line's fields, split on purpose
    set -- $(printf '%s\n' "$peer_p_table" | sed -n 's/^PICK //p')
    [ "${1:--}" != - ] || peer_die "every OpenBLAS candidate failed to run torch.mm"
    # shellcheck disable=SC2034 # read by the scripts that source this file
    PEER_CORETYPE=$1 PEER_CORE=$2 PEER_GFLOPS=$3 PEER_ASFOUND_CORE=$4 PEER_ASFOUND_GFLOPS=$5
    peer_p_line="  the tuned peer runs with: $PEER_CORETYPE (Core: $PEER_CORE, $PEER_GFLOPS GFLOP/s)"
    echo "$peer_p_line" >&2
    [ -z "${PEER_LOG:-}" ] || echo "$peer_p_line" >>"$PEER_LOG"
}
