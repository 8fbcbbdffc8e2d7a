#!/usr/bin/env python3
"""Holds a `mergeval merge` output of a `slices:` (or `models:`) config to mergekit's own merge code.

Usage, with torch (Debian's python3-torch is enough) and a mergekit source tree at a6e40288 (e.g.
`git archive a6e40288 mergekit | tar -x -C DIR`), from the directory the config's model paths are
relative to:
    /usr/bin/python3 docs/checks/mergekit_slices_check.py DIR CONFIG.yml OUT_DIR

Every output tensor is recomputed by mergekit's registered method (its make_task and task class,
as docs/checks/mergekit_executed_golden.py runs them, parameters through its config.py
evaluate_setting) from the tensors mergekit's planner (plan.py) routes to it: the pre-layer
weights from the first slice's sources, then each slice's layers, renumbered, at t = j / (n - 1),
then the post-layer weights from the last slice's sources, both at the module-level t = 0; a
`models:` config is one slice over every layer of its models (the base model added). The planner's
routing is what this script computes itself (plan.py needs transformers for the architecture);
the arithmetic and the parameter resolution are mergekit's. As mergekit's GatherTensors does, the
inputs are cast to the config's `dtype` before the method runs (Mergeval merges the stored values
and rounds once: docs/merge-methods.md, deviation 1), so with a 16-bit `dtype` the two differ by
that rounding. Prints the worst difference per kind of tensor in units in the last place of the output's
dtype at the tensor's largest magnitude, and the output's num_hidden_layers; exit 1 where an element
differs by more than two such units (one rounding each, and mergekit's cast of the inputs to a
16-bit `dtype`), or, in a float32 output, by more than 1e-3 of that magnitude (mergekit's float32
norms and dot products over a tensor of millions of elements drift further than an ulp), or where
the names, shapes or layer count differ.
"""
import importlib
import json
import os
import re
import sys

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
golden = importlib.import_module("mergekit_executed_golden")
extract = importlib.import_module("mergekit_extract_lora_check")

LAYER = re.compile(r"\.layers\.(\d+)\.")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
MANTISSA_BITS = {torch.float32: 23, torch.float16: 10, torch.bfloat16: 7}
MIN_EXPONENT = {torch.float32: -149, torch.float16: -24, torch.bfloat16: -133}  # the subnormal ulp


def main(root, config_path, out_dir):
    registry, weight_info, immutable_map, config_module = golden.install_stand_ins(root)
    with open(config_path) as f:
        config = yaml.safe_load(f)
    base = config.get("base_model")
    models = {}

    def model(path):
        if path not in models:
            with open(os.path.join(path, "config.json")) as f:
                cfg = json.load(f)
            models[path] = (extract.read_model(path), cfg["num_hidden_layers"])
        return models[path]

    if config.get("slices"):
        slices = config["slices"]
    else:  # plan.py's normalize_config: one slice over every layer, the base model added
        sources = [{"model": m["model"], "layer_range": [0, model(m["model"])[1]],
                    "parameters": m.get("parameters")} for m in config["models"]]
        if base and base not in [m["model"] for m in config["models"]]:
            sources.append({"model": base, "layer_range": [0, model(base)[1]]})
        slices = [{"sources": sources}]
    dtype = DTYPES.get(config.get("dtype"), None)
    method = registry[config["merge_method"]]

    setting = lambda v: golden.as_setting(v, config_module)

    def merge(out_name, in_names, the_slice, t):
        """plan_tensor: the parameters as ConfigReader.parameter finds them, then make_task/execute."""
        refs = [s["model"] for s in the_slice["sources"]]
        blocks = [{k: setting(v) for k, v in (b or {}).items()}
                  for b in (the_slice.get("parameters"), config.get("parameters"))]

        def value(name, key, default, own=None):
            for where in ([own] if own is not None else []) + blocks:
                if key in where:
                    v = config_module.evaluate_setting(name, where[key], t)
                    if v is not None:
                        return v
            return default

        params = immutable_map({p.name: value(out_name, p.name, getattr(p, "default_value", None))
                                for p in method.parameters()})
        per_model = immutable_map({s["model"]: immutable_map({p.name: value(
            in_names[i], p.name, getattr(p, "default_value", None),
            {k: setting(v) for k, v in (s.get("parameters") or {}).items()})
            for p in method.tensor_parameters()}) for i, s in enumerate(the_slice["sources"])})
        tensors = {}
        for i, ref in enumerate(refs):
            x = model(ref)[0][in_names[i]]
            tensors[ref] = x.to(dtype) if dtype is not None else x
        task = method.make_task(output_weight=weight_info(name=out_name, is_embed="embed" in out_name),
                                tensors=None, parameters=params, tensor_parameters=per_model,
                                base_model=the_slice.get("base_model") or base)  # ConfigReader.base_model
        return task.execute(tensors=tensors)

    expected = {}
    first = model(slices[0]["sources"][0]["model"])[0]
    outside = [n for n in first if not LAYER.search(n)]
    for name in outside:  # pre-layer weights from the first slice
        if "embed" in name:
            expected[name] = merge(name, [name] * len(slices[0]["sources"]), slices[0], 0.0)
    k = 0
    for s in slices:
        start = s["sources"][0]["layer_range"][0]
        n = s["sources"][0]["layer_range"][1] - start
        for j in range(n):
            t = j / (n - 1) if n > 1 else 1.0
            for name in model(s["sources"][0]["model"])[0]:
                m = LAYER.search(name)
                if m and int(m.group(1)) == start + j:
                    in_names = [name.replace(f".layers.{start + j}.", f".layers.{src['layer_range'][0] + j}.")
                                for src in s["sources"]]
                    out_name = name.replace(f".layers.{start + j}.", f".layers.{k}.")
                    expected[out_name] = merge(out_name, in_names, s, t)
            k += 1
    last = model(slices[-1]["sources"][0]["model"])[0]
    for name in [n for n in last if not LAYER.search(n)]:  # post-layer weights from the last slice
        if "embed" not in name:
            expected[name] = merge(name, [name] * len(slices[-1]["sources"]), slices[-1], 0.0)

    ours = extract.read_model(out_dir)
    with open(os.path.join(out_dir, "config.json")) as f:
        layers_out = json.load(f)["num_hidden_layers"]
    ok = sorted(ours) == sorted(expected) and layers_out == k
    print(f"tensors: ours {len(ours)}, mergekit's plan {len(expected)}; num_hidden_layers ours {layers_out},"
          f" mergekit's {k}")
    worst = {}
    for name in sorted(expected):
        if name not in ours or tuple(ours[name].shape) != tuple(expected[name].shape):
            print(f"{name}: missing or of another shape in ours")
            ok = False
            continue
        e, o = expected[name].double().numpy(), ours[name].double().numpy()
        # In units of the last place of the output's dtype at the tensor's largest magnitude: the
        # methods' roundings scale with their inputs, not with each (possibly cancelled) result.
        _, exponent = np.frexp(np.max(np.abs(e)))
        ulp = np.ldexp(1.0, max(int(exponent) - 1 - MANTISSA_BITS[ours[name].dtype], MIN_EXPONENT[ours[name].dtype]))
        diff = float(np.max(np.abs(e - o)))
        d, rel = diff / ulp, diff / max(float(np.max(np.abs(e))), 1e-30)
        kind = LAYER.sub(".layers.N.", name)
        w = worst.get(kind, (0.0, 0.0))
        worst[kind] = (max(w[0], d), max(w[1], rel))
        # float32 output: mergekit's own float32 sums over a large tensor (slerp's norms and dot
        # product) are off by more than an ulp; Mergeval's are double (deviation 1).
        ok &= d <= 2.0 or (ours[name].dtype == torch.float32 and rel <= 1e-3)
    for kind, (d, rel) in sorted(worst.items()):
        print(f"{kind:50s} worst |ours - mergekit|: {d:9.3f} ulp of the output dtype at max|mergekit|,"
              f" {rel:.2e} of it")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
