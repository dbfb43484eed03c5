#!/usr/bin/env bash
# The paper's setting, for users who have the data: ImageNet-1k as in-distribution, Textures
# (DTD) as OOD, a torchvision backbone, and the reference recipe (Glow K=10, one epoch, lr
# 1e-5, batch 250, L2-normalised features). Reports AUROC and FPR@95TPR next to the paper's
# 98.2% AUROC for ImageNet vs Textures.
#
#   bash scripts/reproduce_paper.sh --imagenet-train DIR --imagenet-val DIR --textures DIR \
#        --weights resnet50-11ad3fa6.pth [--arch resnet50] [--out out/paper]
#
#   --imagenet-train  ImageNet-1k training set as an ImageFolder (train/<wnid>/*.JPEG), or a
#                     list file of a subset (the flow's training features)
#   --imagenet-val    ImageNet-1k validation set as an ImageFolder (val/<wnid>/*.JPEG)
#   --textures        DTD's images folder (dtd/images/<texture>/*.jpg)
#   --weights FILE    torchvision weights (.pth) of --arch; --random-weights instead runs
#                     the pipeline with an untrained network (only to check that it works)
#   --arch NAME       torchvision architecture (default resnet50)
#   --out DIR         work folder (default out/paper): model, features, flow, report
#   --workers N, --batch-size N   passed to extract (defaults 4, 64)
#
# Steps: scripts/export_backbone.py (Debian's /usr/bin/python3 with python3-torch and
# python3-torchvision) -> oodflow extract (configs/extract_imagenet.json: Resize 256,
# CenterCrop 224, ImageNet mean/std) of the three sets -> oodflow train (configs/glow.json)
# -> oodflow score. Extraction of the 1.28M training images dominates: about a day on a
# 2-core CPU, an hour or two on a GPU (--device cuda through OODFLOW_EXTRACT_OPTIONS).
# Expects a built oodflow (scripts/build.sh) at $OODFLOW_BUILD_DIR/apps/oodflow (default
# build/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prog="reproduce_paper"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() {
  echo "$prog: error: $*" >&2
  exit 2
}

train="" val="" textures="" weights="" random=0 arch="resnet50" out="$here/out/paper"
workers=4 batch=64
while [ $# -gt 0 ]; do
  case "$1" in
    --imagenet-train) train="${2:?}"; shift 2 ;;
    --imagenet-val) val="${2:?}"; shift 2 ;;
    --textures) textures="${2:?}"; shift 2 ;;
    --weights) weights="${2:?}"; shift 2 ;;
    --random-weights) random=1; shift ;;
    --arch) arch="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --workers) workers="${2:?}"; shift 2 ;;
    --batch-size) batch="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$train" ] && [ -n "$val" ] && [ -n "$textures" ] ||
  die "--imagenet-train, --imagenet-val and --textures are required (see --help)"
for path in "$train" "$val" "$textures"; do
  [ -e "$path" ] || die "'$path' does not exist"
done
if [ "$random" -eq 1 ]; then
  [ -z "$weights" ] || die "give --weights or --random-weights, not both"
  weight_args=(--random-weights)
else
  [ -n "$weights" ] || die "--weights FILE is required (or --random-weights to test the pipeline)"
  [ -f "$weights" ] || die "weights file '$weights' does not exist"
  weight_args=(--weights "$weights")
fi
python=/usr/bin/python3
"$python" -c "import torch, torchvision" 2>/dev/null ||
  die "Debian's python3-torch and python3-torchvision are needed to export the backbone (scripts/install_deps.sh installs them)"
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
[ -x "$oodflow" ] || die "'$oodflow' is missing: build oodflow first (bash scripts/build.sh)"

mkdir -p "$out/features"
model="$out/$arch.pt"
echo "$prog: exporting $arch"
"$python" "$here/scripts/export_backbone.py" --arch "$arch" "${weight_args[@]}" --out "$model"

extract() {  # data, name
  echo "$prog: extracting $2 from '$1'"
  # shellcheck disable=SC2086
  "$oodflow" extract --config "$here/configs/extract_imagenet.json" --backbone "$model" \
    --data "$1" --out "$out/features/$2.safetensors" --workers "$workers" --batch-size "$batch" \
    ${OODFLOW_EXTRACT_OPTIONS:-}
}
extract "$train" imagenet_train
extract "$val" imagenet_val
extract "$textures" textures

echo "$prog: training the flow (glow K=10, one epoch, L2 features)"
"$oodflow" train --config "$here/configs/glow.json" \
  --features "$out/features/imagenet_train.safetensors" --out "$out/flow.safetensors"
"$oodflow" score --model "$out/flow.safetensors" --id "$out/features/imagenet_val.safetensors" \
  --ood textures="$out/features/textures.safetensors" \
  --out "$out/report.json" --scores "$out/scores.csv"

"$python" - "$out/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
if report.get("report_format_version") != 2:
    sys.exit(f"{sys.argv[1]}: report format version {report.get('report_format_version')}, "
             "this script reads version 2: use the oodflow this script came with")
r = report["detectors"][0]["ood"][0]
print(f"ImageNet vs Textures: AUROC {100 * r['auroc']:.1f}% (paper: 98.2%), "
      f"FPR@95TPR {100 * r['fpr95']:.1f}%")
PY
echo "$prog: report in $out/report.json"
