#include "properties/faults.h"

#include <array>
#include <cstdlib>
#include <stdexcept>

namespace moecheck::properties {

std::string_view name(FaultSite site) { return site == FaultSite::kKernel ? "sim kernel" : "padding path"; }

namespace {

// One catalog entry for a kernel fault, taken from device::kernel_faults() (its single source).
FaultInfo kernel_entry(std::string_view fault_name) {
  const device::KernelFaultInfo* k = device::find_kernel_fault(fault_name);
  if (!k) throw std::logic_error("fault_catalog: no kernel fault '" + std::string(fault_name) + "'");
  return FaultInfo{k->name, k->bug, k->upstream, k->description, FaultSite::kKernel, k->flag, nullptr};
}

std::array<FaultInfo, 13> make_catalog() {
  using P = PaddingFaults;
  return {{
      kernel_entry("read_padded_scales"),
      kernel_entry("e8m0_scale_misindex"),
      kernel_entry("skip_last_output_tile"),
      kernel_entry("uninitialized_k_tail_lanes"),
      {"output_read_with_logical_stride", "B5", "vllm-project/vllm#52051",
       "the finalize reads the padded [T, H_pad] kernel output as an unpadded [T, H] result (row t at offset "
       "t*H; visible when H_pad > H and T >= 2)",
       FaultSite::kPaddingPath, nullptr, &P::output_read_with_logical_stride},
      {"output_not_sliced", "B6", "sgl-project/sglang PR #27528 (regression from #27063)",
       "the final reshape uses the padded hidden size: the output keeps H_pad columns (visible when H_pad > H)",
       FaultSite::kPaddingPath, nullptr, &P::output_not_sliced},
      {"router_on_padded_activations", "B7", "sgl-project/sglang PR #37308",
       "the router reads the pre-padded [T, H_pad] activations as [T, H] rows (visible when H_pad > H and T >= 2)",
       FaultSite::kPaddingPath, nullptr, &P::router_on_padded_activations},
      {"weights_hidden_alignment_diverges", "B8", "vllm-project/vllm PR #32307, PR #34285",
       "the weights are allocated with the other ROCm hidden alignment (128 vs 256) than the activations "
       "(visible when the two round H differently)",
       FaultSite::kPaddingPath, nullptr, &P::weights_hidden_alignment_diverges},
      {"uninit_pad_weights", "B9", "vllm-project/vllm PR #55251",
       "the padded rows and columns of w13 and w2 keep the allocator's garbage (visible when H_pad > H or "
       "I_pad > I)",
       FaultSite::kPaddingPath, nullptr, &P::uninit_pad_weights},
      kernel_entry("nan_for_empty_experts"),
      {"intermediate_pad_counted_twice", "B11", "vllm-project/vllm#46201, PR #42098 (PR #44679)",
       "the caller passes intermediate_pad // 64 * 64 * 2 and the kernel zeroes that many rows at the bottom of "
       "each w13 half, live rows included (visible when I_pad - I >= 64)",
       FaultSite::kPaddingPath, nullptr, &P::intermediate_pad_counted_twice},
      kernel_entry("w13_end_padded"),
      {"mxfp4_rule_on_other_formats", "B13", "vllm-project/vllm PR #34285 review; PR #38774",
       "the MXFP4 NONE-backend rounding (ROCm hidden 256, CUDA intermediate 64) is applied to non-MXFP4 weights "
       "(visible for dense cases on CUDA with I % 64 != 0 or ROCm with H % 256 != 0)",
       FaultSite::kPaddingPath, nullptr, &P::mxfp4_rule_on_other_formats},
  }};
}

}  // namespace

std::span<const FaultInfo> fault_catalog() {
  static const std::array<FaultInfo, 13> catalog = make_catalog();
  return catalog;
}

const FaultInfo* find_fault(std::string_view fault_name) {
  for (const FaultInfo& f : fault_catalog())
    if (f.name == fault_name) return &f;
  return nullptr;
}

std::string fault_names() {
  std::string out;
  for (const FaultInfo& f : fault_catalog()) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

void enable(const FaultInfo& fault, Faults& faults) {
  if (fault.kernel_flag) faults.kernel.*fault.kernel_flag = true;
  if (fault.padding_flag) faults.padding.*fault.padding_flag = true;
}

Faults parse_faults(std::string_view list, std::string_view what) {
  Faults f;
  std::string_view rest = list;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view fault_name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (fault_name.empty()) continue;
    const FaultInfo* info = find_fault(fault_name);
    if (!info)
      throw std::invalid_argument(std::string(what) + ": unknown fault '" + std::string(fault_name) +
                                  "'; valid: " + fault_names());
    enable(*info, f);
  }
  return f;
}

Faults env_faults() {
  const char* env = std::getenv("MOECHECK_FAULT");
  return env ? parse_faults(env, "MOECHECK_FAULT") : Faults{};
}

}  // namespace moecheck::properties
