# Sourced by the extraction benchmarks: the JPEG photographs and the random-weight ResNet-18
# they run on, made once per folder (numpy, PIL and torchvision from Debian's python3).
# bench_inputs WORK_DIR IMAGE_COUNT PYTHON REPO_ROOT
bench_inputs() {
  local work="$1" images="$2" py="$3" here="$4"
  mkdir -p "$work"
  if [ ! -f "$work/images.$images" ]; then
    rm -rf "$work/images"
    "$py" "$here/scripts/make_bench_images.py" --out "$work/images" --count "$images"
    touch "$work/images.$images"
  fi
  [ -f "$work/resnet18.pt" ] ||
    "$py" "$here/scripts/export_backbone.py" --arch resnet18 --random-weights \
      --out "$work/resnet18.pt" >/dev/null
}
