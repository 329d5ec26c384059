// Router rules of the MoE families (spec/models.md §1.2, §6.2; padding.md §4.3): from one token's
// router logits to its k experts and their weights.
//
// Tie-breaking, everywhere a "best" is chosen (top-k of scores, of logits, of group scores, the
// argmax of the sparsemixer): the larger value wins; among equal values the lower index (expert or
// group id) wins; NaN ranks above every number, as in torch.topk. torch leaves ties
// implementation-defined (and DeepSeek asks for sorted=False), so fixtures should avoid them.
// The ids of a token are listed best first.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <span>

#include "reference/moe/dtype.h"

namespace moecheck::reference::moe {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class RoutingRule : std::uint8_t {
  // Score every expert (softmax or sigmoid); optionally keep only the best groups; take the top-k
  // scores (+ correction bias for the choice only); normalize; scale. Mixtral, Qwen2/3-MoE, OLMoE,
  // DeepSeek-V2/V3, DBRX.
  kScoresThenTopK,
  // Top-k of the raw logits, then softmax over those k only. gpt-oss, GraniteMoE.
  kTopKThenSoftmax,
  // Top-k of the raw logits, then σ of each chosen logit. Llama-4 (whose weights scale the input).
  kTopKThenSigmoid,
  // Phi-3.5-MoE's inference sparsemixer: top-2 hard-wired, masked softmaxes, no renormalization.
  kSparseMixer,
};

enum class Scoring : std::uint8_t { kSoftmax, kSigmoid };

enum class GroupScore : std::uint8_t {
  kMax,      // DeepSeek-V2 group_limited_greedy: the largest score in the group
  kTop2Sum,  // DeepSeek-V3: the sum of the two largest choice scores (score + correction bias)
};

enum class Normalization : std::uint8_t {
  kNone,
  kSum,         // w / Σw (Mixtral always; Qwen/OLMoE when norm_topk_prob)
  kSumPlusEps,  // w / (Σw + 1e-20) (DeepSeek-V3 when norm_topk_prob)
  kLp,          // w / ‖w‖_p (DBRX, p = moe_normalize_expert_weights)
};

// Where a routing step's result is rounded: the model dtype or fp32 (spec/models.md §6.2).
enum class Precision : std::uint8_t { kModel, kF32 };

struct RouterConfig {
  RoutingRule rule = RoutingRule::kScoresThenTopK;
  Scoring scoring = Scoring::kSoftmax;  // kScoresThenTopK only
  std::int64_t top_k = 1;

  // Grouped selection (DeepSeek): the experts form n_group consecutive groups of equal size; only
  // the topk_group best groups compete; the others' choice scores become `masked_score`.
  std::int64_t n_group = 1, topk_group = 1;
  GroupScore group_score = GroupScore::kMax;
  float masked_score = -std::numeric_limits<float>::infinity();  // V3: -inf; V2: 0 (masked_fill(0.0))

  Normalization normalization = Normalization::kNone;
  double lp_norm_p = 1.0;               // kLp only
  double routed_scaling_factor = 1.0;   // multiplies the weights after normalization
  double jitter_eps = 0.01;             // kSparseMixer: mask when (m - s) / max(|s|, m) > 2·eps

  Precision logits = Precision::kModel;   // the router linear's output (DeepSeek: fp32)
  Precision scores = Precision::kModel;   // softmax / sigmoid and every step after it
  Precision weights = Precision::kModel;  // the weights handed to the experts
};

struct Routing {
  RowMatrix<std::int32_t> ids;  // [T, k], best first
  RowMatrix<float> weights;     // [T, k], values of the weights precision
};

float round_to(Precision precision, Dtype model, double exact);

// `logits` [T, E] are values of the logits precision; `correction_bias` is empty or [E]
// (DeepSeek-V3's e_score_correction_bias: it shifts the choice, never the weights).
// std::invalid_argument on inconsistent settings (k > E, groups that do not divide E, ...).
Routing route(const RouterConfig& config, Dtype model, const RowMatrix<float>& logits,
              std::span<const float> correction_bias);

// Indices of the k best values, best first, with the tie-breaking above.
std::vector<std::int32_t> top_k(std::span<const float> values, std::int64_t k);

}  // namespace moecheck::reference::moe
