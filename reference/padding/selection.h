// MXFP4 backend selection (vLLM fused_moe/oracle/mxfp4.py select_mxfp4_moe_backend), which
// decides which MXFP4 rule applies: padding.md §2.2. The algorithm (LoRA, --moe-backend, the env
// switches, then the first supported backend of the priority list, then the fallback) is here; the
// priority list and the per-vendor fallback are ruleset data (they changed between versions).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reference/padding/platform.h"
#include "reference/padding/ruleset.h"

namespace moecheck::reference::padding {

struct SelectionInputs {
  Platform platform{};
  bool lora_enabled = false;
  std::string moe_backend = "auto";  // --moe-backend (kernel_config.moe_backend)
  bool batched_activation_format = false;
  // VLLM_* environment switches that are set (absent = unset): VLLM_MXFP4_USE_MARLIN,
  // VLLM_USE_FLASHINFER_MOE_MXFP4_BF16, VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8,
  // VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8_CUTLASS, VLLM_ROCM_USE_AITER (default 0),
  // VLLM_ROCM_USE_AITER_MOE (default 1).
  std::map<std::string, std::string, std::less<>> env;
  bool flashinfer_available = true;
  bool triton_kernels_available = true;
};

struct SelectionResult {
  std::optional<std::string> backend;
  std::optional<std::string> error;  // what vLLM raises (NotImplementedError, ...)
  std::string step;                  // which step of §2.2 decided: "lora", "moe_backend", "env", "priority", "fallback"
};

SelectionResult select_mxfp4_backend(const Ruleset& ruleset, const SelectionInputs& inputs);

// Valid --moe-backend values (§2.2 step 2), comma-separated.
std::string moe_backend_names();

}  // namespace moecheck::reference::padding
