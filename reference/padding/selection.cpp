#include "reference/padding/selection.h"

#include <algorithm>
#include <array>
#include <utility>

#include "reference/padding/registry.h"

namespace moecheck::reference::padding {
namespace {

// §2.2 step 2: --moe-backend values and the backend each maps to ("marlin" depends on the format).
constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kMoeBackends = {{
    {"flashinfer_trtllm", "FLASHINFER_TRTLLM_MXFP4_BF16"},
    {"flashinfer_trtllm_afp8", "FLASHINFER_TRTLLM_MXFP4_MXFP8"},
    {"flashinfer_cutlass", "FLASHINFER_CUTLASS_MXFP4_BF16"},
    {"flashinfer_cutlass_afp8", "FLASHINFER_CUTLASS_MXFP4_MXFP8"},
    {"triton", "TRITON"},
    {"marlin", "MARLIN"},
    {"ck", "CK"},
    {"xpu", "XPU"},
}};

std::optional<std::string> env(const SelectionInputs& in, std::string_view key) {
  const auto it = in.env.find(key);
  if (it == in.env.end()) return std::nullopt;
  return it->second;
}

bool is_cuda(const Platform& p) { return p.vendor == Vendor::kCuda; }
bool sm100_family(const Platform& p) { return is_cuda(p) && p.capability >= 100 && p.capability < 110; }
bool triton_capable(const SelectionInputs& in) {
  const Platform& p = in.platform;
  return in.triton_kernels_available && (p.vendor == Vendor::kCuda || p.vendor == Vendor::kRocm) &&
         p.capability >= 90 && p.capability < 110;
}

// §2.2 step 4: whether a priority-list candidate is supported. The conditions of TRTLLM_BF16, CK
// and TRITON are the spec's; FLASHINFER_CUTLASS_MXFP4_BF16 on SM90 follows the §2.3 table;
// TRITON_UNFUSED as TRITON and MARLIN on CUDA (the batched variant only with the batched
// activation format) are inferences, marked so in README.md. A backend the ruleset adds is
// supported where the registry says it runs.
bool supported(std::string_view backend, const SelectionInputs& in) {
  const Platform& p = in.platform;
  if (backend == "FLASHINFER_TRTLLM_MXFP4_BF16" || backend == "FLASHINFER_TRTLLM_MXFP4_MXFP8" ||
      backend == "FLASHINFER_CUTLASS_MXFP4_MXFP8")
    return sm100_family(p) && in.flashinfer_available;
  if (backend == "FLASHINFER_CUTLASS_MXFP4_BF16") return is_cuda(p) && p.capability == 90 && in.flashinfer_available;
  if (backend == "CK")
    return p.name == "rocm:gfx950" && env(in, "VLLM_ROCM_USE_AITER").value_or("0") == "1" &&
           env(in, "VLLM_ROCM_USE_AITER_MOE").value_or("1") == "1";
  if (backend == "TRITON" || backend == "TRITON_UNFUSED") return triton_capable(in);
  if (backend == "MARLIN") return is_cuda(p) && !in.batched_activation_format;
  if (backend == "BATCHED_MARLIN") return is_cuda(p) && in.batched_activation_format;
  if (backend == "XPU") return p.vendor == Vendor::kXpu;
  return backend_runs_on(BackendChoice{std::string(backend), {}}, p);
}

SelectionResult chose(std::string backend, std::string step) { return {std::move(backend), std::nullopt, std::move(step)}; }
SelectionResult failed(std::string error, std::string step) { return {std::nullopt, std::move(error), std::move(step)}; }

}  // namespace

std::string moe_backend_names() {
  std::string out = "auto";
  for (const auto& [flag, backend] : kMoeBackends) out += ", " + std::string(flag);
  return out;
}

SelectionResult select_mxfp4_backend(const Ruleset& ruleset, const SelectionInputs& in) {
  const Platform& p = in.platform;
  // 1. LoRA.
  if (in.lora_enabled) {
    if (!is_cuda(p)) return failed("NotImplementedError: MXFP4 MoE with LoRA is CUDA-only", "lora");
    if (env(in, "VLLM_MXFP4_USE_MARLIN") == "0" && triton_capable(in)) return chose("TRITON_UNFUSED", "lora");
    return chose("MARLIN", "lora");
  }
  // 2. --moe-backend.
  if (in.moe_backend != "auto") {
    for (const auto& [flag, backend] : kMoeBackends) {
      if (flag != in.moe_backend) continue;
      if (flag == "marlin" && in.batched_activation_format) return chose("BATCHED_MARLIN", "moe_backend");
      return chose(std::string(backend), "moe_backend");
    }
    return failed("unknown --moe-backend '" + in.moe_backend + "'; valid: " + moe_backend_names(), "moe_backend");
  }
  // 3. Environment overrides, in this order.
  bool drop_fi_bf16 = false;
  if (const auto v = env(in, "VLLM_USE_FLASHINFER_MOE_MXFP4_BF16")) {
    if (*v == "0") {
      drop_fi_bf16 = true;
    } else if (*v == "1") {
      if (is_cuda(p) && p.capability == 90) return chose("FLASHINFER_CUTLASS_MXFP4_BF16", "env");
      if (sm100_family(p)) return chose("FLASHINFER_TRTLLM_MXFP4_BF16", "env");
      return failed("VLLM_USE_FLASHINFER_MOE_MXFP4_BF16=1 needs SM90 or the SM100 family, not " + std::string(p.name),
                    "env");
    }
  }
  if (env(in, "VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8") == "1") return chose("FLASHINFER_TRTLLM_MXFP4_MXFP8", "env");
  if (env(in, "VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8_CUTLASS") == "1")
    return chose("FLASHINFER_CUTLASS_MXFP4_MXFP8", "env");
  if (env(in, "VLLM_MXFP4_USE_MARLIN") == "1") return chose("MARLIN", "env");
  // 4. The first supported backend of the priority list.
  if (!ruleset.mxfp4_selection)
    return failed("ruleset " + ruleset.name + " has no mxfp4_backend_selection", "priority");
  for (const std::string& backend : ruleset.mxfp4_selection->priority) {
    if (drop_fi_bf16 && (backend == "FLASHINFER_TRTLLM_MXFP4_BF16" || backend == "FLASHINFER_CUTLASS_MXFP4_BF16"))
      continue;
    if (supported(backend, in)) return chose(backend, "priority");
  }
  // 5. Fallbacks.
  const auto& fallback = ruleset.mxfp4_selection->fallback;
  if (const auto it = fallback.find(p.vendor); it != fallback.end()) return chose(it->second, "fallback");
  return failed("NotImplementedError: no MXFP4 MoE backend supports " + std::string(p.name), "fallback");
}

namespace {
// "FILE:/selections/x/candidates/3" -> "selections/x/candidates/3" (the file is the ruleset's).
std::string pointer_of(const std::string& where) {
  const auto p = where.rfind(":/");
  return p == std::string::npos ? where : where.substr(p + 2);
}
}  // namespace

BackendChoiceResult select_backend(const Ruleset& ruleset, std::string_view method_name, const Problem& problem,
                                   const Platform& platform, const ParallelConfig& parallel, ActDtype act_dtype,
                                   const Settings& settings) {
  const std::string_view method = ruleset.canonical_method(method_name);
  BackendChoiceResult out;
  const MethodRules* rules = ruleset.find_method(method);
  if (!rules) {
    out.error = "method " + std::string(method) + " does not exist in ruleset " + ruleset.name;
    return out;
  }
  if (!rules->selection.empty()) {
    const auto it = ruleset.selections.find(rules->selection);
    if (it == ruleset.selections.end()) {
      out.error = "ruleset " + ruleset.name + ": method " + std::string(method) + " names the unknown selection '" +
                  rules->selection + "'";
      return out;
    }
    const BackendSelection& table = it->second;
    for (const SelectionCandidate& c : table.candidates) {
      MatchContext context = match_context(ruleset, problem, method, c.backend, platform, parallel, act_dtype, settings);
      if (!matches(c.when, context)) continue;
      out.step = "table";
      out.source = pointer_of(c.where) + (c.source.empty() ? "" : ": " + c.source);
      out.note = c.note;
      if (c.error) {
        out.error = *c.error;
        return out;
      }
      const BackendChoice* choice = rules->find_backend(c.backend);
      if (!choice || !backend_runs_on(*choice, platform)) continue;
      out.backend = c.backend;
      return out;
    }
    out.step = "otherwise";
    out.source = pointer_of(table.where) + (table.source.empty() ? "" : ": " + table.source);
    out.error = table.otherwise.empty() ? "no backend of " + std::string(method) + " supports " +
                                              std::string(platform.name) + " in ruleset " + ruleset.name
                                        : table.otherwise;
    return out;
  }
  if (rules->mxfp4_backend_selection) {
    SelectionInputs in;
    in.platform = platform;
    const SelectionResult s = select_mxfp4_backend(ruleset, in);
    out.backend = s.backend;
    out.error = s.error;
    out.step = s.step;
    out.source = "padding.md §2.2 (select_mxfp4_moe_backend) with the priority list and fallbacks of " + ruleset.name;
    return out;
  }
  std::vector<std::string> here;
  for (const BackendChoice& b : rules->backends)
    if (backend_runs_on(b, platform)) here.push_back(b.name);
  if (here.size() == 1) {
    out.backend = here.front();
    out.step = "only backend";
    out.source = "the only backend of " + std::string(method) + " on " + std::string(platform.name) + " in " + ruleset.name;
    return out;
  }
  out.step = "not modelled";
  out.error = "ruleset " + ruleset.name + " (schema " + std::to_string(ruleset.schema) + ") does not model the backend selection of " +
              std::string(method) + (here.empty() ? " (no backend runs on " + std::string(platform.name) + ")"
                                                  : "; name one of its backends");
  return out;
}

}  // namespace moecheck::reference::padding
