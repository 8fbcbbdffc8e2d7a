#!/usr/bin/env bash
# Writes pipeline/src/main/resources/dev/mergeval/merge/mergekit-weights.tsv from a mergekit checkout:
# for each non-modular architecture definition (modular ones: docs/checks/mergekit_modules.sh), one
# line per weight: definition, pre/layer/post, optional or required, the weight's name and its
# aliases (| between them), then its tied names (mergekit loads a weight under the first of all
# these the model has; an alias is the same weight spelt otherwise, a tied name another weight that
# can stand in for it).
# Usage: docs/checks/mergekit_weights.sh MERGEKIT_GIT_DIR [COMMIT] > FILE
set -euo pipefail
repo=$1
commit=${2:-HEAD}
echo "# mergekit's architecture definitions' weights (mergekit/_data/architectures/*.json at $(git -C "$repo" rev-parse --short=8 "$commit"), modular ones"
echo "# aside): definition, pre|layer|post, optional|required, name|alias|..., tied name|..."
echo "# Regenerate with docs/checks/mergekit_weights.sh when mergekit adds one."
for f in $(git -C "$repo" ls-tree --name-only "$commit" mergekit/_data/architectures/ | grep '\.json$'); do
  git -C "$repo" show "$commit:$f" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("kind") == "modular":
    sys.exit(0)
for kind, weights in (("pre", d.get("pre_weights", [])),
                      ("layer", d.get("layer_templates", {}).get("weights", [])),
                      ("post", d.get("post_weights", []))):
    for w in weights:
        names = [w["name"]] + list(w.get("aliases") or [])
        print(sys.argv[1], kind, "optional" if w.get("optional") else "required", "|".join(names),
              "|".join(w.get("tied_names") or []), sep="\t")
' "$(basename "$f" .json)"
done
