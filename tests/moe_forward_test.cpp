// The golden forward of reference/moe: hand-computed blocks, an independent loop-by-loop reading of
// the eager semantics (bitwise, in the sequential fp32 mode), the accumulation modes and zero
// padding, quantized experts, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "reference/formats/codecs.h"
#include "reference/moe.h"
#include "reference/quant/fp8_block.h"
#include "reference/quant/mxfp4.h"
#include "tests/moe_test_support.h"

namespace moe = moecheck::reference::moe;
namespace quant = moecheck::reference::quant;
using moe::Dtype;
using moe::Family;
using moecheck::test::Values;

namespace {

double sigma(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double silu(double v) { return v * sigma(v); }

moe::DenseWeight dense(std::int64_t rows, std::int64_t cols, std::vector<float> v) { return {rows, cols, std::move(v)}; }
moe::StackedWeight stacked(std::int64_t rows, std::int64_t cols, std::vector<float> v) {
  return {{dense(rows, cols, std::move(v))}};
}

moe::RowMatrix<float> matrix(std::int64_t rows, std::int64_t cols, const std::vector<float>& v) {
  return Eigen::Map<const moe::RowMatrix<float>>(v.data(), rows, cols);
}

// A random block of `family` with dense weights (values exact in bf16), biases where the family
// has them, its shared expert and gate, a correction bias for DeepSeek-V3.
moe::MoeBlock random_block(Family family, Dtype dtype, std::int64_t H, std::int64_t I, std::int64_t E, std::int64_t k,
                           std::uint32_t seed) {
  Values v(seed);
  moe::MoeBlock b;
  b.family = family;
  b.dtype = dtype;
  b.hidden = H;
  b.intermediate = I;
  b.semantics = moe::semantics(family);
  b.semantics.router.top_k = k;
  b.router = dense(E, H, v.vec(static_cast<std::size_t>(E * H), 0.5f));
  for (std::int64_t e = 0; e < E; ++e) {
    moe::Expert x;
    x.gate_up = stacked(2 * I, H, v.vec(static_cast<std::size_t>(2 * I * H), 0.3f));
    x.down = stacked(H, I, v.vec(static_cast<std::size_t>(H * I), 0.3f));
    if (family == Family::kGptOss) {
      x.gate_up_bias = v.vec(static_cast<std::size_t>(2 * I), 0.5f);
      x.down_bias = v.vec(static_cast<std::size_t>(H), 0.5f);
    }
    b.experts.push_back(std::move(x));
  }
  if (family == Family::kGptOss) b.router_bias = v.vec(static_cast<std::size_t>(E));
  if (family == Family::kQwen2Moe || family == Family::kDeepseekV2 || family == Family::kDeepseekV3 ||
      family == Family::kLlama4 || family == Family::kGraniteMoeShared) {
    const std::int64_t S = 2 * I + 4;
    moe::Expert shared;
    shared.gate_up = stacked(2 * S, H, v.vec(static_cast<std::size_t>(2 * S * H), 0.3f));
    shared.down = stacked(H, S, v.vec(static_cast<std::size_t>(H * S), 0.3f));
    b.shared_expert = std::move(shared);
  }
  if (family == Family::kQwen2Moe) b.shared_expert_gate = dense(1, H, v.vec(static_cast<std::size_t>(H)));
  if (family == Family::kDeepseekV3) {
    b.correction_bias = v.vec(static_cast<std::size_t>(E), 0.1f);
    b.semantics.router.n_group = 2;
    b.semantics.router.topk_group = 1;
    b.semantics.router.routed_scaling_factor = 2.5;
  }
  if (family == Family::kDeepseekV2) b.semantics.router.routed_scaling_factor = 1.5;
  return b;
}

// Sequential fp32 dot product, k ascending: the kFp32 definition, written as the plainest loop.
float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

std::vector<float> values(const moe::StackedWeight& w, Dtype d) {
  std::vector<float> out(static_cast<std::size_t>(w.rows() * w.cols()));
  moe::materialize(w, d, out);
  return out;
}

// One expert on one token, as scalar loops: r(x·W13ᵀ) (+b), activation, r(h·W2ᵀ) (+b).
std::vector<float> naive_expert(const moe::Expert& ex, const std::vector<float>& x, moe::Activation a,
                                moe::GateUpLayout l, Dtype d) {
  const auto r = [d](double v) { return moe::round_to(d, v); };
  const std::int64_t n2 = ex.gate_up.rows(), H = ex.gate_up.cols();
  const std::vector<float> w13 = values(ex.gate_up, d), w2 = values(ex.down, d);
  std::vector<float> gu(static_cast<std::size_t>(n2)), h(static_cast<std::size_t>(n2 / 2)), y(static_cast<std::size_t>(H));
  for (std::int64_t o = 0; o < n2; ++o) {
    gu[o] = r(dot(x.data(), &w13[o * H], H));
    if (!ex.gate_up_bias.empty()) gu[o] = r(double{gu[o]} + r(ex.gate_up_bias[o]));
  }
  moe::activate(a, l, d, gu, h);
  for (std::int64_t o = 0; o < H; ++o) {
    y[o] = r(dot(h.data(), &w2[o * (n2 / 2)], n2 / 2));
    if (!ex.down_bias.empty()) y[o] = r(double{y[o]} + r(ex.down_bias[o]));
  }
  return y;
}

// The block token by token: routed experts in ascending id, the weighted output rounded to the
// weights' precision then the model dtype, added with a rounding after each add; then the shared
// expert. Shares only route() and activate() with the implementation (tested on their own).
moe::RowMatrix<float> naive_forward(const moe::MoeBlock& b, const moe::RowMatrix<float>& hidden) {
  const Dtype d = b.dtype;
  const moe::Semantics& s = b.semantics;
  const auto r = [d](double v) { return moe::round_to(d, v); };
  const std::int64_t T = hidden.rows(), H = b.hidden, E = b.num_experts();
  const std::vector<float> wr = values(moe::StackedWeight{{b.router}}, d);
  moe::RowMatrix<float> logits(T, E);
  std::vector<std::vector<float>> xs(static_cast<std::size_t>(T), std::vector<float>(static_cast<std::size_t>(H)));
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < H; ++h) xs[t][h] = r(hidden(t, h));
    for (std::int64_t e = 0; e < E; ++e)
      logits(t, e) = moe::round_to(s.router.logits, d,
                                   double{dot(xs[t].data(), &wr[e * H], H)} + (b.router_bias.empty() ? 0.0 : r(b.router_bias[e])));
  }
  const moe::Routing routing = moe::route(s.router, d, logits, b.correction_bias);
  moe::RowMatrix<float> out(T, H);
  for (std::int64_t t = 0; t < T; ++t) {
    std::map<std::int32_t, float> chosen;  // expert → weight, ascending expert id
    for (Eigen::Index j = 0; j < routing.ids.cols(); ++j) chosen[routing.ids(t, j)] = routing.weights(t, j);
    std::vector<float> acc(static_cast<std::size_t>(H), 0.0f);
    std::vector<double> sum(static_cast<std::size_t>(H), 0.0);
    for (const auto& [e, w] : chosen) {
      std::vector<float> xin = xs[t];
      if (s.weights_on_input)
        for (float& v : xin) v = r(double{v} * w);
      const std::vector<float> y = naive_expert(b.experts[e], xin, s.activation, s.layout, d);
      for (std::int64_t h = 0; h < H; ++h) {
        const float c = s.weights_on_input ? y[h] : r(moe::round_to(s.router.weights, d, double{y[h]} * w));
        acc[h] = r(double{acc[h]} + c);
        sum[h] += c;
      }
    }
    if (s.combine == moe::Combine::kSum)
      for (std::int64_t h = 0; h < H; ++h) acc[h] = r(sum[h]);
    if (b.shared_expert) {
      std::vector<float> y = naive_expert(*b.shared_expert, xs[t], s.activation, moe::GateUpLayout::kConcatenated, d);
      if (b.shared_expert_gate) {
        const std::vector<float> wg = values(moe::StackedWeight{{*b.shared_expert_gate}}, d);
        const double g = r(sigma(r(dot(xs[t].data(), wg.data(), H))));
        for (float& v : y) v = r(g * v);
      }
      for (std::int64_t h = 0; h < H; ++h) acc[h] = r(double{acc[h]} + y[h]);
    }
    for (std::int64_t h = 0; h < H; ++h) out(t, h) = acc[h];
  }
  return out;
}

moe::RowMatrix<float> random_hidden(std::int64_t T, std::int64_t H, std::uint32_t seed) {
  Values v(seed);
  return matrix(T, H, v.vec(static_cast<std::size_t>(T * H)));
}

bool bitwise_equal(const moe::RowMatrix<float>& a, const moe::RowMatrix<float>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

const Family kAllFamilies[] = {Family::kGptOss,     Family::kMixtral,    Family::kQwen2Moe,   Family::kQwen3Moe,
                               Family::kOlmoe,      Family::kDeepseekV2, Family::kDeepseekV3, Family::kLlama4,
                               Family::kGraniteMoe, Family::kGraniteMoeShared, Family::kPhimoe, Family::kDbrx};

}  // namespace

// ---- hand-computed blocks --------------------------------------------------------------------------

// Mixtral, H = 2, I = 1, E = 2, top-2: x = [1, 2], router = identity → logits [1, 2], weights
// [1 - σ(1), σ(1)]. Expert 0: gate x0, up x1, down [1, 2]; expert 1: gate x1, up x0 + x1, down [3, -1].
TEST(MoeForward, HandComputed_Mixtral) {
  moe::MoeBlock b;
  b.family = Family::kMixtral;
  b.hidden = 2;
  b.intermediate = 1;
  b.semantics = moe::semantics(Family::kMixtral);
  b.semantics.router.top_k = 2;
  b.router = dense(2, 2, {1, 0, 0, 1});
  b.experts.push_back({stacked(2, 2, {1, 0, 0, 1}), stacked(2, 1, {1, 2}), {}, {}});
  b.experts.push_back({stacked(2, 2, {0, 1, 1, 1}), stacked(2, 1, {3, -1}), {}, {}});
  const moe::MoeOutput out = moe::forward(b, matrix(1, 2, {1, 2}));
  const double w0 = 1 - sigma(1), w1 = sigma(1), h0 = silu(1) * 2, h1 = silu(2) * 3;
  EXPECT_NEAR(out.output(0, 0), w0 * h0 + w1 * 3 * h1, 1e-6);
  EXPECT_NEAR(out.output(0, 1), w0 * 2 * h0 - w1 * h1, 1e-6);
  EXPECT_EQ(out.routing.ids(0, 0), 1);
  EXPECT_EQ(out.routing.ids(0, 1), 0);
  EXPECT_EQ(out.router_logits(0, 1), 2.0f);
  EXPECT_EQ(out.experts_evaluated, (std::vector<std::int32_t>{0, 1}));
}

// gpt-oss: zero weights leave only the biases; the down bias is weighted by the router weight.
TEST(MoeForward, HandComputed_GptOssDownBiasIsWeighted) {
  moe::MoeBlock b;
  b.family = Family::kGptOss;
  b.hidden = 1;
  b.intermediate = 1;
  b.semantics = moe::semantics(Family::kGptOss);
  b.semantics.router.top_k = 2;
  b.router = dense(3, 1, {1, 2, -1});
  b.router_bias = {0, 0.5f, 0};
  for (float bias : {10.0f, 20.0f, 30.0f}) b.experts.push_back({stacked(2, 1, {0, 0}), stacked(1, 1, {0}), {0, 0}, {bias}});
  const moe::MoeOutput out = moe::forward(b, matrix(1, 1, {1}));
  // logits 1, 2.5, -1 → experts 1, 0 with softmax(2.5, 1) = σ(1.5), σ(-1.5).
  EXPECT_NEAR(out.output(0, 0), 20 * sigma(1.5) + 10 * sigma(-1.5), 1e-5);
  EXPECT_EQ(out.experts_evaluated, (std::vector<std::int32_t>{0, 1}));
}

// Llama-4: the expert sees σ(logit) · x, and its output is not weighted again.
TEST(MoeForward, HandComputed_Llama4WeightsTheInput) {
  moe::MoeBlock b;
  b.family = Family::kLlama4;
  b.hidden = 1;
  b.intermediate = 1;
  b.semantics = moe::semantics(Family::kLlama4);
  b.router = dense(2, 1, {0.5f, -1});
  b.experts.push_back({stacked(2, 1, {1, 1}), stacked(1, 1, {1}), {}, {}});
  b.experts.push_back({stacked(2, 1, {5, 5}), stacked(1, 1, {5}), {}, {}});
  b.shared_expert = moe::Expert{stacked(2, 1, {1, -1}), stacked(1, 1, {2}), {}, {}};
  const moe::MoeOutput out = moe::forward(b, matrix(1, 1, {2}));
  const double xs = sigma(1) * 2;  // score of expert 0 (logit 1) times x
  EXPECT_NEAR(out.output(0, 0), silu(xs) * xs + 2 * silu(2) * -2, 1e-6);
  EXPECT_EQ(out.experts_evaluated, (std::vector<std::int32_t>{0}));
}

// Qwen2-MoE: routed experts that output 0 leave σ(w_sg · x) · shared(x).
TEST(MoeForward, HandComputed_Qwen2SharedExpertGate) {
  moe::MoeBlock b;
  b.family = Family::kQwen2Moe;
  b.hidden = 1;
  b.intermediate = 1;
  b.semantics = moe::semantics(Family::kQwen2Moe);
  b.router = dense(2, 1, {1, 2});
  for (int e = 0; e < 2; ++e) b.experts.push_back({stacked(2, 1, {1, 1}), stacked(1, 1, {0}), {}, {}});
  b.shared_expert = moe::Expert{stacked(2, 1, {1, 1}), stacked(1, 1, {1}), {}, {}};
  b.shared_expert_gate = dense(1, 1, {2});
  const moe::MoeOutput out = moe::forward(b, matrix(1, 1, {1.5f}));
  EXPECT_NEAR(out.output(0, 0), sigma(3) * silu(1.5) * 1.5, 1e-6);
}

// bf16 eager: each index_add_ rounds, experts in ascending id. Contributions 1, 2^-8, 2^-8 in that
// order give 1 (each 2^-8 is half an ulp at 1, a tie to even); in the order 2^-8, 2^-8, 1 they
// give 1 + 2^-7. DeepSeek-V3 routing with logits 0 gives σ = 0.5 · 2 = exact weights 1.
TEST(MoeForward, HandComputed_Bf16IndexAddRoundsAfterEveryAddInExpertOrder) {
  const auto block = [](std::vector<float> biases) {
    moe::MoeBlock b;
    b.family = Family::kDeepseekV3;
    b.dtype = Dtype::kBf16;
    b.hidden = 1;
    b.intermediate = 1;
    b.semantics = moe::semantics(Family::kDeepseekV3);
    b.semantics.router.top_k = 3;
    b.semantics.router.normalization = moe::Normalization::kNone;
    b.semantics.router.routed_scaling_factor = 2.0;
    b.router = dense(3, 1, {0, 0, 0});
    for (float bias : biases) b.experts.push_back({stacked(2, 1, {0, 0}), stacked(1, 1, {0}), {}, {bias}});
    return b;
  };
  const float half_ulp = std::ldexp(1.0f, -8);
  EXPECT_EQ(moe::forward(block({1, half_ulp, half_ulp}), matrix(1, 1, {1})).output(0, 0), 1.0f);
  EXPECT_EQ(moe::forward(block({half_ulp, half_ulp, 1}), matrix(1, 1, {1})).output(0, 0), 1.0f + 2 * half_ulp);
}

// ---- every family against the loop-by-loop reading ------------------------------------------------

TEST(MoeForward, EveryFamilyMatchesTheNaiveReadingBitwiseInFp32Mode) {
  for (Family f : kAllFamilies) {
    for (Dtype d : {Dtype::kF32, Dtype::kBf16}) {
      const std::int64_t k = f == Family::kLlama4 ? 1 : 2;
      const moe::MoeBlock b = random_block(f, d, 40, 12, 6, k, 7 + static_cast<int>(f));
      const moe::RowMatrix<float> x = random_hidden(13, 40, 99);
      const moe::MoeOutput got = moe::forward(b, x, moe::Accumulate::kFp32);
      const moe::RowMatrix<float> want = naive_forward(b, x);
      EXPECT_TRUE(bitwise_equal(got.output, want)) << moe::name(f) << " " << moe::name(d) << "\n"
                                                   << got.output.topRows(2) << "\n" << want.topRows(2);
      EXPECT_GT(want.cwiseAbs().maxCoeff(), 0.0f) << moe::name(f);
      if (d == Dtype::kF32) {  // fp64 and sequential fp32 sums agree to fp32 rounding noise
        const moe::RowMatrix<float> ref = moe::forward(b, x, moe::Accumulate::kFp64).output;
        EXPECT_LT((ref - want).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff(), 1e-5f) << moe::name(f);
      }
      // experts_evaluated: exactly the experts some token chose.
      std::set<std::int32_t> chosen(got.routing.ids.data(), got.routing.ids.data() + got.routing.ids.size());
      EXPECT_EQ(got.experts_evaluated, std::vector<std::int32_t>(chosen.begin(), chosen.end())) << moe::name(f);
    }
  }
}

// ---- accumulation modes and zero padding -----------------------------------------------------------

TEST(MoeLinear, Fp32IsSequentialAndFp64IsExact) {
  const moe::RowMatrix<float> x = matrix(1, 3, {1e8f, 1, -1e8f});
  const std::vector<float> w = {1, 1, 1};
  EXPECT_EQ(moe::linear(moe::Accumulate::kFp32, x, w, 1)(0, 0), 0.0);  // (1e8 + 1) rounds back to 1e8
  EXPECT_EQ(moe::linear(moe::Accumulate::kFp64, x, w, 1)(0, 0), 1.0);
}

// Both kernels equal the plainest sequential loop in their precision, bit for bit, for every tile
// remainder (tokens vs the 8- or 4-token tiles, rows vs the 4-row tiles), and zero padding of K
// changes nothing.
TEST(MoeLinear, KernelsEqualThePlainLoopAndIgnoreZeroPadding) {
  Values v(5);
  for (moe::Accumulate mode : {moe::Accumulate::kFp32, moe::Accumulate::kFp64})
  for (std::int64_t T : {1, 3, 4, 5, 7, 8, 9, 17})
    for (std::int64_t N : {1, 3, 4, 5, 9})
      for (std::int64_t K : {1, 31, 64}) {
        const std::vector<float> xs = v.vec(static_cast<std::size_t>(T * K)), ws = v.vec(static_cast<std::size_t>(N * K));
        const moe::RowMatrix<double> y = moe::linear(mode, matrix(T, K, xs), ws, N);
        // The same with K padded by 5 zero columns in x (and finite garbage in w's padded columns
        // would break it, so w is zero-padded too, as padding does).
        std::vector<float> xp, wp;
        for (std::int64_t t = 0; t < T; ++t) {
          xp.insert(xp.end(), xs.begin() + t * K, xs.begin() + (t + 1) * K);
          xp.insert(xp.end(), 5, 0.0f);
        }
        for (std::int64_t n = 0; n < N; ++n) {
          wp.insert(wp.end(), ws.begin() + n * K, ws.begin() + (n + 1) * K);
          wp.insert(wp.end(), 5, 0.0f);
        }
        const moe::RowMatrix<double> yp = moe::linear(mode, matrix(T, K + 5, xp), wp, N);
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t n = 0; n < N; ++n) {
            double plain = 0;
            if (mode == moe::Accumulate::kFp32) {
              plain = dot(&xs[t * K], &ws[n * K], K);
            } else {
              for (std::int64_t k = 0; k < K; ++k) plain += double{xs[t * K + k]} * ws[n * K + k];
            }
            ASSERT_EQ(std::bit_cast<std::uint64_t>(y(t, n)), std::bit_cast<std::uint64_t>(plain))
                << moe::name(mode) << " " << T << "x" << N << "x" << K << " at " << t << "," << n;
            ASSERT_EQ(std::bit_cast<std::uint64_t>(y(t, n)), std::bit_cast<std::uint64_t>(yp(t, n)));
          }
      }
}

// The padding property that later issues rely on: pad H and I of a gpt-oss block (I in gate/up
// pairs, interleaved) with zero weights and zero biases, zero-pad the hidden states: in both
// (order-preserving) modes the output is bitwise the same, and the padded output columns are 0.
TEST(MoeForward, ZeroPaddingLeavesTheOutputBitwiseUnchanged) {
  const std::int64_t H = 40, I = 12, Hp = 64, Ip = 32, E = 6;
  for (Dtype d : {Dtype::kF32, Dtype::kBf16}) {
    const moe::MoeBlock b = random_block(Family::kGptOss, d, H, I, E, 2, 3);
    moe::MoeBlock p = b;
    p.hidden = Hp;
    p.intermediate = Ip;
    const auto pad = [](const moe::StackedWeight& w, std::int64_t rows, std::int64_t cols,
                        const std::function<std::int64_t(std::int64_t)>& row_to) {
      const auto& src = std::get<moe::DenseWeight>(w.parts[0]);
      std::vector<float> v(static_cast<std::size_t>(rows * cols), 0.0f);
      for (std::int64_t r = 0; r < src.rows; ++r)
        std::copy_n(&src.values[r * src.cols], src.cols, &v[row_to(r) * cols]);
      return stacked(rows, cols, v);
    };
    const auto same = [](std::int64_t r) { return r; };
    std::vector<float> router(static_cast<std::size_t>(E * Hp), 0.0f);
    for (std::int64_t e = 0; e < E; ++e) std::copy_n(&b.router.values[e * H], H, &router[e * Hp]);
    p.router = dense(E, Hp, router);
    for (std::int64_t e = 0; e < E; ++e) {
      const moe::Expert& s = b.experts[e];
      moe::Expert& x = p.experts[e];
      // Interleaved rows 2i (gate i) and 2i + 1 (up i) keep their places; pairs I..Ip-1 are new.
      x.gate_up = pad(s.gate_up, 2 * Ip, Hp, same);
      x.down = pad(s.down, Hp, Ip, same);
      x.gate_up_bias.assign(static_cast<std::size_t>(2 * Ip), 0.0f);
      std::copy(s.gate_up_bias.begin(), s.gate_up_bias.end(), x.gate_up_bias.begin());
      x.down_bias.assign(static_cast<std::size_t>(Hp), 0.0f);
      std::copy(s.down_bias.begin(), s.down_bias.end(), x.down_bias.begin());
    }
    const moe::RowMatrix<float> x = random_hidden(11, H, 8);
    moe::RowMatrix<float> xp = moe::RowMatrix<float>::Zero(11, Hp);
    xp.leftCols(H) = x;
    for (moe::Accumulate mode : {moe::Accumulate::kFp32, moe::Accumulate::kFp64}) {
      const moe::MoeOutput a = moe::forward(b, x, mode), c = moe::forward(p, xp, mode);
      EXPECT_TRUE(bitwise_equal(a.output, c.output.leftCols(H))) << moe::name(d) << " " << moe::name(mode);
      EXPECT_TRUE((c.output.rightCols(Hp - H).array() == 0.0f).all());
      EXPECT_EQ(a.routing.ids, c.routing.ids);
      EXPECT_GT(a.output.cwiseAbs().maxCoeff(), 0.0f);
    }
  }
}

// ---- quantized experts -----------------------------------------------------------------------------

namespace {
quant::Mxfp4Weight random_mxfp4(std::int64_t rows, std::int64_t cols, Values& v) {
  quant::Mxfp4Weight w{rows, cols, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / 2)),
                       std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / 32))};
  for (auto& b : w.blocks) b = static_cast<std::uint8_t>(v.raw());
  for (auto& s : w.scales) s = static_cast<std::uint8_t>(122 + v.raw() % 6);
  return w;
}
quant::Fp8BlockWeight random_fp8(std::int64_t rows, std::int64_t cols, std::int64_t block, Values& v) {
  quant::Fp8BlockWeight w;
  w.rows = rows;
  w.cols = cols;
  w.block_rows = w.block_cols = block;
  w.codes.resize(static_cast<std::size_t>(rows * cols));
  for (auto& c : w.codes) {
    c = static_cast<std::uint8_t>(v.raw());
    if ((c & 0x7F) == 0x7F) c = 0x3F;  // no NaN codes
  }
  w.scale_inv.resize(static_cast<std::size_t>(((rows + block - 1) / block) * ((cols + block - 1) / block)));
  for (float& s : w.scale_inv) s = std::abs(v.next(0.01f)) + 1e-3f;
  return w;
}
// The same block with every quantized part replaced by its exact dequantized floats.
moe::MoeBlock dequantized(moe::MoeBlock b) {
  const auto fix = [](moe::StackedWeight& s) {
    for (moe::Weight& w : s.parts) {
      if (auto* m = std::get_if<quant::Mxfp4Weight>(&w)) {
        const quant::RowMatrixXf d = quant::dequantize_row_major(*m);
        w = dense(m->rows, m->cols, std::vector<float>(d.data(), d.data() + d.size()));
      } else if (auto* f = std::get_if<quant::Fp8BlockWeight>(&w)) {
        const quant::RowMatrixXf d = quant::dequantize_row_major(*f);
        w = dense(f->rows, f->cols, std::vector<float>(d.data(), d.data() + d.size()));
      }
    }
  };
  for (auto& e : b.experts) fix(e.gate_up), fix(e.down);
  if (b.shared_expert) fix(b.shared_expert->gate_up), fix(b.shared_expert->down);
  return b;
}
}  // namespace

TEST(MoeForward, Mxfp4ExpertsEqualTheirDequantizedFloatsAndOnlyRoutedOnesAreEvaluated) {
  const std::int64_t H = 64, I = 32, E = 8;
  Values v(11);
  for (Dtype d : {Dtype::kF32, Dtype::kBf16}) {
    moe::MoeBlock b = random_block(Family::kGptOss, d, H, I, E, 2, 12);
    for (auto& e : b.experts) {
      e.gate_up = {{random_mxfp4(2 * I, H, v)}};
      e.down = {{random_mxfp4(H, I, v)}};
    }
    const moe::RowMatrix<float> x = random_hidden(2, H, 13);
    for (auto acc : {moe::Accumulate::kFp64, moe::Accumulate::kFp32}) {
      const moe::MoeOutput q = moe::forward(b, x, acc), f = moe::forward(dequantized(b), x, acc);
      EXPECT_TRUE(bitwise_equal(q.output, f.output));
      EXPECT_LE(q.experts_evaluated.size(), 4u);  // 2 tokens × top-2 of 8
      EXPECT_GT(q.output.cwiseAbs().maxCoeff(), 0.0f);
    }
  }
}

TEST(MoeForward, Fp8BlockExpertsWithPartialBlocksEqualTheirDequantizedFloats) {
  const std::int64_t H = 40, I = 24, E = 4, block = 16;  // 40 and 24 are not multiples of 16
  Values v(21);
  for (Dtype d : {Dtype::kF32, Dtype::kBf16}) {
    moe::MoeBlock b = random_block(Family::kDeepseekV3, d, H, I, E, 2, 22);
    for (auto& e : b.experts) {
      e.gate_up = {{random_fp8(I, H, block, v), random_fp8(I, H, block, v)}};  // gate and up, own scales
      e.down = {{random_fp8(H, I, block, v)}};
    }
    const std::int64_t S = b.shared_expert->down.cols();
    b.shared_expert->gate_up = {{random_fp8(S, H, block, v), random_fp8(S, H, block, v)}};
    b.shared_expert->down = {{random_fp8(H, S, block, v)}};
    const moe::RowMatrix<float> x = random_hidden(5, H, 23);
    const moe::MoeOutput q = moe::forward(b, x), f = moe::forward(dequantized(b), x);
    EXPECT_TRUE(bitwise_equal(q.output, f.output)) << moe::name(d);
    EXPECT_GT(q.output.cwiseAbs().maxCoeff(), 0.0f);
  }
}

// ---- errors ----------------------------------------------------------------------------------------

TEST(MoeForward, InconsistentInputsAreErrorsNamingTheField) {
  moe::MoeBlock b = random_block(Family::kMixtral, Dtype::kF32, 8, 4, 3, 2, 1);
  try {
    moe::forward(b, random_hidden(2, 7, 1));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "forward: hidden states: expected [T, 8], found [2, 7]");
  }
  b.experts[1].down = stacked(8, 5, std::vector<float>(40));
  try {
    moe::forward(b, random_hidden(2, 8, 1));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "expert 1 down: expected shape [8, 4], found [8, 5]");
  }
}
