#!/bin/sh
# test_snapshots_cli.sh - `attend train --snapshots FILE.html` end to end on
# generated dates with a tiny model: 60 steps with --snapshot-every 20 write
# one page holding the snapshots of steps 0, 20, 40 and 60 for the five
# default probes, and the weights, Adam's state and the metrics are the
# same bytes as a run without --snapshots; --probe picks the inputs; the
# default N gives about 50 snapshots; bad options are refused before any
# training, a probe the model cannot read before any step.
#   tests/test_snapshots_cli.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_snapshots_cli.sh PATH/TO/attend}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

small="--data dates --train-size 600 --valid-size 20 --batch 16 --eval-every 30
       --embed 8 --encoder 16 --decoder-size 32 --attn-size 16"

# page FILE: the page's data as "steps=0,20 probes=5 outputs_ok=1" (python3
# parses the JSON inside <script id="attend-data">)
page() {
    /usr/bin/python3 - "$1" <<'PY'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<script id="attend-data" type="application/json">(.*?)</script>', html, re.S)
d = json.loads(m.group(1))
shots = d["snapshots"]
ok = all(len(s["outputs"]) == len(d["probes"]) == len(s["maps"]) for s in shots)
print("steps=%s probes=%d kind=%s ok=%d scripts=%d" % (
    ",".join(str(s["step"]) for s in shots), len(d["probes"]), d["kind"], ok,
    html.count("<script")))
print("probe0=%s" % d["probes"][0])
PY
}

"$ATTEND" train --help | grep -q -- "--snapshots F.html" || fail "train --help does not describe --snapshots"

# 60 steps, a snapshot every 20, the default probes
# shellcheck disable=SC2086
"$ATTEND" train $small --steps 60 --out "$DIR/with" --snapshots "$DIR/watch.html" \
    --snapshot-every 20 2> "$DIR/with.log" || fail "train --snapshots: $(cat "$DIR/with.log")"
[ -s "$DIR/watch.html" ] || fail "no page written"
got=$(page "$DIR/watch.html" | head -1)
[ "$got" = "steps=0,20,40,60 probes=5 kind=snapshots ok=1 scripts=2" ] ||
    fail "page: '$got', expected steps 0,20,40,60 of 5 probes"
grep -q "snapshots: 4, of 5 probes" "$DIR/with.log" || fail "no summary line: $(cat "$DIR/with.log")"
ls "$DIR"/watch.html.* "$DIR"/.watch.html* 2>/dev/null | grep -q . && fail "a temporary file was left"

# the same run without --snapshots: the same bytes
# shellcheck disable=SC2086
"$ATTEND" train $small --steps 60 --out "$DIR/without" 2> "$DIR/without.log" ||
    fail "train without snapshots: $(cat "$DIR/without.log")"
for f in model.safetensors last.safetensors last.optim.safetensors; do
    cmp -s "$DIR/with/$f" "$DIR/without/$f" || fail "$f differs with --snapshots"
done
cut -d, -f1-3 "$DIR/with/metrics.jsonl" > "$DIR/a"
cut -d, -f1-3 "$DIR/without/metrics.jsonl" > "$DIR/b"
cmp -s "$DIR/a" "$DIR/b" || fail "metrics.jsonl differs with --snapshots"

# --probe, and the default N: steps / 50
# shellcheck disable=SC2086
"$ATTEND" train $small --steps 100 --out "$DIR/probes" --snapshots "$DIR/probes.html" \
    --probe "1 Jan 2000" --probe "</script>x" 2> "$DIR/probes.log" ||
    fail "train --probe: $(cat "$DIR/probes.log")"
got=$(page "$DIR/probes.html")
steps=$(echo "$got" | head -1 | sed 's/steps=\([^ ]*\).*/\1/' | tr ',' '\n' | wc -l)
[ "$steps" -eq 51 ] || fail "default N on 100 steps gave $steps snapshots, expected 51 (every 2)"
echo "$got" | grep -q "probes=2 kind=snapshots ok=1 scripts=2" || fail "--probe page: $got"
echo "$got" | grep -q "probe0=1 Jan 2000" || fail "--probe page: first probe: $got"

# bad options: refused before training (exit 2, or 1 with the reason)
expect_error "a .png page" ".html" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/x.png"
expect_error "N = 0" "--snapshot-every" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/x.html" --snapshot-every 0
expect_error "an empty probe" "--probe" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/x.html" --probe ""
set --
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do set -- "$@" --probe "$i May 2000"; done
# shellcheck disable=SC2086
expect_error "17 probes" "at most 16" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/x.html" "$@"
long=$(printf '%0300d' 7)
# shellcheck disable=SC2086
expect_error "a probe too long" "probe 1" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/x.html" --probe "$long"
# shellcheck disable=SC2086
expect_error "a missing folder" "cannot write" "$ATTEND" train $small --steps 5 --out "$DIR/bad" --snapshots "$DIR/no/such/x.html"
[ -e "$DIR/bad/model.safetensors" ] && fail "a refused run trained"
[ -e "$DIR/x.html" ] && fail "a refused run wrote a page"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "snapshots CLI: all passed"
