#!/usr/bin/env bash
# Writes pipeline/src/main/resources/dev/mergeval/merge/mergekit-architectures.tsv from a mergekit
# checkout: one line per architecture definition (its file, model_type, the architectures it is for),
# then the two definitions mergekit builds in code (architecture/moe_defs.py).
# Usage: docs/checks/mergekit_architectures.sh MERGEKIT_GIT_DIR [COMMIT] > FILE
set -euo pipefail
repo=$1
commit=${2:-HEAD}
echo "# mergekit's architecture definitions (mergekit/_data/architectures/*.json at $(git -C "$repo" rev-parse --short=8 "$commit"), and the two it builds"
echo "# in code, moe_defs.py): definition, its model_type, the config.json architectures it is for."
echo "# Regenerate with docs/checks/mergekit_architectures.sh when mergekit adds one."
for f in $(git -C "$repo" ls-tree --name-only "$commit" mergekit/_data/architectures/ | grep '\.json$'); do
  git -C "$repo" show "$commit:$f" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sys.argv[1], d.get("model_type", d.get("expected_model_type")), ",".join(d["architectures"]), sep="\t")
' "$(basename "$f" .json)"
done
printf 'moe_defs.AfmoeModuleArchitecture\tafmoe\tAfmoeForCausalLM\n'
printf 'moe_defs.Glm4MoeModuleArchitecture\tglm4_moe\tGlm4MoeForCausalLM\n'
