// The `cuda` backend's kernels on the CPU (device/cuda/host_pipeline.h: driver.h and the
// per-thread functions of pipeline.h looped over each kernel's grid): their helpers against the
// reference codecs, their output against the sim bit for bit, and P1–P6, on every machine. The
// GPU run of the same functions is tests/cuda/cuda_backend_test.cpp.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "device/cuda/host_pipeline.h"
#include "device/cuda/pipeline.h"
#include "device/registry.h"
#include "properties/case.h"
#include "properties/gen/case.h"
#include "properties/properties.h"
#include "reference/formats/codecs.h"
#include "reference/moe/activation.h"
#include "reference/quant/wna16.h"

namespace {

namespace pr = moecheck::properties;
namespace pg = moecheck::properties::gen;
namespace pd = moecheck::reference::padding;
namespace pl = moecheck::device::cuda::pipeline;
namespace fmt = moecheck::reference::formats;
namespace moe = moecheck::reference::moe;
using moecheck::device::WeightScheme;

// The host pipeline as a Backend, so that the properties can run on it.
class HostPipeline final : public moecheck::device::Backend {
 public:
  std::string_view name() const override { return "cuda-host"; }
  moecheck::device::Capabilities capabilities() const override { return moecheck::device::cuda::pipeline_capabilities(); }
  void run(const moecheck::device::PaddedCase& c, std::span<float> out) const override {
    moecheck::device::cuda::run_pipeline_on_host(c, out);
  }
};

std::vector<pr::MoeCase> cases(int count, std::vector<std::string> methods = {"unquantized", "mxfp4", "gpt_oss_mxfp4",
                                                                            "fp8_block", "int4_wna16", "int8_wna16",
                                                                            "mxfp8", "nvfp4", "fp8_per_tensor"}) {
  pg::CaseOptions options;
  options.methods = std::move(methods);
  const moecheck::device::Capabilities caps = moecheck::device::cuda::pipeline_capabilities();
  std::vector<pr::MoeCase> out;
  for (int i = 0; static_cast<int>(out.size()) < count && i < 50 * count; ++i) {
    const pg::CaseSpec spec =
        pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) * 7919u + 11u), 60).value();
    if (caps.supports(spec.scheme)) out.push_back(pg::build_case(spec));
  }
  return out;
}

TEST(CudaPipeline, HelpersAgreeWithTheReference) {
  EXPECT_EQ(pl::kSwigluOaiAlpha, moe::kSwigluOaiAlpha);
  EXPECT_EQ(pl::kSwigluOaiLimit, moe::kSwigluOaiLimit);
  EXPECT_EQ(pl::kSilu, static_cast<int>(moe::Activation::kSilu));
  EXPECT_EQ(pl::kGeluErf, static_cast<int>(moe::Activation::kGeluErf));
  EXPECT_EQ(pl::kSwigluOai, static_cast<int>(moe::Activation::kSwigluOai));
  const float* e2m1 = fmt::decode_table(fmt::Format::kE2m1);
  for (int c = 0; c < 16; ++c)
    EXPECT_EQ(std::bit_cast<std::uint32_t>(pl::e2m1_value(static_cast<std::uint8_t>(c))), std::bit_cast<std::uint32_t>(e2m1[c])) << c;
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  for (int c = 0; c < 256; ++c) {
    const float a = pl::e4m3fn_value(static_cast<std::uint8_t>(c));
    EXPECT_TRUE(std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(e4m3[c]) || (std::isnan(a) && std::isnan(e4m3[c])))
        << c;
  }
  for (int b = 0; b < 256; ++b) {
    const float a = pl::e8m0_value(static_cast<std::uint8_t>(b)), e = fmt::e8m0_value(static_cast<std::uint8_t>(b));
    EXPECT_TRUE(std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(e) || (std::isnan(a) && std::isnan(e))) << b;
  }
  // bf16 rounding: the edges (ties, the largest finite, subnormals, infinities) and 2^22 random patterns.
  std::vector<std::uint32_t> inputs = {0x00000000u, 0x80000000u, 0x3F808000u, 0x3F818000u, 0x7F7FFFFFu, 0x7F7F8000u,
                                       0x7F7F7FFFu, 0x00008000u, 0x00018000u, 0x7F800000u, 0xFF800000u, 0x807FFFFFu};
  std::mt19937 rng(5);
  for (int i = 0; i < (1 << 22); ++i) inputs.push_back(rng());
  std::int64_t nan_inputs = 0;
  for (const std::uint32_t u : inputs) {
    const float v = std::bit_cast<float>(u);
    const float got = pl::bf16_round(v);
    if (std::isnan(v)) {
      ++nan_inputs;
      ASSERT_TRUE(std::isnan(got)) << std::hex << u;
      continue;
    }
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::uint32_t(fmt::bf16_rne(v)) << 16) << std::hex << u;
  }
  EXPECT_GT(nan_inputs, 0);
}

// The kernels' work in the sim's order: equal to the sim bit for bit on the real tokens' rows
// (+0 = -0), on dense and MXFP4 cases of both layouts and dtypes, padded ones among them.
TEST(CudaPipeline, MatchesTheSimBitForBit) {
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  int compared = 0, padded = 0, mxfp4 = 0, interleaved = 0, fp8 = 0, wna16 = 0, other = 0;
  for (const pr::MoeCase& c : cases(150)) {
    const pd::Plan plan = pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset));
    const moecheck::device::PaddedCase p = pr::make_padded_case(c, plan);
    std::vector<float> a(static_cast<std::size_t>(p.tokens * p.hidden_padded())), b(a.size());
    sim->run(p, a);
    moecheck::device::cuda::run_pipeline_on_host(p, b);
    const std::size_t real = static_cast<std::size_t>((p.tokens - p.pad_rows) * p.hidden_padded());
    std::int64_t differ = 0, first = 0;
    for (std::size_t i = 0; i < real; ++i)
      if (!(a[i] == b[i]) && std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]))
        if (differ++ == 0) first = static_cast<std::int64_t>(i);
    EXPECT_EQ(differ, 0) << pr::describe(c) << ": first at (t" << first / p.hidden_padded() << ", c"
                         << first % p.hidden_padded() << "): sim " << a[static_cast<std::size_t>(first)]
                         << ", pipeline " << b[static_cast<std::size_t>(first)];
    ++compared;
    padded += plan.hidden_is_padded() || plan.intermediate_is_padded();
    mxfp4 += c.scheme == WeightScheme::kMxfp4W4A16;
    fp8 += c.scheme == WeightScheme::kFp8Block128W8A16;
    wna16 += moecheck::reference::quant::is_wna16(moecheck::reference::quant::spec(c.scheme));
    other += c.scheme == WeightScheme::kMxfp8W8A16 || c.scheme == WeightScheme::kNvfp4W4A16 ||
             c.scheme == WeightScheme::kFp8PerTensorW8A16;
    interleaved += c.block.semantics.layout == moe::GateUpLayout::kInterleaved;
  }
  EXPECT_EQ(compared, 150);
  EXPECT_GT(padded, 30);
  EXPECT_GT(mxfp4, 30);
  EXPECT_GT(interleaved, 10);
  EXPECT_GT(fp8, 5);
  EXPECT_GT(wna16, 20);
  EXPECT_GT(other, 10);
  std::printf(
      "[ pipeline ] %d cases bitwise against the sim: %d padded, %d MXFP4, %d FP8 blocks, %d WNA16, %d MXFP8 / NVFP4 / "
      "FP8 per-tensor, %d interleaved\n",
      compared, padded, mxfp4, fp8, wna16, other, interleaved);
}

TEST(CudaPipeline, PassesEveryProperty) {
  const HostPipeline backend;
  int checked[6] = {};
  for (const pr::MoeCase& c : cases(30)) {
    const pr::Verdict v[6] = {pr::check_padding_invariance(c, backend), pr::check_golden_agreement(c, backend),
                              pr::check_poison(c, backend), pr::check_routing(c), pr::check_metamorphic(c, backend),
                              pr::check_tensor_parallel(c, backend)};
    for (int i = 0; i < 6; ++i) {
      checked[i] += !v[i].skipped;
      EXPECT_TRUE(v[i].ok || v[i].skipped) << "P" << i + 1 << ": " << v[i].message;
    }
  }
  for (int i = 0; i < 6; ++i) EXPECT_GT(checked[i], 15) << "P" << i + 1;
}

// The faults whose effect is deterministic (a scale index, a stride, a grid offset, the NaN of an
// empty expert) give the sim's output bit for bit (NaN = NaN), and change it on some case.
TEST(CudaPipeline, InjectsItsDeterministicFaultsAsTheSimDoes) {
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  const std::vector<pr::MoeCase> all = cases(50);
  for (bool moecheck::device::FaultSwitches::*flag :
       {&moecheck::device::FaultSwitches::read_padded_scales, &moecheck::device::FaultSwitches::e8m0_scale_misindex,
        &moecheck::device::FaultSwitches::scale_tile_rank_local, &moecheck::device::FaultSwitches::nan_for_empty_experts}) {
    int exposed = 0;
    std::string name;
    for (const moecheck::device::KernelFaultInfo& info : moecheck::device::kernel_faults())
      if (info.flag == flag) name = info.name;
    for (const pr::MoeCase& c : all) {
      moecheck::device::PaddedCase p = pr::make_padded_case(c, pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset)));
      std::vector<float> clean(static_cast<std::size_t>(p.tokens * p.hidden_padded())), a(clean.size()), b(clean.size());
      moecheck::device::cuda::run_pipeline_on_host(p, clean);
      p.faults.*flag = true;
      sim->run(p, a);
      moecheck::device::cuda::run_pipeline_on_host(p, b);
      const std::size_t real = static_cast<std::size_t>((p.tokens - p.pad_rows) * p.hidden_padded());
      bool changed = false;
      for (std::size_t i = 0; i < real; ++i) {
        const bool same = a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]));
        ASSERT_TRUE(same) << name << ": " << pr::describe(c) << " element " << i << ": sim " << a[i] << ", pipeline " << b[i];
        changed = changed || !(clean[i] == b[i] || (std::isnan(clean[i]) && std::isnan(b[i])));
      }
      exposed += changed;
    }
    // B16 acts on a TP shard off the 128-row grid only, which these TP 1 cases never are.
    if (flag != &moecheck::device::FaultSwitches::scale_tile_rank_local) EXPECT_GT(exposed, 0) << name;
    std::printf("[ pipeline ] %s: the sim's output on %zu cases, %d of them changed by it\n", name.c_str(), all.size(),
                exposed);
  }
}

// The faults that leave workspace unwritten (GEMM1's last output tiles, another EP rank's slots)
// hold the executor's NaN fill where the sim holds its poison, so they are shown by the properties
// that catch them, P1 and P6, as `moecheck selftest` would; B16 by P6 on TP shards, as on the sim.
TEST(CudaPipeline, ThePropertiesCatchItsFaults) {
  const HostPipeline backend;
  int p1_caught = 0, p6_caught = 0;
  for (const pr::MoeCase& c : cases(40)) {
    moecheck::device::FaultSwitches skip;
    skip.skip_last_output_tile = true;
    p1_caught += !pr::check_padding_invariance(c, backend, skip).ok;
    moecheck::device::FaultSwitches unwritten;
    unwritten.unwritten_slots_reduced = true;
    const pr::Verdict p6 = pr::check_tensor_parallel(c, backend, unwritten);
    p6_caught += !p6.ok && !p6.skipped;
  }
  EXPECT_GT(p1_caught, 0) << "skip_last_output_tile";
  EXPECT_GT(p6_caught, 0) << "unwritten_slots_reduced";
  // B16 lives in a TP shard off the 128-row grid of FP8 blocks (a ruleset that loads scale tiles in
  // global coordinates): P6 sees it, on the pipeline exactly when on the sim.
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  int b16_caught = 0;
  moecheck::device::FaultSwitches rank_local;
  rank_local.scale_tile_rank_local = true;
  for (const pr::MoeCase& c : cases(40, {"fp8_block"})) {
    const pr::Verdict on_pipeline = pr::check_tensor_parallel(c, backend, rank_local);
    EXPECT_EQ(on_pipeline.ok, pr::check_tensor_parallel(c, *sim, rank_local).ok) << pr::describe(c);
    b16_caught += !on_pipeline.ok;
  }
  EXPECT_GT(b16_caught, 0) << "scale_tile_rank_local";
  // A fault it does not inject is refused, not ignored.
  const pr::MoeCase c = cases(1).front();
  moecheck::device::PaddedCase p = pr::make_padded_case(c, pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset)));
  p.faults.w13_end_padded = true;
  std::vector<float> out(static_cast<std::size_t>(p.tokens * p.hidden_padded()));
  try {
    moecheck::device::cuda::run_pipeline_on_host(p, out);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("does not inject fault w13_end_padded (B12)"), std::string::npos) << e.what();
  }
}

TEST(CudaPipeline, RefusesWhatItDoesNotRun) {
  pg::CaseSpec spec;
  pg::CaseOptions options;
  options.methods = {"fp8_block"};
  const moecheck::device::Capabilities caps = moecheck::device::cuda::pipeline_capabilities();
  for (int i = 0; i < 200; ++i) {
    spec = pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) + 5u), 40).value();
    if (!caps.supports(spec.scheme)) break;  // W8A8: not a row the kernels run yet
  }
  ASSERT_FALSE(caps.supports(spec.scheme));
  const pr::MoeCase c = pg::build_case(spec);
  const moecheck::device::PaddedCase p = pr::make_padded_case(c, pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset)));
  std::vector<float> out(static_cast<std::size_t>(p.tokens * p.hidden_padded()));
  try {
    moecheck::device::cuda::run_pipeline_on_host(p, out);
    FAIL() << "no exception for " << pr::describe(c);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported case"), std::string::npos) << e.what();
  }
}

}  // namespace
