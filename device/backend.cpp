#include "device/backend.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>


namespace moecheck::device {

namespace rq = reference::quant;

reference::padding::Tensor<float>& PaddedWeight::floats(rq::Component c) {
  return c == rq::Component::kValues        ? values
         : c == rq::Component::kInputScales ? input_scales
         : c == rq::Component::kGroupIndex  ? group_index
                                            : scales;
}
reference::padding::Tensor<std::uint8_t>& PaddedWeight::bytes(rq::Component c) {
  return c == rq::Component::kCodes ? codes : c == rq::Component::kZeroPoints ? zero_points : scale_bytes;
}
const reference::padding::Tensor<float>& PaddedWeight::floats(rq::Component c) const {
  return c == rq::Component::kValues        ? values
         : c == rq::Component::kInputScales ? input_scales
         : c == rq::Component::kGroupIndex  ? group_index
                                            : scales;
}
const reference::padding::Tensor<std::uint8_t>& PaddedWeight::bytes(rq::Component c) const {
  return c == rq::Component::kCodes ? codes : c == rq::Component::kZeroPoints ? zero_points : scale_bytes;
}

std::span<const KernelFaultInfo> kernel_faults() {
  static const KernelFaultInfo faults[] = {
      {"skip_last_output_tile", "B3", "ROCm/aiter PR #3538",
       "GEMM1's grid is sized from the logical intermediate size: w13 output tiles past ceil(2*I/BLOCK_N) stay "
       "poisoned in the intermediate cache (visible when I_pad > I)",
       &FaultSwitches::skip_last_output_tile},
      {"uninitialized_k_tail_lanes", "B4", "ROCm/aiter PR #3117 -> #3344 (revert) -> #3537",
       "GEMM2's K lanes in [I, I_pad) hold poison instead of loaded zeros (visible when I_pad > I)",
       &FaultSwitches::uninitialized_k_tail_lanes},
      {"read_padded_scales", "B1", "flashinfer-ai/flashinfer#2861; vllm-project/vllm PR #38148",
       "the last real w13 row of each half (I-1) is dequantized with the scales of the last padded row of that "
       "half (I_pad-1; for a 2-D grid, its grid row) (quantized schemes; visible when I_pad > I, for a grid when "
       "the two rows fall in different grid rows)",
       &FaultSwitches::read_padded_scales},
      {"e8m0_scale_misindex", "B2", "ROCm/aiter#5233, PR #5232",
       "GEMM2 reads the w2 E8M0 scales with row stride round_up(I_pad, 256)/32 (MXFP4; visible when "
       "I_pad % 256 != 0)",
       &FaultSwitches::e8m0_scale_misindex},
      {"nan_for_empty_experts", "B10", "vllm-project/vllm PR #39645 (test_batched_moe_scale_init.py)",
       "the per-expert activation-scale workspace is allocated NaN and set only for experts with tokens; the "
       "finalize reduces over every expert slot (weight 0 for the unselected ones), so 0 * NaN reaches every "
       "token's output (visible when some expert gets no token)",
       &FaultSwitches::nan_for_empty_experts},
      {"w13_end_padded", "B12", "vllm-project/vllm#48624",
       "a concatenated w13 (biases, scale rows) arrives end-padded [gate, up, zeros] and is split at I_pad "
       "(visible when I_pad > I)",
       &FaultSwitches::w13_end_padded},
      {"swizzle_stride_from_logical_extents", "B14", "vllm-project/vllm PR #35497; flashinfer-ai/flashinfer#4653, PR #2898",
       "the kernel finds expert e's 128x4-swizzled block scales at e * rows * groups, the plain (unswizzled) extents "
       "of the padded projection, instead of e * round_up(rows, 128) * round_up(groups, 4) (swizzled NVFP4; "
       "visible for experts e >= 1 when the scale rows are not a multiple of 128 or the groups of 4: w2 with "
       "H_pad % 128 != 0, w13 with H_pad % 64 != 0)",
       &FaultSwitches::swizzle_stride_from_logical_extents},
      {"activation_scale_padding_unwritten", "B15", "vllm-project/vllm#49783, PR #49784, PR #56290; sgl-project/sglang PR #32386",
       "DeepGEMM's contiguous layout allocates the permuted activation-scale buffer with torch.empty at the "
       "block-aligned height and scatters only the real pairs' scales; the UE8M0 packer's device assert then meets "
       "the alignment padding rows' garbage (fp8_block128_w8a8_ue8m0; visible whenever an expert's tokens are not "
       "a multiple of BLOCK_M, i.e. almost always)",
       &FaultSwitches::activation_scale_padding_unwritten},
      {"scale_tile_rank_local", "B16", "vllm-project/vllm PR #52915, #52997; ROCm/ATOM#442",
       "a TP shard off the 128-row grid picks each row's FP8 scale block from its rank-local row r / 128 instead "
       "of the checkpoint's (rank_offset + r) / 128 (visible when a rank's rows straddle a block boundary at "
       "another offset: I/tp = 96, 160, 192 under a ruleset that loads such shards)",
       &FaultSwitches::scale_tile_rank_local},
      {"unwritten_slots_reduced", "B18", "vllm-project/vllm PR #46408, PR #54083",
       "the GEMM leaves the rows of -1 (non-local) slots unwritten in its reused output workspace and the top-k "
       "reduction sums all k slots, garbage included (visible under EP when a token routes to another rank's "
       "expert)",
       &FaultSwitches::unwritten_slots_reduced},
      {"sort_keeps_first_duplicate", "B20", "vllm-project/vllm PR #39391; flashinfer-ai/flashinfer PR #3011",
       "the token sort scatters only the first of a token's slots that name the same expert; the position it "
       "reserved for the others keeps the uninitialized permutation buffer's garbage, which the GEMM reads as a "
       "pair index (an illegal access, or a real pair's row computed twice; visible when a row's top-k ids repeat: "
       "NaN pad rows of a CUDA-graph batch)",
       &FaultSwitches::sort_keeps_first_duplicate},
      {"marlin_scales_keyed_on_intermediate", "B17", "vllm-project/vllm PR #50196; sgl-project/sglang#36822",
       "Marlin's weight preparation permutes w13's group scales with size_k = the per-partition intermediate size "
       "instead of w13's K (H_pad): at I/tp <= group it picks the single-group permutation while the kernel, "
       "seeing H_pad / group > 1 scale rows, reads the grouped one, so scales land in the wrong columns (Marlin "
       "WNA16 rows; visible when I/tp <= 128 and H_pad >= 256)",
       &FaultSwitches::marlin_scales_keyed_on_intermediate},
  };
  return faults;
}

bool FaultSwitches::any() const {
  const auto faults = kernel_faults();
  return std::any_of(faults.begin(), faults.end(), [this](const KernelFaultInfo& f) { return this->*f.flag; });
}

const KernelFaultInfo* find_kernel_fault(std::string_view fault_name) {
  for (const KernelFaultInfo& f : kernel_faults())
    if (f.name == fault_name) return &f;
  return nullptr;
}

namespace {

using reference::padding::Shape;
using reference::padding::to_string;

template <class T>
void expect_shape(const reference::padding::Tensor<T>& t, const Shape& expected, std::string_view what) {
  if (t.shape != expected)
    throw std::invalid_argument("PaddedCase." + std::string(what) + ": expected shape " + to_string(expected) +
                                ", found " + to_string(t.shape));
  if (t.data.size() != static_cast<std::size_t>(t.numel()))
    throw std::invalid_argument("PaddedCase." + std::string(what) + ": " + std::to_string(t.data.size()) +
                                " values for shape " + to_string(t.shape));
}

// Every component of `scheme` has the shape rule's shape; the others are empty.
// `whole_cols`: the K extent of a component the loader keeps whole under TP (whole_k_under_tp).
void expect_weight(const PaddedWeight& w, const rq::SchemeSpec& scheme, std::int64_t experts, std::int64_t parts,
                   std::int64_t part_rows, std::int64_t cols, std::int64_t whole_cols, std::string_view what) {
  for (const rq::Component c : rq::kAllComponents) {
    const std::string field = std::string(what) + "." + std::string(rq::name(c));
    const rq::ComponentSpec* spec = scheme.find(c);
    if (!spec) {
      const Shape& found = rq::holds_floats(c) ? w.floats(c).shape : w.bytes(c).shape;
      if (!found.empty())
        throw std::invalid_argument("PaddedCase." + field + ": expected empty (" + std::string(scheme.name) +
                                    " has no " + std::string(rq::name(c)) + "), found shape " + to_string(found));
      continue;
    }
    // A grid of an off-grid shard spans offset + I rows of the intermediate axis (B16).
    const std::int64_t offset = spec->row_block > 1 ? w.scale_grid_offset : 0;
    if (offset < 0 || (offset > 0 && offset >= spec->row_block))
      throw std::invalid_argument("PaddedCase." + std::string(what) + ".scale_grid_offset: expected in [0, " +
                                  std::to_string(spec->row_block) + "), found " + std::to_string(offset));
    const std::int64_t k = spec->whole_k_under_tp ? whole_cols : cols;
    const Shape expected = parts == 2 ? rq::device_shape(scheme, *spec, experts, parts, part_rows + offset, k)
                                      : rq::device_shape(scheme, *spec, experts, parts, part_rows, k + offset);
    if (rq::holds_floats(c))
      expect_shape(w.floats(c), expected, field);
    else
      expect_shape(w.bytes(c), expected, field);
  }
}


}  // namespace

void validate(const PaddedCase& c) {
  const std::int64_t e = c.experts, t = c.tokens, k = c.top_k;
  const std::int64_t h = c.plan.hidden, hp = c.plan.hidden_padded;
  const std::int64_t i = c.plan.intermediate_per_partition, ip = c.plan.intermediate_per_partition_padded;
  // top_k may exceed the local experts under EP (a rank holding fewer experts than a token picks).
  if (e < 1 || t < 0 || k < 1)
    throw std::invalid_argument("PaddedCase: need experts >= 1, tokens >= 0, top_k >= 1; found experts " +
                                std::to_string(e) + ", tokens " + std::to_string(t) + ", top_k " + std::to_string(k));
  if (h < 1 || hp < h || i < 1 || ip < i)
    throw std::invalid_argument("PaddedCase.plan: need 1 <= hidden <= hidden_padded and 1 <= intermediate <= "
                                "intermediate_padded; found H " + std::to_string(h) + "/" + std::to_string(hp) +
                                ", I " + std::to_string(i) + "/" + std::to_string(ip));
  const rq::SchemeSpec& scheme = rq::spec(c.scheme);
  if (const std::string why = rq::size_problem(scheme, hp, ip); !why.empty())
    throw std::invalid_argument("PaddedCase: padded sizes: " + why);
  expect_weight(c.w13, scheme, e, 2, ip, hp, hp, "w13");
  // w2's K is the rank's I; a component kept whole under TP spans the checkpoint's (unpadded) I.
  expect_weight(c.w2, scheme, e, 1, hp, ip, c.plan.intermediate_full, "w2");
  if (!c.w13_bias.shape.empty()) expect_shape(c.w13_bias, {e, 2 * ip}, "w13_bias");
  if (!c.w2_bias.shape.empty()) expect_shape(c.w2_bias, {e, hp}, "w2_bias");
  expect_shape(c.hidden_states_padded, {t, hp}, "hidden_states_padded");
  expect_shape(c.topk_ids, {t, k}, "topk_ids");
  expect_shape(c.topk_weights, {t, k}, "topk_weights");
  for (std::size_t n = 0; n < c.topk_ids.data.size(); ++n)
    if (c.topk_ids.data[n] < -1 || c.topk_ids.data[n] >= e)
      throw std::invalid_argument("PaddedCase.topk_ids: element " + std::to_string(n) + " is " +
                                  std::to_string(c.topk_ids.data[n]) + ", expected a local expert id in [0, " +
                                  std::to_string(e) + ") or -1 (an expert of another EP rank)");
}

bool Capabilities::injects(std::string_view fault) const {
  return std::find(faults.begin(), faults.end(), fault) != faults.end();
}
std::string Capabilities::fault_problem(const FaultSwitches& switches) const {
  for (const KernelFaultInfo& info : kernel_faults())
    if (switches.*info.flag && !injects(info.name))
      return "does not inject fault " + std::string(info.name) + " (" + std::string(info.bug) + ")";
  return {};
}

bool Capabilities::supports(WeightScheme scheme) const {
  return std::find(schemes.begin(), schemes.end(), scheme) != schemes.end();
}
bool Capabilities::supports(reference::moe::GateUpLayout layout) const {
  return std::find(layouts.begin(), layouts.end(), layout) != layouts.end();
}
bool Capabilities::supports(reference::moe::Activation activation) const {
  return std::find(activations.begin(), activations.end(), activation) != activations.end();
}
bool Capabilities::supports(reference::moe::Dtype dtype) const {
  return std::find(dtypes.begin(), dtypes.end(), dtype) != dtypes.end();
}
bool Capabilities::supports(const PaddedCase& c) const {
  const bool has_bias = !c.w13_bias.shape.empty() || !c.w2_bias.shape.empty();
  return supports(c.scheme) && supports(c.layout) && supports(c.activation) && supports(c.dtype) &&
         (biases || !has_bias) && (weights_on_input || !c.weights_on_input);
}

}  // namespace moecheck::device
