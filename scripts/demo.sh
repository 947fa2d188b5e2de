#!/usr/bin/env bash
# The main job, end to end on the built-in dataset (CPU): make the data set, train the small
# ResNet18 preset, evaluate it on the held-out split, run `predict` on a few images, calibrate an
# int8 copy for CPU inference and check it against fp32, summarise.
# Usage: scripts/demo.sh [BUILD_DIR]. Re-running starts a fresh run (the data set is reused).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
bin="$build/forensight"
data="${FORENSIGHT_DEMO_DATA:-$here/data/builtin}"
run="${FORENSIGHT_DEMO_RUN:-$here/runs/demo}"
count="${FORENSIGHT_DEMO_COUNT:-800}"
size="${FORENSIGHT_DEMO_SIZE:-256}"
threads="$(nproc)"
start=$(date +%s)

echo "== 1/5 built-in dataset: $count images of ${size}px in $data"
if [ ! -f "$data/train.csv" ]; then
  "$bin" data synth --out "$data" --count "$count" --size "$size" --seed 1
fi
"$bin" data inspect "$data"

echo "== 2/5 training the resnet18-cpu preset into $run"
rm -rf "$run"
"$bin" train --preset resnet18-cpu --data "$data/train.csv" --out "$run" --threads "$threads" \
  --workers 2 --seed 1

echo "== 3/5 evaluating the best checkpoint on the held-out test split"
"$bin" eval --checkpoint "$run/checkpoints/best.pt" --data "$data/train.csv" --split test \
  --split-file "$run/split.json" --json "$run/eval.json"

echo "== 4/5 predicting a few images"
reals=("$data"/0_real/*.jpg)
fakes=("$data"/1_fake/*.jpg)
samples=("${reals[@]:0:2}" "${fakes[@]:0:2}")
"$bin" predict --checkpoint "$run/checkpoints/best.pt" "${samples[@]}"

echo "== 5/5 int8: calibrating the checkpoint for CPU inference, checked against fp32"
"$bin" quantize --checkpoint "$run/checkpoints/best.pt" --data "$data/train.csv" \
  --split-file "$run/split.json" --out "$run/checkpoints/best-int8.pt" --json "$run/quantize.json"
"$bin" predict --checkpoint "$run/checkpoints/best-int8.pt" "${samples[@]}"

echo "== summary"
python3 - "$run/eval.json" "$run/quantize.json" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
metrics = m.get("metrics", m)
q = json.load(open(sys.argv[2]))
print(f"held-out accuracy {metrics['accuracy']:.4f}  ROC-AUC {metrics['roc_auc']:.4f}  "
      f"macro-F1 {metrics['macro_f1']:.4f}  ({metrics['count']} images)  in {sys.argv[3]} s")
print(f"int8: accuracy {q['int8']['accuracy']:.4f} (fp32 {q['fp32']['accuracy']:.4f}), "
      f"verdicts agree on {100 * q['verdict_agreement']:.1f}% of {q['images']} images, "
      f"{q['int8_images_per_s']:.0f} vs {q['fp32_images_per_s']:.0f} images/s")
PY
