#!/usr/bin/env python3
# Usage: run where transformers is installed, in a folder holding the model directories and
# ours.jsonl (one line per model and prompt: {"model", "prompt", "gen": mergeval generate --json
# --chat --max-new-tokens 24, "score": mergeval score --json, "continuation"}); see docs/runtime.md.
# Loads Mergeval's toy models and merged checkpoints in transformers and compares tokens,
# greedy generations and log-likelihoods with what Mergeval's DJL runtime produced (ours.jsonl).
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import transformers
print("transformers", transformers.__version__, "torch", torch.__version__)
rows = [json.loads(l) for l in open("ours.jsonl")]
cache = {}
ok = True
for r in rows:
    m = r["model"]
    if m not in cache:
        tok = AutoTokenizer.from_pretrained(m)
        model = AutoModelForCausalLM.from_pretrained(m, torch_dtype=torch.float32).eval()
        cache[m] = (tok, model)
    tok, model = cache[m]
    ids = tok.apply_chat_template([{"role": "user", "content": r["prompt"]}], add_generation_prompt=True, tokenize=True)
    same_prompt = list(ids) == r["gen"]["prompt_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([r["gen"]["prompt_ids"]]), max_new_tokens=24, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    gen = out[0, len(r["gen"]["prompt_ids"]):].tolist()
    ours = r["gen"]["output_ids"]
    n = len(ours)
    same_gen = gen[:n] == ours
    ctx, cont = "Once upon a time", r["continuation"]
    whole = tok(ctx + cont)["input_ids"]; c = tok(ctx)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0].double()
    lp = torch.log_softmax(logits, -1)
    ll = sum(lp[i - 1, whole[i]].item() for i in range(len(c), len(whole)))
    d = abs(ll - r["score"]["log_likelihood"])
    good = same_prompt and same_gen and d < 1e-3 and (len(whole) - len(c)) == r["score"]["token_count"]
    ok &= good
    print(f"{m:10s} {r['prompt'][:26]:26s} prompt_ids={'=' if same_prompt else 'DIFF'} greedy={'=' if same_gen else 'DIFF'}"
          f" ({n} tokens) ll hf={ll:.6f} ours={r['score']['log_likelihood']:.6f} |d|={d:.2e}"
          f" tokens {len(whole)-len(c)}/{r['score']['token_count']}")
    if not same_gen:
        print("   hf  ", gen[:n]); print("   ours", ours)
print("ALL MATCH" if ok else "MISMATCH")
