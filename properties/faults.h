// The fault catalog: every bug class of spec/bugs.md as a switchable fault, so the suite can prove
// that it catches real bugs (`moecheck selftest`, MOECHECK_FAULT=NAME). Kernel faults live in the
// sim backend (device::FaultSwitches, described in device::kernel_faults()); padding-path faults
// are transforms at the named seams of the layer that plans, pads, routes and slices
// (properties/case.cpp), applied by the seam functions below. Each fault's description, upstream
// reference and visibility condition is written once, in its catalog entry (faults.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "device/backend.h"
#include "fixtures/moe_case.h"
#include "reference/padding/partition.h"
#include "reference/padding/plan.h"

namespace moecheck::properties {

// Faults of the padding path, one switch per catalog entry (fault_catalog() describes each).
// Every field defaults to "no fault"; each is a no-op on the unpadded run.
struct PaddingFaults {
  bool output_read_with_logical_stride = false;    // B5, at the slice
  bool output_not_sliced = false;                  // B6, at the slice
  bool router_on_padded_activations = false;       // B7, at the router input
  bool weights_hidden_alignment_diverges = false;  // B8, at the plan (of the weights)
  bool uninit_pad_weights = false;                 // B9, at the padded case
  bool intermediate_pad_counted_twice = false;     // B11, at the padded case
  bool mxfp4_rule_on_other_formats = false;        // B13, at the plan
  bool expert_map_wraps_minus_one = false;         // B18, at the expert map
  bool expert_scales_by_local_id = false;          // B19, at the per-expert scales

  bool any() const;  // some switch of the catalog is on
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

// Where a fault acts: in the sim's kernel, or at one seam of the padding path.
enum class FaultSite : std::uint8_t {
  kKernel,       // device::FaultSwitches, honoured by backends that inject faults
  kPlan,         // the plan the layer pads with, or its weights are allocated with
  kPaddedCase,   // the padded case as the pad functions left it
  kRouterInput,  // the hidden states the router reads
  kSlice,        // the slice of the kernel's [T, H_pad] output back to [T, H]
  kExpertMap,    // the remap of the dispatched global expert ids to this rank's local ids
  kExpertScales,  // the per-expert scalars (NVFP4 weight_scale_2) a rank loads for its experts
};
// "sim kernel", "plan", "padded case", "router input", "slice", "expert map", "expert scales"
std::string_view name(FaultSite site);
bool in_padding_path(FaultSite site);   // every site but kKernel

// Which generated cases a fault can act on. Every case the generators draw is TP 1 without EP
// (properties/gen/case.h, valid_targets): a fault in the rank-sharding path (a scale grid offset, the
// -1 ids of other ranks' slots, a rank's expert offset) is inert on it by construction, and only P6,
// which re-runs each case on TP and EP ranks, can see it. The selftest runs such a fault against the
// properties that shard (shards_cases) alone; FaultScope.ShardedFaultsAreInertOnUnshardedCases
// checks the claim on every scheme.
enum class FaultScope : std::uint8_t {
  kAnyCase,
  kShardedCase,
};

struct FaultInfo {
  std::string_view name;         // "uninit_pad_weights"
  std::string_view bug;          // "B9"
  std::string_view upstream;     // the upstream reference of spec/bugs.md
  std::string_view description;  // what the fault does and when it is visible
  FaultSite site;
  // The switch: a device::FaultSwitches member (kKernel) or a PaddingFaults member (the seams).
  bool device::FaultSwitches::*kernel_flag = nullptr;
  bool PaddingFaults::*padding_flag = nullptr;
  FaultScope scope = FaultScope::kAnyCase;
  // The padding-registry methods whose kernels hold the seam (comma-separated; empty: every
  // method): B16 lives in block-FP8 scale grids, B17 in Marlin's WNA16 preparation. The selftest
  // draws such a fault's cases from them only, rather than spending its budget on schemes where the
  // fault is inert by construction.
  std::string_view methods = "";
};
// FaultInfo::methods as a list (empty: every method).
std::vector<std::string> fault_methods(const FaultInfo& fault);
// The backends of `backends` a run with `fault` can use: all of them for a padding-path fault, those
// whose Capabilities::faults list it for a kernel fault (the others would refuse its cases).
std::vector<std::string> injecting_backends(const FaultInfo& fault, std::span<const device::Backend* const> backends);

// Turns `fault` on in `faults`.
void enable(const FaultInfo& fault, Faults& faults);

// Every catalogued fault, in spec/bugs.md order (B1 ... B20).
std::span<const FaultInfo> fault_catalog();
const FaultInfo* find_fault(std::string_view name);  // nullptr if unknown
std::string fault_names();                           // comma-separated, for error messages

// A comma-separated list of catalog names; std::invalid_argument naming `what` and the valid
// names for an unknown one. Empty: no fault.
Faults parse_faults(std::string_view list, std::string_view what = "fault list");
// The faults named by MOECHECK_FAULT (parse_faults); none when unset.
Faults env_faults();

// ---- The seams of the padding path -------------------------------------------------------------
// Each returns (or leaves) its input unchanged unless one of its faults is on, so the padding path
// reads as the production one does: plan → padded weights → router input → slice.

// The plan the layer pads with: the ruleset's `plan`, or (B13) the MXFP4 rounding applied to a
// non-MXFP4 scheme's method.
reference::padding::Plan at_plan(const fixtures::MoeCase& c, reference::padding::Plan plan,
                                 const PaddingFaults& faults);
// The plan the weights are allocated with: the layer's, or (B8) the other ROCm hidden alignment.
reference::padding::Plan at_weight_plan(reference::padding::Plan plan, const PaddingFaults& faults);
// The padded case after the pad functions: (B9) its padded weight regions keep the allocator's
// garbage, re-poisoned from `seed`; (B11) live rows at the bottom of each w13 half are zeroed.
// `shard` is the rank's, `hidden` the logical H.
void at_padded_case(device::PaddedCase& padded, const reference::padding::RankShard& shard, std::int64_t hidden,
                    std::uint64_t seed, const PaddingFaults& faults);
// The [T, H] hidden states the router reads: the logical ones, or (B7) the padded activations read
// as [T, H] rows.
reference::moe::RowMatrix<float> at_router_input(const fixtures::MoeCase& c, const device::PaddedCase& padded,
                                                 const PaddingFaults& faults);
// The local id the kernel receives for a token's routed global expert `global_id` (EP: vLLM's
// expert_map over the dispatcher's ids, -1 for another rank's expert), or (B18) the map indexed
// with that -1, which wraps to the last global expert's entry. `global_experts` counts all ranks'.
std::int32_t at_expert_map(std::int64_t global_id, const reference::padding::RankShard& shard,
                           std::int64_t global_experts, const PaddingFaults& faults);
// The per-expert scalars [e, parts, 1] of the rank's experts, cut from the checkpoint's [E, parts, 1]
// (pd::shard_expert_scalars: by global id), or (B19) the first e entries, indexed by local id.
reference::padding::Tensor<float> at_expert_scales(const reference::padding::Tensor<float>& global,
                                                   const reference::padding::Partition& partition, int rank,
                                                   const PaddingFaults& faults);
// The slice of the kernel output's real rows [T, H_pad] (a padded batch's pad rows dropped):
// std::nullopt for the production slice; (B6) all H_pad
// columns kept; (B5) the buffer read as [T, H].
std::optional<std::vector<float>> at_slice(const device::PaddedCase& padded, std::span<const float> output,
                                           const PaddingFaults& faults);

}  // namespace moecheck::properties
