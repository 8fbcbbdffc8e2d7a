#!/usr/bin/env python3
"""A generated pair of BF16 models made of many small tensors, as a mixture of experts has them.

Writes WORK/base-<L>L and WORK/tune-<L>L (the names docs/checks/cli-merge-vs-copy.sh looks for):
--tensors tensors of --shape each, named model.layers.<i>.mlp.experts.<j>.<proj>.weight, 1,024 to
a layer, in --shards safetensors files with an index (one file and no index for --shards 1), and a
config.json. Values are seeded normal draws (std 0.02), each model its own seed.
Needs numpy. Example (65,536 tensors of 64 x 128, 1.07 GB per model, 8 shards):

    python3 docs/checks/many_tensors_pair.py /tmp/x64k --tensors 65536 --shards 8 --shape 64,128
"""
import argparse
import json
import os
import struct

import numpy as np

PROJECTIONS = ("gate_proj", "up_proj", "down_proj", "router")
PER_LAYER = 1024


def write_shard(path, names, shape, rng):
    numel = int(np.prod(shape))
    header, offset = {}, 0
    for name in names:
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + 2 * numel]}
        offset += 2 * numel
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for start in range(0, len(names), 256):
            count = min(256, len(names) - start)
            x = rng.standard_normal(count * numel, dtype=np.float32) * np.float32(0.02)
            f.write((x.view(np.uint32) >> 16).astype(np.uint16).tobytes())
    return offset


def write_model(directory, seed, tensors, shards, shape):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = ["model.layers.%d.mlp.experts.%d.%s.weight" % (i // PER_LAYER, (i % PER_LAYER) // len(PROJECTIONS),
                                                            PROJECTIONS[i % len(PROJECTIONS)]) for i in range(tensors)]
    per_shard = -(-tensors // shards)
    weight_map, total = {}, 0
    for s in range(shards):
        part = names[s * per_shard:(s + 1) * per_shard]
        file = "model.safetensors" if shards == 1 else "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        total += write_shard(os.path.join(directory, file), part, shape, rng)
        weight_map.update((name, file) for name in part)
    if shards > 1:
        with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                   "num_hidden_layers": -(-tensors // PER_LAYER)}, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("work")
    p.add_argument("--tensors", type=int, default=65536)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--shape", default="64,128", help="rows,columns of every tensor")
    a = p.parse_args()
    shape = tuple(int(d) for d in a.shape.split(","))
    layers = -(-a.tensors // PER_LAYER)
    write_model(os.path.join(a.work, "base-%dL" % layers), 1, a.tensors, a.shards, shape)
    write_model(os.path.join(a.work, "tune-%dL" % layers), 2, a.tensors, a.shards, shape)


if __name__ == "__main__":
    main()
