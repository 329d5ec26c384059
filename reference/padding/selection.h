// Backend selection: which kernel backend vLLM picks by default, hence which padding rule applies.
//
// Schema 2 rulesets state it as data, one table per method (Ruleset::selections): an ordered list
// of candidates, each a backend and the condition under which its experts class supports the
// deployment (platform, activation, gated, routing, environment, installed packages, ...), tried
// in order like vLLM's oracles (fused_moe/oracle/*.py). select_backend walks that table.
//
// Schema 1 rulesets (the shipped states up to #38043) model the MXFP4 selection of padding.md §2.2
// only: select_mxfp4_backend runs that algorithm (LoRA, --moe-backend, the env switches, then the
// first supported backend of the ruleset's priority list, then its fallback).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reference/padding/plan.h"
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

// vLLM's default backend of `method` for this layer and deployment under `ruleset`: its schema 2
// selection table; for schema 1, the MXFP4 algorithm above (default settings) or, for a method
// whose ruleset lists a single backend that runs on the platform, that backend. `step` says which
// ("table", "priority", "fallback", "only backend", ...); `source` cites the deciding entry.
struct BackendChoiceResult {
  std::optional<std::string> backend;
  std::optional<std::string> error;
  std::string step, source, note;
};
BackendChoiceResult select_backend(const Ruleset& ruleset, std::string_view method, const Problem& problem,
                                   const Platform& platform, const ParallelConfig& parallel, ActDtype act_dtype,
                                   const Settings& settings = {});

// Valid --moe-backend values (§2.2 step 2), comma-separated.
std::string moe_backend_names();

}  // namespace moecheck::reference::padding
