#include "reference/padding/registry.h"

#include <array>

namespace moecheck::reference::padding {
namespace {

// Storage facts per method (padding.md §1.5, §1.6, §7; numerics.md for the formats). Columns:
// name, vLLM class, weight bits, weight packing, scale kind, scale block, scale packing, whole
// blocks required, gpt-oss MXFP4 loader, gpt-oss Quark loader, online, description.
const std::array<MethodInfo, 16> kMethods = {{
    {"unquantized", "UnquantizedFusedMoEMethod", 16, kUnpacked, ScaleKind::kNone, 0, kUnpacked, false, false, false,
     false, "bf16/fp16 weights"},
    {"fp8_per_tensor", "Fp8MoEMethod (per-tensor scales)", 8, kUnpacked, ScaleKind::kPerTensor, 0, kUnpacked, false,
     false, false, false, "FP8 E4M3 weights, one fp32 scale per expert and tensor"},
    {"fp8_per_channel", "CompressedTensorsW8A8Fp8MoEMethod (channel weights, dynamic per-token activations)", 8,
     kUnpacked, ScaleKind::kPerChannel, 0, kUnpacked, false, false, false, false,
     "FP8 E4M3 weights, one fp32 scale per expert and output channel; activations quantized per token at run time"},
    {"fp8_block", "Fp8MoEMethod (128x128 block scales)", 8, kUnpacked, ScaleKind::kBlock2d, quant::kFp8WeightBlock, kUnpacked, false,
     false, false, false, "FP8 E4M3 weights, fp32 scale per 128x128 tile (DeepSeek-V3 layout)"},
    {"fp8_per_block_online", "Fp8PerBlockOnlineMoEMethod", 8, kUnpacked, ScaleKind::kBlock2d, quant::kFp8WeightBlock, kUnpacked, false,
     false, false, true, "FP8 quantized online from bf16 in 128x128 blocks (online/fp8.py)"},
    {"gpt_oss_mxfp4", "GptOssMxfp4MoEMethod (gpt-oss checkpoints; Mxfp4MoEMethod before #39604)", 4, kFp4Bytes,
     ScaleKind::kPerRowBlock, quant::kMxBlock, kMxScaleBytes, true, true, false, false,
     "OCP MXFP4 of gpt-oss checkpoints (quant_method mxfp4, model_type gpt_oss): e2m1 pairs per byte, E8M0 per 32"},
    {"mxfp4", "Mxfp4MoEMethod (generic MXFP4 checkpoints, from #39604)", 4, kFp4Bytes, ScaleKind::kPerRowBlock, quant::kMxBlock,
     kMxScaleBytes, true, false, false, false,
     "OCP MXFP4 of other checkpoints (DeepSeek-V4, ...): own backend priorities, activation-dependent rule"},
    {"mxfp4_online", "Mxfp4OnlineMoEMethod (#49347)", 4, kFp4Bytes, ScaleKind::kPerRowBlock, quant::kMxBlock, kMxScaleBytes, true,
     false, false, true, "MXFP4 quantized online from bf16 (weights and dynamic MXFP4 activations)"},
    {"mxfp8", "MXFP8 MoE (ModelOpt / compressed-tensors W8A8-MXFP8 / online MXFP8)", 8, kUnpacked,
     ScaleKind::kPerRowBlock, quant::kMxBlock, kMxScaleBytes, true, false, false, false,
     "OCP MXFP8: e4m3 weights, one E8M0 scale per 32, MXFP8 activations"},
    {"quark_w_mxfp4", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4", 4, kFp4Bytes, ScaleKind::kPerRowBlock, quant::kMxBlock,
     kMxScaleBytes, true, false, true, false, "Quark OCP MX, MXFP4 weights"},
    {"quark_w_mxfp4_a_mxfp4", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4_a_mxfp4", 4, kFp4Bytes,
     ScaleKind::kPerRowBlock, quant::kMxBlock, kMxScaleBytes, true, false, true, false,
     "Quark OCP MX, MXFP4 weights and activations"},
    {"quark_w_mxfp4_a_fp8", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4_a_fp8", 4, kFp4Bytes, ScaleKind::kPerRowBlock,
     quant::kMxBlock, kMxScaleBytes, true, false, true, false, "Quark OCP MX, MXFP4 weights, FP8 activations"},
    {"quark_w_mxfp6", "QuarkOCP_MX_MoEMethod, schemes w_mxfp6_*", 6, kFp6Bytes, ScaleKind::kPerRowBlock, quant::kMxBlock,
     kMxScaleBytes, true, false, true, false, "Quark OCP MX, MXFP6 weights (4 codes in 3 bytes)"},
    {"nvfp4", "ModelOpt NVFP4 fused MoE", 4, kFp4Bytes, ScaleKind::kPerRowBlock, quant::kNvfp4Block, kNvfp4ScaleBytes, true, false,
     false, false, "NVFP4: e2m1 pairs per byte, one ue4m3 scale per 16"},
    {"int4_wna16", "GPTQ/AWQ/compressed-tensors WNA16 (int4)", 4, kFp4Bytes, ScaleKind::kGroup, 0, kUnpacked, false,
     false, false, false, "int4 weights, 16-bit activations, group scales"},
    {"int8_wna16", "GPTQ/compressed-tensors WNA16 (int8)", 8, kUnpacked, ScaleKind::kGroup, 0, kUnpacked, false,
     false, false, false, "int8 weights, 16-bit activations, group scales"},
}};

// Where each backend can run, and what it is. MXFP4 backends: padding.md §2.2, §7.2 and the device
// checks of their experts classes at 7ca49fbe (fused_moe/experts/*.py); the rest as noted. A
// ruleset may narrow or widen the platforms per method. Patterns: platform.h.
const std::array<BackendInfo, 33> kBackends = {{
    {"MARLIN", {"cuda", "xpu"}, "MARLIN", "Marlin (any CUDA GPU with capability >= 7.5; §2.1 has an XPU branch for it)"},
    {"BATCHED_MARLIN", {"cuda", "xpu"}, "", "Marlin with the batched activation format"},
    {"FLASHINFER_TRTLLM_MXFP4_BF16", {"cuda:sm100"}, "SM100_FI_MXFP4_BF16", "FlashInfer TRT-LLM MXFP4, bf16 activations (SM100 family)"},
    {"FLASHINFER_TRTLLM_MXFP4_MXFP8", {"cuda:sm100"}, "SM100_FI_MXFP4_MXFP8_TRTLLM",
     "FlashInfer TRT-LLM MXFP4, MXFP8 activations quantized inside (SM100)"},
    {"FLASHINFER_CUTLASS_MXFP4_BF16", {"cuda:sm90"}, "SM90_FI_MXFP4_BF16", "FlashInfer CUTLASS MXFP4, bf16 activations (SM90)"},
    {"FLASHINFER_CUTLASS_MXFP4_MXFP8", {"cuda:sm100"}, "SM100_FI_MXFP4_MXFP8_CUTLASS",
     "FlashInfer CUTLASS MXFP4, MXFP8 activations (SM100; SM120 too from the oracle's device check)"},
    {"CK", {"rocm:gfx950"}, "CK", "AITER CK fused MoE (VLLM_ROCM_USE_AITER=1; MXFP4 on gfx950 only); renamed AITER by #38774"},
    {"AITER_MXFP4_BF16", {"rocm:gfx950"}, "",
     "AITER MXFP4 W4A16 (CK; VLLM_ROCM_USE_AITER=1, gfx950; the CK backend renamed and split, #38774, #39136)"},
    {"AITER_MXFP4_FP8", {"rocm:gfx950"}, "", "AITER MXFP4 W4A8 (Triton a8w4; VLLM_ROCM_USE_AITER=1, gfx950; #39136)"},
    {"AITER_MXFP4_MXFP4", {"rocm:gfx950"}, "", "AITER MXFP4 W4A4 (CK; VLLM_ROCM_USE_AITER=1, gfx950; #41436)"},
    {"TRITON", {"cuda:sm90", "cuda:sm100", "rocm"}, "TRITON",
     "Triton: triton_kernels matmul_ogs for MXFP4 (capability in [9.0, 11.0)); vLLM's fused_moe Triton kernel for the others"},
    {"TRITON_UNFUSED", {"cuda:sm90", "cuda:sm100", "rocm"}, "", "triton_kernels, unfused top-k reduction (as TRITON)"},
    {"XPU", {"xpu"}, "", "Intel XPU MoE"},
    {"NONE", {"cpu"}, "", "no MXFP4 kernel backend (the fallback on other platforms; Quark's default from #38774)"},
    {"DEEPGEMM_MXFP4", {"cuda:sm100", "cuda:sm120"}, "", "DeepGEMM FP8 x MXFP4 (#40860, DeepSeek-V4; CUDA families 10 and 12)"},
    {"CPU", {"cpu"}, "", "CPU MoE experts (x86 with AMX for MXFP4 and FP8; #41922, #50133)"},
    {"EMULATION", {"*"}, "", "emulation: dequantize and compute in higher precision (OCP MX: needs amd-quark)"},
    {"HUMMING", {"cuda"}, "", "humming MoE kernels (optional package; CUDA only)"},
    {"B12X_MXFP4_MXFP8", {"cuda:sm120"}, "", "b12x MXFP4 W4A8 (optional package; CUDA family 12; #52018)"},
    {"B12X_MXFP4_BF16", {"cuda:sm120"}, "", "b12x MXFP4 W4A16 (optional package; CUDA family 12; #52018)"},
    {"DEFAULT", {"*"}, "", "the method's kernels, whichever: its padding does not depend on the kernel"},
    {"FLASHINFER_CUTLASS", {"cuda:sm90", "cuda:sm100"}, "", "FlashInfer CUTLASS MoE (unquantized, FP8, NVFP4)"},
    {"FLASHINFER_TRTLLM", {"cuda:sm100"}, "", "FlashInfer TRT-LLM MoE (SM100 family)"},
    {"FLASHINFER_CUTEDSL", {"cuda:sm100"}, "", "FlashInfer CuTe DSL NVFP4 MoE (SM100 family)"},
    {"FLASHINFER_CUTEDSL_BATCHED", {"cuda:sm100"}, "", "FlashInfer CuTe DSL NVFP4 MoE, batched activation format"},
    {"FLASHINFER_B12X", {"cuda:sm120"}, "", "FlashInfer b12x NVFP4 MoE (explicit --moe-backend only)"},
    {"B12X", {"cuda:sm120"}, "", "b12x NVFP4 MoE (optional package; explicit --moe-backend only; #52018)"},
    {"VLLM_CUTLASS", {"cuda:sm100", "cuda:sm120"}, "", "vLLM's own CUTLASS MoE kernels"},
    {"DEEPGEMM", {"cuda:sm90", "cuda:sm100", "cuda:sm120"}, "", "DeepGEMM FP8 block / MXFP8 MoE (Triton fallback per shape)"},
    {"BATCHED_TRITON", {"cuda", "rocm", "xpu"}, "", "vLLM's fused_moe Triton kernel, batched activation format"},
    {"AITER", {"rocm"}, "", "AITER fused MoE for unquantized and FP8 weights (VLLM_ROCM_USE_AITER=1)"},
    {"AITER_MXFP8", {"rocm:gfx950"}, "", "AITER FlyDSL MXFP8 MoE (needs flydsl)"},
    {"TRITON_MXFP8", {"rocm:gfx950"}, "", "native Triton MXFP8 MoE (ROCm with MX support)"},
}};
}  // namespace

std::span<const MethodInfo> methods() { return kMethods; }

const MethodInfo* find_method_info(std::string_view name) {
  for (const auto& m : kMethods)
    if (m.name == name) return &m;
  return nullptr;
}

std::string method_names() {
  std::string out;
  for (const auto& m : kMethods) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out;
}

std::span<const BackendInfo> backends() { return kBackends; }

const BackendInfo* find_backend_info(std::string_view name) {
  for (const auto& b : kBackends)
    if (b.name == name) return &b;
  return nullptr;
}

std::string backend_names() {
  std::string out;
  for (const auto& b : kBackends) out += (out.empty() ? "" : ", ") + std::string(b.name);
  return out;
}

bool backend_runs_on(const BackendChoice& choice, const Platform& platform) {
  if (!choice.platforms.empty()) {
    for (const auto& p : choice.platforms)
      if (platform_matches(p, platform)) return true;
    return false;
  }
  const BackendInfo* info = find_backend_info(choice.name);
  if (!info) return false;
  for (auto p : info->platforms)
    if (platform_matches(p, platform)) return true;
  return false;
}

std::string backend_platforms(const BackendChoice& choice) {
  std::string out;
  if (!choice.platforms.empty()) {
    for (const auto& p : choice.platforms) out += (out.empty() ? "" : ", ") + p;
    return out;
  }
  if (const BackendInfo* info = find_backend_info(choice.name))
    for (auto p : info->platforms) out += (out.empty() ? "" : ", ") + std::string(p);
  return out;
}

std::string to_string(const Shape& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace moecheck::reference::padding
