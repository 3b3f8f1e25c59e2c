#!/usr/bin/env bash
# install_test.sh BUILD_DIR - install attend into a temporary prefix, then
# compile every examples/*.c against the INSTALLED library through
# pkg-config (shared and static) and run it. Fails on any error.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(dirname "$(find "$prefix" -name attend.pc | head -n 1)")
export PKG_CONFIG_PATH="$pc"
sed -i "s|^prefix=.*|prefix=$prefix|" "$pc/attend.pc"
echo "installed: $(pkg-config --modversion attend) in $prefix"

count=0
for example in "$src"/examples/*.c; do
  name=$(basename "$example" .c)
  cc -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags --libs attend) -o "$work/$name"
  (cd "$work" && LD_LIBRARY_PATH="$(pkg-config --variable=libdir attend)" "./$name") >"$work/$name.log" 2>&1 ||
    { echo "FAIL: example $name (shared)"; cat "$work/$name.log"; exit 1; }
  cc -std=c11 "$example" $(pkg-config --cflags attend) \
    "$(pkg-config --variable=libdir attend)/libattend.a" $(pkg-config --libs-only-other --libs --static attend | sed 's/-lattend//') \
    -o "$work/$name-static"
  (cd "$work" && "./$name-static") >"$work/$name-static.log" 2>&1 ||
    { echo "FAIL: example $name (static)"; cat "$work/$name-static.log"; exit 1; }
  echo "ok: $name (shared and static)"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || { echo "FAIL: no examples found"; exit 1; }
echo "$count passed, 0 failed"
