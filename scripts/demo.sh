#!/usr/bin/env bash
# The main job, end to end on the built-in dataset (CPU): make a data set of several generator
# families, train the generalising CPU preset with one family held out of training, evaluate it on
# the test split (the family it never saw next to the ones it did), run `predict` on a few images,
# calibrate an int8 copy for CPU inference and check it against fp32, summarise.
# Usage: scripts/demo.sh [BUILD_DIR]. Re-running starts a fresh run (the data set is reused when it
# was made with the same settings, and rebuilt otherwise, e.g. an older demo's one-family set).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
bin="$build/forensight"
data="${FORENSIGHT_DEMO_DATA:-$here/data/builtin}"
run="${FORENSIGHT_DEMO_RUN:-$here/runs/demo}"
count="${FORENSIGHT_DEMO_COUNT:-800}"
size="${FORENSIGHT_DEMO_SIZE:-128}"
held_out="${FORENSIGHT_DEMO_HOLD_OUT:-bilinear-conv}"
preset="resnet18-generalise-cpu"
threads="$(nproc)"
start=$(date +%s)

# What the data set is made of; a set whose stamp differs (or has none: made before the families
# existed, one family and no `source` column) is rebuilt. Only the files `data synth` writes are
# removed, so a folder the user shares with other files keeps them.
synth_args=(--count "$count" --size "$size" --seed 1 --families all --photos all --crop-mode native)
stamp="data synth ${synth_args[*]}"
echo "== 1/5 built-in dataset: $count images of ${size}px, six generator families, in $data"
if [ ! -f "$data/train.csv" ] || [ "$(cat "$data/demo-stamp" 2>/dev/null)" != "$stamp" ]; then
  if [ -f "$data/train.csv" ]; then
    echo "   $data was made by an older demo or with other settings: rebuilding it"
    rm -rf "$data/0_real" "$data/1_fake" "$data/train.csv" "$data/demo-stamp"
  fi
  "$bin" data synth --out "$data" "${synth_args[@]}"
  echo "$stamp" >"$data/demo-stamp"
fi
"$bin" data inspect "$data"

echo "== 2/5 training the $preset preset into $run, $held_out held out"
rm -rf "$run"
"$bin" train --preset "$preset" --data "$data/train.csv" --out "$run" --threads "$threads" \
  --workers 2 --seed 1 --hold-out-source "$held_out"

echo "== 3/5 evaluating the best checkpoint on the test split (all of $held_out, and the rest's share)"
"$bin" eval --checkpoint "$run/checkpoints/best.pt" --data "$data/train.csv" --split test \
  --split-file "$run/split.json" --json "$run/eval.json"

echo "== 4/5 predicting a few images: two real, one of a family seen in training, one of $held_out"
# train.csv rows: index,file_name,label,source
mapfile -t samples < <(awk -F, -v held="$held_out" -v dir="$data" '
  NR > 1 && $3 == 0 && real < 2 { print dir "/" $2; real++ }
  NR > 1 && $3 == 1 && $4 != held && !seen { print dir "/" $2; seen = 1 }
  NR > 1 && $3 == 1 && $4 == held && !unseen { print dir "/" $2; unseen = 1 }' "$data/train.csv")
"$bin" predict --checkpoint "$run/checkpoints/best.pt" "${samples[@]}"

echo "== 5/5 int8: calibrating the checkpoint for CPU inference, checked against fp32"
"$bin" quantize --checkpoint "$run/checkpoints/best.pt" --data "$data/train.csv" \
  --split-file "$run/split.json" --out "$run/checkpoints/best-int8.pt" --json "$run/quantize.json"
"$bin" predict --checkpoint "$run/checkpoints/best-int8.pt" "${samples[@]}"

echo "== summary"
python3 - "$run/eval.json" "$run/quantize.json" "$held_out" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
metrics = m.get("metrics", m)
q = json.load(open(sys.argv[2]))
held = sys.argv[3]
sources = {s["source"]: s for s in metrics["sources"]}
unseen = sources[held]
# In distribution: every test image but the held-out family's (real images and the families the
# model trained on), each judged at the threshold.
seen = [s for name, s in sources.items() if name != held]
seen_count = sum(s["count"] for s in seen)
seen_accuracy = sum(s["accuracy"] * s["count"] for s in seen) / seen_count
families = ", ".join(f"{s['source']} {s['accuracy_vs_real']:.3f}" for s in seen if s["count_real"] == 0)
print(f"family never seen in training ({held}, {unseen['count_fake']} images against the "
      f"{metrics['count_real']} real test images): accuracy {unseen['accuracy_vs_real']:.4f}, "
      f"ROC-AUC {unseen['roc_auc_vs_real']:.4f}")
print(f"in distribution (real images and the families it trained on, {seen_count} images): "
      f"accuracy {seen_accuracy:.4f}; per family vs real: {families}")
print(f"whole test split: accuracy {metrics['accuracy']:.4f}  ROC-AUC {metrics['roc_auc']:.4f}  "
      f"macro-F1 {metrics['macro_f1']:.4f}  ({metrics['count']} images)  in {sys.argv[4]} s")
print(f"int8: accuracy {q['int8']['accuracy']:.4f} (fp32 {q['fp32']['accuracy']:.4f}), "
      f"verdicts agree on {100 * q['verdict_agreement']:.1f}% of {q['images']} images, "
      f"{q['int8_images_per_s']:.0f} vs {q['fp32_images_per_s']:.0f} images/s")
PY
