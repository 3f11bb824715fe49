#!/usr/bin/env bash
# Fine-tuning on a generated library: 40 videos (8 colours x 5 patterns) whose subtitles
# describe them, a tiny random-weight model, then `vclip finetune` with held-out recall before
# and after. Usage: scripts/finetune-demo.sh [EPOCHS] [extra vclip finetune options…]
# (e.g. `--shuffle-labels` for the ablation). Needs ffmpeg and a built vclip: VCLIP names it
# (default target/release/vclip, from `cargo build --release -p vclip`).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-300}
shift || true
vclip=${VCLIP:-target/release/vclip}
work=${WORK:-target/finetune-demo}
mkdir -p "$work/videos"
cols=(red green blue yellow purple orange white black)
pats=(plain grid box noise stripes)
declare -A filter=(
  [plain]=null
  [grid]="drawgrid=w=16:h=16:t=3:c=gray"
  [box]="drawbox=x=50:y=30:w=60:h=60:c=gray:t=fill"
  [noise]="noise=alls=80:allf=t"
  [stripes]="drawgrid=w=32:h=1000:t=12:c=gray"
)
for c in "${cols[@]}"; do
  for p in "${pats[@]}"; do
    f="$work/videos/${c}_$p"
    [[ -f $f.mp4 ]] || ffmpeg -loglevel error -y -f lavfi -i "color=c=$c:size=160x120:rate=10" \
      -vf "${filter[$p]}" -t 6 -pix_fmt yuv420p -c:v libx264 -preset ultrafast "$f.mp4"
    printf '1\n00:00:00,000 --> 00:00:01,500\n%s %s\n\n2\n00:00:01,500 --> 00:00:03,000\nthis is %s with %s\n\n3\n00:00:03,000 --> 00:00:04,500\nlook at the %s in %s\n\n4\n00:00:04,500 --> 00:00:06,000\n%s on %s\n' \
      "$c" "$p" "$c" "$p" "$p" "$c" "$p" "$c" >"$f.srt"
  done
done
[[ -f $work/model/config.json ]] || "$vclip" models init-random --preset tiny --seed 3 "$work/model"
"$vclip" import "$work/videos" --library "$work/lib" --model "$work/model"
out="$work/tuned-$(date +%s)"
time "$vclip" finetune --library "$work/lib" --model "$work/model" --epochs "$epochs" \
  --batch-videos 10 --pairs-per-video 2 --holdout 0.25 --lr 1e-3 --warmup-steps 20 \
  --out "$out" --no-reindex "$@"
