// The device interface: one fused-MoE call on padded shapes (padding.md §1.4–§1.7, §4) and the
// capabilities a backend declares. `properties/` and `tools/` code against this header and the
// registry (registry.h); `sim`, and later `cuda`, `hip` and vendor backends, plug in through the
// registry without touching them. Nothing here includes an implementation.
//
// Conventions shared by every field below:
// - Sizes come from `plan`: logical `plan.hidden` (H), `plan.intermediate_per_partition` (I) and
//   the padded ones the kernel runs on, `plan.hidden_padded` (H_pad),
//   `plan.intermediate_per_partition_padded` (I_pad). Tensors are in padded shapes.
// - Float tensors hold values of the model dtype (`dtype`): a bf16 model's floats are
//   bf16-representable, as the golden model keeps them.
// - The shared expert and the router are not part of the call: the caller routes on the LOGICAL
//   hidden states (padding.md §1.4, bugs.md B7) and adds the shared expert itself.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/formats/format.h"
#include "reference/moe/activation.h"
#include "reference/moe/dtype.h"
#include "reference/padding/plan.h"
#include "reference/padding/poison.h"
#include "reference/padding/tensor.h"
#include "reference/quant/scheme.h"

namespace moecheck::device {

// The weight encodings a backend reads: the rows of reference/quant/scheme.h, the one vocabulary
// (the registry methods, the fixtures and the sim all name a scheme by it).
using reference::quant::WeightScheme;
using reference::quant::name;

// Faults the `sim` pipeline can exhibit, one switch per bug class of spec/bugs.md that lives in
// the kernel (padding-code faults live in the caller's padding path, properties/faults.h). What
// each does, its upstream reference and when it is visible are written once, in kernel_faults().
// Every field defaults to "no fault". A backend lists the faults it injects in
// Capabilities::faults and refuses a case that switches on another (Capabilities::fault_problem).
struct FaultSwitches {
  bool skip_last_output_tile = false;       // B3
  bool uninitialized_k_tail_lanes = false;  // B4
  bool read_padded_scales = false;          // B1
  bool e8m0_scale_misindex = false;         // B2
  bool nan_for_empty_experts = false;       // B10
  bool w13_end_padded = false;              // B12
  bool scale_tile_rank_local = false;       // B16
  bool swizzle_stride_from_logical_extents = false;  // B14
  bool activation_scale_padding_unwritten = false;   // B15
  bool unwritten_slots_reduced = false;     // B18
  bool sort_keeps_first_duplicate = false;  // B20
  bool marlin_scales_keyed_on_intermediate = false;  // B17

  bool any() const;  // some switch of kernel_faults() is on
};

// The kernel faults by name, one source of truth for the fault catalog (MOECHECK_FAULT=NAME):
// `flag` is the FaultSwitches member it turns on.
struct KernelFaultInfo {
  std::string_view name;         // the member's name: "skip_last_output_tile", ...
  std::string_view bug;          // spec/bugs.md id: "B3"
  std::string_view upstream;     // the upstream reference
  std::string_view description;  // what the sim does when it is on, and when it is visible
  bool FaultSwitches::*flag;
};
std::span<const KernelFaultInfo> kernel_faults();
const KernelFaultInfo* find_kernel_fault(std::string_view name);  // nullptr if unknown

// One projection of the E local experts in its scheme's storage, padded: a tensor per component of
// the scheme (reference/quant/scheme.h), shaped by quant::stacked_shape — w13 two parts (gate, up)
// of I_pad rows over K = H_pad, w2 one part of H_pad rows over K = I_pad. The tensors of components
// the scheme lacks are empty (shape {}).
struct PaddedWeight {
  reference::padding::Tensor<float> values;              // kValues: model-dtype values
  reference::padding::Tensor<std::uint8_t> codes;        // kCodes: element codes, packed along K
  reference::padding::Tensor<std::uint8_t> scale_bytes;  // kScaleBytes: E8M0 / ue4m3 scale codes
  reference::padding::Tensor<float> scales;              // kScales: fp32 multipliers
  reference::padding::Tensor<std::uint8_t> zero_points;  // kZeroPoints: integer zero points (WNA16 qzeros)
  reference::padding::Tensor<float> input_scales;        // kInputScales: static activation scales [E, 1, 1]
  reference::padding::Tensor<float> group_index;         // kGroupIndex: act-order g_idx [E, 1, K] (exact fp32)
  // A 2-D scale grid of a TP shard off the block grid (GenericLoader::BlockScales::kGlobalGrid,
  // spec/bugs.md B16): the shard's first intermediate row sits `scale_grid_offset` rows into its
  // first block, so intermediate row r (w13's rows, w2's K) uses grid block (offset + r) / block,
  // and the grid holds cdiv(offset + I, block) blocks along that axis. 0 on the grid.
  std::int64_t scale_grid_offset = 0;

  reference::padding::Tensor<float>& floats(reference::quant::Component component);
  reference::padding::Tensor<std::uint8_t>& bytes(reference::quant::Component component);
  const reference::padding::Tensor<float>& floats(reference::quant::Component component) const;
  const reference::padding::Tensor<std::uint8_t>& bytes(reference::quant::Component component) const;
  // Calls f(component spec, tensor) for every component of `scheme` (Tensor<float>& or
  // Tensor<std::uint8_t>&).
  template <class F>
  void for_each(const reference::quant::SchemeSpec& scheme, F&& f) {
    for (const reference::quant::ComponentSpec& c : scheme.components) {
      if (reference::quant::holds_floats(c.component))
        f(c, floats(c.component));
      else
        f(c, bytes(c.component));
    }
  }
  template <class F>
  void for_each(const reference::quant::SchemeSpec& scheme, F&& f) const {
    for (const reference::quant::ComponentSpec& c : scheme.components) {
      if (reference::quant::holds_floats(c.component))
        f(c, floats(c.component));
      else
        f(c, bytes(c.component));
    }
  }
};

// Everything one fused-MoE call needs, on padded shapes. E = local experts, T = tokens, k = top_k.
struct PaddedCase {
  reference::padding::Plan plan;  // logical and padded sizes
  WeightScheme scheme = WeightScheme::kDense;

  // Block semantics the kernel needs.
  reference::moe::Activation activation = reference::moe::Activation::kSilu;
  reference::moe::GateUpLayout layout = reference::moe::GateUpLayout::kConcatenated;
  reference::moe::Dtype dtype = reference::moe::Dtype::kF32;  // the model (activation) dtype
  bool weights_on_input = false;  // Llama-4: the router weight scales the input, not the output

  std::int64_t tokens = 0;   // T, pad rows included
  // Of the T rows, the last pad_rows are the token padding of a CUDA-graph / DP batch
  // (plan.batch_rows, spec/bugs.md B20): rows of plan.pad_row_fill, routed as the engine's top-k
  // routes them; the caller drops their output rows.
  std::int64_t pad_rows = 0;
  std::int64_t experts = 0;  // E
  std::int64_t top_k = 0;    // k

  // The weights, in the scheme's storage (PaddedWeight). Rows of w13: kConcatenated = [gate half of
  // I_pad rows; up half of I_pad rows], each half's padding at its bottom; kInterleaved = row 2i
  // gate_i, row 2i+1 up_i, padding at the tail. A 2-D scale grid (FP8 blocks) is per half: gate
  // grid rows first; row r of half h uses grid row h·ceil(I_pad/128) + r/128.
  PaddedWeight w13;  // [E, 2·I_pad, H_pad] as a matrix
  PaddedWeight w2;   // [E, H_pad, I_pad]

  // Biases in the model dtype, or empty (shape {}) when the block has none.
  reference::padding::Tensor<float> w13_bias;  // [E, 2·I_pad], rows as w13
  reference::padding::Tensor<float> w2_bias;   // [E, H_pad]

  // The padded activation tensor, as the kernel receives it: [T, H_pad], padded as the plan says
  // (zeros on the right; padding.md §1.4). Plans with skip_forward_padding reach the kernel
  // unpadded and the kernel pads internally: the caller passes that zero-padded form at H_pad here
  // too.
  reference::padding::Tensor<float> hidden_states_padded;
  // Routing, computed by the caller on the LOGICAL hidden states: local expert ids in [0, E), or
  // -1 for an expert of another EP rank (vLLM's expert_map; that slot contributes zero), and
  // weights (values of the weights precision), [T, k].
  reference::padding::Tensor<std::int32_t> topk_ids;
  reference::padding::Tensor<float> topk_weights;

  FaultSwitches faults;  // default: none
  // Seeds the poison of every buffer the backend allocates itself (workspaces, caches), so that a
  // run is reproducible from the case alone (reference/padding/poison.h).
  std::uint64_t poison_seed = reference::padding::kDefaultPoisonSeed;

  std::int64_t hidden_padded() const { return plan.hidden_padded; }
  std::int64_t intermediate_padded() const { return plan.intermediate_per_partition_padded; }
};

// Throws std::invalid_argument naming the first field whose shape or contents disagree with the
// plan and scheme (expected and actual shape; ids out of range).
void validate(const PaddedCase& padded_case);

struct Capabilities {
  std::vector<WeightScheme> schemes;
  std::vector<reference::moe::GateUpLayout> layouts;
  std::vector<reference::moe::Activation> activations;
  std::vector<reference::moe::Dtype> dtypes;
  bool weights_on_input = false;  // supports the Llama-4 input-side router weight
  bool biases = false;            // supports w13/w2 biases

  // Padded zeros leave every fp32 sum bitwise unchanged, so the padded run sliced to the logical
  // width equals the unpadded run bitwise (+0 and −0 count as equal): P1 may demand bit identity.
  bool order_preserving = false;
  // When !order_preserving: the largest ULP distance (in the model dtype) P1 allows between the
  // padded-sliced and the unpadded run; 0 when order_preserving.
  int ulp_bound = 0;
  std::string tolerance_reason;  // why that bound (or why bitwise) — printed by reports

  // Tile sizes the backend models (0 where not meaningful).
  std::int64_t block_m = 0, block_n = 0, block_k = 0;
  // The kernel faults it injects (kernel_faults() names); a case switching on another one is refused.
  std::vector<std::string> faults;

  bool supports(WeightScheme scheme) const;
  bool supports(reference::moe::GateUpLayout layout) const;
  bool supports(reference::moe::Activation activation) const;
  bool supports(reference::moe::Dtype dtype) const;
  // Whether this backend can run the case (scheme, layout, activation, dtype, biases, weights on input).
  bool supports(const PaddedCase& padded_case) const;
  bool injects(std::string_view fault) const;
  // The first switch of `switches` that is on and not injected ("does not inject fault NAME
  // (B3)"), or empty.
  std::string fault_problem(const FaultSwitches& switches) const;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Fills `output` [T, H_pad] (row-major), which the caller has poisoned; every element must be
  // written. Throws std::invalid_argument for an invalid or unsupported case.
  virtual void run(const PaddedCase& padded_case, std::span<float> output) const = 0;
};

}  // namespace moecheck::device
