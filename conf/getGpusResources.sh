#!/usr/bin/env bash
# Spark GPU discovery script (spark.{executor,worker}.resource.gpu.discoveryScript): prints the
# ResourceInformation JSON for the GPUs this executor may use, e.g.
#   {"name": "gpu", "addresses": ["0", "1"]}
# Addresses are nvidia-smi indices. With no NVIDIA driver it prints an empty list, and Spark then
# refuses to start a GPU executor with a clear error instead of running it on the CPU by mistake.
set -euo pipefail
addresses=""
if command -v nvidia-smi > /dev/null 2>&1; then
  addresses="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null \
    | tr -d ' ' | grep -E '^[0-9]+$' | sed 's/.*/"&"/' | paste -sd, -)" || addresses=""
fi
echo "{\"name\": \"gpu\", \"addresses\": [${addresses}]}"
