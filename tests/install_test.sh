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
for f in attend attend-data attend-viz; do sed -i "s|^prefix=.*|prefix=$prefix|" "$pc/$f.pc"; done
echo "installed: $(pkg-config --modversion attend) in $prefix"
libdir=$(pkg-config --variable=libdir attend)

# An attention-only program needs libattend alone: no ICU, cairo or pango,
# neither at link time (pkg-config attend) nor loaded at run time.
cc -std=c11 -Wall -Wextra -Werror "$src/examples/attention_additive.c" \
  $(pkg-config --cflags --libs attend) -o "$work/attention_only"
(cd "$work" && LD_LIBRARY_PATH="$libdir" ./attention_only) >"$work/attention_only.log" 2>&1 ||
  { echo "FAIL: attention_additive linked against libattend alone"; cat "$work/attention_only.log"; exit 1; }
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$work/attention_only")
if printf '%s\n' "$loaded" | grep -Eqi 'icu|cairo|pango|attend-(data|viz)'; then
  echo "FAIL: an attention-only program loads more than libattend:"
  printf '%s\n' "$loaded" | grep -Ei 'icu|cairo|pango|attend'
  exit 1
fi
echo "ok: attention_additive with libattend alone (no ICU, cairo or pango loaded)"

count=0
for example in "$src"/examples/*.c; do
  name=$(basename "$example" .c)
  cc -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags --libs attend-viz attend-data attend) -o "$work/$name"
  (cd "$work" && LD_LIBRARY_PATH="$libdir" "./$name") >"$work/$name.log" 2>&1 ||
    { echo "FAIL: example $name (shared)"; cat "$work/$name.log"; exit 1; }
  cc -std=c11 "$example" $(pkg-config --cflags attend) \
    "$libdir/libattend-viz.a" "$libdir/libattend-data.a" "$libdir/libattend.a" \
    $(pkg-config --libs --static attend-viz attend-data attend | sed 's/-lattend[-a-z]*//g') \
    -o "$work/$name-static"
  (cd "$work" && "./$name-static") >"$work/$name-static.log" 2>&1 ||
    { echo "FAIL: example $name (static)"; cat "$work/$name-static.log"; exit 1; }
  echo "ok: $name (shared and static)"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || { echo "FAIL: no examples found"; exit 1; }

# libattend-mpi (built with ATTEND_MPI): its header and attend-mpi.pc, a
# program that sums over 2 processes under mpirun, shared and static.
if [ -f "$pc/attend-mpi.pc" ]; then
  sed -i "s|^prefix=.*|prefix=$prefix|" "$pc/attend-mpi.pc"
  cat > "$work/mpi_sum.c" <<'PROGRAM'
#include <attend/mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    at_ctx *ctx = NULL;
    at_reducer r;
    float f[2];
    double d = 0.25;
    if (at_ctx_create(&ctx, NULL) != AT_OK || at_mpi_init(ctx, &argc, &argv) != AT_OK ||
        at_mpi_reducer(ctx, &r) != AT_OK)
        return 1;
    f[0] = (float)r.rank, f[1] = 1;
    int ok = r.sum_floats(ctx, r.user, f, 2) == AT_OK && r.sum_doubles(ctx, r.user, &d, 1) == AT_OK;
    printf("%d of %d: %g %g %g\n", r.rank, r.ranks, f[0], f[1], d);
    at_mpi_finalize();
    at_ctx_free(ctx);
    return ok && f[0] == 1 && f[1] == 2 && d == 0.5 ? 0 : 1;
}
PROGRAM
  cc -std=c11 -Wall -Wextra -Werror "$work/mpi_sum.c" $(pkg-config --cflags --libs attend-mpi) \
    -o "$work/mpi_sum"
  cc -std=c11 "$work/mpi_sum.c" $(pkg-config --cflags attend-mpi) "$libdir/libattend-mpi.a" \
    "$libdir/libattend.a" $(pkg-config --libs --static attend-mpi | sed 's/-lattend[-a-z]*//g') \
    -o "$work/mpi_sum-static"
  for program in mpi_sum mpi_sum-static; do
    (cd "$work" && LD_LIBRARY_PATH="$libdir" mpirun --allow-run-as-root --oversubscribe -np 2 \
      "./$program") >"$work/$program.log" 2>&1 ||
      { echo "FAIL: $program under mpirun -np 2"; cat "$work/$program.log"; exit 1; }
  done
  echo "ok: libattend-mpi (attend-mpi.pc), a sum over 2 processes (shared and static)"
fi
echo "$count passed, 0 failed"
