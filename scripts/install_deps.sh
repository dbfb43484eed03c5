#!/usr/bin/env bash
# Installs every system package oodflow needs to build, test and run, from Debian's archive.
# Idempotent: packages already present are skipped by apt-get; the index is refreshed only
# when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev            # LibTorch 1.13 (CPU): tensors, autograd, optimisers, TorchScript
  libopenblas0-pthread    # fast BLAS for LibTorch (the reference BLAS is ~25x slower)
  libfaiss-dev            # nearest-neighbour search (knn: exact and IVF), a static library
  libcli11-dev            # command line parsing and --config files
  libspdlog-dev           # logging
  nlohmann-json3-dev      # JSON configs, metadata and reports
  libgtest-dev libgmock-dev
  libopencv-dev           # cv::Mat images, colour conversion and resizing (extract)
  # Image decoding with the libraries PIL uses, for PIL's pixels: JPEG, PNG, TIFF, and
  # libwebp's demux/animation API (animated WebP); giflib for the LZW data of GIF files.
  libjpeg62-turbo-dev libpng-dev libtiff-dev libwebp-dev libgif-dev
  libssl-dev              # SHA-256 of data and model files (OpenSSL)
  zlib1g-dev              # gzip-compressed IDX files
  dataset-fashion-mnist   # Fashion-MNIST IDX files (/usr/share/datasets/fashion-mnist), tests and demo
  clang-format
  chromium                # headless screenshots of the HTML report (a test checks it renders)
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # fuzz targets (scripts/fuzz.sh, a CI smoke)
  # Python only for the scripts that export or train backbones and make data sets (never
  # needed by the oodflow binary): Debian's interpreter with its torch and numpy.
  python3-torch python3-torchvision python3-numpy python3-pil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all system packages present"
fi
