#include "reference/moe/block.h"

#include <array>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace moecheck::reference::moe {
namespace {

constexpr std::array<std::pair<Family, std::string_view>, 12> kFamilyNames{{
    {Family::kGptOss, "gpt_oss"},
    {Family::kMixtral, "mixtral"},
    {Family::kQwen2Moe, "qwen2_moe"},
    {Family::kQwen3Moe, "qwen3_moe"},
    {Family::kOlmoe, "olmoe"},
    {Family::kDeepseekV2, "deepseek_v2"},
    {Family::kDeepseekV3, "deepseek_v3"},
    {Family::kLlama4, "llama4"},
    {Family::kGraniteMoe, "granitemoe"},
    {Family::kGraniteMoeShared, "granitemoeshared"},
    {Family::kPhimoe, "phimoe"},
    {Family::kDbrx, "dbrx"},
}};

[[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& found) {
  throw std::invalid_argument("MoE block: " + what + ": expected " + expected + ", found " + found);
}

void check_vector(const std::vector<float>& v, std::int64_t size, const std::string& what) {
  if (!v.empty() && v.size() != static_cast<std::size_t>(size))
    fail(what, std::to_string(size) + " values or none", std::to_string(v.size()));
}

void check_expert(const Expert& e, std::int64_t hidden, std::int64_t intermediate, const std::string& what) {
  validate(e.gate_up, 2 * intermediate, hidden, what + " gate_up");
  validate(e.down, hidden, intermediate, what + " down");
  check_vector(e.gate_up_bias, 2 * intermediate, what + " gate_up bias");
  check_vector(e.down_bias, hidden, what + " down bias");
}

}  // namespace

std::string_view name(Family family) {
  for (const auto& [f, text] : kFamilyNames)
    if (f == family) return text;
  return "?";
}

std::optional<Family> parse_family(std::string_view model_type) {
  if (model_type == "llama4_text") return Family::kLlama4;
  for (const auto& [f, text] : kFamilyNames)
    if (text == model_type) return f;
  return std::nullopt;
}

std::string family_names() {
  std::string out;
  for (const auto& [f, text] : kFamilyNames) out += (out.empty() ? "" : ", ") + std::string(text);
  return out + ", llama4_text";
}

Semantics semantics(Family family) {
  Semantics s;
  RouterConfig& r = s.router;
  switch (family) {
    case Family::kGptOss:  // logits with bias; top-k of logits; softmax over k in the logits dtype
      r.rule = RoutingRule::kTopKThenSoftmax;
      s.activation = Activation::kSwigluOai;
      s.layout = GateUpLayout::kInterleaved;
      break;
    case Family::kMixtral:  // softmax in fp32, top-k, always renormalized; weights stay fp32
      r.normalization = Normalization::kSum;
      r.scores = r.weights = Precision::kF32;
      break;
    case Family::kQwen2Moe:
    case Family::kQwen3Moe:
    case Family::kOlmoe:  // softmax in fp32, top-k, renormalized iff norm_topk_prob, cast to the model dtype
      r.scores = Precision::kF32;
      break;
    case Family::kDeepseekV2:  // fp32 logits and softmax; greedy or group max; never renormalized
      r.logits = r.scores = r.weights = Precision::kF32;
      r.group_score = GroupScore::kMax;
      r.masked_score = 0.0f;
      break;
    case Family::kDeepseekV3:  // fp32 sigmoid, + correction bias to choose, groups by top-2 sum
      r.scoring = Scoring::kSigmoid;
      r.logits = r.scores = r.weights = Precision::kF32;
      r.group_score = GroupScore::kTop2Sum;
      r.normalization = Normalization::kSumPlusEps;
      break;
    case Family::kLlama4:  // top-k of logits, σ in fp32 cast to the model dtype, applied to the input
      r.rule = RoutingRule::kTopKThenSigmoid;
      r.scores = Precision::kF32;
      s.weights_on_input = true;
      s.combine = Combine::kSum;
      break;
    case Family::kGraniteMoe:
    case Family::kGraniteMoeShared:  // logits upcast; top-k; softmax over k in fp32; cast to the model dtype
      r.rule = RoutingRule::kTopKThenSoftmax;
      r.scores = Precision::kF32;
      break;
    case Family::kPhimoe:
      r.rule = RoutingRule::kSparseMixer;
      r.top_k = 2;
      break;
    case Family::kDbrx:  // softmax in the model dtype, top-k, divided by the L_p norm
      r.normalization = Normalization::kLp;
      break;
  }
  return s;
}

std::string_view vllm_activation(Activation activation) {
  switch (activation) {
    case Activation::kSilu:
      return "silu";
    case Activation::kGeluErf:
      return "gelu";
    case Activation::kSwigluOai:
      return "swigluoai";
  }
  return "silu";
}

std::string_view vllm_routing_method(Family family, const RouterConfig& router) {
  if (family == Family::kDeepseekV3) return "deepseek_v3";  // sigmoid, grouped, correction bias
  if (family == Family::kLlama4) return "llama4";
  if (router.rule == RoutingRule::kSparseMixer || router.normalization == Normalization::kLp) return "custom";
  if (router.rule == RoutingRule::kTopKThenSoftmax) return "renormalize";  // softmax over the k = renormalized
  return router.normalization == Normalization::kNone ? "default" : "renormalize";
}

namespace {

template <class T>
std::vector<T> stacked(const MoeBlock& b, Projection projection, const quant::ComponentSpec& c) {
  const quant::WeightScheme scheme = b.experts.empty() || b.experts.front().gate_up.parts.empty()
                                         ? quant::WeightScheme::kDense
                                         : scheme_of(b.experts.front().gate_up.parts.front());
  const quant::SchemeSpec& spec = quant::spec(scheme);
  const std::vector<std::int64_t> shape = stacked_shape(b, projection, c);
  const std::size_t per_expert = static_cast<std::size_t>(shape[1] * shape[2]);
  std::vector<T> out(per_expert * b.experts.size());
  const bool gate_up = projection == Projection::kGateUp;
  for (std::size_t e = 0; e < b.experts.size(); ++e) {
    const StackedWeight& w = gate_up ? b.experts[e].gate_up : b.experts[e].down;
    const std::string where = std::string(spec.name) + " expert " + std::to_string(e) + " " +
                              (gate_up ? "gate_up" : "down") + " " + std::string(quant::name(c.component));
    if (gate_up && spec.gate_up == quant::GateUpParts::kSeparate && w.parts.size() != 2)
      throw std::invalid_argument(where + ": expected 2 parts (gate, up), found " + std::to_string(w.parts.size()));
    std::size_t at = e * per_expert;
    const std::size_t end = at + per_expert;
    for (const Weight& part : w.parts) {
      if (scheme_of(part) != scheme)
        throw std::invalid_argument(where + ": a " + std::string(quant::name(scheme_of(part))) + " part");
      std::span<const T> v;
      if constexpr (std::is_same_v<T, float>)
        v = float_component(part, c.component);
      else
        v = byte_component(part, c.component);
      if (v.size() > end - at) {
        at = end + 1;  // more than the stored count
        break;
      }
      std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
      at += v.size();
    }
    if (at != end)
      throw std::invalid_argument(where + ": expected " + std::to_string(per_expert) + " stored elements [" +
                                  std::to_string(shape[1]) + ", " + std::to_string(shape[2]) +
                                  "], the parts hold another count");
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> stacked_shape(const MoeBlock& b, Projection projection, const quant::ComponentSpec& c) {
  const bool gate_up = projection == Projection::kGateUp;
  return quant::stacked_shape(c, b.num_experts(), gate_up ? 2 : 1, gate_up ? b.intermediate : b.hidden,
                              gate_up ? b.hidden : b.intermediate);
}
std::vector<float> stacked_floats(const MoeBlock& b, Projection projection, const quant::ComponentSpec& c) {
  return stacked<float>(b, projection, c);
}
std::vector<std::uint8_t> stacked_bytes(const MoeBlock& b, Projection projection, const quant::ComponentSpec& c) {
  return stacked<std::uint8_t>(b, projection, c);
}

void validate(const MoeBlock& b) {
  if (b.hidden < 1) fail("hidden size", "> 0", std::to_string(b.hidden));
  if (b.intermediate < 1) fail("intermediate size", "> 0", std::to_string(b.intermediate));
  const std::int64_t experts = b.num_experts();
  if (experts < 1) fail("experts", "at least 1", "0");
  validate(StackedWeight{{b.router}}, experts, b.hidden, "router");
  check_vector(b.router_bias, experts, "router bias");
  check_vector(b.correction_bias, experts, "correction bias");
  for (std::int64_t e = 0; e < experts; ++e)
    check_expert(b.experts[static_cast<std::size_t>(e)], b.hidden, b.intermediate, "expert " + std::to_string(e));
  if (b.shared_expert) {
    const std::int64_t rows = b.shared_expert->gate_up.rows();
    if (rows % 2 != 0) fail("shared expert gate_up rows", "an even number (gate over up)", std::to_string(rows));
    check_expert(*b.shared_expert, b.hidden, rows / 2, "shared expert");
  }
  if (b.shared_expert_gate) {
    if (!b.shared_expert) fail("shared expert gate", "a shared expert to scale", "none");
    validate(StackedWeight{{*b.shared_expert_gate}}, 1, b.hidden, "shared expert gate");
  }
}

}  // namespace moecheck::reference::moe
