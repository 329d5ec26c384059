// One MoE block — the sparse MoE module of a decoder layer including its shared expert, as
// transformers defines it — described as data: sizes, weights and the family's semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "reference/moe/activation.h"
#include "reference/moe/dtype.h"
#include "reference/moe/routing.h"
#include "reference/moe/weight.h"

namespace moecheck::reference::moe {

// The families of spec/models.md §1, named as config.json's model_type spells them.
enum class Family : std::uint8_t {
  kGptOss,
  kMixtral,
  kQwen2Moe,
  kQwen3Moe,
  kOlmoe,
  kDeepseekV2,
  kDeepseekV3,
  kLlama4,
  kGraniteMoe,
  kGraniteMoeShared,
  kPhimoe,
  kDbrx,
};

std::string_view name(Family family);  // "gpt_oss", "mixtral", ..., "llama4", "granitemoeshared"
// model_type → family; "llama4_text" is kLlama4 too.
std::optional<Family> parse_family(std::string_view model_type);
std::string family_names();  // comma-separated, for error messages

// How the weighted expert outputs of a token become one vector.
enum class Combine : std::uint8_t {
  // Eager's index_add_ into a model-dtype accumulator, experts in ascending id order, each add
  // rounded to the model dtype (spec/models.md §6.1).
  kIndexAdd,
  // Llama-4: the experts' outputs summed over the expert axis with one rounding at the end.
  kSum,
};

// The parts of a family's forward that are not sizes or weights: the router rule with its cast
// points, the activation and where the router weight is applied.
struct Semantics {
  RouterConfig router;
  Activation activation = Activation::kSilu;
  GateUpLayout layout = GateUpLayout::kConcatenated;
  bool weights_on_input = false;  // Llama-4: each expert sees score · x, its output is not weighted
  Combine combine = Combine::kIndexAdd;
};

// The family's fixed semantics (spec/models.md §1.2, §6.2). Config-dependent fields keep their
// defaults and are set by the caller: top_k; normalization where norm_topk_prob decides it;
// routed_scaling_factor, n_group, topk_group (DeepSeek); jitter_eps (Phi); lp_norm_p (DBRX);
// the activation where hidden_act decides it.
Semantics semantics(Family family);

// The names vLLM gives these semantics where its kernels and padding rules depend on them:
// MoEActivation ("silu", "gelu", "swigluoai") and RoutingMethodType ("renormalize", "default",
// "deepseek_v3", "llama4", "custom"; fused_moe/config.py get_routing_method_type, lower case). A
// router vLLM runs through a custom routing function (Phi-3.5-MoE's sparsemixer, DBRX's L_p
// normalization) is "custom".
std::string_view vllm_activation(Activation activation);
std::string_view vllm_routing_method(Family family, const RouterConfig& router);

// One expert: y = down · act(gate_up · x + gate_up_bias) + down_bias.
struct Expert {
  StackedWeight gate_up;            // [2I, H], rows in the block's GateUpLayout
  StackedWeight down;               // [H, I]
  std::vector<float> gate_up_bias;  // [2I] in the same row order, or empty (gpt-oss only)
  std::vector<float> down_bias;     // [H] or empty; weighted by the router weight with the rest
};

struct MoeBlock {
  Family family = Family::kMixtral;
  Dtype dtype = Dtype::kF32;
  std::int64_t hidden = 0;        // H
  std::int64_t intermediate = 0;  // I, per routed expert
  Semantics semantics;

  DenseWeight router;                  // [E, H]
  std::vector<float> router_bias;      // [E] or empty (gpt-oss)
  std::vector<float> correction_bias;  // [E] or empty (DeepSeek-V3 e_score_correction_bias)
  std::vector<Expert> experts;         // E

  // Qwen2-MoE, DeepSeek, Llama-4, GraniteMoeShared: a dense SwiGLU MLP on every token, gate/up
  // always concatenated, its own intermediate size, no biases.
  std::optional<Expert> shared_expert;
  std::optional<DenseWeight> shared_expert_gate;  // Qwen2-MoE: [1, H], σ(x · w) scales the shared expert

  std::int64_t num_experts() const { return static_cast<std::int64_t>(experts.size()); }
};

// std::invalid_argument naming the first inconsistent field (shapes, bias lengths, routing
// settings against the number of experts).
void validate(const MoeBlock& block);

// The routed experts' two projections, as the scheme table stacks them (quant::stacked_shape):
// gate_up is two parts of I rows over K = H (gate, up), down one part of H rows over K = I.
enum class Projection : std::uint8_t { kGateUp, kDown };
std::vector<std::int64_t> stacked_shape(const MoeBlock& block, Projection projection,
                                        const quant::ComponentSpec& component);
// One component of every expert's projection, row-major in stacked_shape: per expert, its parts'
// stored rows concatenated (gate, then up; a fused part is both). std::invalid_argument naming the
// expert when a part is of another scheme, a separately stored gate_up has other than 2 parts, or
// the parts do not hold the stored element count.
std::vector<float> stacked_floats(const MoeBlock& block, Projection projection, const quant::ComponentSpec& component);
std::vector<std::uint8_t> stacked_bytes(const MoeBlock& block, Projection projection,
                                        const quant::ComponentSpec& component);

}  // namespace moecheck::reference::moe
