#include "properties/case.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <type_traits>

#include "reference/padding/pad.h"
#include "reference/padding/partition.h"
#include "reference/padding/poison.h"
#include "reference/quant/marlin.h"
#include "reference/quant/scheme.h"
#include "reference/quant/swizzle.h"

namespace moecheck::properties {

namespace moe = reference::moe;
namespace pd = reference::padding;
namespace rq = reference::quant;
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
  kSeedW13Swizzle = 0x135,
  kSeedW2Swizzle = 0x025,
};

// The layer's swizzle of a padded projection's block scales (quant ScaleLayout::kSwizzled128x4):
// each expert's [R, C] plain scales into whole 128×4 tiles, the tiles' padding poisoned (vLLM fills
// it with zeros; poison proves no kernel reads it).
void swizzle_scales(pd::Tensor<std::uint8_t>& t, std::uint64_t seed) {
  const std::int64_t e = t.dim(0), rows = t.dim(1), cols = t.dim(2);
  const rq::SwizzledExtents x = rq::swizzled_extents(rows, cols);
  pd::Tensor<std::uint8_t> out = pd::poisoned<std::uint8_t>({e, x.rows, x.cols}, seed);
  std::vector<std::uint8_t> tile(static_cast<std::size_t>(x.size()));
  for (std::int64_t i = 0; i < e; ++i) {
    std::copy_n(out.data.begin() + i * x.size(), x.size(), tile.begin());
    rq::swizzle_128x4(t.data.data() + i * rows * cols, rows, cols, tile);
    std::copy(tile.begin(), tile.end(), out.data.begin() + i * x.size());
  }
  t = std::move(out);
}

pd::W13Layout w13_layout(moe::GateUpLayout layout) {
  return layout == moe::GateUpLayout::kInterleaved ? pd::W13Layout::kInterleaved : pd::W13Layout::kConcatenated;
}

// Every expert's projection (gate_up when `w13`, else down) in component `c`, as the checkpoint
// holds it: moe::stacked_floats / stacked_bytes in the shape of quant::stacked_shape.
template <class T>
pd::Tensor<T> stacked(const moe::MoeBlock& b, const rq::ComponentSpec& c, bool w13) {
  const moe::Projection projection = w13 ? moe::Projection::kGateUp : moe::Projection::kDown;
  pd::Tensor<T> t;
  t.shape = moe::stacked_shape(b, projection, c);
  if constexpr (std::is_same_v<T, float>)
    t.data = moe::stacked_floats(b, projection, c);
  else
    t.data = moe::stacked_bytes(b, projection, c);
  return t;
}

}  // namespace

std::vector<std::string> methods_for(WeightScheme scheme) {
  std::vector<std::string> out;
  for (const rq::MethodBinding& m : rq::spec(scheme).methods) out.emplace_back(m.method);
  return out;
}

pd::Plan layer_plan(const MoeCase& c, const pd::Ruleset& ruleset, const PaddingFaults& faults) {
  return at_plan(c, plan_for(c, ruleset), faults);
}

pd::Plan unpadded_plan(const pd::Plan& plan) {
  pd::Plan p = plan;
  p.hidden_after_all2all = p.hidden_allocated = p.hidden_padded = p.hidden;
  p.intermediate_per_partition_allocated = p.intermediate_per_partition_padded = p.intermediate_per_partition;
  p.skip_forward_padding = false;
  p.kernel_activation_alignment = 0;
  p.batch_rows = 0;
  return p;
}

std::string unsupported_reason(const pd::Plan& plan, rq::WeightScheme scheme_id, bool kernel_shape_rules) {
  if (!plan.ok()) return "invalid plan: " + *plan.error;
  const rq::SchemeSpec& scheme = rq::spec(scheme_id);
  // A rank's shard of the checkpoint must itself be storable: whole packing groups and scale
  // blocks along K (vLLM refuses the layer otherwise).
  if (const std::string why = rq::size_problem(scheme, plan.hidden, plan.intermediate_per_partition); !why.empty())
    return "the shard per partition: " + why;
  // A repack's kernel shape rule: vLLM would select another backend.
  if (scheme.repack == rq::WeightRepack::kMarlin && kernel_shape_rules)
    if (const std::string why = rq::marlin_moe_shape_problem(plan.hidden_padded, plan.intermediate_per_partition_padded);
        !why.empty())
      return why;
  // Act-order (a g_idx component): vLLM never pads such a layer (Marlin keeps its exact shapes), and
  // padding g_idx or the whole-K scales is not modelled.
  for (const rq::ComponentSpec& c : scheme.components)
    if ((c.per_column || c.whole_k_under_tp) && (plan.hidden_is_padded() || plan.intermediate_is_padded()))
      return std::string(scheme.name) + ": padding an act-order layer's " + std::string(rq::name(c.component)) +
             " is not modelled (vLLM never pads one)";
  const bool global_grid = plan.generic_loader.block_scales == pd::GenericLoader::BlockScales::kGlobalGrid;
  for (const rq::ComponentSpec& c : scheme.components) {
    if (c.row_block == 1) continue;
    // A 2-D scale grid (FP8 blocks): padding it is not modelled, and a shard must start on a block
    // unless the ruleset loads scale tiles in global coordinates (B16).
    if (plan.hidden_is_padded() || plan.intermediate_is_padded())
      return "padding a " + std::to_string(c.row_block) + "-row " + std::string(rq::name(c.component)) + " grid (" +
             std::string(scheme.name) + ") is not modelled (no shipped rule pads it)";
    const pd::Partition part = pd::partition(plan);
    if (!part.ok()) return "partition: " + *part.error;
    const std::string why = pd::block_grid_misalignment(part, c.row_block);
    if (why.empty()) continue;
    if (!global_grid) return std::string(scheme.name) + " " + std::string(rq::name(c.component)) + ": " + why;
    // W8A8 scales each K tile by one weight block and one activation group: a shard whose
    // blocks sit off its activation groups would need tiles split at both (not modelled).
    if (scheme.activation.quantized())
      return std::string(scheme.name) + ": an off-grid shard (" + why + ") under W8A8 is not modelled";
  }
  if (plan.skip_forward_padding &&
      pd::round_up(plan.hidden, plan.kernel_activation_alignment) != plan.hidden_padded)
    return "the kernel pads activations to " + std::to_string(pd::round_up(plan.hidden, plan.kernel_activation_alignment)) +
           " columns, not H_pad " + std::to_string(plan.hidden_padded) + ": device::PaddedCase has one width";
  return {};
}

std::string kernel_problem(const MoeCase& c) {
  const moe::MoeBlock& b = c.block;
  rq::KernelInputs in;
  in.biases = !b.experts.empty() && !b.experts.front().gate_up_bias.empty();
  in.interleaved_gate_up = b.semantics.layout == moe::GateUpLayout::kInterleaved;
  in.gelu = b.semantics.activation == moe::Activation::kGeluErf;
  in.weights_on_input = b.semantics.weights_on_input;
  return rq::kernel_problem(rq::spec(c.scheme), in);
}

namespace {
device::PaddedCase padded_case_impl(const MoeCase& c, const pd::Plan& plan, std::uint64_t seed,
                                    const PaddingFaults& faults, bool kernel_shape_rules);
}  // namespace

device::PaddedCase make_padded_case(const MoeCase& c, const pd::Plan& plan, std::uint64_t seed,
                                    const PaddingFaults& faults) {
  return padded_case_impl(c, plan, seed, faults, true);
}

device::PaddedCase make_unpadded_reference(const MoeCase& c, const pd::Plan& plan, std::uint64_t seed,
                                           const PaddingFaults& faults) {
  return padded_case_impl(c, unpadded_plan(plan), seed, faults, false);
}

namespace {
device::PaddedCase padded_case_impl(const MoeCase& c, const pd::Plan& plan, std::uint64_t seed,
                                    const PaddingFaults& faults, bool kernel_shape_rules) {
  if (const std::string why = unsupported_reason(plan, c.scheme, kernel_shape_rules); !why.empty())
    throw std::invalid_argument("make_padded_case: " + describe(c) + ": " + why);
  if (const std::string why = kernel_problem(c); !why.empty())
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

  // The plan the weights are allocated with (the layer's; a seam of fault B8).
  const pd::Plan wplan = at_weight_plan(plan, faults);

  device::PaddedCase p;
  p.plan = plan;
  p.scheme = c.scheme;
  p.poison_seed = seed;
  p.activation = b.semantics.activation;
  p.layout = b.semantics.layout;
  p.dtype = b.dtype;
  p.weights_on_input = b.semantics.weights_on_input;
  // Token padding (B20): the batch of a CUDA graph or DP step, pad rows after the real ones.
  const std::int64_t real_tokens = c.tokens();
  p.tokens = std::max(real_tokens, plan.batch_rows);
  p.pad_rows = p.tokens - real_tokens;
  p.experts = part.ranks[static_cast<std::size_t>(rank)].experts();
  p.top_k = b.semantics.router.top_k;

  // Every storage component of the scheme: stacked as the checkpoint holds it, the rank's shard cut,
  // padded (poisoned, then filled as the ruleset says). A 2-D scale grid is cut by whole blocks and
  // not padded (unsupported_reason has ruled out padded plans for it).
  const rq::SchemeSpec& scheme = rq::spec(c.scheme);
  const auto pad_projection = [&](device::PaddedWeight& out, bool w13) {
    out.for_each(scheme, [&](const rq::ComponentSpec& comp, auto& t) {
      using T = typename std::decay_t<decltype(t.data)>::value_type;
      const bool scale = rq::is_scale(comp.component);
      const pd::Role role = scale ? pd::Role::kScale : pd::Role::kWeight;
      const pd::Tensor<T> full = stacked<T>(b, comp, w13);
      if constexpr (std::is_same_v<T, float>)
        if (comp.per_part) {  // per-expert scalars: the rank's experts, by global id (the seam of B19)
          t = at_expert_scales(full, part, rank, faults);
          return;
        }
      if constexpr (std::is_same_v<T, float>) {
        // Act-order's g_idx: w13's is whole on every TP rank (gate and up share it; the cut is of
        // its rows), w2's is cut along K as its codes are; neither is ever padded (unsupported_reason).
        if (comp.per_column) {
          t = w13 ? pd::shard_experts(part, rank, full) : pd::shard_w2(part, rank, full, comp.packing);
          return;
        }
        // w2's act-order scales: the loader keeps every group on every TP rank (load_full_w2).
        if (comp.whole_k_under_tp && !w13) {
          t = pd::shard_experts(part, rank, full);
          return;
        }
      }
      if constexpr (std::is_same_v<T, float>)
        if (comp.row_block > 1) {
          const bool global = plan.generic_loader.block_scales == pd::GenericLoader::BlockScales::kGlobalGrid;
          t = w13 ? pd::shard_w13_block_grid(part, rank, full, comp.row_block, global)
                  : pd::shard_w2_block_grid(part, rank, full, comp.packing.elements, global);
          out.scale_grid_offset = pd::block_grid_offset(part, rank, comp.row_block);
          return;
        }
      t = w13 ? pd::pad_w13(wplan, pd::shard_w13(part, rank, full, layout), layout, role, comp.packing,
                            seed ^ (scale ? kSeedW13Scale : kSeedW13))
              : pd::pad_w2(wplan, pd::shard_w2(part, rank, full, comp.packing), role, comp.packing,
                           seed ^ (scale ? kSeedW2Scale : kSeedW2));
    });
  };
  pad_projection(p.w13, true);
  pad_projection(p.w2, false);

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

  at_padded_case(p, shard, b.hidden, seed, faults);  // the padded case's seam (faults B9, B11)
  // After loading and padding, the layer swizzles the block scales its kernel reads so (b12x_moe.py
  // prepare_nvfp4_moe_layer_for_b12x: per-half padding first, then swizzle_blockscale).
  const auto swizzle_projection = [&](device::PaddedWeight& out, std::uint64_t s) {
    out.for_each(scheme, [&](const rq::ComponentSpec& comp, auto& t) {
      if constexpr (std::is_same_v<typename std::decay_t<decltype(t.data)>::value_type, std::uint8_t>)
        if (rq::swizzled_on_device(scheme, comp)) swizzle_scales(t, seed ^ s);
    });
  };
  swizzle_projection(p.w13, kSeedW13Swizzle);
  swizzle_projection(p.w2, kSeedW2Swizzle);

  pd::Tensor<float> x({p.tokens, b.hidden}, moe::round_to(b.dtype, pd::value(plan.pad_row_fill)));
  for (std::int64_t t = 0; t < real_tokens; ++t)
    for (std::int64_t h = 0; h < b.hidden; ++h) x.at(t, h) = moe::round_to(b.dtype, c.hidden_states(t, h));
  p.hidden_states_padded = pd::kernel_activations(plan, x, seed ^ kSeedHidden);

  // Routing on the logical hidden states: the router sees x[:, :H] (padding.md §1.4; the router
  // input's seam, fault B7), pad rows included.
  moe::RowMatrix<float> router_input = at_router_input(c, p, faults);
  if (p.pad_rows > 0) {
    router_input.conservativeResize(p.tokens, Eigen::NoChange);
    for (std::int64_t t = real_tokens; t < p.tokens; ++t)
      for (std::int64_t h = 0; h < b.hidden; ++h) router_input(t, h) = x.at(t, h);
  }
  const moe::Routing routing = moe::route_block(b, router_input).routing;
  p.topk_ids = pd::Tensor<std::int32_t>({p.tokens, p.top_k}, 0);
  p.topk_weights = pd::Tensor<float>({p.tokens, p.top_k}, 0.0f);
  for (std::int64_t t = 0; t < p.tokens; ++t) {
    // The engine's fused top-k on a row whose scores are NaN (a NaN or Inf pad row): its argmax
    // compares with `>`, which NaN never satisfies, so every slot keeps the first candidate and
    // the row's ids repeat (spec/bugs.md B20), with NaN weights. The golden's top-k ranks NaN
    // above every number instead (routing.h), so pad rows are given the engine's answer here.
    bool nan_row = false;
    for (std::int64_t j = 0; j < p.top_k; ++j) nan_row = nan_row || std::isnan(routing.weights(t, j));
    for (std::int64_t j = 0; j < p.top_k; ++j) {
      const std::int64_t id = t >= real_tokens && nan_row ? routing.ids(t, 0) : routing.ids(t, j);
      p.topk_ids.at(t, j) = at_expert_map(id, shard, b.num_experts(), faults);  // EP: the expert map's seam
      p.topk_weights.at(t, j) = routing.weights(t, j);
    }
  }
  device::validate(p);
  return p;
}
}  // namespace

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
  // A padded batch's pad rows (B20) follow the real ones and are dropped first: the layer returns
  // the real tokens' rows only.
  const std::int64_t real_tokens = padded.tokens - padded.pad_rows;
  y.shape[0] = real_tokens;
  y.data.resize(static_cast<std::size_t>(y.numel()));
  if (std::optional<std::vector<float>> faulty = at_slice(padded, y.data, faults)) return *faulty;  // B5, B6
  return pd::slice_output(padded.plan, y, padded.poison_seed ^ kSeedOutput).data;
}

std::vector<float> run_and_slice(const device::Backend& backend, const device::PaddedCase& padded, std::uint64_t seed,
                                 const PaddingFaults& faults) {
  std::vector<float> out(static_cast<std::size_t>(padded.tokens * padded.hidden_padded()));
  pd::poison(std::span<float>(out), seed ^ kSeedOutput);
  backend.run(padded, out);
  return slice_output(padded, out, faults);
}

std::vector<float> finalize(const MoeCase& c, std::vector<float> routed) {
  const moe::MoeBlock& b = c.block;
  if (!b.shared_expert) return routed;
  const std::int64_t T = c.tokens(), H = b.hidden;
  // A wrongly sized slice (faults B5, B6) is passed on for the properties' shape check to report.
  if (static_cast<std::int64_t>(routed.size()) != T * H) return routed;
  moe::RowMatrix<float> x(T, H);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h) x(t, h) = moe::round_to(b.dtype, c.hidden_states(t, h));
  const moe::RowMatrix<float> shared = moe::shared_expert_output(b, x, moe::Accumulate::kFp32);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h) {
      float& y = routed[static_cast<std::size_t>(t * H + h)];
      y = moe::round_to(b.dtype, double{y} + shared(t, h));
    }
  return routed;
}

std::vector<float> run_layer(const MoeCase& c, const device::Backend& backend, const device::PaddedCase& padded,
                             std::uint64_t seed, const PaddingFaults& faults) {
  return finalize(c, run_and_slice(backend, padded, seed, faults));
}

moe::MoeOutput golden(const MoeCase& c, moe::Accumulate accumulate) {
  if (c.target.tp != 1)
    throw std::invalid_argument("golden: defined for tp = 1 only (a rank's partial sum is not a block output)");
  return moe::forward(c.block, c.hidden_states, accumulate, rq::spec(c.scheme).activation);
}

}  // namespace moecheck::properties

