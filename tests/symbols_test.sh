#!/bin/sh
# symbols_test.sh BUILD_DIR - each library exports exactly the functions its
# public headers declare (AT_API), and nothing else:
#   libattend.so       attend/core.h, attention.h, text.h, models.h, lm.h, classify.h
#   libattend-data.so  attend/data.h, mail.h
#   libattend-viz.so   attend/viz.h
#   libattend-mpi.so   attend/mpi.h (when built)
# Prints every symbol that is exported but not declared, or declared but not
# exported, and exits 1 if there is any.
set -u
build=$1
inc=$(cd "$(dirname "$0")/../include/attend" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

declared() { # HEADER... -> the names declared with AT_API, sorted
    for h in "$@"; do grep -h '^AT_API' "$inc/$h"; done |
        sed -n 's/.*\b\(at_[a-z0-9_]*\) *(.*/\1/p' | sort -u
}
exported() { # LIBRARY -> the functions it exports, sorted
    nm -D --defined-only "$build/$1" | awk '$2 == "T" || $2 == "W" {print $3}' | sort -u
}

check() { # LIBRARY HEADER...
    checks=$((checks + 1))
    before=$failures
    lib=$1
    shift
    declared "$@" > "$tmp/declared"
    exported "$lib" > "$tmp/exported"
    [ -s "$tmp/declared" ] || { echo "FAIL: no AT_API declaration in $*"; failures=$((failures + 1)); }
    extra=$(comm -13 "$tmp/declared" "$tmp/exported")
    missing=$(comm -23 "$tmp/declared" "$tmp/exported")
    [ -z "$extra" ] || { echo "FAIL: $lib exports what $* do not declare:"; echo "$extra" | sed 's/^/  /'; failures=$((failures + 1)); }
    [ -z "$missing" ] || { echo "FAIL: $lib lacks what $* declare:"; echo "$missing" | sed 's/^/  /'; failures=$((failures + 1)); }
    echo "$lib: $(wc -l < "$tmp/exported") functions exported, $(wc -l < "$tmp/declared") declared"
    [ "$failures" -eq "$before" ] || bad=$((bad + 1))
}
bad=0
checks=0

# Internal functions never look like the API: every at_ symbol a static
# library defines is exported by its shared twin (internals use ati_ or a
# module prefix).
checks=$((checks + 1))
for lib in libattend libattend-data libattend-viz; do
    nm --defined-only "$build/$lib.a" | awk '$2 ~ /[TDBR]/ {print $3}' | grep '^at_' | sort -u \
        > "$tmp/archive"
    exported "$lib.so" > "$tmp/exported"
    internal=$(comm -23 "$tmp/archive" "$tmp/exported")
    [ -z "$internal" ] || { echo "FAIL: $lib.a has internal functions named like the API:";
                             echo "$internal" | sed 's/^/  /'; bad=$((bad + 1)); }
done

# A library above libattend may use only what libattend exports: an internal
# function it leaves undefined (atf_read, ati_...) is missing at link time
# for every program that uses the library (libattend.so hides it).
checks=$((checks + 1))
nm -D --defined-only "$build/libattend.so" | awk '{print $3}' | sort -u > "$tmp/core"
for lib in libattend-data libattend-viz; do
    nm -D --undefined-only "$build/$lib.so" | awk '{print $2}' | grep '^at' | sort -u \
        > "$tmp/needs"
    unmet=$(comm -23 "$tmp/needs" "$tmp/core")
    [ -z "$unmet" ] || { echo "FAIL: $lib.so needs what libattend.so does not export:";
                         echo "$unmet" | sed 's/^/  /'; bad=$((bad + 1)); }
done

check libattend.so core.h attention.h text.h models.h lm.h classify.h
check libattend-data.so data.h mail.h
check libattend-viz.so viz.h
# libattend-mpi (built with ATTEND_MPI): attend/mpi.h, and no internal
# function of libattend left undefined
if [ -e "$build/libattend-mpi.so" ]; then
    check libattend-mpi.so mpi.h
    checks=$((checks + 1))
    nm -D --undefined-only "$build/libattend-mpi.so" | awk '{print $2}' | grep '^at' | sort -u \
        > "$tmp/needs"
    unmet=$(comm -23 "$tmp/needs" "$tmp/core")
    [ -z "$unmet" ] || { echo "FAIL: libattend-mpi.so needs what libattend.so does not export:";
                         echo "$unmet" | sed 's/^/  /'; bad=$((bad + 1)); }
fi
echo "$((checks - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
