#!/bin/sh
# test_classify.sh - `attend classify` end to end on small data:
#   - a tiny HAN and a tiny flat model learn a synthetic two-class TSV task
#     (a document is "pos" when one of its sentences says "refund now")
#     to >= 95% on held-out documents, and eval prints what the library
#     scored (accuracy, precision/recall/F1, per group);
#   - eval writes the HTML report and the top-words figure, and "refund"
#     or "now" is among pos's top words;
#   - prediction of a raw mail message and of --text prints the label, its
#     probability and five words, and --plot draws the document;
#   - --vectors starts the embedding from a word2vec text file; a bad one
#     (a NaN, another width) is refused naming the problem;
#   - split on a tiny fake corpus writes the three TSVs and fastText files;
#   - bad input is refused clearly: an empty message, a binary attachment
#     only, a 50 MB message, an unknown label at evaluation, a TSV line
#     without a tab, a file that is not a classifier, unknown options.
#   tests/test_classify.sh PATH/TO/attend
set -u
ATTEND=${1:?usage: test_classify.sh PATH/TO/attend}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

"$ATTEND" classify --help > /dev/null || fail "classify --help"
"$ATTEND" classify train --help | grep -q -- "--word-attention" ||
  fail "classify train --help names --word-attention"

# ---------------------------------------------------------------- the data
# A document: 3-5 filler sentences; "pos" documents have "refund now" in one
# of them, "neg" documents a decoy sentence instead. Groups: the odd
# documents of each class are "b".
make_docs() { # FILE COUNT SEED
  awk -v n="$2" -v seed="$3" 'BEGIN {
    srand(seed);
    split("the meeting is at noon|please read the notes|our team met today|the build passed again|see you on friday|lunch is in the hall|the report is attached", filler, "|");
    for (i = 0; i < n; i++) {
      pos = i % 2; k = 3 + int(rand() * 3); at = int(rand() * k); text = "";
      for (s = 0; s < k; s++) {
        if (s == at) line = pos ? "claim your refund now" : "claim your seat early";
        else line = filler[1 + int(rand() * 7)];
        text = text (s ? ". " : "") line;
      }
      printf "%s\t%s.\t%s\n", pos ? "pos" : "neg", text, (int(i / 2) % 2) ? "b" : "a";
    }
  }' > "$1"
}
make_docs "$DIR/train.tsv" 400 1
make_docs "$DIR/dev.tsv" 100 2
make_docs "$DIR/test.tsv" 200 3

accuracy_of() { sed -n 's/.* documents, accuracy \([0-9.]*\)%.*/\1/p' "$1" | head -1; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

train() { # NAME ARGS...
  name=$1
  shift
  "$ATTEND" classify train --train "$DIR/train.tsv" --dev "$DIR/dev.tsv" --threads 1 \
    --embed 16 --hidden 8 --attn 16 --min-count 1 --batch 16 --epochs 6 --lr 0.01 \
    --out "$DIR/$name" "$@" > "$DIR/$name.out" 2> "$DIR/$name.err" ||
    { fail "classify train $name: $(tail -3 "$DIR/$name.err")"; return 1; }
  [ -s "$DIR/$name/model.safetensors" ] || fail "classify train $name: no model"
}

check_learns() { # NAME
  "$ATTEND" classify eval "$DIR/$1/model.safetensors" "$DIR/test.tsv" --positive pos \
    > "$DIR/$1.eval" 2> "$DIR/$1.eval.err" || { fail "classify eval $1: $(cat "$DIR/$1.eval.err")"; return; }
  acc=$(accuracy_of "$DIR/$1.eval")
  [ -n "$acc" ] || { fail "classify eval $1 printed no accuracy: $(cat "$DIR/$1.eval")"; return; }
  at_least "$acc" 95 || fail "$1: test accuracy $acc%, below 95%"
  grep -q "^pos: precision" "$DIR/$1.eval" || fail "$1: eval prints no precision for pos"
  grep -q "^group a " "$DIR/$1.eval" && grep -q "^group b " "$DIR/$1.eval" ||
    fail "$1: eval prints no per-group accuracy"
}

train han && check_learns han
train flat --model flat && check_learns flat
train feature --word-attention feature --sentence-attention feature && check_learns feature
train crew --threads 2 --replicas 2 && check_learns crew # two replicas, one thread each

# without --dev there is no evaluation: the last model is the model
"$ATTEND" classify train --train "$DIR/train.tsv" --threads 1 --embed 8 --hidden 4 --attn 8 \
  --min-count 1 --epochs 1 --out "$DIR/nodev" > /dev/null 2> "$DIR/nodev.err" &&
  [ -s "$DIR/nodev/model.safetensors" ] || fail "classify train without --dev: $(tail -2 "$DIR/nodev.err")"

# --vectors: pretrained vectors start the embedding (the rows of the words
# the file gives, exactly), and a bad file is refused naming its line
"$ATTEND" classify train --train "$DIR/train.tsv" --threads 1 --embed 3 --hidden 4 --attn 8 \
  --min-count 1 --epochs 1 --out "$DIR/vec0" > /dev/null 2>&1
printf '3 3\nunseenword 1 2 3\nrefund 0.5 -0.25 2\nmeeting 1 1 1\n' > "$DIR/words.vec"
"$ATTEND" classify train --train "$DIR/train.tsv" --threads 1 --embed 3 --hidden 4 --attn 8 \
  --min-count 1 --epochs 1 --out "$DIR/vec" --vectors "$DIR/words.vec" > /dev/null 2> "$DIR/vec.err" ||
  fail "classify train --vectors: $(tail -2 "$DIR/vec.err")"
grep -q "word vectors: 2 of the" "$DIR/vec.err" || fail "--vectors does not say what it loaded: $(cat "$DIR/vec.err")"
cmp -s "$DIR/vec0/last.safetensors" "$DIR/vec/last.safetensors" &&
  fail "--vectors trained the same model as without it"
printf '1 3\nrefund 1 nan 2\n' > "$DIR/nan.vec"
expect_error "a NaN in a vector file" "nan.vec:2: value 2 of 'refund' is not a finite float" \
  "$ATTEND" classify train --train "$DIR/train.tsv" --embed 3 --out "$DIR/x" --vectors "$DIR/nan.vec"
expect_error "vectors of another size" "vectors of 3 values, but the model's embedding has 8" \
  "$ATTEND" classify train --train "$DIR/train.tsv" --embed 8 --out "$DIR/x" --vectors "$DIR/words.vec"
expect_error "--vectors with --resume" "--vectors starts a new model" \
  "$ATTEND" classify train --train "$DIR/train.tsv" --out "$DIR/vec" --resume --vectors "$DIR/words.vec"

# the decision threshold: chosen on dev by default (and said), none on request
grep -q "^decision: " "$DIR/han.err" || fail "classify train printed no decision: $(tail -3 "$DIR/han.err")"
threshold_of() {
  python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read()
c = json.loads(json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]["attend.classify"])
print(c.get("threshold", "none"))' "$1"
}
t=$(threshold_of "$DIR/han/model.safetensors")
grep -q "^decision: the larger probability" "$DIR/han.err" && [ "$t" != none ] &&
  fail "dev kept the larger probability, but the model has threshold $t"
grep -q "^decision: .* > " "$DIR/han.err" && [ "$t" = none ] &&
  fail "a threshold was chosen but the model has none"
train none --threshold none && [ "$(threshold_of "$DIR/none/model.safetensors")" = none ] ||
  fail "--threshold none wrote a threshold"
grep -q "^decision: " "$DIR/none.err" && fail "--threshold none still chose a decision"
expect_error "--threshold maybe" "--threshold is dev or none, not 'maybe'" \
  "$ATTEND" classify train --train "$DIR/train.tsv" --out "$DIR/x" --threshold maybe

# ------------------------------------------------------ report and figures
if [ -s "$DIR/han/model.safetensors" ]; then
  "$ATTEND" classify eval "$DIR/han/model.safetensors" "$DIR/test.tsv" --positive pos \
    --report "$DIR/report.html" --sample 3 --top-words "$DIR/top.png" --top 5 > "$DIR/explain.out" 2>&1 ||
    fail "classify eval --report --top-words: $(tail -3 "$DIR/explain.out")"
  [ -s "$DIR/report.html" ] && grep -q '"kind":"documents"' "$DIR/report.html" ||
    fail "the report is missing or is not a documents page"
  [ -s "$DIR/top.png" ] || fail "the top-words figure is missing"
  sed -n '/^top words of pos/,/^top words of neg/p' "$DIR/explain.out" | grep -Eq "refund|now" ||
    fail "neither 'refund' nor 'now' is among pos's top words: $(cat "$DIR/explain.out")"
  printf 'please claim your refund now. the meeting is at noon.\n' > "$DIR/doc.txt"
  "$ATTEND" classify "$DIR/han/model.safetensors" --text "$DIR/doc.txt" > "$DIR/predict.out" ||
    fail "classify --text"
  grep -q "doc.txt: pos 0\.[0-9]*" "$DIR/predict.out" || fail "predict: $(cat "$DIR/predict.out")"
  grep -q "words: " "$DIR/predict.out" || fail "predict prints no words"
  "$ATTEND" classify "$DIR/han/model.safetensors" --text "$DIR/doc.txt" --plot "$DIR/doc.html" \
    > /dev/null 2>&1 && grep -q '"kind":"document"' "$DIR/doc.html" ||
    fail "classify --plot doc.html: no document page"
  expect_error "--plot with two files" "one FILE" "$ATTEND" classify "$DIR/han/model.safetensors" \
    --text "$DIR/doc.txt" "$DIR/doc.txt" --plot "$DIR/two.png"
fi

# ----------------------------------------------------------- mail messages
cat > "$DIR/mail.eml" <<'EOF'
From: someone@example.com
Subject: =?utf-8?Q?claim_your_refund?=
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Please claim your refund now=2E The meeting is at noon.
EOF
if [ -s "$DIR/han/model.safetensors" ]; then
  "$ATTEND" classify "$DIR/han/model.safetensors" "$DIR/mail.eml" > "$DIR/mail.out" ||
    fail "classify a mail message"
  grep -q "mail.eml: pos" "$DIR/mail.out" || fail "mail prediction: $(cat "$DIR/mail.out")"
  : > "$DIR/empty.eml"
  expect_error "an empty message" "empty" "$ATTEND" classify "$DIR/han/model.safetensors" "$DIR/empty.eml"
  cat > "$DIR/binary.eml" <<'EOF'
MIME-Version: 1.0
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
EOF
  expect_error "a binary attachment only" "text" "$ATTEND" classify "$DIR/han/model.safetensors" "$DIR/binary.eml"
  truncate -s 50M "$DIR/big.eml"
  expect_error "a 50 MB message" "MB\|bytes\|larger\|limit" "$ATTEND" classify "$DIR/han/model.safetensors" "$DIR/big.eml"
  rm -f "$DIR/big.eml"
  printf 'maybe\tsome text here.\n' > "$DIR/unknown.tsv"
  expect_error "an unknown label at evaluation" "maybe" "$ATTEND" classify eval "$DIR/han/model.safetensors" "$DIR/unknown.tsv"
fi
printf 'no tab on this line\n' > "$DIR/notab.tsv"
expect_error "a TSV line without a tab" "notab.tsv:1" "$ATTEND" classify train --train "$DIR/notab.tsv" --out "$DIR/x"
expect_error "a file that is not a classifier" "" "$ATTEND" classify eval "$DIR/doc.txt" "$DIR/test.tsv"
expect_error "an unknown option" "--bogus" "$ATTEND" classify train --bogus 1
expect_error "an unknown model kind" "flat" "$ATTEND" classify train --model deep

# ------------------------------------------------------- split of a corpus
for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
  mkdir -p "$DIR/corpus/$g"
  i=0
  while [ $i -lt 10 ]; do
    printf 'Subject: message %s %s\n\nThis is the body of message %s in %s. It has words.\n' \
      "$i" "$g" "$i" "$g" > "$DIR/corpus/$g/0000$i.$(printf '%s%s' "$g" "$i" | md5sum | cut -c1-32).txt"
    i=$((i + 1))
  done
done
"$ATTEND" classify split --data "$DIR/corpus" --out "$DIR/split" > "$DIR/split.out" 2> "$DIR/split.err" ||
  fail "classify split: $(cat "$DIR/split.err")"
for p in train dev test; do
  [ -s "$DIR/split/$p.tsv" ] && [ -s "$DIR/split/$p.ft" ] || fail "split: no $p.tsv or $p.ft"
done
[ "$(wc -l < "$DIR/split/train.tsv")" -eq 35 ] || fail "split: $(wc -l < "$DIR/split/train.tsv") train documents, expected 35 (7 of 10 in each of 5 folders)"
head -1 "$DIR/split/train.ft" | grep -q "^__label__\(ham\|spam\) subject\|^__label__\(ham\|spam\) message" ||
  fail "split: the fastText line is not __label__ then words: $(head -1 "$DIR/split/train.ft")"

cat "$DIR"/han.eval "$DIR"/flat.eval "$DIR"/feature.eval 2>/dev/null | grep "accuracy" | cut -c1-80
[ "$failures" -eq 0 ] || { echo "test_classify.sh: $failures failure(s)" >&2; exit 1; }
echo "test_classify.sh: all passed"
