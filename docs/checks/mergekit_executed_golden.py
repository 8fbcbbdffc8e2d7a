#!/usr/bin/env python3
"""Runs mergekit's own code for the cases of pipeline/src/test/resources/mergekit-methods-golden.json.

mergekit_methods_golden.py transliterates the newer methods (sce, karcher, multislerp, nearswap,
arcee_fusion, ram, ramplus_tl) to numpy; this script executes mergekit itself on torch: its
merge_methods/*.py and sparsify.py through the registry's make_task and task classes, and its
config.py evaluate_setting for gradients and filters. It records the result of every case as
"expected_mergekit" (float32 inputs, mergekit's float32 numerics) and adds cases of the
established methods (linear, slerp, nuslerp, model_stock, task_arithmetic, ties, breadcrumbs), so
MergekitMethodsGoldenTest holds Mergeval to what mergekit computes, not to a reading of it.

Usage, from the repository root, with torch (Debian's python3-torch is enough) and a mergekit
source tree at the golden file's commit (e.g. `git archive a6e40288 mergekit | tar -x -C DIR`):
    /usr/bin/python3 docs/checks/mergekit_executed_golden.py DIR pipeline/src/test/resources/mergekit-methods-golden.json [--write | --bfloat16-report]

Without an option it only compares with the transliteration. --write stores mergekit's results.
--bfloat16-report writes nothing and prints how far mergekit's bf16 arithmetic is from its float32
arithmetic on each case (inputs rounded to bf16): what separates a bf16 mergekit run from
Mergeval's (docs/merge-methods.md, deviation 1).

mergekit's CLI also needs transformers, pydantic 2, peft and huggingface_hub, which this machine
cannot install; only the framework around the methods is replaced, by the minimal stand-ins below
(decorators, base classes, a WeightInfo), so that the functions and task classes that do the
arithmetic are mergekit's own; the planner's layer position t is computed as its plan.py does.
What the stand-ins decide is what mergekit's framework decides (see easy_define._execute): a
task's tensors in mergekit's gather order (the listed models, then the base model if it is not
listed); for the decorated methods the config's model order (mergekit takes a Python set of model
references, whose order varies from run to run), the base model's tensor apart where the function
takes base_tensor, first among the tensors where it does not.
"""
import importlib
import inspect
import json
import re
import sys
import types
import typing

import numpy as np
import torch
import yaml


DECORATED = {}  # name -> function, for the methods easy_define's @merge_method registers


def install_stand_ins(root):
    """Registers the mergekit package over ROOT with stand-ins for its framework modules."""
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Fields:
        """What a pydantic model does here: keyword arguments become attributes."""
        def __init__(self, **fields):
            self.__dict__.update(fields)

        def __init_subclass__(cls, **options):  # frozen=True and the like
            super().__init_subclass__()

    class Task(Fields, typing.Generic[typing.TypeVar("T")]):
        pass

    class MergeMethod(Fields):
        def tensor_parameters(self):
            return []

        def parameters(self):
            return []

    class BaseModel(Fields):
        pass

    class ImmutableMap(dict):
        @property
        def data(self):
            return self

    class WeightInfo(Fields):
        pass

    def merge_method(name, **_):
        def register(fn):
            DECORATED[name] = fn
            return fn
        return register

    module("pydantic", BaseModel=BaseModel, Field=lambda *a, **k: None,
           model_validator=lambda **_: (lambda f: f))
    module("mergekit", __path__=[root + "/mergekit"])
    module("mergekit.merge_methods", __path__=[root + "/mergekit/merge_methods"])
    module("mergekit.graph", Task=Task)
    module("mergekit.architecture", WeightInfo=WeightInfo)
    module("mergekit.common", ImmutableMap=ImmutableMap, ModelReference=str)
    module("mergekit.merge_methods.base", ConfigParameterDef=Fields, MergeMethod=MergeMethod,
           MergeTensorInput=object)
    module("mergekit.merge_methods.easy_define", merge_method=merge_method)
    module("mergekit.tokenizer", __path__=[])
    module("mergekit.tokenizer.config", TokenizerConfig=Fields)
    for name in ("sce", "multislerp", "nearswap", "ram"):
        importlib.import_module("mergekit.merge_methods." + name)
    registry = importlib.import_module("mergekit.merge_methods.registry").REGISTERED_MERGE_METHODS
    config_module = importlib.import_module("mergekit.config")  # ConditionalParameter, evaluate_setting
    return registry, WeightInfo, ImmutableMap, config_module


def run_decorated(fn, models, base, x, params, model_params):
    """easy_define's _execute: the base tensor apart where the function takes one, else first."""
    sig = inspect.signature(fn)
    refs = [m for m in models if m != base]
    kwargs = {}
    if "base_tensor" in sig.parameters:
        kwargs["base_tensor"] = x[base] if base is not None else None
    elif base is not None:
        refs = [base] + refs
    for name, p in sig.parameters.items():
        if name in ("tensors", "base_tensor"):
            continue
        if typing.get_origin(p.annotation) is list:
            kwargs[name] = [model_params[m].get(name, p.default) for m in refs]
        elif name in params:
            kwargs[name] = params[name]
    return fn(tensors=[x[m] for m in refs], **kwargs)


def layer_position(name, num_layers):
    """mergekit's planner: layer i of L at i / (L - 1) (1 when L == 1); every other tensor (its
    module's pre- and post-layer weights) with the module-level reader, at 0."""
    m = re.search(r"\.layers\.(\d+)\.", name)
    if m is None:
        return 0.0
    return int(m.group(1)) / (num_layers - 1) if num_layers > 1 else 1.0


def as_setting(v, config_module):
    """A YAML value as mergekit's pydantic config holds it: filters as ConditionalParameter, and
    numeric strings (YAML 1.1 reads 1e-4 as one) as floats."""
    if isinstance(v, str):
        return float(v)
    if isinstance(v, dict):
        return config_module.ConditionalParameter(value=as_setting(v["value"], config_module),
                                                  filter=v.get("filter"))
    if isinstance(v, list):
        return [as_setting(e, config_module) for e in v]
    return v


def run_case(case, registry, weight_info, immutable_map, config_module, compute=torch.float32):
    """mergekit's result for each tensor of CASE, its inputs cast to COMPUTE first (GatherTensors'
    dtype), as float32 arrays."""
    config = yaml.safe_load(case["yaml"])
    method = config["merge_method"]

    setting = lambda v: as_setting(v, config_module)
    settings = {k: setting(v) for k, v in (config.get("parameters") or {}).items()}
    base = config.get("base_model")
    models = [m["model"] for m in config["models"]]
    model_settings = {m["model"]: {k: setting(v) for k, v in (m.get("parameters") or {}).items()}
                      for m in config["models"]}
    if base is not None and base not in models:
        models = models + [base]  # mergekit's gather order: the listed models, then the base
        model_settings[base] = {}
    results = []
    for t in case["tensors"]:
        name, shape = t["name"], t["shape"]
        pos = layer_position(name, case["num_layers"])

        def value(model, key, default):  # ConfigReader.parameter: the model's own, then the global
            for where in ([model_settings[model]] if model else []) + [settings]:
                if key in where:
                    v = config_module.evaluate_setting(name, where[key], pos)
                    if v is not None:
                        return v
            return default

        x = {m: torch.tensor(v, dtype=torch.float32).reshape(shape).to(compute) for m, v in t["inputs"].items()}
        if method in DECORATED:
            params = {k: value(None, k, None) for k in settings}
            model_params = {m: {k: value(m, k, None) for k in model_settings[m]} for m in models}
            out = run_decorated(DECORATED[method], models, base, x, params, model_params)
        else:
            mm = registry[method]
            resolved = immutable_map({p.name: value(None, p.name, getattr(p, "default_value", None))
                                      for p in mm.parameters()})
            per_model = immutable_map({m: immutable_map(
                {p.name: value(m, p.name, getattr(p, "default_value", None)) for p in mm.tensor_parameters()})
                for m in models})
            task = mm.make_task(output_weight=weight_info(name=name, is_embed=False), tensors=None,
                                parameters=resolved, tensor_parameters=per_model, base_model=base)
            out = task.execute(tensors={m: x[m] for m in models})
        results.append(out.to(torch.float32).reshape(-1).numpy())
    return results


SHAPES = {"model.layers.0.input_layernorm.weight": (16,), "model.layers.0.self_attn.q_proj.weight": (8, 12),
          "model.layers.1.mlp.down_proj.weight": (6, 10)}
GRADIENT_SHAPES = {"model.embed_tokens.weight": (10, 8), "model.layers.0.self_attn.q_proj.weight": (8, 8),
                   "model.layers.1.mlp.up_proj.weight": (12, 8), "model.layers.2.self_attn.o_proj.weight": (8, 8),
                   "model.norm.weight": (8,), "lm_head.weight": (10, 8)}
ESTABLISHED = "mergekit-executed, established method"


def established_cases():
    """Cases of the methods before sce and the others, with only mergekit's result: their inputs
    come from a seeded generator, three tensors per case (six, over three layers, for the
    gradients). DARE and DELLA draw with torch's global
    generator, which Mergeval does not reproduce (it keys its draws by tensor name), so they have none."""
    rng = np.random.default_rng(20261206)

    def tensors(models, scale, shapes=SHAPES):
        out = {}
        for name, shape in shapes.items():
            base = rng.normal(0, 1, shape) + (1.0 if len(shape) == 1 else 0.0)
            out[name] = {m: (base + rng.normal(0, scale, shape) if m != "base" else base).astype(np.float32)
                         for m in models}
        return out

    three = "models:\n  - {model: a, parameters: {weight: 1.0}}\n  - {model: b, parameters: {weight: 0.3}}\n" \
            "  - {model: c, parameters: {weight: 0.5}}\n"
    gta = "base_model: base\nmodels:\n  - {model: a, parameters: {weight: 1.0, density: 0.5}}\n" \
          "  - {model: b, parameters: {weight: 0.5, density: 0.7}}\n  - {model: c, parameters: {weight: 0.3, density: 0.3}}\n"
    # gamma * n >= 1 in every tensor: with int(gamma * n) == 0 mergekit drops the whole task vector
    # (docs/merge-methods.md, deviation 5), which Mergeval does not copy.
    crumbs = "base_model: base\nmodels:\n  - {model: a, parameters: {weight: 0.7, density: 0.8, gamma: 0.1}}\n" \
             "  - {model: b, parameters: {weight: 0.5, density: 0.6, gamma: 0.07}}\n"
    two = "models:\n  - {model: a, parameters: {weight: 0.7}}\n  - {model: b, parameters: {weight: 0.3}}\n"
    specs = [
        ("linear", "merge_method: linear\n" + three, ["a", "b", "c"], 0.3, "weights 1.0, 0.3, 0.5"),
        ("linear", "merge_method: linear\n" + three + "parameters: {normalize: false}\n", ["a", "b", "c"], 0.3,
         "normalize false"),
        ("slerp", "merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.3}\n",
         ["a", "b"], 0.5, "t 0.3"),
        ("nuslerp", "merge_method: nuslerp\n" + two, ["a", "b"], 0.5, "flattened"),
        ("nuslerp", "merge_method: nuslerp\n" + two + "parameters: {nuslerp_flatten: false}\n", ["a", "b"], 0.5,
         "row by row"),
        ("nuslerp", "merge_method: nuslerp\n" + two + "parameters: {nuslerp_flatten: false, nuslerp_row_wise: true}\n",
         ["a", "b"], 0.5, "column by column"),
        ("nuslerp", "merge_method: nuslerp\nbase_model: base\n" + two, ["base", "a", "b"], 0.3, "task vectors"),
        ("model_stock", "merge_method: model_stock\nbase_model: base\nmodels: [{model: a}, {model: b}, {model: c}]\n",
         ["base", "a", "b", "c"], 0.2, "three fine-tunes"),
        ("model_stock", "merge_method: model_stock\nbase_model: base\nmodels: [{model: a}, {model: b}]\n"
         "parameters: {filter_wise: true}\n", ["base", "a", "b"], 0.2, "filter_wise"),
        ("task_arithmetic", "merge_method: task_arithmetic\n" + gta + "parameters: {lambda: 0.8}\n",
         ["base", "a", "b", "c"], 0.1, "lambda 0.8, densities ignored"),
        ("ties", "merge_method: ties\n" + gta, ["base", "a", "b", "c"], 0.1, "densities 0.5, 0.7, 0.3"),
        ("ties", "merge_method: ties\n" + gta + "parameters: {normalize: false, int8_mask: true, lambda: 1.5}\n",
         ["base", "a", "b", "c"], 0.1, "normalize false, lambda 1.5"),
        ("ties", "merge_method: ties\n" + gta + "parameters: {rescale: true}\n", ["base", "a", "b", "c"], 0.1,
         "L1 rescale"),
        ("breadcrumbs", "merge_method: breadcrumbs\n" + crumbs, ["base", "a", "b"], 0.1, "gamma 0.1, 0.07"),
        ("breadcrumbs_ties", "merge_method: breadcrumbs_ties\n" + crumbs, ["base", "a", "b"], 0.1,
         "gamma 0.1, 0.07"),
    ]
    # Gradients over three layers, reaching the tensors before and after them (mergekit's t = 0),
    # with mergekit's examples' filters (examples/gradient-slerp.yml, examples/ties.yml).
    ties_example = ("base_model: base\nmodels:\n  - {model: a, parameters: {density: [1, 0.7, 0.1], weight: 1.0}}\n"
                    "  - {model: b, parameters: {density: 0.5, weight: [0, 0.3, 0.7, 1]}}\n"
                    "  - model: c\n    parameters:\n      density: 0.33\n"
                    "      weight: [{filter: mlp, value: 0.5}, {value: 0}]\n")
    gradient_specs = [
        ("slerp", "merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: [0, 1]}\n",
         ["a", "b"], 0.5, "gradient t: [0, 1]"),
        ("slerp", "merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters:\n  t:\n"
         "    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}\n    - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}\n"
         "    - {value: 0.5}\n", ["a", "b"], 0.5, "examples/gradient-slerp.yml's t"),
        ("ties", "merge_method: ties\n" + ties_example + "parameters: {normalize: true, int8_mask: true}\n",
         ["base", "a", "b", "c"], 0.1, "examples/ties.yml's gradients and filter"),
        ("linear", "merge_method: linear\nmodels:\n  - {model: a, parameters: {weight: [1, 0.2]}}\n"
         "  - {model: b, parameters: {weight: [0.1, 0.9]}}\n", ["a", "b"], 0.3, "weight gradients"),
    ]
    cases = []
    for shapes, num_layers, group in ((SHAPES, 2, specs), (GRADIENT_SHAPES, 3, gradient_specs)):
        for method, yml, models, scale, note in group:
            t = tensors(models, scale, shapes)
            cases.append({"method": method, "yaml": yml, "num_layers": num_layers, "note": note, "source": ESTABLISHED,
                          "tensors": [{"name": name, "shape": list(shapes[name]),
                                       "inputs": {m: [float(v) for v in t[name][m].reshape(-1)] for m in models}}
                                      for name in shapes]})
    return cases


def main(root, path, write):
    registry, weight_info, immutable_map, config_module = install_stand_ins(root)
    with open(path) as f:
        golden = json.load(f)
    golden["cases"] = [c for c in golden["cases"] if c.get("source") != ESTABLISHED] + established_cases()
    worst_overall = 0.0
    for case in golden["cases"]:
        outs = run_case(case, registry, weight_info, immutable_map, config_module)
        worst = 0.0
        for t, out in zip(case["tensors"], outs):
            if write:
                t["expected_mergekit"] = [float(v) for v in out]
            if "expected_f32" not in t:
                continue
            ref = np.asarray(t["expected_f32"], dtype=np.float32)
            scale = max(float(np.max(np.abs(ref))), 1e-30)
            worst = max(worst, float(np.max(np.abs(out - ref))) / scale)
        worst_overall = max(worst_overall, worst)
        against = (f"mergekit vs transliteration worst |d|/max|y| = {worst:.2e}"
                   if "expected_f32" in case["tensors"][0] else "mergekit only")
        print(f"{case['method']:16s} {case['note'][:40]:40s} {against}")
    if write:
        golden["mergekit_executed"] = {"torch": torch.__version__, "runner": "docs/checks/mergekit_executed_golden.py"}
        with open(path, "w") as f:
            json.dump(golden, f)
            f.write("\n")
    print(f"worst over all cases: {worst_overall:.2e}")


def bfloat16_report(root, path):
    """How far mergekit's own bf16 arithmetic (BF16 inputs with no dtype, or dtype: bfloat16) is
    from its float32 arithmetic on the same values: every case's inputs rounded to bf16, merged both
    ways, the float32 result rounded to bf16 (what Mergeval's more accurate result rounds to, within
    an ulp)."""
    registry, weight_info, immutable_map, config_module = install_stand_ins(root)
    with open(path) as f:
        golden = json.load(f)
    for case in golden["cases"]:
        for t in case["tensors"]:
            t["inputs"] = {m: torch.tensor(v).to(torch.bfloat16).float().tolist() for m, v in t["inputs"].items()}
        accurate = run_case(case, registry, weight_info, immutable_map, config_module)
        in_bf16 = run_case(case, registry, weight_info, immutable_map, config_module, torch.bfloat16)
        worst, off, n = 0.0, 0, 0
        for a, b in zip(accurate, in_bf16):
            a = torch.from_numpy(a).to(torch.bfloat16).double().numpy()
            d = np.abs(a - b)
            worst = max(worst, float(np.max(d)) / max(float(np.max(np.abs(a))), 1e-30))
            off += int(np.sum(d > 2 * 2.0 ** -8 * np.maximum(np.abs(a), 2.0 ** -126)))
            n += d.size
        print(f"{case['method']:16s} {case['note'][:36]:36s} bf16 vs float32 arithmetic: worst |d| "
              f"{worst:.2e} of max|y|, {off}/{n} elements more than 2 bf16 ulps apart")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[3] == "--bfloat16-report":
        bfloat16_report(sys.argv[1], sys.argv[2])
        sys.exit(0)
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--write"):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], len(sys.argv) == 4)
