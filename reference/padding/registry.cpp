#include "reference/padding/registry.h"

#include <array>

namespace moecheck::reference::padding {
namespace {

// Storage facts per method (padding.md §1.5, §1.6; numerics.md for the formats).
const std::array<MethodInfo, 12> kMethods = {{
    {"unquantized", "UnquantizedFusedMoEMethod", 16, kUnpacked, ScaleKind::kNone, 0, kUnpacked, false, false, false,
     "bf16/fp16 weights"},
    {"fp8_per_tensor", "Fp8MoEMethod (per-tensor scales)", 8, kUnpacked, ScaleKind::kPerTensor, 0, kUnpacked, false,
     false, false, "FP8 E4M3 weights, one fp32 scale per expert and tensor"},
    {"fp8_block", "Fp8MoEMethod (128x128 block scales)", 8, kUnpacked, ScaleKind::kBlock2d, 128, kUnpacked, false,
     false, false, "FP8 E4M3 weights, fp32 scale per 128x128 tile (DeepSeek-V3 layout)"},
    {"fp8_per_block_online", "Fp8PerBlockOnlineMoEMethod", 8, kUnpacked, ScaleKind::kBlock2d, 128, kUnpacked, false,
     false, false, "FP8 quantized online from bf16 in 128x128 blocks (upstream after 2026-05-19)"},
    {"mxfp4", "Mxfp4MoEMethod (quant_method mxfp4, gpt-oss)", 4, kFp4Bytes, ScaleKind::kPerRowBlock, 32,
     kMxScaleBytes, true, true, false, "OCP MXFP4: e2m1 pairs per byte, one E8M0 scale per 32"},
    {"quark_w_mxfp4", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4", 4, kFp4Bytes, ScaleKind::kPerRowBlock, 32,
     kMxScaleBytes, true, false, true, "Quark OCP MX, MXFP4 weights"},
    {"quark_w_mxfp4_a_mxfp4", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4_a_mxfp4", 4, kFp4Bytes,
     ScaleKind::kPerRowBlock, 32, kMxScaleBytes, true, false, true, "Quark OCP MX, MXFP4 weights and activations"},
    {"quark_w_mxfp4_a_fp8", "QuarkOCP_MX_MoEMethod, scheme w_mxfp4_a_fp8", 4, kFp4Bytes, ScaleKind::kPerRowBlock,
     32, kMxScaleBytes, true, false, true, "Quark OCP MX, MXFP4 weights, FP8 activations"},
    {"quark_w_mxfp6", "QuarkOCP_MX_MoEMethod, schemes w_mxfp6_*", 6, kFp6Bytes, ScaleKind::kPerRowBlock, 32,
     kMxScaleBytes, true, false, true, "Quark OCP MX, MXFP6 weights (4 codes in 3 bytes)"},
    {"nvfp4", "ModelOpt NVFP4 fused MoE", 4, kFp4Bytes, ScaleKind::kPerRowBlock, 16, kNvfp4ScaleBytes, true, false,
     false, "NVFP4: e2m1 pairs per byte, one ue4m3 scale per 16"},
    {"int4_wna16", "GPTQ/AWQ WNA16 (int4)", 4, kFp4Bytes, ScaleKind::kGroup, 0, kUnpacked, false, false, false,
     "int4 weights, 16-bit activations, group scales"},
    {"int8_wna16", "GPTQ WNA16 (int8)", 8, kUnpacked, ScaleKind::kGroup, 0, kUnpacked, false, false, false,
     "int8 weights, 16-bit activations, group scales"},
}};

// Where each backend can run. MXFP4 backends: padding.md §2.2 step 4 and the conditions of §2.3;
// the rest as noted. Patterns: platform.h.
const std::array<BackendInfo, 17> kBackends = {{
    {"MARLIN", {"cuda", "xpu"}, "MARLIN", "Marlin W4A16 (any CUDA GPU; §2.1 has an XPU branch for it)"},
    {"BATCHED_MARLIN", {"cuda", "xpu"}, "", "Marlin with the batched activation format"},
    {"FLASHINFER_TRTLLM_MXFP4_BF16", {"cuda:sm100"}, "SM100_FI_MXFP4_BF16", "FlashInfer TRT-LLM MXFP4, bf16 activations (SM100 family)"},
    {"FLASHINFER_TRTLLM_MXFP4_MXFP8", {"cuda:sm100"}, "SM100_FI_MXFP4_MXFP8_TRTLLM",
     "FlashInfer TRT-LLM MXFP4, MXFP8 activations quantized inside (SM100)"},
    {"FLASHINFER_CUTLASS_MXFP4_BF16", {"cuda:sm90"}, "SM90_FI_MXFP4_BF16", "FlashInfer CUTLASS MXFP4, bf16 activations (SM90)"},
    {"FLASHINFER_CUTLASS_MXFP4_MXFP8", {"cuda:sm100"}, "SM100_FI_MXFP4_MXFP8_CUTLASS",
     "FlashInfer CUTLASS MXFP4, MXFP8 activations (SM100)"},
    {"CK", {"rocm:gfx950"}, "CK", "AITER CK fused MoE (VLLM_ROCM_USE_AITER=1; MXFP4 on gfx950 only)"},
    {"TRITON", {"cuda:sm90", "cuda:sm100", "rocm"}, "TRITON", "triton_kernels matmul_ogs (capability in [9.0, 11.0))"},
    {"TRITON_UNFUSED", {"cuda:sm90", "cuda:sm100", "rocm"}, "", "triton_kernels, unfused top-k reduction (as TRITON)"},
    {"XPU", {"xpu"}, "", "Intel XPU MXFP4 MoE"},
    {"NONE", {"cpu"}, "", "no MXFP4 kernel backend (the fallback on other platforms; Quark's default from #38774)"},
    {"DEEPGEMM_MXFP4", {"cuda:sm100"}, "", "DeepGEMM MXFP4 (#40860, DeepSeek-V4); platforms not in the spec (unverified)"},
    {"CPU", {"cpu"}, "", "CPU MXFP4 MoE (#41922)"},
    {"EMULATION", {"*"}, "", "Quark emulation: dequantize and compute in higher precision"},
    {"DEFAULT", {"*"}, "", "the method's kernels, whichever: its padding does not depend on the kernel"},
    {"FLASHINFER_CUTLASS", {"cuda:sm90", "cuda:sm100"}, "",
     "FlashInfer CUTLASS FP8/NVFP4 MoE (platforms by analogy with MXFP4; unverified)"},
    {"FLASHINFER_TRTLLM", {"cuda:sm100"}, "", "FlashInfer TRT-LLM FP8/NVFP4 MoE (SM100 family, by analogy; unverified)"},
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
