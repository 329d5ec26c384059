// Router rules and activations of reference/moe against hand-computed values (spec/models.md §1.2).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "reference/moe.h"

namespace moe = moecheck::reference::moe;
using moe::Dtype;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();

moe::RowMatrix<float> row(std::vector<float> v) {
  moe::RowMatrix<float> m(1, static_cast<Eigen::Index>(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = v[i];
  return m;
}

std::vector<std::int32_t> ids(const moe::Routing& r, int t = 0) {
  return {r.ids.row(t).data(), r.ids.row(t).data() + r.ids.cols()};
}

double sigma(double v) { return 1.0 / (1.0 + std::exp(-v)); }
float bf16(double v) { return moe::round_to(Dtype::kBf16, v); }

moe::RouterConfig family(moe::Family f, std::int64_t k) {
  moe::RouterConfig c = moe::semantics(f).router;
  c.top_k = k;
  return c;
}

}  // namespace

TEST(MoeTopK, TiesGoToTheLowerIdAndNanRanksFirst) {
  EXPECT_EQ(moe::top_k(std::vector<float>{1, 3, 3, 2}, 2), (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(moe::top_k(std::vector<float>{5, 5, 5}, 3), (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(moe::top_k(std::vector<float>{1, kNan, kInf, -kInf}, 4), (std::vector<std::int32_t>{1, 2, 0, 3}));
  EXPECT_EQ(moe::top_k(std::vector<float>{-0.0f, 0.0f}, 1), (std::vector<std::int32_t>{0}));  // -0 == +0: a tie
}

// Mixtral: softmax (fp32) → top-2 → renormalized: w = e^{l_i} / (e^{l_a} + e^{l_b}), weights fp32.
TEST(MoeRouting, Mixtral_SoftmaxTopKRenormalize) {
  const moe::Routing r = moe::route(family(moe::Family::kMixtral, 2), Dtype::kBf16, row({0, 1, 3, 2}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{2, 3}));
  EXPECT_NEAR(r.weights(0, 0), sigma(1), 1e-7);  // e^3 / (e^3 + e^2)
  EXPECT_NEAR(r.weights(0, 1), 1 - sigma(1), 1e-7);
  EXPECT_NE(r.weights(0, 0), bf16(sigma(1)));  // fp32 weights even in a bf16 model
}

// softmax → top-k → renormalize equals top-k of the logits → softmax over the k (padding.md §4.3).
TEST(MoeRouting, RenormalizedSoftmaxEqualsTopKThenSoftmax) {
  const moe::RowMatrix<float> logits = row({0.3f, -1.2f, 2.5f, 0.9f, 1.7f, -0.4f});
  moe::RouterConfig a = family(moe::Family::kMixtral, 3);
  moe::RouterConfig b = family(moe::Family::kGptOss, 3);
  b.scores = moe::Precision::kF32;
  const moe::Routing ra = moe::route(a, Dtype::kF32, logits, {}), rb = moe::route(b, Dtype::kF32, logits, {});
  EXPECT_EQ(ids(ra), ids(rb));
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(ra.weights(0, j), rb.weights(0, j), 2e-7);
}

// Qwen2/3-MoE, OLMoE: softmax over all experts, top-k, no renormalization unless norm_topk_prob;
// the weights are cast to the model dtype.
TEST(MoeRouting, Qwen_SoftmaxTopKWithoutRenormalizationCastToModelDtype) {
  const moe::Routing r = moe::route(family(moe::Family::kQwen2Moe, 2), Dtype::kBf16, row({0, 1, 2, 3}), {});
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{3, 2}));
  EXPECT_EQ(r.weights(0, 0), bf16(static_cast<float>(std::exp(3.0) / z)));
  EXPECT_EQ(r.weights(0, 1), bf16(static_cast<float>(std::exp(2.0) / z)));
  moe::RouterConfig norm = family(moe::Family::kQwen3Moe, 2);
  norm.normalization = moe::Normalization::kSum;
  const moe::Routing n = moe::route(norm, Dtype::kF32, row({0, 1, 2, 3}), {});
  EXPECT_NEAR(n.weights(0, 0) + n.weights(0, 1), 1.0, 1e-7);
}

// gpt-oss: top-k of the raw logits (bias included upstream), softmax over the k only, in the
// logits dtype.
TEST(MoeRouting, GptOss_TopKThenSoftmaxInModelDtype) {
  const moe::Routing r = moe::route(family(moe::Family::kGptOss, 2), Dtype::kBf16, row({1, 3, 2, 0}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(r.weights(0, 0), bf16(sigma(1)));
  EXPECT_EQ(r.weights(0, 1), bf16(1 - sigma(1)));
}

// Llama-4: top-1 of the logits, σ of that logit in fp32, cast to the model dtype.
TEST(MoeRouting, Llama4_TopOneSigmoid) {
  const moe::Routing r = moe::route(family(moe::Family::kLlama4, 1), Dtype::kBf16, row({0.5f, -1, 2}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{2}));
  EXPECT_EQ(r.weights(0, 0), 0.87890625f);  // σ(2) = 0.880797 → bf16 (steps of 2^-8 in [0.5, 1))
}

// DeepSeek-V3: σ scores; choice = score + correction bias; groups of 2 scored by the sum of their
// top-2 choices; the 2 best groups compete; weights are the unbiased scores, normalized by
// (Σ + 1e-20), times routed_scaling_factor.
TEST(MoeRouting, DeepseekV3_GroupedTopKWithCorrectionBias) {
  moe::RouterConfig c = family(moe::Family::kDeepseekV3, 2);
  c.n_group = 4;
  c.topk_group = 2;
  c.routed_scaling_factor = 2.5;
  const moe::RowMatrix<float> logits = row({2, -3, 0, 0, 1, 0.5f, -1, 3});
  const std::vector<float> bias = {0, 0, 0, 0.3f, 0, 0, 0.5f, -1};
  // Scores σ: .881 .047 | .5 .5 | .731 .622 | .269 .953. Choices: .881 .047 | .5 .8 | .731 .622 |
  // .769 -.047. Group sums: .928, 1.3, 1.354, .722 → groups 2 and 1 survive; expert 0 (best score
  // left in a dropped group) and 7 (best score overall) are out. Top-2 choice: 3 (.8), 4 (.731).
  const moe::Routing r = moe::route(c, Dtype::kF32, logits, bias);
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{3, 4}));
  const double s3 = 0.5, s4 = sigma(1);
  EXPECT_NEAR(r.weights(0, 0), 2.5 * s3 / (s3 + s4), 1e-6);
  EXPECT_NEAR(r.weights(0, 1), 2.5 * s4 / (s3 + s4), 1e-6);
  // Without the bias, group 3 (.269 + .953) beats group 1 (.5 + .5): experts 7 and 4.
  EXPECT_EQ(ids(moe::route(c, Dtype::kF32, logits, {})), (std::vector<std::int32_t>{7, 4}));
  // Without groups and bias: plain top-2 of σ.
  c.n_group = c.topk_group = 1;
  EXPECT_EQ(ids(moe::route(c, Dtype::kF32, logits, {})), (std::vector<std::int32_t>{7, 0}));
}

// DeepSeek-V2 group_limited_greedy: group score = the max probability; the rest are zeroed; no
// renormalization; × routed_scaling_factor.
TEST(MoeRouting, DeepseekV2_GroupLimitedGreedy) {
  moe::RouterConfig c = family(moe::Family::kDeepseekV2, 2);
  c.n_group = 3;
  c.topk_group = 1;
  c.routed_scaling_factor = 16.0;
  const moe::RowMatrix<float> logits = row({3, -5, 2, 2.5f, 0, 1});
  // Group maxima: 3 | 2.5 | 1 → only group 0 = {0, 1} survives and the rest score 0, so expert 1
  // (probability e^-5/Z > 0) beats the far likelier experts 2 and 3.
  const moe::Routing r = moe::route(c, Dtype::kF32, logits, {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{0, 1}));
  double z = 0;
  for (float l : {3.0f, -5.0f, 2.0f, 2.5f, 0.0f, 1.0f}) z += std::exp(double{l});
  EXPECT_NEAR(r.weights(0, 0), 16.0 * std::exp(3.0) / z, 1e-5);
  EXPECT_NEAR(r.weights(0, 1), 16.0 * std::exp(-5.0) / z, 1e-9);
}

// Phi-3.5-MoE sparsemixer: e1 = argmax; experts with (m - s)/max(|s|, m) > 2ε are masked; w1 =
// masked softmax at e1; then the same without e1 (the test uses the original logits). No renorm.
TEST(MoeRouting, Phimoe_SparseMixer) {
  const moe::RouterConfig c = family(moe::Family::kPhimoe, 2);
  moe::Routing r = moe::route(c, Dtype::kF32, row({1.0f, 0.99f, 0.5f, -1}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{0, 1}));
  EXPECT_NEAR(r.weights(0, 0), 1 / (1 + std::exp(-0.01)), 1e-6);  // experts 2, 3 masked
  EXPECT_EQ(r.weights(0, 1), 1.0f);                                 // alone after masking
  r = moe::route(c, Dtype::kF32, row({2.0f, 1.99f, 1.98f, 0}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{0, 1}));
  EXPECT_NEAR(r.weights(0, 0), 1 / (1 + std::exp(-0.01) + std::exp(-0.02)), 1e-6);
  EXPECT_NEAR(r.weights(0, 1), 1 / (1 + std::exp(-0.01)), 1e-6);
  EXPECT_LT(r.weights(0, 0) + r.weights(0, 1), 0.9f);  // no renormalization (1.5 in the first case)
}

// DBRX: softmax, top-k, divided by the L_p norm of the top-k (p = moe_normalize_expert_weights).
TEST(MoeRouting, Dbrx_LpNormalization) {
  moe::RouterConfig c = family(moe::Family::kDbrx, 2);
  const double z = 1 + std::exp(1.0) + std::exp(2.0), p2 = std::exp(2.0) / z, p1 = std::exp(1.0) / z;
  c.lp_norm_p = 2;
  moe::Routing r = moe::route(c, Dtype::kF32, row({0, 1, 2}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{2, 1}));
  EXPECT_NEAR(r.weights(0, 0), p2 / std::hypot(p1, p2), 1e-6);
  EXPECT_NEAR(r.weights(0, 1), p1 / std::hypot(p1, p2), 1e-6);
  c.lp_norm_p = 1;
  r = moe::route(c, Dtype::kF32, row({0, 1, 2}), {});
  EXPECT_NEAR(r.weights(0, 0), p2 / (p1 + p2), 1e-6);
}

// GraniteMoE: top-k of the logits, softmax in fp32, cast to the model dtype.
TEST(MoeRouting, Granite_TopKSoftmaxFp32ThenModelDtype) {
  const moe::Routing r = moe::route(family(moe::Family::kGraniteMoe, 2), Dtype::kBf16, row({0.25f, 4, -1, 3}), {});
  EXPECT_EQ(ids(r), (std::vector<std::int32_t>{1, 3}));
  EXPECT_EQ(r.weights(0, 0), bf16(static_cast<float>(sigma(1))));
}

TEST(MoeRouting, InconsistentSettingsAreErrors) {
  moe::RouterConfig c = family(moe::Family::kMixtral, 5);
  EXPECT_THROW(moe::route(c, Dtype::kF32, row({0, 1, 2, 3}), {}), std::invalid_argument);
  c.top_k = 2;
  c.n_group = 3;
  EXPECT_THROW(moe::route(c, Dtype::kF32, row({0, 1, 2, 3}), {}), std::invalid_argument);
  moe::RouterConfig phi = family(moe::Family::kPhimoe, 1);
  EXPECT_THROW(moe::route(phi, Dtype::kF32, row({0, 1, 2, 3}), {}), std::invalid_argument);
  moe::RouterConfig v3 = family(moe::Family::kDeepseekV3, 2);
  EXPECT_THROW(moe::route(v3, Dtype::kF32, row({0, 1, 2, 3}), std::vector<float>{0, 0, 0}), std::invalid_argument);
  try {
    moe::route(family(moe::Family::kMixtral, 9), Dtype::kF32, row({0, 1}), {});
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "routing: top_k: expected 1..2 (the number of experts), found 9");
  }
}

// ---- activations ---------------------------------------------------------------------------------

namespace {
std::vector<float> act(moe::Activation a, moe::GateUpLayout l, Dtype d, std::vector<float> gate_up) {
  std::vector<float> out(gate_up.size() / 2);
  moe::activate(a, l, d, gate_up, out);
  return out;
}
double silu(double v) { return v * sigma(v); }
}  // namespace

TEST(MoeActivation, SiluAndMulConcatenatedAndInterleaved) {
  const auto c = act(moe::Activation::kSilu, moe::GateUpLayout::kConcatenated, Dtype::kF32, {1, -2, 3, 0.5f});
  EXPECT_FLOAT_EQ(c[0], static_cast<float>(silu(1) * 3));
  EXPECT_FLOAT_EQ(c[1], static_cast<float>(silu(-2) * 0.5));
  EXPECT_EQ(act(moe::Activation::kSilu, moe::GateUpLayout::kInterleaved, Dtype::kF32, {1, 3, -2, 0.5f}), c);
}

TEST(MoeActivation, GeluErfAndMul) {
  const auto g = act(moe::Activation::kGeluErf, moe::GateUpLayout::kConcatenated, Dtype::kF32, {1, -1, 2, 2});
  EXPECT_FLOAT_EQ(g[0], 2 * 0.8413447460685429f);   // Φ(1) · 1 · 2
  EXPECT_FLOAT_EQ(g[1], 2 * -0.15865525393145707f);  // -Φ(-1) · 2
}

// gpt-oss: the gate is clamped above only, up on both sides, and (up + 1) multiplies.
TEST(MoeActivation, SwigluOaiClampsAndOffset) {
  const auto ref = [](double g, double u) {
    g = std::min(g, 7.0);
    u = std::clamp(u, -7.0, 7.0);
    return (u + 1) * g * sigma(1.702 * g);
  };
  const std::vector<float> gate = {10, -10, 0.5f, 2}, up = {0.5f, 9, -9, -1};
  std::vector<float> interleaved;
  for (int i = 0; i < 4; ++i) interleaved.insert(interleaved.end(), {gate[i], up[i]});
  const auto out = act(moe::Activation::kSwigluOai, moe::GateUpLayout::kInterleaved, Dtype::kF32, interleaved);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], ref(gate[i], up[i]), 1e-6 * std::abs(ref(gate[i], up[i]))) << i;
  EXPECT_NEAR(out[0], 1.5 * 7 * sigma(1.702 * 7), 1e-5);  // gate 10 → 7
  EXPECT_LT(out[1], 0.0f);                                 // gate -10 stays: no lower clamp
  EXPECT_NEAR(out[2], -6 * 0.5 * sigma(0.851), 1e-6);      // up -9 → -7, + 1
  EXPECT_EQ(out[3], 0.0f);                                 // up = -1: (up + 1) = 0
  std::vector<float> concatenated = gate;
  concatenated.insert(concatenated.end(), up.begin(), up.end());
  EXPECT_EQ(act(moe::Activation::kSwigluOai, moe::GateUpLayout::kConcatenated, Dtype::kF32, concatenated), out);
}

TEST(MoeActivation, ZeroLanesGiveExactZeroAndNanPropagates) {
  for (auto a : {moe::Activation::kSilu, moe::Activation::kGeluErf, moe::Activation::kSwigluOai}) {
    const auto z = act(a, moe::GateUpLayout::kConcatenated, Dtype::kBf16, {0, 0});
    EXPECT_EQ(z[0], 0.0f);
    EXPECT_TRUE(std::isnan(act(a, moe::GateUpLayout::kConcatenated, Dtype::kF32, {kNan, 1})[0]));
    EXPECT_TRUE(std::isnan(act(a, moe::GateUpLayout::kConcatenated, Dtype::kF32, {1, kNan})[0]));
  }
}

// bf16: act_fn(gate) is a bf16 tensor before `* up` — two roundings, not one. Find inputs where
// that differs from a single rounding and check the two-rounding result.
TEST(MoeActivation, Bf16RoundsEachOp) {
  int differing = 0;
  for (int i = 1; i < 400 && differing < 5; ++i) {
    const float g = bf16(0.37 * i - 70), u = bf16(1.0 + 0.011 * i);
    const float once = bf16(silu(g) * u), twice = bf16(double{bf16(silu(g))} * u);
    if (once == twice) continue;
    ++differing;
    EXPECT_EQ(act(moe::Activation::kSilu, moe::GateUpLayout::kConcatenated, Dtype::kBf16, {g, u})[0], twice) << g << " " << u;
  }
  EXPECT_GT(differing, 0);
}
