#!/usr/bin/env bash
# Fine-tuning on a generated library: 40 videos (8 colours x 5 patterns, 4 s each) whose eight
# subtitle cues describe them in eight phrasings, a tiny random-weight model whose vocabulary
# has the words as whole tokens (as bert-base-uncased has), then `vclip finetune` with held-out
# recall before and after. The suite's learning test (tests/cli_finetune_learns.rs) builds the
# same library. Usage: scripts/finetune-demo.sh [EPOCHS] [extra vclip finetune options…]
# (e.g. `--shuffle-labels` for the control; scripts/finetune-ablation.sh for the paper's ablation). Needs ffmpeg and a built vclip: VCLIP names it
# (default target/release/vclip, from `cargo build --release -p vclip`).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-250}
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
# No phrasing starts with a word another one ends with: consecutive cues that overlap at their
# edges would be taken for rolling captions and merged (docs/model-notes.md §4.1).
templates=(
  "the %c %p"
  "this is %c with %p"
  "look at the %p in %c"
  "we see %p on %c"
  "a %c screen showing %p"
  "here is %p over a %c background"
  "the colour is %c and the pattern is %p"
  "all %c with %p here"
)
words="red green blue yellow purple orange white black plain grid box noise stripes"
words+=" this is with look at the in on screen showing over background colour and pattern"
words+=" here we see all"
i=0
for c in "${cols[@]}"; do
  for p in "${pats[@]}"; do
    f="$work/videos/${c}_$p"
    [[ -f $f.mp4 ]] || ffmpeg -loglevel error -y -f lavfi -i "color=c=$c:size=160x120:rate=10" \
      -vf "${filter[$p]}" -t 4 -pix_fmt yuv420p -c:v libx264 -preset ultrafast "$f.mp4"
    : >"$f.srt"
    for k in 0 1 2 3 4 5 6 7; do
      t=${templates[$(((k + i) % 8))]}
      t=${t//%c/$c}
      t=${t//%p/$p}
      printf '%d\n00:00:0%d,%d00 --> 00:00:0%d,%d00\n%s\n\n' $((k + 1)) $((k / 2)) $((k % 2 * 5)) \
        $(((k + 1) / 2)) $(((k + 1) % 2 * 5)) "$t" >>"$f.srt"
    done
    i=$((i + 1))
  done
done
if [[ ! -f $work/model/config.json ]]; then
  # ("a" is already a token: one of the single letters.)
  # The synthetic vocabulary with the library's words in place of its filler tokens.
  "$vclip" models init-random --preset tiny --seed 3 "$work/synthetic" >/dev/null
  awk -v words="$words" 'BEGIN { n = split(words, w, " ") } /^tok[0-9]+$/ && j < n { print w[++j]; next } { print }' \
    "$work/synthetic/vocab.txt" >"$work/vocab.txt"
  "$vclip" models init-random --preset tiny --seed 3 --vocab "$work/vocab.txt" "$work/model"
fi
"$vclip" import "$work/videos" --library "$work/lib" --model "$work/model"
# SETUP_ONLY=1: build the library and the model, train nothing (scripts/finetune-ablation.sh).
[[ ${SETUP_ONLY:-0} == 1 ]] && exit 0
out="$work/tuned-$(date +%s)"
time "$vclip" finetune --library "$work/lib" --model "$work/model" --epochs "$epochs" \
  --batch-videos 10 --pairs-per-video 1 --holdout 0.25 --lr 3e-3 --warmup-steps 20 \
  --batching random --text-tokens 1-8 --eval-every 10 --out "$out" --no-reindex "$@"
