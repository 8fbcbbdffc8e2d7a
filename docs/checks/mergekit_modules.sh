#!/usr/bin/env bash
# Writes pipeline/src/main/resources/dev/mergeval/merge/mergekit-modules.tsv from a mergekit checkout:
# for each modular architecture definition (a vision-language model's text decoder, vision tower and
# projector), one line per weight of each module: definition, module, weight prefix, the config.json
# key of its layer count, pre/layer/post, the weight's name and its aliases (| between them).
# Usage: docs/checks/mergekit_modules.sh MERGEKIT_GIT_DIR [COMMIT] > FILE
set -euo pipefail
repo=$1
commit=${2:-HEAD}
echo "# mergekit's modular architecture definitions (mergekit/_data/architectures/*.json at $(git -C "$repo" rev-parse --short=8 "$commit")):"
echo "# definition, module, weight_prefix, num_layers_config_key, pre|layer|post, name|alias|..."
echo "# Regenerate with docs/checks/mergekit_modules.sh when mergekit adds one."
for f in $(git -C "$repo" ls-tree --name-only "$commit" mergekit/_data/architectures/ | grep '\.json$'); do
  git -C "$repo" show "$commit:$f" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("kind") != "modular":
    sys.exit(0)
for module, m in d["modules"].items():
    a = m["architecture"]
    head = [sys.argv[1], module, m.get("weight_prefix") or "", a.get("num_layers_config_key") or ""]
    for kind, weights in (("pre", a.get("pre_weights", [])),
                          ("layer", a.get("layer_templates", {}).get("weights", [])),
                          ("post", a.get("post_weights", []))):
        for w in weights:
            print(*head, kind, "|".join([w["name"]] + list(w.get("aliases") or [])), sep="\t")
' "$(basename "$f" .json)"
done
