// tools/run bench golden: the golden forward of a gpt-oss-20b-sized MoE layer (E = 32, H = I = 2880,
// top-4, MXFP4 experts made in memory, bf16 model, T = 256 tokens), in both accumulation modes,
// next to Eigen's plain GEMM at the same shapes (the routed experts' two GEMMs, same token counts,
// same scalar type) measured in the same run. Targets (issue #3): golden GFLOP/s ≥ 0.7× the GEMM's
// in each mode; peak memory of the forward ≤ 2× (fp32 size of the routed experts + the inputs).
// Exit status 1 if a target is missed.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include "reference/formats/codecs.h"
#include "reference/moe.h"
#include "reference/quant/mxfp4.h"

namespace moe = moecheck::reference::moe;
namespace quant = moecheck::reference::quant;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kExperts = 32, kHidden = 2880, kIntermediate = 2880, kTopK = 4, kTokens = 256;
constexpr int kRepeats = 2;  // best of: each pass takes seconds

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

template <class F>
double best_seconds(F&& body) {
  double best = 1e30;
  for (int r = 0; r < kRepeats; ++r) {
    const auto t0 = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

float bf16_normal(std::mt19937& rng, float scale) {
  const float v = std::normal_distribution<float>(0.0f, scale)(rng);
  return moecheck::reference::formats::bf16_value(moecheck::reference::formats::bf16_rne(v));
}

quant::Mxfp4Weight random_mxfp4(std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
  quant::Mxfp4Weight w{rows, cols, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / 2)),
                       std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / quant::kMxBlock))};
  for (auto& b : w.blocks) b = static_cast<std::uint8_t>(rng());
  for (auto& s : w.scales) s = static_cast<std::uint8_t>(118 + rng() % 5);  // |w| ≲ 6 · 2^-5
  return w;
}

volatile float g_sink;

// Eigen's GEMM on the routed experts' shapes: [T_e, H] · [H, 2I] and [T_e, I] · [I, H] per expert.
template <class Scalar>
double gemm_seconds(const std::vector<std::int64_t>& tokens_per_expert) {
  using Matrix = moe::RowMatrix<Scalar>;
  std::mt19937 rng(5);
  const auto random = [&](std::int64_t r, std::int64_t c) {
    Matrix m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(bf16_normal(rng, 0.05f));
    return m;
  };
  const Matrix w13 = random(2 * kIntermediate, kHidden), w2 = random(kHidden, kIntermediate);  // out × in
  return best_seconds([&] {
    for (std::int64_t t : tokens_per_expert) {
      if (t == 0) continue;
      const Matrix x = random(t, kHidden), h = random(t, kIntermediate);
      Matrix y1(t, 2 * kIntermediate), y2(t, kHidden);
      y1.noalias() = x * w13.transpose();
      y2.noalias() = h * w2.transpose();
      g_sink = static_cast<float>(y1(0, 0) + y2(0, 0));
    }
  });
}

}  // namespace

int main() {
  const double rss_start = peak_rss_bytes();
  std::mt19937 rng(20261128);
  moe::MoeBlock block;
  block.family = moe::Family::kGptOss;
  block.dtype = moe::Dtype::kBf16;
  block.hidden = kHidden;
  block.intermediate = kIntermediate;
  block.semantics = moe::semantics(moe::Family::kGptOss);
  block.semantics.router.top_k = kTopK;
  block.router = {kExperts, kHidden, std::vector<float>(static_cast<std::size_t>(kExperts * kHidden))};
  for (float& v : block.router.values) v = bf16_normal(rng, 0.02f);
  block.router_bias.resize(kExperts);
  for (float& v : block.router_bias) v = bf16_normal(rng, 0.1f);
  for (std::int64_t e = 0; e < kExperts; ++e) {
    moe::Expert x;
    x.gate_up.parts = {random_mxfp4(2 * kIntermediate, kHidden, rng)};
    x.down.parts = {random_mxfp4(kHidden, kIntermediate, rng)};
    x.gate_up_bias.resize(2 * kIntermediate);
    x.down_bias.resize(kHidden);
    for (float& v : x.gate_up_bias) v = bf16_normal(rng, 0.1f);
    for (float& v : x.down_bias) v = bf16_normal(rng, 0.1f);
    block.experts.push_back(std::move(x));
  }
  moe::RowMatrix<float> hidden(kTokens, kHidden);
  for (Eigen::Index i = 0; i < hidden.size(); ++i) hidden.data()[i] = bf16_normal(rng, 1.0f);

  // Input bytes: MXFP4 blocks and scales, biases, router, hidden states.
  double input_bytes = static_cast<double>(hidden.size() + block.router.values.size() + block.router_bias.size()) * 4;
  for (const moe::Expert& x : block.experts) {
    for (const moe::StackedWeight* w : {&x.gate_up, &x.down}) {
      const auto& m = std::get<quant::Mxfp4Weight>(w->parts[0]);
      input_bytes += static_cast<double>(m.blocks.size() + m.scales.size());
    }
    input_bytes += static_cast<double>(x.gate_up_bias.size() + x.down_bias.size()) * 4;
  }
  const double rss_inputs = peak_rss_bytes();

  // The reference mode first: its peak (fp32 and fp64 copies of one expert) is the larger one.
  moe::MoeOutput out;
  const double fp64_s = best_seconds([&] { out = moe::forward(block, hidden, moe::Accumulate::kFp64); });
  const double rss_peak = peak_rss_bytes();
  moe::MoeOutput out32;
  const double fp32_s = best_seconds([&] { out32 = moe::forward(block, hidden, moe::Accumulate::kFp32); });

  std::vector<std::int64_t> tokens_per_expert(kExperts, 0);
  for (Eigen::Index i = 0; i < out.routing.ids.size(); ++i) ++tokens_per_expert[static_cast<std::size_t>(out.routing.ids.data()[i])];
  double flops = 0;
  std::int64_t routed = 0;
  for (std::int64_t t : tokens_per_expert) {
    flops += 2.0 * static_cast<double>(t) * static_cast<double>(3 * kHidden * kIntermediate);
    routed += t > 0;
  }
  const double gemm64_s = gemm_seconds<double>(tokens_per_expert);
  const double gemm32_s = gemm_seconds<float>(tokens_per_expert);

  const double expert_fp32_bytes = 3.0 * kHidden * kIntermediate * 4;
  const double budget_base = static_cast<double>(routed) * expert_fp32_bytes + input_bytes;
  const double forward_bytes = rss_peak - rss_start;
  const auto [min_t, max_t] = std::minmax_element(tokens_per_expert.begin(), tokens_per_expert.end());
  const double mib = 1024.0 * 1024.0;

  std::printf("bench golden: gpt-oss-20b-sized layer, E = %lld, H = I = %lld, top-%lld, T = %lld, MXFP4 experts, "
              "bf16 model; best of %d; single thread\n",
              static_cast<long long>(kExperts), static_cast<long long>(kHidden), static_cast<long long>(kTopK),
              static_cast<long long>(kTokens), kRepeats);
  std::printf("routed experts: %lld of %lld, tokens per expert %lld..%lld, GEMM work %.1f GFLOP per forward\n\n",
              static_cast<long long>(routed), static_cast<long long>(kExperts), static_cast<long long>(*min_t),
              static_cast<long long>(*max_t), flops / 1e9);

  struct Row {
    const char* name;
    double seconds, baseline_seconds;
  };
  const Row rows[] = {{"golden fp64 (reference) vs Eigen double GEMM", fp64_s, gemm64_s},
                      {"golden fp32 (sequential) vs Eigen float GEMM", fp32_s, gemm32_s}};
  int missed = 0;
  std::printf("%-46s %9s %10s %12s %7s %8s\n", "mode", "seconds", "GFLOP/s", "GEMM GFLOP/s", "ratio", "target");
  for (const Row& r : rows) {
    const double ratio = r.baseline_seconds / r.seconds;
    const bool ok = ratio >= 0.7;
    missed += ok ? 0 : 1;
    std::printf("%-46s %9.2f %10.2f %12.2f %7.2f %8s %s\n", r.name, r.seconds, flops / r.seconds / 1e9,
                flops / r.baseline_seconds / 1e9, ratio, ">=0.7", ok ? "ok" : "MISSED");
  }
  std::printf("%-46s %9.2f %10.2f %12.2f %7.2f %8s %s\n", "(golden fp64 vs Eigen float GEMM, no target)", fp64_s,
              flops / fp64_s / 1e9, flops / gemm32_s / 1e9, gemm32_s / fp64_s, "-", "");
  const double memory_ratio = forward_bytes / budget_base;
  const bool memory_ok = memory_ratio <= 2.0;
  missed += memory_ok ? 0 : 1;
  std::printf("\npeak memory (ru_maxrss rise from start through the fp64 forward): %.0f MiB, of which inputs %.0f MiB\n",
              forward_bytes / mib, (rss_inputs - rss_start) / mib);
  std::printf("fp32 size of the %lld routed experts + inputs: %.0f + %.0f = %.0f MiB; ratio %.3f (target <= 2) %s\n",
              static_cast<long long>(routed), static_cast<double>(routed) * expert_fp32_bytes / mib, input_bytes / mib,
              budget_base / mib, memory_ratio, memory_ok ? "ok" : "MISSED");
  std::printf("(fp64 and fp32 outputs: max|d| / max|out| = %.3g, bf16 rounding noise)\n",
              (out.output - out32.output).cwiseAbs().maxCoeff() / out.output.cwiseAbs().maxCoeff());
  std::printf("\n%s: %d of 3 targets missed\n", missed ? "FAIL" : "PASS", missed);
  return missed ? 1 : 0;
}
