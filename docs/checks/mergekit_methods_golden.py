#!/usr/bin/env python3
"""Golden values for sce, karcher, multislerp, nearswap, arcee_fusion, ram and ramplus_tl.

Usage (numpy 2.x, no torch needed), from the repository root:
    python3 docs/checks/mergekit_methods_golden.py pipeline/src/test/resources/mergekit-methods-golden.json

Each method below transliterates mergekit's code path (arcee-ai/mergekit main, commit a6e40288,
mergekit/merge_methods/{sce,karcher,multislerp,nearswap,arcee_fusion,ram}.py and
generalized_task_arithmetic.get_mask) from torch to numpy, op by op, in two precisions:

- "f32": mergekit's numerics for float32 inputs with dtype float32: every tensor op in float32,
  Python scalars taking the tensor's dtype (numpy 2's NEP 50 does what torch does for them),
  `.item()` values as Python floats, torch.var accumulated in double and rounded to float32 (what
  torch's CPU Welford kernel does), torch.topk ties to the lower index (torch leaves them open);
- "f64": the same formulas with task vectors formed in float32 and everything after in float64,
  the numerics Mergeval documents (docs/merge-methods.md, deviation 1).

The Java test (MergekitMethodsGoldenTest) merges the stored inputs and compares with both. Inputs
come from numpy's seeded generator, so rerunning the script rewrites the same inputs and
expectations (but for the last bits of some of karcher's float32 values: numpy's float32 sums
are ordered differently by different builds), without what
docs/checks/mergekit_executed_golden.py then adds to it (mergekit's own results, and the cases of
the established methods): run that one after this one.
"""
import json
import math
import sys

import numpy as np

F32 = np.float32


def task_vectors(tensors, base):
    return np.stack([t - base for t in tensors], axis=0)  # float32, as torch on float32 inputs


# --- sce.py -------------------------------------------------------------------------------
def sign_consensus_mask(delta):  # get_mask(method="sum")
    sign = np.sign(delta)
    majority = np.where(delta.sum(axis=0) >= 0, 1, -1).astype(delta.dtype)
    return sign == majority


def sce_weight(tvs):
    weights = np.mean(tvs ** 2, axis=tuple(range(1, tvs.ndim)))
    weight_sum = float(np.sum(weights))
    if abs(weight_sum) < 1e-6:
        return np.ones_like(weights) / weights.shape[0]
    return weights / weight_sum


def sce_mask(tvs, density):
    if density <= 0:
        return np.zeros(tvs.shape, dtype=bool)
    if density >= 1:
        return np.ones(tvs.shape, dtype=bool)
    var = np.var(tvs.astype(np.float64), axis=0).astype(F32)
    nonzero = int(np.count_nonzero(var))
    k = int(F32(nonzero) * F32(density))  # int64 tensor times a Python float: float32
    if k == 0:
        return np.zeros(tvs.shape, dtype=bool)
    flat = np.abs(var).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:k]
    mask = np.zeros(flat.shape, dtype=bool)
    mask[order] = True
    return np.broadcast_to(mask.reshape(var.shape), tvs.shape)


def sce(tensors, base, dt, select_topk=1.0):
    tvs = task_vectors(tensors, base)
    if select_topk < 1:
        tvs = tvs * sce_mask(tvs, select_topk)
    tvs = tvs.astype(dt)
    erase = sign_consensus_mask(tvs)
    w = sce_weight(tvs)
    w = w.reshape((-1,) + (1,) * (tvs.ndim - 1))
    erased = w * erase
    merged = (tvs * erased).sum(axis=0)
    final = merged / np.maximum(erased.sum(axis=0), dt(1e-6))
    return base.astype(dt) + final


# --- karcher.py ---------------------------------------------------------------------------
def karcher(tensors, dt, max_iter=10, tol=1e-5):
    tensors = [t.astype(dt) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    alphas = [1.0 / len(tensors)] * len(tensors)
    norms, units = [], []
    for t in tensors:
        n = np.linalg.norm(t.reshape(-1))
        if float(n) == 0.0:
            norms.append(0.0)
            units.append(np.zeros_like(t))
        else:
            norms.append(float(n))
            units.append(t / n)
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return np.zeros_like(tensors[0])
    valid_alphas = [alphas[i] for i in valid]
    alpha_sum = sum(valid_alphas)
    normalized = [a / alpha_sum for a in valid_alphas]
    valid_units = [units[i] for i in valid]
    u = np.zeros_like(valid_units[0])
    for a, ui in zip(normalized, valid_units):
        u += a * ui
    norm_u = float(np.linalg.norm(u.reshape(-1)))
    u = valid_units[0].copy() if norm_u < tol else u / norm_u
    for _ in range(max_iter):
        T = np.zeros_like(u)
        for a, ui in zip(normalized, valid_units):
            dot = np.clip(np.dot(u.reshape(-1), ui.reshape(-1)), -1.0, 1.0)
            theta = np.arccos(dot)
            if float(theta) < tol:
                continue
            T += a * (theta / np.sin(theta)) * (ui - dot * u)
        norm_T = np.linalg.norm(T.reshape(-1))
        if float(norm_T) < tol:
            break
        u = np.cos(norm_T) * u + np.sin(norm_T) * (T / norm_T)
        u_norm = np.linalg.norm(u.reshape(-1))
        if float(u_norm) > tol:
            u = u / u_norm
    s = 0.0
    for a, n in zip(alphas, norms):
        s += a * n
    return s * u


# --- multislerp.py ------------------------------------------------------------------------
def multislerp(tensors, weight, base, dt, normalize_weights=True, eps=1e-8):
    if len(tensors) == 1:
        return tensors[0].astype(dt)
    t = np.stack(tensors, axis=0)
    if base is not None:
        t = t - base
    t = t.astype(dt)
    flat = t.reshape(t.shape[0], -1)
    weights = np.array(weight, dtype=dt)
    if normalize_weights:
        weights = weights / weights.sum()
    norms = np.linalg.norm(flat, axis=-1, keepdims=True)
    unit = flat / (norms + eps)
    mean = (unit * weights.reshape(-1, 1)).sum(0)
    mean_norm = np.linalg.norm(mean)
    if mean_norm < eps:
        raise ValueError("weighted sum of the unit vectors is zero")
    mean = mean / mean_norm
    dots = (unit * mean).sum(-1, keepdims=True)
    tangent = unit - dots * mean
    tangent_result = (tangent * weights.reshape(-1, 1)).sum(0)
    tangent_norm = np.linalg.norm(tangent_result) + eps
    result = mean * np.cos(tangent_norm) + tangent_result * (np.sin(tangent_norm) / tangent_norm)
    avg_norm = (norms.squeeze(-1) * weights).sum()
    result = (result * avg_norm).reshape(t.shape[1:])
    if base is not None:
        result = result + base.astype(dt)
    return result


# --- nearswap.py --------------------------------------------------------------------------
def nearswap(base, other, dt, t):
    a = base.astype(dt)
    b = other.astype(dt)
    absdiff = np.abs(a - b)
    weight = np.clip(t / np.maximum(absdiff, dt(1e-6)), 0, 1).astype(dt)
    return weight * b + (1 - weight) * a


# --- arcee_fusion.py ----------------------------------------------------------------------
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def quantiles(flat, qs, f32):
    s = np.sort(flat.reshape(-1))
    q = np.array(qs, dtype=F32 if f32 else np.float64)
    idx = (q * (q.dtype.type(s.size - 1))).astype(np.int64)
    return s[idx]


def arcee_fusion(base, other, dt):
    b = base.astype(dt)
    x = other.astype(dt)
    diff = np.abs(x - b)
    p = softmax(x) + 1e-8
    q = softmax(b) + 1e-8
    kl = np.sum(p * np.log(p / q), axis=-1)
    importance = diff * np.expand_dims(kl, -1)
    assert importance.size <= 1_000_000, "mergekit samples larger tensors at random"
    median = quantiles(importance, [0.5], dt == F32)[0]
    q1, q3 = quantiles(importance, [0.25, 0.75], dt == F32)
    threshold = median + 1.5 * (q3 - q1)
    mask = (importance >= threshold).astype(dt)
    return b + (x - b) * mask, int(mask.sum())


# --- ram.py -------------------------------------------------------------------------------
def prepare_ram(tensors, base, epsilon):
    tv = task_vectors(tensors, base).reshape(len(tensors), -1)
    nonzero = np.abs(tv) > epsilon  # epsilon compared in float32, as torch's weak scalar
    counts = nonzero.sum(axis=0, keepdims=True)
    return tv, nonzero, counts, counts > 1, counts == 1


def ram(tensors, base, dt, epsilon=1e-5):
    tv, nonzero, counts, overlap, unique = prepare_ram(tensors, base, epsilon)
    tvz = tv.astype(dt) * nonzero
    merged = (tvz * unique + tvz * overlap / np.maximum(counts, 1).astype(dt)).sum(axis=0, keepdims=True)
    return base.astype(dt) + merged.reshape(base.shape)


def ramplus_tl(tensors, base, dt, r=0.1, alpha=0.2, epsilon=1e-5):
    tv, nonzero, counts, overlap, unique = prepare_ram(tensors, base, epsilon)
    shared_counts = (nonzero & overlap).sum(axis=1)
    unique_counts = (nonzero & unique).sum(axis=1)
    # int64.clamp(min=float) promotes to the default float dtype, float32
    rho = (shared_counts / np.maximum(unique_counts, epsilon)).astype(dt)
    lam = 1 + dt(r) * np.clip(rho, 0, dt(alpha))
    tvz = tv.astype(dt) * nonzero
    merged = (tvz * unique * lam[:, None]
              + tvz * overlap / np.maximum(counts, 1).astype(dt)).sum(axis=0, keepdims=True)
    return base.astype(dt) + merged.reshape(base.shape)


# --- inputs -------------------------------------------------------------------------------
NORM = "model.layers.0.input_layernorm.weight"
MATRIX = "model.layers.0.self_attn.q_proj.weight"
MLP = "model.layers.1.mlp.down_proj.weight"
SHAPES = {NORM: (16,), MATRIX: (8, 12), MLP: (6, 10)}


def f32(a):
    return np.asarray(a, dtype=F32)


def base_and_tunes(rng, shape, count, scale, name):
    base = f32(rng.normal(0, 1, shape) + (1.0 if name == NORM else 0.0))
    return base, [f32(base + rng.normal(0, scale, shape)) for _ in range(count)]


def sparse_tunes(rng, base, count, shape):
    """RL-like task vectors: mostly exact zeros, some tiny (below epsilon), some overlapping."""
    tunes = []
    for _ in range(count):
        d = rng.normal(0, 0.05, shape) * (rng.random(shape) < 0.35)
        d = d + (rng.random(shape) < 0.1) * 3e-6
        tunes.append(f32(base + d))
    return tunes


def case(method, yaml, models, tensors, fn, num_layers=2, note=""):
    out = {"method": method, "yaml": yaml, "num_layers": num_layers, "note": note, "tensors": []}
    for name, inputs in tensors.items():
        expected32 = fn(inputs, F32, name)
        expected64 = fn(inputs, np.float64, name)
        extra = {}
        if isinstance(expected32, tuple):
            (expected32, kept32), (expected64, kept64) = expected32, expected64
            assert kept32 == kept64, (method, name, kept32, kept64)
            extra["kept"] = kept32
        out["tensors"].append({
            "name": name, "shape": list(SHAPES[name]),
            "inputs": {m: [float(v) for v in inputs[m].reshape(-1)] for m in models},
            "expected_f32": [float(v) for v in f32(expected32).reshape(-1)],
            "expected_f64": [float(v) for v in f32(expected64).reshape(-1)],
            **extra})
    return out


def main(path):
    rng = np.random.default_rng(20260614)
    cases = []

    def dense(models_with_base, scale=0.1, small=None):
        tensors = {}
        for name, shape in SHAPES.items():
            s = small if (small is not None and name == MLP) else scale
            base, tunes = base_and_tunes(rng, shape, len(models_with_base) - 1, s, name)
            tensors[name] = dict(zip(models_with_base, [base] + tunes))
        return tensors

    # sce: 3 models + base; the MLP tensor's deltas are small enough for the uniform-weight branch.
    t = dense(["base", "a", "b", "c"], small=1e-4)
    for topk in (1.0, 0.5, 0.25):
        yaml = ("merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}, {model: c}]\n"
                + ("" if topk == 1.0 else f"parameters: {{select_topk: {topk}}}\n"))
        cases.append(case("sce", yaml, ["base", "a", "b", "c"], t,
                          lambda i, dt, n, k=topk: sce([i["a"], i["b"], i["c"]], i["base"], dt, k),
                          note=f"select_topk {topk}"))

    # karcher: three models, no base; then two models plus a base (which mergekit averages too).
    t = dense(["a", "b", "c"], scale=0.6)
    cases.append(case("karcher", "merge_method: karcher\nmodels: [{model: a}, {model: b}, {model: c}]\n",
                      ["a", "b", "c"], t, lambda i, dt, n: karcher([i["a"], i["b"], i["c"]], dt)))
    cases.append(case("karcher", "merge_method: karcher\nbase_model: a\nmodels: [{model: b}, {model: c}]\n"
                      "parameters: {max_iter: 3, tol: 1e-4}\n", ["a", "b", "c"], t,
                      lambda i, dt, n: karcher([i["a"], i["b"], i["c"]], dt, 3, 1e-4),
                      note="base_model is averaged like the others"))

    # multislerp: with a base (task vectors), without, and unnormalized weights.
    t = dense(["base", "a", "b", "c"], scale=0.3)
    w = [0.5, 0.3, 0.2]
    yaml = ("merge_method: multislerp\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 0.5}}\n"
            "  - {model: b, parameters: {weight: 0.3}}\n  - {model: c, parameters: {weight: 0.2}}\n")
    cases.append(case("multislerp", yaml, ["base", "a", "b", "c"], t,
                      lambda i, dt, n: multislerp([i["a"], i["b"], i["c"]], w, i["base"], dt)))
    nobase = yaml.replace("base_model: base\n", "")
    cases.append(case("multislerp", nobase, ["a", "b", "c"], t,
                      lambda i, dt, n: multislerp([i["a"], i["b"], i["c"]], w, None, dt)))
    raw = (nobase.replace("0.5}", "2.0}").replace("0.3}", "1.0}").replace("0.2}", "0.5}")
           + "parameters: {normalize_weights: false, eps: 1e-6}\n")
    cases.append(case("multislerp", raw, ["a", "b", "c"], t,
                      lambda i, dt, n: multislerp([i["a"], i["b"], i["c"]], [2.0, 1.0, 0.5], None, dt, False, 1e-6)))

    # nearswap: deltas of mixed magnitude around t.
    tensors = {}
    for name, shape in SHAPES.items():
        base = f32(rng.normal(0, 1, shape))
        d = rng.normal(0, 1, shape) * 10.0 ** rng.integers(-4, 0, shape)
        d[0] = 0.0
        tensors[name] = {"base": base, "b": f32(base + d)}
    cases.append(case("nearswap", "merge_method: nearswap\nbase_model: base\nmodels: [{model: b}]\n"
                      "parameters: {t: 0.01}\n", ["base", "b"], tensors,
                      lambda i, dt, n: nearswap(i["base"], i["b"], dt, 0.01)))

    # arcee_fusion: one fine-tune, a few large deltas to pick out.
    tensors = {}
    for name, shape in SHAPES.items():
        base = f32(rng.normal(0, 1, shape))
        d = rng.normal(0, 0.02, shape) + (rng.random(shape) < 0.08) * rng.normal(0, 1.0, shape)
        tensors[name] = {"base": base, "b": f32(base + d)}
    cases.append(case("arcee_fusion", "merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: b}]\n",
                      ["base", "b"], tensors, lambda i, dt, n: arcee_fusion(i["base"], i["b"], dt)))

    # ram / ramplus_tl: sparse task vectors of three models.
    tensors = {}
    for name, shape in SHAPES.items():
        base = f32(rng.normal(0, 1, shape))
        tensors[name] = dict(zip(["base", "a", "b", "c"], [base] + sparse_tunes(rng, base, 3, shape)))
    models3 = "models: [{model: a}, {model: b}, {model: c}]\n"
    cases.append(case("ram", "merge_method: ram\nbase_model: base\n" + models3, ["base", "a", "b", "c"], tensors,
                      lambda i, dt, n: ram([i["a"], i["b"], i["c"]], i["base"], dt)))
    cases.append(case("ramplus_tl", "merge_method: ramplus_tl\nbase_model: base\n" + models3,
                      ["base", "a", "b", "c"], tensors,
                      lambda i, dt, n: ramplus_tl([i["a"], i["b"], i["c"]], i["base"], dt)))
    cases.append(case("ramplus_tl", "merge_method: ramplus_tl\nbase_model: base\n" + models3
                      + "parameters: {r: 0.5, alpha: 2.0, epsilon: 1e-6}\n", ["base", "a", "b", "c"], tensors,
                      lambda i, dt, n: ramplus_tl([i["a"], i["b"], i["c"]], i["base"], dt, 0.5, 2.0, 1e-6)))

    with open(path, "w") as f:
        json.dump({"generator": "docs/checks/mergekit_methods_golden.py", "mergekit_commit":
                   "a6e402884ba9bc30da7f23e8304a35f19485de95", "cases": cases}, f)
        f.write("\n")
    for c in cases:
        worst = 0.0
        for x in c["tensors"]:
            y32, y64 = f32(x["expected_f32"]), f32(x["expected_f64"])
            worst = max(worst, float(np.max(np.abs(y32 - y64))) / float(np.max(np.abs(y32))))
        print(f"{c['method']:13s} {c['note'][:40]:40s} f32 vs f64 worst |d|/max|y| = {worst:.2e}")

if __name__ == "__main__":
    main(sys.argv[1])
