#!/usr/bin/env python3
"""Holds an adapter written by `mergeval extract-lora` to mergekit-extract-lora's own decomposition.

Usage, with torch (Debian's python3-torch is enough) and a mergekit source tree (e.g.
`git archive a6e40288 mergekit | tar -x -C DIR`):
    /usr/bin/python3 docs/checks/mergekit_extract_lora_check.py DIR BASE FT ADAPTER

For every module of ADAPTER (lora_A/lora_B, float32) it runs mergekit's
TaskVectorDecompositionTask (scripts/extract_lora.py, as it is: the SVD and the split of the
singular values) on FT - BASE at the adapter's rank, and compares the products
`lora_alpha / r * B @ A`, which do not depend on the signs an SVD picks for its singular vectors.
mergekit forms FT - BASE in the models' dtype (so BF16 differences are rounded to BF16 first) and
Mergeval in double precision; on float32 models the two should agree to float32 rounding. It also
compares the factors' scales (sqrt(S) on each side: row norms of A, column norms of B) and prints
the relative error mergekit's factors leave, beside the one in Mergeval's provenance. Only the
framework around the task is stood in for (a pydantic model, its imports); see
mergekit_executed_golden.py. Exit 1 where a product differs by more than 1e-4 of the difference's
norm.
"""
import importlib
import json
import os
import sys
import types
import typing

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        t = torch.from_numpy(a.astype(np.int32) << 16).view(torch.float32).to(torch.bfloat16) \
            if info["dtype"] == "BF16" else torch.from_numpy(a.copy())
        out[name] = t
    return out


def read_model(path):
    tensors = {}
    for f in sorted(os.listdir(path)):
        if f.endswith(".safetensors"):
            tensors.update(read_safetensors(os.path.join(path, f)))
    return tensors


def decomposition_task(root):
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m

    class Fields:
        def __init__(self, **fields):
            self.__dict__.update(fields)

        def __init_subclass__(cls, **options):
            super().__init_subclass__()

    class Task(Fields, typing.Generic[typing.TypeVar("T")]):
        pass

    stub = lambda *a, **k: None
    module("pydantic", BaseModel=Fields)
    decorator = lambda *a, **k: (lambda f: f)
    for name in ("click", "tqdm", "transformers"):
        module(name, __getattr__=lambda attr: decorator)  # click.command(...), click.option(...)
    module("mergekit", __path__=[root + "/mergekit"])
    module("mergekit.scripts", __path__=[root + "/mergekit/scripts"])
    module("mergekit.architecture", WeightInfo=Fields, arch_info_for_config=stub)
    module("mergekit.card", generate_card_lora=stub)
    module("mergekit.common", ModelReference=str, get_auto_cls=stub)
    module("mergekit.graph", Executor=Fields, Task=Task)
    module("mergekit.io", __path__=[])
    module("mergekit.io.tasks", FinalizeModel=Fields, LoadTensor=Fields, SaveTensor=Fields,
           TensorWriterTask=Fields)
    module("mergekit.io.tensor_writer", TensorWriter=Fields)
    module("mergekit.multigpu_executor", MultiGPUExecutor=Fields)
    module("mergekit.options", MergeOptions=Fields, PrettyPrintHelp=Fields, add_merge_options=stub)
    return importlib.import_module("mergekit.scripts.extract_lora").TaskVectorDecompositionTask


def main(root, base_dir, ft_dir, adapter_dir):
    task_cls = decomposition_task(root)
    base, ft = read_model(base_dir), read_model(ft_dir)
    adapter = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        config = json.load(f)
    with open(os.path.join(adapter_dir, "mergeval_provenance.json")) as f:
        provenance = {m["tensor"]: m for m in json.load(f)["modules"].values()}
    scale = config["lora_alpha"] / config["r"]
    worst = 0.0
    for name in sorted(adapter):
        if not name.endswith(".lora_A.weight"):
            continue
        module_name = name[len("base_model.model."):-len(".lora_A.weight")]
        tensor = module_name + ".weight"
        a, b = adapter[name].double(), adapter[name.replace("lora_A", "lora_B")].double()
        rank = provenance[tensor]["rank"]
        delta = ft[tensor] - base[tensor]  # mergekit's TaskVectorTask, in the models' dtype
        task = task_cls(weight_info=None, input_task=None, max_rank=rank)
        mk_a, mk_b = task.execute(delta)
        ours = scale * (b[:, :rank] @ a[:rank])
        theirs = mk_b.double() @ mk_a.double()
        exact = (ft[tensor].double() - base[tensor].double())
        norm = exact.norm().item()
        d = (ours - theirs).norm().item() / norm
        sv_ours = torch.sort(a[:rank].norm(dim=1) * b[:, :rank].norm(dim=0) * scale, descending=True).values
        sv_theirs = torch.sort(mk_a.double().norm(dim=1) * mk_b.double().norm(dim=0), descending=True).values
        d_sv = ((sv_ours - sv_theirs).abs().max() / sv_theirs[0]).item()
        err_theirs = (exact - theirs).norm().item() / norm
        worst = max(worst, d)
        print(f"{tensor:45s} rank {rank:3d}  |ours - mergekit| / |D| = {d:.2e}  singular values {d_sv:.1e}"
              f"  relative error: mergekit {err_theirs:.6f}, ours {provenance[tensor]['relative_error']:.6f}")
    print(f"worst |ours - mergekit| / |D| over the modules: {worst:.2e}")
    sys.exit(1 if worst > 1e-4 else 0)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
