#!/usr/bin/env python3
"""External oracle for reference/moe: Hugging Face transformers' MoE blocks on tiny random models.

Run where PyTorch and transformers are (the GPU machine; CPU math is used):
    python3 tools/oracle/hf_moe.py OUT_DIR [FAMILY ...]
For each family it builds a one-layer model from a small config (hidden 96 and intermediate 64:
multiples of 32, not of 128), gives every parameter seeded random values, saves it with
`save_pretrained` under OUT_DIR/<name>/, reloads it from disk with `experts_implementation="eager"`
and records hidden states and the layer-0 MoE block output in OUT_DIR/<name>/moe_block.h5.
Special cases: `gpt_oss_mxfp4` is a hand-written MXFP4 checkpoint (U8 blocks/scales) loaded with
`Mxfp4Config(dequantize=True)`; `deepseek_v3_fp8` stores its experts as F8_E4M3 with F32
`weight_scale_inv` over 32x32 blocks (the oracle runs on the exactly dequantized weights);
`mixtral_bf16` is a bfloat16 model. The layout of moe_block.h5: fixtures/data/hf/README.md.
"""
import json
import math
import os
import shutil
import sys
import tempfile
import traceback

import h5py
import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file

H, I, E, K, T, VOCAB = 96, 64, 4, 2, 12, 32
SEED = 20261128

COMMON = dict(vocab_size=VOCAB, hidden_size=H, num_hidden_layers=1, num_attention_heads=2,
              num_key_value_heads=1, max_position_embeddings=64)

FAMILIES = {
    "gpt_oss": ("gpt_oss", dict(COMMON, intermediate_size=I, num_local_experts=E, num_experts_per_tok=K,
                                head_dim=16, sliding_window=8)),
    "mixtral": ("mixtral", dict(COMMON, intermediate_size=I, num_local_experts=E, num_experts_per_tok=K)),
    "qwen2_moe": ("qwen2_moe", dict(COMMON, intermediate_size=2 * I, moe_intermediate_size=I,
                                    shared_expert_intermediate_size=96, num_experts=E, num_experts_per_tok=K,
                                    norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[])),
    "qwen3_moe": ("qwen3_moe", dict(COMMON, intermediate_size=2 * I, moe_intermediate_size=I, num_experts=E,
                                    num_experts_per_tok=K, norm_topk_prob=True, decoder_sparse_step=1,
                                    mlp_only_layers=[], head_dim=16)),
    "olmoe": ("olmoe", dict(COMMON, intermediate_size=I, num_experts=E, num_experts_per_tok=K, norm_topk_prob=False)),
    "deepseek_v2": ("deepseek_v2", dict(COMMON, intermediate_size=2 * I, moe_intermediate_size=I, n_routed_experts=E,
                                        num_experts_per_tok=K, n_shared_experts=1, first_k_dense_replace=0,
                                        topk_method="group_limited_greedy", n_group=2, topk_group=1,
                                        routed_scaling_factor=1.5, norm_topk_prob=False, kv_lora_rank=16,
                                        q_lora_rank=None, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16)),
    "deepseek_v3": ("deepseek_v3", dict(COMMON, intermediate_size=2 * I, moe_intermediate_size=I, n_routed_experts=E,
                                        num_experts_per_tok=K, n_shared_experts=1, first_k_dense_replace=0,
                                        n_group=2, topk_group=1, routed_scaling_factor=2.5, norm_topk_prob=True,
                                        kv_lora_rank=16, q_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8,
                                        v_head_dim=16)),
    "llama4": ("llama4_text", dict(COMMON, intermediate_size=I, intermediate_size_mlp=2 * I, num_local_experts=E,
                                   num_experts_per_tok=1, interleave_moe_layer_step=1, head_dim=16)),
    "granitemoe": ("granitemoe", dict(COMMON, intermediate_size=I, num_local_experts=E, num_experts_per_tok=K)),
    "phimoe": ("phimoe", dict(COMMON, intermediate_size=I, num_local_experts=E, num_experts_per_tok=2)),
    "dbrx": ("dbrx", dict(d_model=H, n_heads=2, n_layers=1, max_seq_len=64, vocab_size=VOCAB,
                          ffn_config={"ffn_hidden_size": I, "moe_num_experts": E, "moe_top_k": K,
                                      "moe_normalize_expert_weights": 1.0},
                          attn_config={"kv_n_heads": 1, "clip_qkv": 8, "rope_theta": 10000.0})),
}
EXTRA = ["gpt_oss_mxfp4", "deepseek_v3_fp8", "mixtral_bf16"]


def log(*a):
    print(*a, flush=True)


def randomize(model, seed):
    """Seeded random values for every parameter and the correction bias (selection only)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
            elif "norm" in name or "layernorm" in name or name.endswith("ln.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if "e_score_correction_bias" in name:
                b.copy_(0.05 * torch.randn(b.shape, generator=g))


def build(model_type, kwargs, seed, dtype=torch.float32):
    config = transformers.AutoConfig.for_model(model_type, **kwargs)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    randomize(model, seed)
    return model.to(dtype).eval()


def load(path, dtype, **extra):
    try:
        m = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, experts_implementation="eager", **extra)
        impl = "eager"
    except (TypeError, ValueError) as e:
        log("  from_pretrained(experts_implementation='eager') refused (%s); loading with the model's own code" % e)
        m = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **extra)
        impl = "own"
    return m.eval(), impl


def find_block(model):
    inner = getattr(model, "model", None) or getattr(model, "transformer", None)
    layers = getattr(inner, "layers", None) or getattr(inner, "blocks", None)
    layer = layers[0]
    for attr in ("mlp", "block_sparse_moe", "feed_forward", "ffn"):
        block = getattr(layer, attr, None)
        if block is not None:
            prefix = "model.layers.0" if hasattr(model, "model") else "transformer.blocks.0"
            return block, "%s.%s" % (prefix, attr)
    raise RuntimeError("no MoE block found in layer 0 of %s" % type(model).__name__)


def run_block(model, hidden):
    block, path = find_block(model)
    with torch.no_grad():
        out = block(hidden[None])
    if isinstance(out, tuple):
        out = out[0]
    return out.reshape(hidden.shape), path, type(block).__name__


def write_h5(path, hidden, output, attrs):
    with h5py.File(path + ".tmp", "w") as f:
        f.attrs["schema_version"] = np.int64(1)
        for k, v in attrs.items():
            f.attrs[k] = np.int64(v) if isinstance(v, int) else str(v)
        f.create_dataset("hidden_states", data=hidden.float().numpy().astype(np.float32))
        f.create_dataset("output", data=output.float().numpy().astype(np.float32))
    os.replace(path + ".tmp", path)


def hidden_states(seed, dtype):
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randn((T, H), generator=g).to(dtype)


def attrs_for(model_type, name, dtype, block, block_class, impl, seed):
    return dict(model_type=model_type, family=name, layer=0, dtype=str(dtype).replace("torch.", ""),
                block=block, block_class=block_class, experts_implementation=impl,
                transformers_version=transformers.__version__, torch_version=str(torch.__version__),
                generator="tools/oracle/hf_moe.py", seed=seed)


def make_plain(out_root, name, model_type, kwargs, seed, dtype=torch.float32):
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    model = build(model_type, kwargs, seed, dtype)
    model.save_pretrained(d)
    reloaded, impl = load(d, dtype)
    h = hidden_states(seed, dtype)
    out, block, cls = run_block(reloaded, h)
    write_h5(os.path.join(d, "moe_block.h5"), h, out, attrs_for(model_type, name, dtype, block, cls, impl, seed))
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors", "moe_block.h5"):
            os.remove(os.path.join(d, f))
    return d


def make_gpt_oss_mxfp4(out_root, seed):
    """Hand-written MXFP4 checkpoint: names and dtypes of the gpt-oss release (models.md §2.2)."""
    name, (model_type, kwargs) = "gpt_oss_mxfp4", FAMILIES["gpt_oss"]
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model = build(model_type, kwargs, seed, torch.bfloat16)
    g = torch.Generator().manual_seed(seed + 7)
    tensors = {}
    for k, v in model.state_dict().items():
        if k.endswith("mlp.experts.gate_up_proj") or k.endswith("mlp.experts.down_proj"):
            continue
        tensors[k] = v.contiguous()
    prefix = "model.layers.0.mlp.experts."
    for proj, rows, cols in (("gate_up_proj", 2 * I, H), ("down_proj", H, I)):
        tensors[prefix + proj + "_blocks"] = torch.randint(0, 256, (E, rows, cols // 32, 16), generator=g,
                                                           dtype=torch.uint8)
        tensors[prefix + proj + "_scales"] = torch.randint(122, 131, (E, rows, cols // 32), generator=g,
                                                           dtype=torch.uint8)
    save_file(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads(model.config.to_json_string())
    cfg["quantization_config"] = {"quant_method": "mxfp4", "modules_to_not_convert": [
        "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    reloaded, impl = load(d, torch.bfloat16, quantization_config=transformers.Mxfp4Config(dequantize=True),
                          device_map="cpu")
    h = hidden_states(seed, torch.bfloat16)
    out, block, cls = run_block(reloaded, h)
    write_h5(os.path.join(d, "moe_block.h5"), h, out, attrs_for(model_type, name, torch.bfloat16, block, cls, impl, seed))


def block_quant_fp8(w, block):
    """DeepSeek-style 32x32 block FP8: scale_inv = amax/448 per block (multiplier), q = w / s cast."""
    rows, cols = w.shape
    br, bc = block
    s = torch.zeros((math.ceil(rows / br), math.ceil(cols / bc)), dtype=torch.float32)
    q = torch.zeros_like(w, dtype=torch.float8_e4m3fn)
    deq = torch.zeros_like(w)
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            blk = w[i * br:(i + 1) * br, j * bc:(j + 1) * bc]
            amax = blk.abs().max().clamp(min=1e-12)
            s[i, j] = amax / 448.0
            qb = (blk / s[i, j]).clamp(-448, 448).to(torch.float8_e4m3fn)
            q[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = qb
            deq[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = qb.float() * s[i, j]
    return q, s, deq


def make_deepseek_v3_fp8(out_root, seed):
    name, (model_type, kwargs) = "deepseek_v3_fp8", FAMILIES["deepseek_v3"]
    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model = build(model_type, kwargs, seed)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        sd = load_file(os.path.join(tmp, "model.safetensors"))
        quantized, dequantized = {}, {}
        for k, v in sd.items():
            is_expert = (".mlp.experts." in k or ".mlp.shared_experts." in k) and k.endswith("_proj.weight")
            if is_expert:
                q, s, deq = block_quant_fp8(v.float(), (32, 32))
                quantized[k] = q
                quantized[k + "_scale_inv"] = s
                dequantized[k] = deq
            else:
                quantized[k] = v
                dequantized[k] = v
        save_file(quantized, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        save_file(dequantized, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        reloaded, impl = load(tmp, torch.float32)
        with open(os.path.join(tmp, "config.json")) as f:
            cfg = json.load(f)
    cfg["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                  "weight_block_size": [32, 32]}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    h = hidden_states(seed, torch.float32)
    out, block, cls = run_block(reloaded, h)
    write_h5(os.path.join(d, "moe_block.h5"), h, out, attrs_for(model_type, name, torch.float32, block, cls, impl, seed))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: hf_moe.py OUT_DIR [NAME ...]")
    out_root = sys.argv[1]
    names = sys.argv[2:] or list(FAMILIES) + EXTRA
    os.makedirs(out_root, exist_ok=True)
    torch.set_num_threads(4)
    log("transformers %s, torch %s" % (transformers.__version__, torch.__version__))
    failed = []
    order = list(FAMILIES) + EXTRA
    for name in names:
        if name not in order:
            sys.exit("unknown name %r; valid: %s" % (name, ", ".join(order)))
        seed = SEED + 101 * order.index(name)
        try:
            if name == "gpt_oss_mxfp4":
                make_gpt_oss_mxfp4(out_root, seed)
            elif name == "deepseek_v3_fp8":
                make_deepseek_v3_fp8(out_root, seed)
            elif name == "mixtral_bf16":
                make_plain(out_root, name, "mixtral", FAMILIES["mixtral"][1], seed, torch.bfloat16)
            else:
                model_type, kwargs = FAMILIES[name]
                make_plain(out_root, name, model_type, kwargs, seed)
            with h5py.File(os.path.join(out_root, name, "moe_block.h5")) as f:
                o = f["output"][()]
                log("ok   %-16s block %-28s %-24s |out|max %.4g impl %s" % (
                    name, f.attrs["block"], f.attrs["block_class"], np.abs(o).max(), f.attrs["experts_implementation"]))
        except Exception:
            failed.append(name)
            log("FAIL %s\n%s" % (name, traceback.format_exc()))
            shutil.rmtree(os.path.join(out_root, name), ignore_errors=True)
    log("done: %d ok, failed: %s" % (len(names) - len(failed), failed or "none"))


if __name__ == "__main__":
    main()
