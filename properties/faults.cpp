#include "properties/faults.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <iterator>
#include <stdexcept>
#include <type_traits>

#include "reference/padding/platform.h"
#include "reference/padding/poison.h"
#include "reference/quant/scheme.h"

namespace moecheck::properties {

namespace pd = reference::padding;
namespace rq = reference::quant;

std::string_view name(FaultSite site) {
  switch (site) {
    case FaultSite::kKernel: return "sim kernel";
    case FaultSite::kPlan: return "plan";
    case FaultSite::kPaddedCase: return "padded case";
    case FaultSite::kRouterInput: return "router input";
    case FaultSite::kExpertMap: return "expert map";
    case FaultSite::kSlice: return "slice";
    case FaultSite::kExpertScales: return "expert scales";
  }
  return "unknown";
}
bool in_padding_path(FaultSite site) { return site != FaultSite::kKernel; }

namespace {

// One catalog entry for a kernel fault, taken from device::kernel_faults() (its single source).
FaultInfo kernel_entry(std::string_view fault_name, FaultScope scope = FaultScope::kAnyCase,
                       std::string_view methods = "") {
  const device::KernelFaultInfo* k = device::find_kernel_fault(fault_name);
  if (!k) throw std::logic_error("fault_catalog: no kernel fault '" + std::string(fault_name) + "'");
  return FaultInfo{k->name, k->bug, k->upstream, k->description, FaultSite::kKernel, k->flag, nullptr, scope, methods};
}

std::array<FaultInfo, 21> make_catalog() {
  using P = PaddingFaults;
  return {{
      kernel_entry("read_padded_scales"),
      kernel_entry("e8m0_scale_misindex"),
      kernel_entry("skip_last_output_tile"),
      kernel_entry("uninitialized_k_tail_lanes"),
      {"output_read_with_logical_stride", "B5", "vllm-project/vllm#52051",
       "the finalize reads the padded [T, H_pad] kernel output as an unpadded [T, H] result (row t at offset "
       "t*H; visible when H_pad > H and T >= 2)",
       FaultSite::kSlice, nullptr, &P::output_read_with_logical_stride},
      {"output_not_sliced", "B6", "sgl-project/sglang PR #27528 (regression from #27063)",
       "the final reshape uses the padded hidden size: the output keeps H_pad columns (visible when H_pad > H)",
       FaultSite::kSlice, nullptr, &P::output_not_sliced},
      {"router_on_padded_activations", "B7", "sgl-project/sglang PR #37308",
       "the router reads the pre-padded [T, H_pad] activations as [T, H] rows (visible when H_pad > H and T >= 2)",
       FaultSite::kRouterInput, nullptr, &P::router_on_padded_activations},
      {"weights_hidden_alignment_diverges", "B8", "vllm-project/vllm PR #32307, PR #34285",
       "the weights are allocated with the other ROCm hidden alignment (128 vs 256) than the activations "
       "(visible when the two round H differently)",
       FaultSite::kPlan, nullptr, &P::weights_hidden_alignment_diverges},
      {"uninit_pad_weights", "B9", "vllm-project/vllm PR #55251",
       "the padded rows and columns of w13 and w2 keep the allocator's garbage (visible when H_pad > H or "
       "I_pad > I)",
       FaultSite::kPaddedCase, nullptr, &P::uninit_pad_weights},
      kernel_entry("nan_for_empty_experts"),
      {"intermediate_pad_counted_twice", "B11", "vllm-project/vllm#46201, PR #42098 (PR #44679)",
       "the caller passes intermediate_pad // 64 * 64 * 2 and the kernel zeroes that many rows at the bottom of "
       "each w13 half, live rows included (visible when I_pad - I >= 64)",
       FaultSite::kPaddedCase, nullptr, &P::intermediate_pad_counted_twice},
      kernel_entry("w13_end_padded"),
      {"mxfp4_rule_on_other_formats", "B13", "vllm-project/vllm PR #34285 review; PR #38774",
       "the MXFP4 NONE-backend rounding (ROCm hidden 256, CUDA intermediate 64) is applied to non-MXFP4 weights "
       "(visible for dense cases on CUDA with I % 64 != 0 or ROCm with H % 256 != 0)",
       FaultSite::kPlan, nullptr, &P::mxfp4_rule_on_other_formats},
      kernel_entry("swizzle_stride_from_logical_extents"),
      // Only DeepGEMM's contiguous layout of fp8_block (the UE8M0 row) scatters activation scales.
      kernel_entry("activation_scale_padding_unwritten", FaultScope::kAnyCase, "fp8_block"),
      // scale_grid_offset is 0 at TP 1; only block-FP8 grids have one.
      kernel_entry("scale_tile_rank_local", FaultScope::kShardedCase, "fp8_block"),
      kernel_entry("marlin_scales_keyed_on_intermediate", FaultScope::kAnyCase, "int4_wna16,int8_wna16"),
      {"expert_map_wraps_minus_one", "B18", "vllm-project/vllm PR #46408",
       "the global-to-local remap indexes the expert map with the dispatcher's -1 (a slot of another rank's "
       "expert), which wraps to the map's last entry: on the rank holding the last global expert the slot "
       "becomes that local expert (visible under EP on the last rank when a token routes to another rank)",
       FaultSite::kExpertMap, nullptr, &P::expert_map_wraps_minus_one, FaultScope::kShardedCase},
      kernel_entry("unwritten_slots_reduced", FaultScope::kShardedCase),  // -1 slots come from EP only
      {"expert_scales_by_local_id", "B19", "sgl-project/sglang PR #23531, PR #13162",
       "an EP rank loads its experts' per-expert scalars (NVFP4 weight_scale_2) by local id, entries [0, e) of "
       "the checkpoint's global vector, instead of by global id [expert_begin, expert_end) (visible under EP on a "
       "rank with expert offset > 0 when the experts' global scales differ)",
       FaultSite::kExpertScales, nullptr, &P::expert_scales_by_local_id, FaultScope::kShardedCase},
      kernel_entry("sort_keeps_first_duplicate"),
  }};
}

}  // namespace

std::vector<std::string> fault_methods(const FaultInfo& fault) {
  std::vector<std::string> out;
  std::string_view rest = fault.methods;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    out.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return out;
}

std::span<const FaultInfo> fault_catalog() {
  static const std::array<FaultInfo, 21> catalog = make_catalog();
  return catalog;
}

bool PaddingFaults::any() const {
  return std::any_of(fault_catalog().begin(), fault_catalog().end(),
                     [this](const FaultInfo& f) { return f.padding_flag && this->*f.padding_flag; });
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

// ---- seams -------------------------------------------------------------------------------------

pd::Plan at_plan(const fixtures::MoeCase& c, pd::Plan plan, const PaddingFaults& faults) {
  if (!faults.mxfp4_rule_on_other_formats || c.scheme == rq::WeightScheme::kMxfp4W4A16 || !plan.ok()) return plan;
  // B13: the MXFP4 NONE-backend rule keyed on the method, not the weight format (padding.md §3.4).
  if (plan.platform.vendor == pd::Vendor::kRocm) {
    const std::int64_t h = pd::round_up(plan.hidden, 256);
    if (h > plan.hidden_padded) plan.hidden_allocated = plan.hidden_padded = h;
  } else if (plan.platform.vendor == pd::Vendor::kCuda) {
    const std::int64_t i = pd::round_up(plan.intermediate_per_partition, 64);
    if (i > plan.intermediate_per_partition_padded)
      plan.intermediate_per_partition_allocated = plan.intermediate_per_partition_padded = i;
  }
  return plan;
}

pd::Plan at_weight_plan(pd::Plan plan, const PaddingFaults& faults) {
  if (!faults.weights_hidden_alignment_diverges || !plan.hidden_is_padded()) return plan;
  // B8: the weights follow a second code path's hidden alignment (128 vs 256).
  const std::int64_t other = pd::round_up(plan.hidden, plan.hidden_padded % 256 == 0 ? 128 : 256);
  plan.hidden_after_all2all = std::min(plan.hidden_after_all2all, other);
  plan.hidden_allocated = plan.hidden_padded = other;
  return plan;
}

namespace {

// Rows of a padded w13 [E, 2·I_pad, cols]: the intermediate index i of storage row r (layout-aware).
std::int64_t w13_row_index(std::int64_t r, std::int64_t ip, bool interleaved) { return interleaved ? r / 2 : r % ip; }

// B9: the padded rows (i >= real_rows) and columns (storage column >= real_cols) of w13 keep the
// allocator's garbage.
template <class T>
void unfill_w13(pd::Tensor<T>& t, std::int64_t ip, bool interleaved, std::int64_t real_rows, std::int64_t real_cols,
                std::uint64_t seed) {
  if (t.shape.size() != 3) return;
  const std::int64_t cols = t.dim(2);
  for (std::int64_t e = 0; e < t.dim(0); ++e)
    for (std::int64_t r = 0; r < t.dim(1); ++r) {
      const std::int64_t from = w13_row_index(r, ip, interleaved) >= real_rows ? 0 : real_cols;
      if (from >= cols) continue;
      T* row = &t.at(e, r, 0);
      pd::poison(std::span<T>(row + from, static_cast<std::size_t>(cols - from)), seed ^ static_cast<std::uint64_t>(e * 7919 + r));
    }
}
// ... and of w2 [E, H_pad, cols]: rows >= real_rows (H), storage columns >= real_cols.
template <class T>
void unfill_w2(pd::Tensor<T>& t, std::int64_t real_rows, std::int64_t real_cols, std::uint64_t seed) {
  if (t.shape.size() != 3) return;
  const std::int64_t cols = t.dim(2);
  for (std::int64_t e = 0; e < t.dim(0); ++e)
    for (std::int64_t r = 0; r < t.dim(1); ++r) {
      const std::int64_t from = r >= real_rows ? 0 : real_cols;
      if (from >= cols) continue;
      T* row = &t.at(e, r, 0);
      pd::poison(std::span<T>(row + from, static_cast<std::size_t>(cols - from)), seed ^ static_cast<std::uint64_t>(e * 104729 + r));
    }
}
// B11: rows i in [from, I_pad) of each w13 half (and of its bias) zeroed as "padding".
template <class T>
void zero_w13_tail(pd::Tensor<T>& t, std::int64_t ip, bool interleaved, std::int64_t from) {
  if (t.shape.empty()) return;
  const std::int64_t per_row = t.shape.size() == 3 ? t.dim(2) : 1;
  for (std::int64_t e = 0; e < t.dim(0); ++e)
    for (std::int64_t r = 0; r < t.dim(1); ++r)
      if (w13_row_index(r, ip, interleaved) >= from)
        std::fill_n(t.data.begin() + (e * t.dim(1) + r) * per_row, per_row, T{});
}

}  // namespace

void at_padded_case(device::PaddedCase& p, const pd::RankShard& shard, std::int64_t hidden, std::uint64_t seed,
                    const PaddingFaults& faults) {
  const rq::SchemeSpec& scheme = rq::spec(p.scheme);
  const std::int64_t ip = p.plan.intermediate_per_partition_padded;
  const bool interleaved = p.layout == reference::moe::GateUpLayout::kInterleaved;
  const std::int64_t real = shard.real_rows();
  if (faults.uninit_pad_weights) {
    // Every component whose rows are the matrix's: a distinct stream per (projection, component).
    const std::uint64_t s9 = seed ^ 0xb9b9b9b9ULL;
    for (std::size_t n = 0; n < std::size(rq::kAllComponents); ++n) {
      const rq::Component which = rq::kAllComponents[n];
      const rq::ComponentSpec* comp = scheme.find(which);
      // Per-expert scalars and swizzled tiles have no padded rows of their own (the swizzle follows).
      if (!comp || comp->row_block != 1 || comp->per_part) continue;
      const auto unfill = [&](auto& w13, auto& w2) {
        unfill_w13(w13, ip, interleaved, real, comp->stored_cols(hidden), s9 ^ (2 * n));
        unfill_w2(w2, hidden, comp->stored_cols(real), s9 ^ (2 * n + 1));
      };
      if (rq::holds_floats(which))
        unfill(p.w13.floats(which), p.w2.floats(which));
      else
        unfill(p.w13.bytes(which), p.w2.bytes(which));
    }
  }
  if (faults.intermediate_pad_counted_twice && ip > real) {
    const std::int64_t doubled = (ip - real) / 64 * 64 * 2;
    const std::int64_t from = std::max<std::int64_t>(0, ip - doubled);
    p.w13.for_each(scheme, [&](const rq::ComponentSpec& comp, auto& t) {
      if (!rq::is_scale(comp.component) && comp.row_block == 1 && !comp.per_part) zero_w13_tail(t, ip, interleaved, from);
    });
    zero_w13_tail(p.w13_bias, ip, interleaved, from);
  }
}

reference::moe::RowMatrix<float> at_router_input(const fixtures::MoeCase& c, const device::PaddedCase& padded,
                                                 const PaddingFaults& faults) {
  if (!faults.router_on_padded_activations) return c.hidden_states;
  // B7: the router reads the padded buffer as if it were [T, H].
  return Eigen::Map<const reference::moe::RowMatrix<float>>(padded.hidden_states_padded.data.data(), c.tokens(),
                                                            c.block.hidden);
}

std::int32_t at_expert_map(std::int64_t global_id, const pd::RankShard& shard, std::int64_t global_experts,
                           const PaddingFaults& faults) {
  const auto map = [&](std::int64_t g) -> std::int32_t {  // vLLM's expert_map: global -> local, or -1
    return g >= shard.expert_begin && g < shard.expert_end ? static_cast<std::int32_t>(g - shard.expert_begin) : -1;
  };
  // The dispatcher hands this rank the global id, or -1 for a slot whose expert is elsewhere.
  const std::int64_t dispatched = map(global_id) >= 0 ? global_id : -1;
  if (dispatched >= 0) return map(dispatched);
  // B18: `expert_map[topk_ids]` with a -1 reads expert_map[-1], the entry of the last global expert.
  return faults.expert_map_wraps_minus_one ? map(global_experts - 1) : -1;
}

pd::Tensor<float> at_expert_scales(const pd::Tensor<float>& global, const pd::Partition& partition, int rank,
                                   const PaddingFaults& faults) {
  if (!faults.expert_scales_by_local_id) return pd::shard_expert_scalars(partition, rank, global);
  // B19: the loader's loop over local experts reads global[local id].
  const pd::RankShard& shard = partition.ranks.at(static_cast<std::size_t>(rank));
  pd::Tensor<float> out({shard.experts(), global.dim(1), 1}, 0.0f);
  for (std::int64_t e = 0; e < shard.experts(); ++e)
    for (std::int64_t j = 0; j < global.dim(1); ++j) out.at(e, j, 0) = global.at(e, j, 0);
  return out;
}

std::optional<std::vector<float>> at_slice(const device::PaddedCase& padded, std::span<const float> output,
                                           const PaddingFaults& faults) {
  if (faults.output_not_sliced) return std::vector<float>(output.begin(), output.end());  // B6: H_pad columns kept
  if (faults.output_read_with_logical_stride) {  // B5: the padded buffer read as [T, H]
    const std::int64_t h = padded.plan.hidden;
    return std::vector<float>(output.begin(), output.begin() + (padded.tokens - padded.pad_rows) * h);
  }
  return std::nullopt;
}

std::vector<std::string> injecting_backends(const FaultInfo& fault, std::span<const device::Backend* const> backends) {
  std::vector<std::string> out;
  for (const device::Backend* b : backends)
    if (fault.site != FaultSite::kKernel || b->capabilities().injects(fault.name)) out.emplace_back(b->name());
  return out;
}

}  // namespace moecheck::properties
