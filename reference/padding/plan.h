// The padding plan of one combination: vLLM's FusedMoE.__init__ order (padding.md §1.3) applied
// to a ruleset — the all-to-all hidden rounding first (§1.1), then the method's
// maybe_roundup_sizes rule (§2), then any post-load alignment (§2.3: FlashInfer FP8, NVFP4) — and
// the shapes, fills and kernel arguments that follow from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reference/padding/platform.h"
#include "reference/padding/registry.h"
#include "reference/padding/ruleset.h"
#include "reference/padding/tensor.h"

namespace moecheck::reference::padding {

// What the token padding of a CUDA-graph or data-parallel batch holds (spec/bugs.md B20): the
// rows vLLM appends to reach a captured batch size are not zeroed, and NaN or Inf in them is what
// broke kernels upstream (vllm-project/vllm PR #39391).
enum class PadRowFill : std::uint8_t { kNaN, kInf, kZero };
std::string_view name(PadRowFill fill);                      // "nan", "inf", "zero"
std::optional<PadRowFill> parse_pad_row_fill(std::string_view name);
float value(PadRowFill fill);                                // NaN, +Inf, 0

// The logical (unpadded) problem: one MoE layer of a model.
struct Problem {
  std::int64_t hidden = 0;        // H
  std::int64_t intermediate = 0;  // I_full: the checkpoint's per-expert intermediate size
  std::int64_t experts = 1;       // routed experts, all ranks together
  std::int64_t topk = 1;
  bool gated = true;              // act_and_mul (every family of spec/models.md is gated)
  bool has_bias = false;          // gpt-oss has expert biases
  std::string model_type;         // Hugging Face model_type; empty when unknown
  std::string activation = "silu";      // MoEActivation (gpt-oss: swigluoai); platform.h is_activation
  std::string routing = "renormalize";  // RoutingMethodType; platform.h is_routing
  // Checkpoint quantization settings some rules read: the WNA16 group size (-1 channelwise;
  // Marlin pads to lcm(64, group)), GPTQ act-order, and whether an FP8 per-tensor checkpoint has
  // static or dynamic activation scales (which FP8 backend vLLM picks).
  std::int64_t group_size = 128;
  bool act_order = false;
  std::string act_scheme = "dynamic";
};

// §2.5: the padding sizes a backend passes to its kernel.
struct KernelPadArgs {
  std::string kernel;
  std::int64_t hidden_pad = 0;
  std::int64_t intermediate_pad = 0;
};

struct Plan {
  std::string ruleset, method, backend;
  Platform platform{};
  ParallelConfig parallel;
  ActDtype act_dtype = ActDtype::kBf16;
  Problem problem;

  // Logical sizes. intermediate_per_partition = I_full / moe_tp_size (§1.3 step 1).
  std::int64_t hidden = 0;
  std::int64_t intermediate_full = 0;
  std::int64_t intermediate_per_partition = 0;
  std::int64_t local_experts = 0;  // on EP rank 0 (the largest share)

  // At allocation (create_weights): the all-to-all hidden rounding, then maybe_roundup_sizes.
  // intermediate_per_partition_allocated is also the generic loader's shard size (§1.5).
  std::int64_t hidden_after_all2all = 0;
  std::int64_t hidden_allocated = 0;
  std::int64_t intermediate_per_partition_allocated = 0;

  // What the kernel runs on, after any post-load alignment.
  std::int64_t hidden_padded = 0;
  std::int64_t intermediate_per_partition_padded = 0;

  // Alignment each stage promises (1: none): the padded size of that stage is a multiple of it.
  std::int64_t all2all_alignment = 1;
  std::int64_t allocation_hidden_alignment = 1, allocation_intermediate_alignment = 1;
  std::int64_t post_load_hidden_alignment = 1, post_load_intermediate_alignment = 1;

  bool skip_forward_padding = false;           // §1.4: activations reach the kernel unpadded
  std::int64_t kernel_activation_alignment = 0;  // ...which pads them to this internally
  W13Padding post_load_w13_padding = W13Padding::kPerHalf;
  Fill fill;            // regions padded at allocation
  Fill post_load_fill;  // regions added by the post-load alignment
  std::optional<KernelPadArgs> kernel_pad_args;
  // The token dimension: the batch of rows the layer pads the tokens to before the router and the
  // kernel (a CUDA-graph capture size; 0: the tokens are not padded), and what the pad rows hold.
  // Not a ruleset decision: the padding target sets it (fixtures::PadTarget::batch_rows).
  std::int64_t batch_rows = 0;
  PadRowFill pad_row_fill = PadRowFill::kNaN;
  GenericLoader generic_loader;  // copied from the ruleset: how its generic loader cuts TP shards

  std::vector<std::string> notes;    // what the deciding rules say
  std::vector<std::string> sources;  // which rules decided: "FILE:/pointer (spec section)"
  std::optional<std::string> error;  // why the combination is invalid; the sizes are then partial

  bool ok() const { return !error.has_value(); }
  bool hidden_is_padded() const { return hidden_padded != hidden; }
  bool intermediate_is_padded() const { return intermediate_per_partition_padded != intermediate_per_partition; }
  bool has_post_load_padding() const {
    return hidden_padded != hidden_allocated || intermediate_per_partition_padded != intermediate_per_partition_allocated;
  }
  const MethodInfo& method_info() const;  // std::invalid_argument if the method is not registered
};

// Never throws for bad combinations: they come back with `error` set (a report lists them). `method`
// may be an alias the ruleset declares; the plan carries the registry's name. `settings` are the
// deployment's environment and packages (default: vLLM's defaults).
Plan make_plan(const Ruleset& ruleset, const Problem& problem, std::string_view method, std::string_view backend,
               const Platform& platform, const ParallelConfig& parallel, ActDtype act_dtype,
               const Settings& settings = {});

// The match context of a combination: what rules and selections test (sizes are the logical
// hidden and per-partition intermediate sizes; a rule stage replaces them with its input sizes).
MatchContext match_context(const Ruleset& ruleset, const Problem& problem, std::string_view method,
                           std::string_view backend, const Platform& platform, const ParallelConfig& parallel,
                           ActDtype act_dtype, const Settings& settings);

// Storage shapes of one rank's expert tensors (e = local experts). Weights: w13 [e, 2·I, st(H)],
// w2 [e, H, st(I)] with st() the method's packing; scales per ScaleKind (empty if none or not
// modelled); biases w13 [e, 2·I], w2 [e, H].
struct ExpertShapes {
  Shape w13, w2, w13_scale, w2_scale, w13_bias, w2_bias;
  bool operator==(const ExpertShapes&) const = default;
};
ExpertShapes padded_shapes(const Plan& plan);   // with I_pad, H_pad
ExpertShapes logical_shapes(const Plan& plan);  // with I (per partition), H

// Activation shapes for `tokens` tokens (§1.4).
struct ActivationShapes {
  Shape input;          // [M, H] what the layer receives
  Shape router;         // [M, H] routing always sees the logical hidden states
  Shape runner_output;  // [M, H_pad], or [M, H] when skip_forward_padding
  Shape kernel_input;   // [M, H_pad], or [M, round_up(H, kernel_activation_alignment)]
  Shape output;         // [M, H] after the slice
};
ActivationShapes activation_shapes(const Plan& plan, std::int64_t tokens);

// What padding costs, as fractions (0.1378 = 13.78 %), for one rank (all ranks alike):
// flop_overhead: extra multiply-adds of the two expert GEMMs per routed token,
//   (2·I_pad·H_pad + H_pad·I_pad) / (2·I·H + H·I) − 1 = (H_pad·I_pad)/(H·I) − 1 (models.md §4).
// weight_bytes_overhead: extra bytes of the expert weights w13 and w2 plus their block scales, in
//   the method's storage format (packed codes; scale grids ceil-divided), padded vs unpadded.
//   Biases, activations and workspaces are not counted.
double flop_overhead(const Plan& plan);
double weight_bytes_overhead(const Plan& plan);
// Bytes of one expert's w13 + w2 and their block scales at these sizes.
double expert_weight_bytes(const MethodInfo& method, std::int64_t hidden, std::int64_t intermediate);

}  // namespace moecheck::reference::padding
