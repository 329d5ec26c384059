// The fault catalog: every bug class of spec/bugs.md as a switchable fault, so the suite can prove
// that it catches real bugs (`moecheck selftest`, MOECHECK_FAULT=NAME). Kernel faults live in the
// sim backend (device::FaultSwitches); padding-path faults live in the caller's padding code —
// the layer that plans, pads, routes and slices (properties/case.h) — and are switched here.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "device/backend.h"

namespace moecheck::properties {

// Faults of the padding path (the layer around the kernel). Every field defaults to "no fault";
// each is a no-op on the unpadded run (plan sizes equal to the logical ones).
struct PaddingFaults {
  // B5 (vllm-project/vllm#52051): the finalize treats the padded [T, H_pad] kernel output as an
  // unpadded [T, H] result: row t is read from offset t·H instead of t·H_pad. Visible when
  // H_pad > H and T >= 2.
  bool output_read_with_logical_stride = false;
  // B6 (sgl-project/sglang PR #27528): the final reshape uses the padded hidden size: the output
  // keeps H_pad columns. Visible when H_pad > H (output shape contract).
  bool output_not_sliced = false;
  // B7 (sgl-project/sglang PR #37308): the router is fed the pre-padded activations, read as
  // [T, H] rows of the [T, H_pad] buffer (row t from offset t·H). Visible when H_pad > H and T >= 2.
  bool router_on_padded_activations = false;
  // B8 (vllm-project/vllm PR #32307, #34285): the weights are allocated with the hidden size of
  // the other ROCm alignment (128 where the plan says 256 and vice versa) while the activations
  // follow the plan. Visible when the two alignments round H differently.
  bool weights_hidden_alignment_diverges = false;
  // B9 (vllm-project/vllm PR #55251): the padded rows and columns of w13 and w2 are not filled:
  // they keep the allocator's garbage (the poison). Visible when H_pad > H or I_pad > I.
  bool uninit_pad_weights = false;
  // B11 (vllm-project/vllm#46201, PR #42098): the intermediate pad argument is doubled by the
  // caller, intermediate_pad // 64 · 64 · 2, and the kernel zeroes that many rows at the bottom
  // of each w13 half, live rows included. Visible when I_pad − I >= 64.
  bool intermediate_pad_counted_twice = false;
  // B13 (vllm-project/vllm PR #34285 review, PR #38774): the MXFP4 rounding (its NONE backend:
  // hidden to 256 on ROCm, intermediate to 64 on CUDA) is applied to a method whose weights are
  // not MXFP4. Visible for non-MXFP4 schemes on CUDA (I % 64 != 0) and ROCm (H % 256 != 0)
  // (ruleset conformance).
  bool mxfp4_rule_on_other_formats = false;

  bool any() const {
    return output_read_with_logical_stride || output_not_sliced || router_on_padded_activations ||
           weights_hidden_alignment_diverges || uninit_pad_weights || intermediate_pad_counted_twice ||
           mxfp4_rule_on_other_formats;
  }
  bool operator==(const PaddingFaults&) const = default;
};

// All faults of one run: the kernel's and the padding path's.
struct Faults {
  device::FaultSwitches kernel;
  PaddingFaults padding;

  Faults() = default;
  Faults(const device::FaultSwitches& k) : kernel(k) {}  // NOLINT: a kernel fault set is a fault set
  bool any() const { return kernel.any() || padding.any(); }
};

enum class FaultSite : std::uint8_t { kKernel, kPaddingPath };
std::string_view name(FaultSite site);  // "sim kernel", "padding path"

struct FaultInfo {
  std::string_view name;         // "uninit_pad_weights"
  std::string_view bug;          // "B9"
  std::string_view upstream;     // the upstream reference of spec/bugs.md
  std::string_view description;  // what the fault does and when it is visible
  FaultSite site;
  // The switch: a device::FaultSwitches member (kKernel) or a PaddingFaults member (kPaddingPath).
  bool device::FaultSwitches::*kernel_flag = nullptr;
  bool PaddingFaults::*padding_flag = nullptr;
};

// Turns `fault` on in `faults`.
void enable(const FaultInfo& fault, Faults& faults);

// Every catalogued fault, in spec/bugs.md order (B1 ... B13).
std::span<const FaultInfo> fault_catalog();
const FaultInfo* find_fault(std::string_view name);  // nullptr if unknown
std::string fault_names();                           // comma-separated, for error messages

// A comma-separated list of catalog names; std::invalid_argument naming `what` and the valid
// names for an unknown one. Empty: no fault.
Faults parse_faults(std::string_view list, std::string_view what = "fault list");
// The faults named by MOECHECK_FAULT (parse_faults); none when unset.
Faults env_faults();

}  // namespace moecheck::properties
