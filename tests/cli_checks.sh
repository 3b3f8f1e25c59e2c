# shellcheck shell=sh
# cli_checks.sh - what the end-to-end CLI tests share (sourced by
# test_cli.sh and test_g2p.sh): a scratch folder $DIR removed on exit, a
# failure counter, and the check that a command fails the way it should.

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error DESCRIPTION WORD COMMAND...: non-zero exit and WORD in stderr
expect_error() {
    what=$1 word=$2
    shift 2
    if "$@" > "$DIR/out" 2> "$DIR/err"; then fail "$what: exit 0"; return; fi
    grep -qi -- "$word" "$DIR/err" || fail "$what: no '$word' in: $(cat "$DIR/err")"
    grep -qi "segmentation\|core dumped\|sanitizer" "$DIR/err" && fail "$what: crashed"
}
