#!/usr/bin/env python3
"""How PyTorch rounds PEFT's merge of a float32 LoRA delta into a BF16 weight (docs/checkpoint-io.md).

PEFT's merge_and_unload runs `weight += delta`; PEFT holds adapter weights in float32 (it upcasts
half-precision ones as it loads them), so the delta is float32 and the weight BF16. This prints how
many of N elements the in-place add gives differently from one rounding of the float32 sum, and from
adding the delta rounded to BF16 first (two roundings). Needs torch (Debian's python3-torch is enough):

    /usr/bin/python3 docs/checks/peft_merge_rounding.py [N]
"""
import sys

import torch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
torch.manual_seed(0)
weight = (torch.randn(n) * 0.02).to(torch.bfloat16)
delta = torch.randn(n) * 0.01
single = (weight.float() + delta).to(torch.bfloat16)
double = (weight.float() + delta.to(torch.bfloat16).float()).to(torch.bfloat16)
in_place = weight.clone()
in_place += delta
print(f"torch {torch.__version__}, {n} elements")
print(f"in-place add differs from one rounding of the float32 sum in {int((in_place != single).sum())}")
print(f"in-place add differs from adding the delta rounded to BF16 first in {int((in_place != double).sum())}")
