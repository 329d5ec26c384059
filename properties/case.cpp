#include "properties/case.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "reference/moe/linear.h"
#include "reference/padding/pad.h"
#include "reference/padding/partition.h"
#include "reference/padding/platform.h"
#include "reference/padding/poison.h"
#include "reference/padding/registry.h"
#include "reference/quant/fp8_block.h"

namespace moecheck::properties {

namespace moe = reference::moe;
namespace pd = reference::padding;
using device::WeightScheme;

std::uint64_t poison_seed() {
  const char* text = std::getenv("MOECHECK_POISON_SEED");
  if (!text || !*text) return pd::kDefaultPoisonSeed;
  char* end = nullptr;
  const std::uint64_t value = std::strtoull(text, &end, 0);
  if (*end != '\0')
    throw std::invalid_argument(std::string("MOECHECK_POISON_SEED='") + text +
                                "': expected a decimal or 0x-hexadecimal integer");
  return value;
}

namespace {

// Distinct poison per buffer, all derived from the one seed the caller gives.
enum : std::uint64_t {
  kSeedW13 = 0x13,
  kSeedW2 = 0x02,
  kSeedW13Scale = 0x130,
  kSeedW2Scale = 0x020,
  kSeedW13Bias = 0x13b,
  kSeedW2Bias = 0x02b,
  kSeedHidden = 0x41d,
  kSeedOutput = 0x0a7,
};

pd::W13Layout w13_layout(moe::GateUpLayout layout) {
  return layout == moe::GateUpLayout::kInterleaved ? pd::W13Layout::kInterleaved : pd::W13Layout::kConcatenated;
}

const moe::Weight& only_part(const moe::StackedWeight& w, const char* what) {
  if (w.parts.empty()) throw std::invalid_argument(std::string(what) + ": no weight parts");
  return w.parts.front();
}

// Stacks the storage rows of every part of `w` (quantized MXFP4: code bytes or scale bytes) into
// expert `e` of `out` [E, rows, row_bytes].
void copy_mxfp4_rows(const moe::StackedWeight& w, bool scales, std::int64_t e, pd::Tensor<std::uint8_t>& out) {
  std::int64_t row = 0;
  for (const moe::Weight& part : w.parts) {
    const auto* mx = std::get_if<reference::quant::Mxfp4Weight>(&part);
    if (!mx) throw std::invalid_argument("MXFP4 scheme: every weight part must be an Mxfp4Weight");
    const std::vector<std::uint8_t>& bytes = scales ? mx->scales : mx->blocks;
    const std::int64_t row_bytes = out.dim(2);
    if (static_cast<std::int64_t>(bytes.size()) != mx->rows * row_bytes)
      throw std::invalid_argument("MXFP4 weight: expected " + std::to_string(mx->rows * row_bytes) + " bytes, found " +
                                  std::to_string(bytes.size()));
    for (std::int64_t r = 0; r < mx->rows; ++r, ++row)
      for (std::int64_t b = 0; b < row_bytes; ++b)
        out.at(e, row, b) = bytes[static_cast<std::size_t>(r * row_bytes + b)];
  }
}

// Every expert's [rows, cols] matrix (values of the model dtype) as [E, rows, cols].
pd::Tensor<float> dense_stack(const moe::MoeBlock& block, bool w13) {
  const std::int64_t rows = w13 ? 2 * block.intermediate : block.hidden;
  const std::int64_t cols = w13 ? block.hidden : block.intermediate;
  pd::Tensor<float> t({block.num_experts(), rows, cols}, 0.0f);
  for (std::int64_t e = 0; e < block.num_experts(); ++e) {
    const moe::Expert& x = block.experts[static_cast<std::size_t>(e)];
    moe::materialize(w13 ? x.gate_up : x.down, block.dtype,
                     std::span<float>(t.data).subspan(static_cast<std::size_t>(e * rows * cols),
                                                      static_cast<std::size_t>(rows * cols)));
  }
  return t;
}

pd::Tensor<std::uint8_t> mxfp4_stack(const moe::MoeBlock& block, bool w13, bool scales) {
  const std::int64_t rows = w13 ? 2 * block.intermediate : block.hidden;
  const std::int64_t k = w13 ? block.hidden : block.intermediate;
  const pd::Packing packing = scales ? pd::kMxScaleBytes : pd::kFp4Bytes;
  pd::Tensor<std::uint8_t> t({block.num_experts(), rows, packing.storage(k)}, 0);
  for (std::int64_t e = 0; e < block.num_experts(); ++e) {
    const moe::Expert& x = block.experts[static_cast<std::size_t>(e)];
    copy_mxfp4_rows(w13 ? x.gate_up : x.down, scales, e, t);
  }
  return t;
}

// FP8 128×128 block weights as vLLM holds them: T = uint8, the codes [E, rows, cols] (w13: the gate
// part's rows, then the up part's); T = float, weight_scale_inv stacked the same way (w13: the gate
// grid's rows, then the up grid's: vLLM's per-half grid).
constexpr std::int64_t kBlock = reference::quant::kFp8WeightBlock;  // the device's FP8 block (128)

template <class T>
pd::Tensor<T> fp8_stack(const moe::MoeBlock& block, bool w13) {
  const std::int64_t e_count = block.num_experts();
  std::vector<T> all;
  std::int64_t rows = 0, cols = 0;
  for (std::int64_t e = 0; e < e_count; ++e) {
    const moe::StackedWeight& w = w13 ? block.experts[static_cast<std::size_t>(e)].gate_up
                                      : block.experts[static_cast<std::size_t>(e)].down;
    if (w.parts.size() != (w13 ? 2u : 1u))
      throw std::invalid_argument(std::string("FP8 block scheme: ") + (w13 ? "gate_up" : "down") + " of expert " +
                                  std::to_string(e) + ": expected " + (w13 ? "2 parts (gate, up)" : "1 part") +
                                  ", found " + std::to_string(w.parts.size()));
    std::int64_t r = 0;
    for (const moe::Weight& part : w.parts) {
      const auto* q = std::get_if<reference::quant::Fp8BlockWeight>(&part);
      if (!q || q->block_rows != kBlock || q->block_cols != kBlock || q->format != reference::formats::Format::kE4m3fn)
        throw std::invalid_argument("FP8 block scheme: every weight part must be a 128x128 e4m3fn Fp8BlockWeight");
      if constexpr (std::is_same_v<T, float>) {
        all.insert(all.end(), q->scale_inv.begin(), q->scale_inv.end());
        r += pd::cdiv(q->rows, kBlock);
        cols = pd::cdiv(q->cols, kBlock);
      } else {
        all.insert(all.end(), q->codes.begin(), q->codes.end());
        r += q->rows;
        cols = q->cols;
      }
    }
    rows = r;
  }
  pd::Tensor<T> t({e_count, rows, cols}, T{});
  if (static_cast<std::int64_t>(all.size()) != t.numel())
    throw std::invalid_argument("FP8 block scheme: experts differ in shape");
  t.data = std::move(all);
  return t;
}

}  // namespace

WeightScheme scheme_of(const moe::MoeBlock& block) {
  if (block.experts.empty()) throw std::invalid_argument("scheme_of: the block has no experts");
  const moe::Weight& w = only_part(block.experts.front().gate_up, "expert 0 gate_up");
  if (std::holds_alternative<moe::DenseWeight>(w)) return WeightScheme::kDense;
  if (std::holds_alternative<reference::quant::Mxfp4Weight>(w)) return WeightScheme::kMxfp4W4A16;
  return WeightScheme::kFp8Block128W8A16;
}

std::vector<std::string> methods_for(WeightScheme scheme) {
  std::vector<std::string> out;
  for (const pd::MethodInfo& m : pd::methods()) {
    // Online methods (fp8_per_block_online, mxfp4_online) load a bf16 checkpoint and quantize it
    // after padding: a different case form, not one of these schemes' checkpoints.
    if (m.online) continue;
    const bool dense = m.weight_bits == 16 && m.scale == pd::ScaleKind::kNone;
    const bool mxfp4 = m.weight_bits == 4 && m.scale == pd::ScaleKind::kPerRowBlock && m.scale_block == 32 &&
                       m.weight_packing == pd::kFp4Bytes;
    const bool fp8_block = m.weight_bits == 8 && m.scale == pd::ScaleKind::kBlock2d && m.scale_block == kBlock;
    if ((scheme == WeightScheme::kDense && dense) || (scheme == WeightScheme::kMxfp4W4A16 && mxfp4) ||
        (scheme == WeightScheme::kFp8Block128W8A16 && fp8_block))
      out.emplace_back(m.name);
  }
  return out;
}

pd::Plan plan_for(const MoeCase& c, const pd::Ruleset& ruleset) {
  pd::Problem problem;
  problem.hidden = c.block.hidden;
  problem.intermediate = c.block.intermediate;
  problem.experts = c.block.num_experts();
  problem.topk = c.block.semantics.router.top_k;
  problem.gated = true;
  problem.has_bias = !c.block.experts.empty() && !c.block.experts.front().gate_up_bias.empty();
  problem.model_type = std::string(moe::name(c.block.family));
  problem.activation = std::string(moe::vllm_activation(c.block.semantics.activation));
  problem.routing = std::string(moe::vllm_routing_method(c.block.family, c.block.semantics.router));
  const auto platform = pd::parse_platform(c.target.platform);
  if (!platform)
    throw std::invalid_argument("unknown platform '" + c.target.platform + "'; valid platforms: " +
                                pd::platform_names());
  pd::ParallelConfig parallel;
  parallel.tp_size = c.target.tp;
  parallel.enable_ep = c.target.ep;
  const pd::ActDtype act = c.block.dtype == moe::Dtype::kBf16 ? pd::ActDtype::kBf16 : pd::ActDtype::kFp32;
  return pd::make_plan(ruleset, problem, c.target.method, c.target.backend, *platform, parallel, act);
}

pd::Plan layer_plan(const MoeCase& c, const pd::Ruleset& ruleset, const PaddingFaults& faults) {
  pd::Plan plan = plan_for(c, ruleset);
  if (!faults.mxfp4_rule_on_other_formats || c.scheme == WeightScheme::kMxfp4W4A16 || !plan.ok()) return plan;
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

pd::Plan unpadded_plan(const pd::Plan& plan) {
  pd::Plan p = plan;
  p.hidden_after_all2all = p.hidden_allocated = p.hidden_padded = p.hidden;
  p.intermediate_per_partition_allocated = p.intermediate_per_partition_padded = p.intermediate_per_partition;
  p.skip_forward_padding = false;
  p.kernel_activation_alignment = 0;
  return p;
}

std::string unsupported_reason(const pd::Plan& plan) {
  if (!plan.ok()) return "invalid plan: " + *plan.error;
  if (const pd::MethodInfo& m = plan.method_info(); m.scale == pd::ScaleKind::kBlock2d) {
    if (plan.hidden_is_padded() || plan.intermediate_is_padded())
      return "padding an FP8 128x128 block-scale grid is not modelled (no shipped fp8_block rule pads)";
    const pd::Partition part = pd::partition(plan);
    if (!part.ok()) return "partition: " + *part.error;
    if (const std::string why = pd::block_grid_misalignment(part, m.scale_block); !why.empty())
      return "FP8 block scales: " + why;
  }
  if (plan.skip_forward_padding &&
      pd::round_up(plan.hidden, plan.kernel_activation_alignment) != plan.hidden_padded)
    return "the kernel pads activations to " + std::to_string(pd::round_up(plan.hidden, plan.kernel_activation_alignment)) +
           " columns, not H_pad " + std::to_string(plan.hidden_padded) + ": device::PaddedCase has one width";
  return {};
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

device::PaddedCase make_padded_case(const MoeCase& c, const pd::Plan& plan, std::uint64_t seed,
                                    const PaddingFaults& faults) {
  if (const std::string why = unsupported_reason(plan); !why.empty())
    throw std::invalid_argument("make_padded_case: " + describe(c) + ": " + why);
  const moe::MoeBlock& b = c.block;
  if (c.hidden_states.cols() != b.hidden)
    throw std::invalid_argument("make_padded_case: hidden states: expected [T, " + std::to_string(b.hidden) +
                                "], found [" + std::to_string(c.hidden_states.rows()) + ", " +
                                std::to_string(c.hidden_states.cols()) + "]");
  const pd::Partition part = pd::partition(plan);
  if (!part.ok()) throw std::invalid_argument("make_padded_case: " + describe(c) + ": partition: " + *part.error);
  const int rank = c.target.rank;
  if (rank < 0 || rank >= static_cast<int>(part.ranks.size()))
    throw std::invalid_argument("make_padded_case: rank " + std::to_string(rank) + " of " +
                                std::to_string(part.ranks.size()));
  const pd::W13Layout layout = w13_layout(b.semantics.layout);
  const pd::RankShard& shard = part.ranks[static_cast<std::size_t>(rank)];

  // B8: the weights follow a second code path's hidden alignment (128 vs 256).
  pd::Plan wplan = plan;
  if (faults.weights_hidden_alignment_diverges && plan.hidden_is_padded()) {
    const std::int64_t other = pd::round_up(plan.hidden, plan.hidden_padded % 256 == 0 ? 128 : 256);
    wplan.hidden_after_all2all = std::min(wplan.hidden_after_all2all, other);
    wplan.hidden_allocated = wplan.hidden_padded = other;
  }

  device::PaddedCase p;
  p.plan = plan;
  p.scheme = c.scheme;
  p.poison_seed = seed;
  p.activation = b.semantics.activation;
  p.layout = b.semantics.layout;
  p.dtype = b.dtype;
  p.weights_on_input = b.semantics.weights_on_input;
  p.tokens = c.tokens();
  p.experts = part.ranks[static_cast<std::size_t>(rank)].experts();
  p.top_k = b.semantics.router.top_k;

  switch (c.scheme) {
    case WeightScheme::kDense:
      p.w13 = pd::pad_w13(wplan, pd::shard_w13(part, rank, dense_stack(b, true), layout), layout, pd::Role::kWeight,
                          pd::kUnpacked, seed ^ kSeedW13);
      p.w2 = pd::pad_w2(wplan, pd::shard_w2(part, rank, dense_stack(b, false), pd::kUnpacked), pd::Role::kWeight,
                        pd::kUnpacked, seed ^ kSeedW2);
      break;
    case WeightScheme::kMxfp4W4A16:
      p.w13_codes = pd::pad_w13(wplan, pd::shard_w13(part, rank, mxfp4_stack(b, true, false), layout), layout,
                                pd::Role::kWeight, pd::kFp4Bytes, seed ^ kSeedW13);
      p.w13_mx_scales = pd::pad_w13(wplan, pd::shard_w13(part, rank, mxfp4_stack(b, true, true), layout), layout,
                                    pd::Role::kScale, pd::kMxScaleBytes, seed ^ kSeedW13Scale);
      p.w2_codes = pd::pad_w2(wplan, pd::shard_w2(part, rank, mxfp4_stack(b, false, false), pd::kFp4Bytes),
                              pd::Role::kWeight, pd::kFp4Bytes, seed ^ kSeedW2);
      p.w2_mx_scales = pd::pad_w2(wplan, pd::shard_w2(part, rank, mxfp4_stack(b, false, true), pd::kMxScaleBytes),
                                  pd::Role::kScale, pd::kMxScaleBytes, seed ^ kSeedW2Scale);
      break;
    case WeightScheme::kFp8Block128W8A16:
      // unsupported_reason has ruled out padded plans and shards off the 128-row grid: the pad
      // functions copy the codes, and the scale grids are the rank's shard as it is.
      p.w13_codes = pd::pad_w13(wplan, pd::shard_w13(part, rank, fp8_stack<std::uint8_t>(b, true), layout),
                                layout, pd::Role::kWeight, pd::kUnpacked, seed ^ kSeedW13);
      p.w2_codes = pd::pad_w2(wplan, pd::shard_w2(part, rank, fp8_stack<std::uint8_t>(b, false), pd::kUnpacked),
                              pd::Role::kWeight, pd::kUnpacked, seed ^ kSeedW2);
      p.w13_block_scales = pd::shard_w13_block_grid(part, rank, fp8_stack<float>(b, true), kBlock);
      p.w2_block_scales = pd::shard_w2_block_grid(part, rank, fp8_stack<float>(b, false), kBlock);
      p.fp8_format = reference::formats::Format::kE4m3fn;
      break;
  }

  if (!b.experts.empty() && !b.experts.front().gate_up_bias.empty()) {
    const std::int64_t e = b.num_experts();
    pd::Tensor<float> w13_bias({e, 2 * b.intermediate}, 0.0f), w2_bias({e, b.hidden}, 0.0f);
    for (std::int64_t x = 0; x < e; ++x) {
      const moe::Expert& ex = b.experts[static_cast<std::size_t>(x)];
      for (std::int64_t r = 0; r < 2 * b.intermediate; ++r)
        w13_bias.at(x, r) = moe::round_to(b.dtype, ex.gate_up_bias[static_cast<std::size_t>(r)]);
      for (std::int64_t r = 0; r < b.hidden; ++r)
        w2_bias.at(x, r) = ex.down_bias.empty() ? 0.0f : moe::round_to(b.dtype, ex.down_bias[static_cast<std::size_t>(r)]);
    }
    p.w13_bias = pd::pad_w13_bias(wplan, pd::shard_w13_bias(part, rank, w13_bias, layout), layout, seed ^ kSeedW13Bias);
    p.w2_bias = pd::pad_w2_bias(wplan, pd::shard_w2_bias(part, rank, w2_bias), seed ^ kSeedW2Bias);
  }

  const std::int64_t ip = plan.intermediate_per_partition_padded;
  const bool interleaved = layout == pd::W13Layout::kInterleaved;
  if (faults.uninit_pad_weights) {
    const std::int64_t real = shard.real_rows(), h = b.hidden;
    const std::uint64_t s9 = seed ^ 0xb9b9b9b9ULL;
    unfill_w13(p.w13, ip, interleaved, real, h, s9);
    unfill_w2(p.w2, h, real, s9 ^ 1);
    const std::int64_t per_byte = c.scheme == WeightScheme::kMxfp4W4A16 ? 2 : 1;  // e2m1 pairs or fp8 codes
    unfill_w13(p.w13_codes, ip, interleaved, real, h / per_byte, s9 ^ 2);
    unfill_w2(p.w2_codes, h, real / per_byte, s9 ^ 3);
    unfill_w13(p.w13_mx_scales, ip, interleaved, real, h / 32, s9 ^ 4);
    unfill_w2(p.w2_mx_scales, h, real / 32, s9 ^ 5);
  }
  if (faults.intermediate_pad_counted_twice && ip > shard.real_rows()) {
    const std::int64_t doubled = (ip - shard.real_rows()) / 64 * 64 * 2;
    const std::int64_t from = std::max<std::int64_t>(0, ip - doubled);
    zero_w13_tail(p.w13, ip, interleaved, from);
    zero_w13_tail(p.w13_codes, ip, interleaved, from);
    zero_w13_tail(p.w13_bias, ip, interleaved, from);
  }

  pd::Tensor<float> x({c.tokens(), b.hidden}, 0.0f);
  for (std::int64_t t = 0; t < c.tokens(); ++t)
    for (std::int64_t h = 0; h < b.hidden; ++h) x.at(t, h) = moe::round_to(b.dtype, c.hidden_states(t, h));
  p.hidden_states_padded = pd::kernel_activations(plan, x, seed ^ kSeedHidden);

  // Routing on the logical hidden states (the router sees x[:, :H], padding.md §1.4, bugs.md B7).
  // B7: the router reads the padded buffer as if it were [T, H].
  const moe::Routing routing =
      faults.router_on_padded_activations
          ? moe::route_block(b, Eigen::Map<const RowMatrix<float>>(p.hidden_states_padded.data.data(), c.tokens(), b.hidden)).routing
          : moe::route_block(b, c.hidden_states).routing;
  p.topk_ids = pd::Tensor<std::int32_t>({c.tokens(), p.top_k}, 0);
  p.topk_weights = pd::Tensor<float>({c.tokens(), p.top_k}, 0.0f);
  for (std::int64_t t = 0; t < c.tokens(); ++t)
    for (std::int64_t j = 0; j < p.top_k; ++j) {
      // EP: vLLM's expert_map, global id -> local id, -1 for the experts of other ranks.
      const std::int64_t id = routing.ids(t, j);
      p.topk_ids.at(t, j) = id >= shard.expert_begin && id < shard.expert_end
                                ? static_cast<std::int32_t>(id - shard.expert_begin)
                                : -1;
      p.topk_weights.at(t, j) = routing.weights(t, j);
    }
  device::validate(p);
  return p;
}

device::PaddedCase make_padded_case(const MoeCase& c, const pd::Ruleset& ruleset, std::uint64_t seed) {
  return make_padded_case(c, plan_for(c, ruleset), seed);
}

std::vector<float> slice_output(const device::PaddedCase& padded, std::span<const float> output,
                                const PaddingFaults& faults) {
  pd::Tensor<float> y;
  y.shape = {padded.tokens, padded.hidden_padded()};
  if (static_cast<std::int64_t>(output.size()) != y.numel())
    throw std::invalid_argument("slice_output: expected " + std::to_string(y.numel()) + " values [" +
                                std::to_string(padded.tokens) + ", " + std::to_string(padded.hidden_padded()) +
                                "], found " + std::to_string(output.size()));
  y.data.assign(output.begin(), output.end());
  if (faults.output_not_sliced) return y.data;  // B6: reshaped with the padded hidden size
  if (faults.output_read_with_logical_stride) {  // B5: the padded buffer read as [T, H]
    const std::int64_t h = padded.plan.hidden;
    return std::vector<float>(y.data.begin(), y.data.begin() + padded.tokens * h);
  }
  return pd::slice_output(padded.plan, y, padded.poison_seed ^ kSeedOutput).data;
}

std::vector<float> run_and_slice(const device::Backend& backend, const device::PaddedCase& padded, std::uint64_t seed,
                                 const PaddingFaults& faults) {
  std::vector<float> out(static_cast<std::size_t>(padded.tokens * padded.hidden_padded()));
  pd::poison(std::span<float>(out), seed ^ kSeedOutput);
  backend.run(padded, out);
  return slice_output(padded, out, faults);
}

moe::MoeOutput golden(const MoeCase& c, moe::Accumulate accumulate) {
  if (c.target.tp != 1)
    throw std::invalid_argument("golden: defined for tp = 1 only (a rank's partial sum is not a block output)");
  return moe::forward(c.block, c.hidden_states, accumulate);
}

std::string describe(const MoeCase& c) {
  std::ostringstream os;
  os << moe::name(c.block.family) << " " << moe::name(c.block.dtype) << " " << device::name(c.scheme) << " T"
     << c.tokens() << " H" << c.block.hidden << " I" << c.block.intermediate << " E" << c.block.num_experts() << " k"
     << c.block.semantics.router.top_k << " | " << c.target.ruleset << " " << c.target.method << " "
     << c.target.backend << " " << c.target.platform << " tp" << c.target.tp << "/" << c.target.rank
     << (c.target.ep ? " ep" : "");
  return os.str();
}

}  // namespace moecheck::properties

#include <map>

#include "fixtures/ruleset_json.h"

namespace moecheck::properties {
const reference::padding::Ruleset& shipped_ruleset(const std::string& name) {
  static std::map<std::string, reference::padding::Ruleset, std::less<>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, fixtures::load_ruleset(name)).first;
  return it->second;
}
}  // namespace moecheck::properties
