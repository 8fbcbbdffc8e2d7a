"""Independent eager-PyTorch reference for the Mergeval runtime tests (and benchmark baseline).

Written from Hugging Face transformers' modeling_llama.py / modeling_qwen2.py (eager attention)
and modeling_rope_utils.py (default, linear and llama3 RoPE), using only torch: no transformers
or safetensors packages are needed (Debian's python3-torch suffices).

usage: hf_llama_reference.py MODEL_DIR OUT_FILE IDS[,IDS...]...
  each argument after OUT_FILE is one sequence of comma-separated token ids; writes the float32
  logits [T, vocab] of each sequence (positions 0..T-1), one after the other, to OUT_FILE
usage: hf_llama_reference.py --bench MODEL_DIR BATCH PROMPT_LEN DECODE_STEPS THREADS
  prints JSON with eager-torch prefill and decode tokens/s (KV cache, greedy)
"""
import json
import math
import os
import struct
import sys
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = bytearray(data[8 + n + b:8 + n + e])
        x = torch.frombuffer(raw, dtype=DTYPES[t["dtype"]]) if raw else torch.zeros(0)
        out[name] = x.reshape(t["shape"]).float()
    return out


def load(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
        for f in files:
            weights.update(read_safetensors(os.path.join(model_dir, f)))
    else:
        weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    return cfg, weights


def inv_freq(cfg, head_dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor = rs["factor"]
        low, high = rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        return torch.where(medium, smoothed, inv_l)
    raise ValueError("rope type " + str(kind))


class Model:
    def __init__(self, model_dir):
        cfg, w = load(model_dir)
        self.cfg, self.w = cfg, w
        self.h = cfg["num_attention_heads"]
        self.kv = cfg.get("num_key_value_heads", self.h)
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.h
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.layers = cfg["num_hidden_layers"]
        self.inv = inv_freq(cfg, self.hd)
        tied = cfg.get("tie_word_embeddings", cfg["architectures"][0] == "Qwen2ForCausalLM")
        self.head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]

    def lin(self, x, name):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def norm(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.w[name] * (x * torch.rsqrt(var + self.eps))

    @staticmethod
    def rot(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, ids, past=None, start=0):
        """ids [B, T] at positions start..start+T-1; past: list of (k, v); returns logits, cache."""
        b, t = ids.shape
        x = self.w["model.embed_tokens.weight"][ids]
        pos = torch.arange(start, start + t).float()
        freqs = pos[:, None] * self.inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        total = start + t
        mask = torch.full((t, total), float("-inf")).triu(start + 1)
        cache = []
        for i in range(self.layers):
            p = "model.layers.%d." % i
            n = self.norm(x, p + "input_layernorm.weight")
            q = self.lin(n, p + "self_attn.q_proj").view(b, t, self.h, self.hd).transpose(1, 2)
            k = self.lin(n, p + "self_attn.k_proj").view(b, t, self.kv, self.hd).transpose(1, 2)
            v = self.lin(n, p + "self_attn.v_proj").view(b, t, self.kv, self.hd).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if past is not None:
                k = torch.cat((past[i][0], k), dim=2)
                v = torch.cat((past[i][1], v), dim=2)
            cache.append((k, v))
            rep = self.h // self.kv
            kr = k.repeat_interleave(rep, dim=1)
            vr = v.repeat_interleave(rep, dim=1)
            att = (q @ kr.transpose(2, 3)) / math.sqrt(self.hd) + mask
            att = torch.softmax(att.float(), dim=-1)
            o = (att @ vr).transpose(1, 2).reshape(b, t, self.h * self.hd)
            x = x + self.lin(o, p + "self_attn.o_proj")
            m = self.norm(x, p + "post_attention_layernorm.weight")
            gate = self.lin(m, p + "mlp.gate_proj")
            x = x + self.lin(torch.nn.functional.silu(gate) * self.lin(m, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = self.norm(x, "model.norm.weight")
        return torch.nn.functional.linear(x, self.head), cache


def bench(model_dir, batch, prompt_len, steps, threads):
    torch.set_num_threads(threads)
    model = Model(model_dir)
    vocab = model.cfg["vocab_size"]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (batch, prompt_len), generator=g)
    with torch.no_grad():
        model.forward(ids[:, :4])  # warm-up
        best = None
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            logits, cache = model.forward(ids)
            t1, c1 = time.perf_counter(), time.process_time()
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            t2, c2 = time.perf_counter(), time.process_time()
            for s in range(steps):
                logits, cache = model.forward(nxt, cache, prompt_len + s)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
            t3, c3 = time.perf_counter(), time.process_time()
            run = {"prefill_tokens_per_s": batch * prompt_len / (t1 - t0),
                   "decode_tokens_per_s": batch * steps / (t3 - t2),
                   "prefill_tokens_per_cpu_s": batch * prompt_len / max(c1 - c0, 1e-9),
                   "decode_tokens_per_cpu_s": batch * steps / max(c3 - c2, 1e-9)}
            best = run if best is None else {k: max(best[k], run[k]) for k in run}
    best["torch"] = torch.__version__
    print(json.dumps(best))


def main():
    if sys.argv[1] == "--bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return
    model_dir, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    model = Model(model_dir)
    with torch.no_grad(), open(out, "wb") as f:
        for seq in sys.argv[3:]:
            logits, _ = model.forward(torch.tensor([[int(t) for t in seq.split(",")]]))
            f.write(logits[0].float().contiguous().numpy().tobytes())


if __name__ == "__main__":
    main()
