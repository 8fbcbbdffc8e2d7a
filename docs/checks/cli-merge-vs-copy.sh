#!/usr/bin/env bash
# The plain CLI against a raw copy, as a user runs it: `mergeval merge` (fresh JVM, --threads 2,
# default options, provenance included) of the pair `bin/mergeval bench merge --work WORK --size 1GB`
# generated, linear and ties, for each build tree given, against `cat` of both inputs writing one output.
# Every output is deleted first and written back (sync) before the next run starts, so that no run
# pays for the one before; the digest cache is off, so every run hashes its inputs (a first merge).
# Usage: docs/checks/cli-merge-vs-copy.sh WORK BUILD_TREE... (e.g. /tmp/perf-w . ../old-checkout)
set -u
work=$1; shift
base=$(ls -d "$work"/base-*L | head -1); tune=$(ls -d "$work"/tune-*L | head -1)
out=$work/cli-out; cfg=$(mktemp -d)
export MERGEVAL_DIGEST_CACHE=off
printf 'merge_method: linear\nmodels:\n  - model: %s\n    parameters: {weight: 0.5}\n  - model: %s\n    parameters: {weight: 0.5}\n' \
  "$base" "$tune" > "$cfg/linear.yml"
printf 'merge_method: ties\nbase_model: %s\nmodels:\n  - model: %s\n    parameters: {weight: 1.0, density: 0.5}\n' \
  "$base" "$tune" > "$cfg/ties.yml"
for round in 1 2 3; do
  rm -rf "$out"; mkdir -p "$out"; sync
  /usr/bin/time -f "round $round copy %e s %U user %S sys" \
    bash -c "cat '$base'/*.safetensors > /dev/null; cat '$tune'/*.safetensors > '$out/copy'"
  for build in "$@"; do
    for method in linear ties; do
      rm -rf "$out"; sync
      /usr/bin/time -f "round $round $build $method %e s %U user %S sys" \
        "$build/bin/mergeval" merge "$cfg/$method.yml" "$out" --threads 2 2>&1 | grep -E "^round|phases"
    done
  done
done
rm -rf "$cfg" "$out"
