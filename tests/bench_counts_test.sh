#!/bin/sh
# bench_counts_test.sh - the FLOP counts issue 16's benches divide by are
# the products the models make:
#   attend_flops   a tiny Transformer LM trained 2 and then 4 steps: the
#                  difference of the two counts over the characters added
#                  equals 2·3·(L·12D² + D·V + L·D·(T+1)) a character (the
#                  causal attention's pairs), to the FLOP;
#                  With ATTEND_FLOPS_SHAPES it also writes its table of
#                  the products by shape;
#   lm_generate_bench  its least and full GFLOP a character are the counts
#                  of its header for the default model (4 x 4 x 128,
#                  context 64, V = 100), and its floor is positive.
#   tests/bench_counts_test.sh PATH/TO/attend_flops PATH/TO/lm_generate_bench
set -u
FLOPS=${1:?usage: bench_counts_test.sh PATH/TO/attend_flops PATH/TO/lm_generate_bench}
GENERATE=${2:?usage: bench_counts_test.sh PATH/TO/attend_flops PATH/TO/lm_generate_bench}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

# 9 distinct characters (no newline): V = 9 + the 4 specials
i=0
while [ $i -lt 200 ]; do printf 'abc defgh '; i=$((i + 1)); done > "$DIR/text.txt"
L=2 H=2 D=16 T=8 B=4 V=13
: > "$DIR/counts"
for steps in 2 4; do
    rm -rf "$DIR/run"
    ATTEND_FLOPS_SHAPES="$DIR/shapes.txt" ATTEND_FLOPS_OUT="$DIR/counts" "$FLOPS" lm train --data "$DIR/text.txt" --layers $L \
        --heads $H --width $D --context $T --batch $B --steps $steps --eval-every 100000 \
        --threads 1 --out "$DIR/run" > "$DIR/log" 2>&1 || fail "attend_flops lm train: $(tail -3 "$DIR/log")"
done
grep -q "$((V - 4)) characters + 4 specials" "$DIR/log" ||
    fail "the model's vocabulary is not $V: $(head -1 "$DIR/log")"
awk -v L=$L -v D=$D -v T=$T -v V=$V -v B=$B 'NR == 1 { a = $2 } NR == 2 { b = $2 }
    END {
        want = 2 * 3 * (L * 12 * D * D + D * V + L * D * (T + 1))
        got = (b - a) * 1e9 / (2 * B * T)
        if (got < want - 0.5 || got > want + 0.5) {
            printf "FAIL: attend_flops counts %.3f FLOP a character, the model makes %d\n", got, want
            exit 1
        }
    }' FS='[:}]' "$DIR/counts" || fail "attend_flops count (counts: $(cat "$DIR/counts"))"

# the products by shape: a header, the dense layers' rows (X W^T: NT, 16 wide), a total
head -1 "$DIR/shapes.txt" 2> /dev/null | grep -q "routine .*GFLOP/s.*share" ||
    fail "ATTEND_FLOPS_SHAPES: no table header in $DIR/shapes.txt"
grep -Eq "^ati_gemm[a-z_]* +NT +[0-9]+ +16 +16 " "$DIR/shapes.txt" ||
    fail "ATTEND_FLOPS_SHAPES: no 16 x 16 NT product: $(cat "$DIR/shapes.txt" 2> /dev/null)"
tail -1 "$DIR/shapes.txt" | grep -q "^all products: [0-9.]* s$" ||
    fail "ATTEND_FLOPS_SHAPES: no total line"

"$GENERATE" --threads 1 --chars 2 --reps 1 > "$DIR/generate.json" 2> "$DIR/err" ||
    fail "lm_generate_bench: $(cat "$DIR/err")"
/usr/bin/python3 - "$DIR/generate.json" <<'PY' || fail "lm_generate_bench's counts"
import json, sys
r = json.load(open(sys.argv[1]))
L, D, T, V = 4, 128, 64, 100
block_all = T * 12 * D * D + D * T * (T + 1)
least = 2 * ((L - 1) * block_all + T * 2 * D * D + D * D + 2 * D * T + 9 * D * D + D * V)
full = 2 * (L * block_all + T * D * V)
bad = []
if abs(r["gflop_least"] * 1e9 - least) > 1e3: bad.append(f"least {r['gflop_least']} != {least / 1e9}")
if abs(r["gflop_full"] * 1e9 - full) > 1e3: bad.append(f"full {r['gflop_full']} != {full / 1e9}")
if r["vocab"] != V: bad.append(f"vocab {r['vocab']} != {V}")
if not (r["floor_ms"] > 0 and r["median_ms_per_char"] > 0): bad.append("a time is not positive")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
PY
[ "$failures" -eq 0 ] || exit 1
echo "bench counts: ok"
