// The property suite (properties/): the committed counterexamples replayed first, then P1 padding
// invariance, P3 poison and P4 routing over generated cases on every built backend; and the
// pieces they stand on — comparison, generators, case construction, the quarantine ledger and
// counterexample persistence — each with a test that shows it can fail.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <variant>

#include "device/backend.h"
#include "device/registry.h"
#include "fixtures/ruleset_json.h"
#include "properties/case.h"
#include "properties/compare.h"
#include "properties/gen/case.h"
#include "properties/gen/sizes.h"
#include "properties/gen/values.h"
#include "properties/persist.h"
#include "properties/runner.h"
#include "properties/properties.h"
#include "properties/quarantine.h"
#include "reference/padding/pad.h"
#include "reference/padding/registry.h"
#include "tests/temp_dir.h"

namespace {

namespace pr = moecheck::properties;
namespace pg = moecheck::properties::gen;
namespace moe = moecheck::reference::moe;
namespace pd = moecheck::reference::padding;
namespace fs = std::filesystem;
using moecheck::device::WeightScheme;


std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

// A fixed, padded case: MXFP4 gpt-oss-like sizes that vLLM's TRITON rule pads (H 96 -> 128?, I 96);
// 96 rounded up to what the scheme stores (W8A8 FP8: whole 128-column activation groups).
pg::CaseSpec padded_spec(WeightScheme scheme = WeightScheme::kMxfp4W4A16) {
  pg::CaseSpec s;
  s.family = moe::Family::kMixtral;
  s.dtype = moe::Dtype::kBf16;
  s.scheme = scheme;
  s.hidden = moecheck::reference::quant::round_up(96, moecheck::reference::quant::spec(scheme).size_multiple);
  s.intermediate = s.hidden;
  s.experts = 4;
  s.top_k = 2;
  s.tokens = 5;
  // Dense weights have no padded target outside the quarantine (every ruleset leaves unquantized
  // padding uninitialized) and no fp8_block rule pads: they get an unpadded one.
  const bool dense = scheme != WeightScheme::kMxfp4W4A16;
  const auto& targets = pg::valid_targets(scheme, s.family, s.hidden, s.intermediate, s.experts, s.top_k, !dense);
  if (targets.empty()) throw std::logic_error("test: no padding target for H" + std::to_string(s.hidden));
  s.target = targets.front();
  s.activations = {pg::Distribution::kNormal, 7, 1.0f};
  s.weights = {pg::Distribution::kNormal, 11, 1.0f};
  return s;
}

// A case whose padding target `entry` quarantines (any scheme, a plain and a gpt-oss family), if any.
std::optional<pr::MoeCase> quarantined_case(const pr::QuarantineEntry& entry) {
  for (WeightScheme scheme : {WeightScheme::kDense, WeightScheme::kMxfp4W4A16})
    for (moe::Family family : {moe::Family::kMixtral, moe::Family::kGptOss}) {
      pg::CaseSpec spec = padded_spec(scheme);
      spec.family = family;
      pr::MoeCase c = pg::build_case(spec);
      for (const std::string& rs : moecheck::fixtures::ruleset_names())
        for (const std::string& method : pr::methods_for(scheme)) {
          const pd::MethodRules* rules = pr::shipped_ruleset(rs).find_method(method);
          if (!rules) continue;
          for (const pd::BackendChoice& bc : rules->backends)
            for (const pd::Platform& p : pd::platforms()) {
              if (!pd::backend_runs_on(bc, p)) continue;
              c.target = pr::PadTarget{rs, method, bc.name, std::string(p.name), 1, 0};
              const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(rs));
              if (pr::unsupported_reason(plan, c.scheme).empty() && pr::quarantined(plan, "*") == &entry) return c;
            }
        }
    }
  return std::nullopt;
}

}  // namespace

// ---- Replay first: every kept counterexample, before any new case is generated. ----------------

TEST(A0Replay, RegressionFixturesStillPass) {
  const pr::ReplayResult r = pr::replay_regressions(pr::replay_dirs(), pr::env_faults());
  std::cout << "[ replay   ] " << r.fixtures << " case fixtures, " << r.verdicts << " verdicts\n";
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
}

// ---- compare ------------------------------------------------------------------------------------

TEST(Compare, UlpDistance) {
  EXPECT_EQ(pr::ulp_distance(0.0f, -0.0f), 0u);
  EXPECT_EQ(pr::ulp_distance(1.0f, 1.0f), 0u);
  EXPECT_EQ(pr::ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)), 1u);
  EXPECT_EQ(pr::ulp_distance(-std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::denorm_min()), 2u);
  EXPECT_EQ(pr::ulp_distance(std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity()), 1u);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(pr::ulp_distance(nan, nan), pr::kNanDistance);
  EXPECT_EQ(pr::ulp_distance(1.0f, nan), pr::kNanDistance);
}

TEST(Compare, HistogramWorstAndSummary) {
  const std::vector<float> e = {1.0f, 0.0f, 2.0f, 3.0f};
  std::vector<float> a = {1.0f, -0.0f, std::nextafter(2.0f, 3.0f), std::numeric_limits<float>::quiet_NaN()};
  moe::Routing routing;
  routing.ids.resize(2, 2);
  routing.ids << 3, 1, 0, 2;
  routing.weights.resize(2, 2);
  routing.weights.setZero();
  const pr::Comparison c = pr::compare(e, a, 2, 2, 0, &routing);
  EXPECT_EQ(c.signed_zero_pairs, 1);
  EXPECT_EQ(c.mismatches, 2);
  EXPECT_EQ(c.max_ulp, pr::kNanDistance);
  EXPECT_EQ(c.histogram[0], 2);
  EXPECT_EQ(c.histogram[1], 1);
  EXPECT_EQ(c.histogram[pr::kHistogramBuckets - 1], 1);
  ASSERT_EQ(c.worst.size(), 2u);
  EXPECT_EQ(c.worst[0].token, 1);
  EXPECT_EQ(c.worst[0].column, 1);
  EXPECT_EQ(c.worst[0].experts, (std::vector<std::int32_t>{0, 2}));
  EXPECT_NE(c.summary().find("1 +0/-0 pairs counted equal"), std::string::npos) << c.summary();
  EXPECT_EQ(c.histogram_text(), "0:2 1:1 NaN:1");
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(pr::compare(e, e, 2, 2, 0).ok());
  EXPECT_THROW(pr::compare(e, a, 3, 2, 0), std::invalid_argument);
}

// ---- generators ---------------------------------------------------------------------------------

RC_GTEST_PROP(Generators, SizesAreMultiplesOf32OrReal, ()) {
  const std::int64_t s = *pg::feature_size(true);
  RC_ASSERT(s >= 32);
  RC_ASSERT(s % pg::kSizeQuantum == 0 ||
            std::find(pg::kRealSizes.begin(), pg::kRealSizes.end(), s) != pg::kRealSizes.end());
  RC_ASSERT(s <= 2880 + 12 * 256);
}

TEST(Generators, CoverEdgeTokenCountsBoundariesAndRealSizes) {
  std::set<std::int64_t> tokens, sizes;
  const auto tg = pg::token_count();
  const auto sg = pg::feature_size(true);
  for (int seed = 0; seed < 2000; ++seed) {
    tokens.insert(tg(rc::Random(static_cast<std::uint64_t>(seed)), 50).value());
    sizes.insert(sg(rc::Random(static_cast<std::uint64_t>(seed)), 50).value());
  }
  for (std::int64_t t : {0, 1, 2, 3, 5, 7, 11, 13, 17, 19, 23}) EXPECT_TRUE(tokens.count(t)) << t;
  for (std::int64_t s : {96, 128, 160, 224, 256, 288, 2880, 704, 1440}) EXPECT_TRUE(sizes.count(s)) << s;
  std::size_t small = 0;
  for (int seed = 0; seed < 1000; ++seed) small += sg(rc::Random(static_cast<std::uint64_t>(seed)), 50).value() <= 512;
  EXPECT_GT(small, 800u) << "most default cases must stay small";
}

// The schemes that store sizes finer than the 32-grid (dense, FP8 per tensor and per channel, FP8
// blocks with partial edge blocks: any size; NVFP4: multiples of 16) are drawn off it too, so K and
// N reach every residue modulo 32 and most residues modulo 128 (the tiles, the FP8 blocks and the
// 128 x 4 swizzle tile); the 32-block schemes stay on it.
TEST(Generators, FinerSchemesReachEveryResidueOffTheGrid) {
  std::set<std::int64_t> any32, any128, nvfp4_32;
  std::size_t drawn = 0;
  for (int seed = 0; seed < 3000; ++seed) {
    const pg::CaseSpec spec = pg::case_spec()(rc::Random(static_cast<std::uint64_t>(seed) * 7919u + 1u), 50).value();
    const moecheck::reference::quant::SchemeSpec& row = moecheck::reference::quant::spec(spec.scheme);
    for (const std::int64_t size : {spec.hidden, spec.intermediate}) {
      EXPECT_EQ(size % row.size_multiple, 0) << row.name << " " << size;
      if (row.size_multiple == 1) {
        ++drawn;
        any32.insert(size % 32);
        any128.insert(size % 128);
      } else if (row.size_multiple == 16) {
        nvfp4_32.insert(size % 32);
      }
    }
  }
  std::printf("finer sizes: %zu drawn, %zu residues mod 32, %zu mod 128; nvfp4 %zu mod 32\n", drawn, any32.size(),
              any128.size(), nvfp4_32.size());
  EXPECT_EQ(any32.size(), 32u);
  EXPECT_GE(any128.size(), 100u);
  EXPECT_EQ(nvfp4_32, (std::set<std::int64_t>{0, 16}));
}

// The hidden size is padded (padded activations, a sliced output: bugs B5–B7) on a share of the
// generated cases: the shapes whose targets include H-padded ones draw them for half of their padded
// targets. Most shapes have no padded target at all (no shipped rule pads FP8 or Triton WNA16).
TEST(Generators, PadTheHiddenSizeOften) {
  int hidden_padded = 0, padded = 0;
  const int n = 400;
  for (int seed = 0; seed < n; ++seed) {
    const pg::CaseSpec spec = pg::case_spec()(rc::Random(static_cast<std::uint64_t>(seed) * 7919u + 5u), 50).value();
    const pr::MoeCase c = pg::build_case(spec);
    const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
    hidden_padded += plan.hidden_is_padded();
    padded += plan.hidden_is_padded() || plan.intermediate_is_padded();
  }
  std::printf("of %d generated cases: %d padded, %d with H padded\n", n, padded, hidden_padded);
  EXPECT_GE(padded, n / 5);
  EXPECT_GE(hidden_padded, n / 16);
}

// The kernel edge cases the issue names, reached by the default generator: T·k ≡ 1 modulo both
// sims' BLOCK_M (16, 64: one pair alone in the last block), T·k a whole number of blocks, expert
// counts not a multiple of 4, a single expert, top-k equal to the expert count, and empty experts
// (fewer pairs than experts).
TEST(Generators, ReachTheAlignmentEdgeCases) {
  bool one_past_16 = false, one_past_64 = false, whole_blocks = false, odd_experts = false, single = false,
       k_is_e = false, empty_experts = false;
  for (int seed = 0; seed < 3000; ++seed) {
    const pg::CaseSpec s = pg::case_spec()(rc::Random(static_cast<std::uint64_t>(seed) * 6007u + 11u), 50).value();
    const std::int64_t pairs = s.tokens * s.top_k;
    one_past_16 = one_past_16 || (pairs > 16 && pairs % 16 == 1);
    one_past_64 = one_past_64 || (pairs > 64 && pairs % 64 == 1);
    whole_blocks = whole_blocks || (pairs > 0 && pairs % 16 == 0);
    odd_experts = odd_experts || (s.experts > 4 && s.experts % 4 != 0);
    single = single || s.experts == 1;
    k_is_e = k_is_e || (s.experts > 1 && s.top_k == s.experts);
    empty_experts = empty_experts || (pairs > 0 && pairs < s.experts);
  }
  EXPECT_TRUE(one_past_16);
  EXPECT_TRUE(one_past_64);
  EXPECT_TRUE(whole_blocks);
  EXPECT_TRUE(odd_experts);
  EXPECT_TRUE(single);
  EXPECT_TRUE(k_is_e);
  EXPECT_TRUE(empty_experts);
}

// A row whose kernel cannot take a family's block (quant::KernelContract) has no target for it:
// the native MXFP8 kernel has no biases, no interleaved gate/up and no router weight on the input.
TEST(Generators, RespectTheKernelContract) {
  const auto targets = [](moe::Family f) { return pg::valid_targets(WeightScheme::kMxfp8W8A8, f, 256, 256, 8, 2, false); };
  EXPECT_TRUE(targets(moe::Family::kGptOss).empty());  // biases, interleaved
  EXPECT_TRUE(targets(moe::Family::kLlama4).empty());  // the weight on the input
  ASSERT_FALSE(targets(moe::Family::kMixtral).empty());
  for (const pr::PadTarget& t : targets(moe::Family::kMixtral)) {
    EXPECT_EQ(t.backend, "TRITON_MXFP8");
    EXPECT_EQ(t.platform, "rocm:gfx950");
  }
  // Not whole 128s: the kernel's assert (the row's size multiple).
  EXPECT_TRUE(pg::valid_targets(WeightScheme::kMxfp8W8A8, moe::Family::kMixtral, 192, 256, 8, 2, false).empty());
}

TEST(Generators, ValueDistributions) {
  std::vector<float> a(256), b(256);
  pg::fill({pg::Distribution::kNormal, 3, 1.0f}, a);
  pg::fill({pg::Distribution::kNormal, 3, 1.0f}, b);
  EXPECT_EQ(a, b) << "fill must be deterministic";
  pg::fill({pg::Distribution::kSubnormals, 3, 1.0f}, a);
  EXPECT_TRUE(std::any_of(a.begin(), a.end(), [](float x) { return std::fpclassify(x) == FP_SUBNORMAL; }));
  pg::fill({pg::Distribution::kZeroBlocks, 3, 1.0f}, a);
  bool zero_block = false;
  for (std::size_t blk = 0; blk < a.size(); blk += 32)
    zero_block |= std::all_of(a.begin() + static_cast<std::ptrdiff_t>(blk), a.begin() + static_cast<std::ptrdiff_t>(blk + 32),
                              [](float x) { return x == 0.0f; });
  EXPECT_TRUE(zero_block);
  pg::fill({pg::Distribution::kGrid, 3, 1.0f}, a);
  for (float x : a) EXPECT_TRUE(std::set<float>({0, 0.125f, 0.25f, 0.375f, 0.5f, 0.75f, 1.0f, 1.5f}).count(std::abs(x))) << x;
  pg::fill({pg::Distribution::kOutliers, 3, 1.0f}, a);
  EXPECT_TRUE(std::any_of(a.begin(), a.end(), [](float x) { return std::abs(x) > 16.0f; }));
}

RC_GTEST_PROP(Generators, CasesAreValidAndPaddable, ()) {
  const pg::CaseSpec spec = *pg::case_spec();
  RC_TAG(moe::name(spec.family), moecheck::device::name(spec.scheme));
  const pr::MoeCase c = pg::build_case(spec);
  moe::validate(c.block);
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  RC_ASSERT(pr::unsupported_reason(plan, c.scheme).empty());
  RC_ASSERT(pr::quarantined(plan, "*") == nullptr);
  RC_ASSERT(pr::scheme_of(c.block) == moecheck::reference::quant::storage_scheme(spec.scheme));
  RC_CLASSIFY(plan.hidden_is_padded() || plan.intermediate_is_padded(), "padded");
}

// ---- case construction --------------------------------------------------------------------------

TEST(Case, PoisonSeedFromTheEnvironment) {
  ::setenv("MOECHECK_POISON_SEED", "0x2a", 1);
  EXPECT_EQ(pr::poison_seed(), 42u);
  ::setenv("MOECHECK_POISON_SEED", "forty-two", 1);
  EXPECT_THROW(pr::poison_seed(), std::invalid_argument);
  ::unsetenv("MOECHECK_POISON_SEED");
  EXPECT_EQ(pr::poison_seed(), pd::kDefaultPoisonSeed);
  // The padded case carries the seed it was poisoned with, for the backend's own buffers.
  const pr::MoeCase c = pg::build_case(padded_spec());
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  EXPECT_EQ(pr::make_padded_case(c, plan, 7).poison_seed, 7u);
}

TEST(Case, PaddingPathRoutesWithTheGoldenRouter) {
  for (moe::Family f : {moe::Family::kMixtral, moe::Family::kQwen3Moe, moe::Family::kGptOss}) {
    pg::CaseSpec s = padded_spec(WeightScheme::kDense);
    s.family = f;
    s.target = pg::valid_targets(s.scheme, f, s.hidden, s.intermediate, s.experts, s.top_k, false).front();
    const pr::MoeCase c = pg::build_case(s);
    const moe::Routing a = moe::route_block(c.block, c.hidden_states).routing;
    const moe::Routing b = moe::forward(c.block, c.hidden_states).routing;
    EXPECT_EQ(a.ids, b.ids) << moe::name(f);
    EXPECT_EQ(a.weights, b.weights) << moe::name(f);
  }
}

TEST(Case, PaddedCaseComesFromThePaddingPlan) {
  const pr::MoeCase c = pg::build_case(padded_spec());
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  ASSERT_TRUE(plan.hidden_is_padded() || plan.intermediate_is_padded()) << pr::describe(c);
  const auto p = pr::make_padded_case(c, plan);
  EXPECT_EQ(p.hidden_states_padded.shape, (pd::Shape{5, plan.hidden_padded}));
  EXPECT_EQ(p.w13.codes.shape, (pd::Shape{4, 2 * plan.intermediate_per_partition_padded, plan.hidden_padded / 2}));
  // Every padded activation column is the pad function's zero; every real one the logical value.
  for (std::int64_t t = 0; t < 5; ++t)
    for (std::int64_t h = 0; h < plan.hidden_padded; ++h)
      EXPECT_EQ(p.hidden_states_padded.at(t, h), h < 96 ? moe::round_to(moe::Dtype::kBf16, c.hidden_states(t, h)) : 0.0f);
  const auto u = pr::make_padded_case(c, pr::unpadded_plan(plan));
  EXPECT_EQ(u.hidden_states_padded.shape, (pd::Shape{5, 96}));
  EXPECT_EQ(u.w13.codes.shape, (pd::Shape{4, 192, 48}));
  pd::Plan bad = plan;
  bad.error = "nope";
  EXPECT_THROW(pr::make_padded_case(c, bad), std::invalid_argument);
}

// ---- the properties over generated cases --------------------------------------------------------

MOECHECK_PROP(Properties, P1PaddingInvariance) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  RC_CLASSIFY(plan.hidden_is_padded(), "H padded");
  RC_CLASSIFY(plan.intermediate_is_padded(), "I padded");
  RC_CLASSIFY(c.tokens() == 0, "no tokens");
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    const pr::Verdict v = pr::check_padding_invariance(c, *b, pr::env_faults());
    if (v.skipped) continue;
    RC_CLASSIFY(v.comparison.signed_zero_pairs > 0, "+0/-0 pairs counted equal");
    if (!v.ok) recorder.record(c, v.property, v.message);
    RC_LOG() << v.message << "\n";
    RC_ASSERT(v.ok);
  }
}

MOECHECK_PROP(Properties, P3Poison) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    const pr::Verdict v = pr::check_poison(c, *b, pr::env_faults());
    if (v.skipped) continue;
    if (!v.ok) recorder.record(c, v.property, v.message);
    RC_LOG() << v.message << "\n";
    RC_ASSERT(v.ok);
  }
}

MOECHECK_PROP(Properties, P4Routing) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  const pr::Verdict v = pr::check_routing(c);
  if (!v.ok) recorder.record(c, v.property, v.message);
  RC_LOG() << v.message << "\n";
  RC_ASSERT(v.ok);
}

MOECHECK_PROP(Properties, P5Metamorphic) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    const pr::Verdict v = pr::check_metamorphic(c, *b, pr::env_faults());
    if (v.skipped) continue;
    if (!v.ok) recorder.record(c, v.property, v.message);
    RC_LOG() << v.message << "\n";
    RC_ASSERT(v.ok);
  }
}

MOECHECK_PROP(Properties, P2GoldenAgreement) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    const pr::Verdict v = pr::check_golden_agreement(c, *b, pr::env_faults());
    if (v.skipped) continue;
    if (!v.ok) recorder.record(c, v.property, v.message);
    RC_LOG() << v.message << "\n";
    RC_ASSERT(v.ok);
  }
}

MOECHECK_PROP(Properties, P6TensorParallel) {
  const pr::MoeCase c = pg::build_case(*pg::case_spec());
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    const pr::Verdict v = pr::check_tensor_parallel(c, *b, pr::env_faults());
    RC_CLASSIFY(v.skipped, "no TP/EP partition applies");
    if (v.skipped) continue;
    if (!v.ok) recorder.record(c, v.property, v.message);
    RC_LOG() << v.message << "\n";
    RC_ASSERT(v.ok);
  }
}

// Prints P2's and P6's measured errors over generated cases (the tolerance tables' margins):
// run with --gtest_also_run_disabled_tests --gtest_filter='*Measure*'. MOECHECK_MEASURE_CASES sets
// the number of cases (200), MOECHECK_MEASURE_METHOD draws only that registry method's targets.
TEST(Properties, DISABLED_MeasureToleranceMargins) {
  const int n = std::getenv("MOECHECK_MEASURE_CASES") ? std::atoi(std::getenv("MOECHECK_MEASURE_CASES")) : 200;
  pg::CaseOptions options;
  if (const char* m = std::getenv("MOECHECK_MEASURE_METHOD")) options.methods = {m};
  for (int i = 0; i < n; ++i) {
    const pg::CaseSpec spec =
        pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) * 7919u + 1u), i % 100).value();
    const pr::MoeCase c = pg::build_case(spec);
    for (const moecheck::device::Backend* b : moecheck::device::backends()) {
      for (const pr::Verdict& v : {pr::check_golden_agreement(c, *b), pr::check_tensor_parallel(c, *b)})
        if (!v.skipped) std::printf("MEASURE %s %s %s\n", v.property.c_str(), v.ok ? "ok" : "FAIL", v.message.c_str());
    }
  }
}

// fp8_per_tensor_w8a8_dynamic: the activation scale is the amax of the whole batch, as vLLM's
// dynamic_scaled_fp8_quant takes it over the CUDA-graph padded batch. An Inf pad row makes every
// real token's scale Inf, so P1 would fail by design: the generator draws no token padding for the
// row; with zero pad rows (no biases: the pad rows' intermediates stay 0) the padded path matches.
// P5 does not compare token 0 alone, and P6 compares TP and EP within its own bound.
TEST(Properties, DynamicW8A8IsCoupledToTheWholeBatch) {
  pg::CaseOptions options;
  options.methods = {"fp8_per_tensor"};
  int drawn = 0;
  for (int i = 0; i < 300; ++i) {
    const pg::CaseSpec spec = pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) * 104729u + 3u), 50).value();
    if (spec.scheme != WeightScheme::kFp8PerTensorW8A8Dynamic) continue;
    ++drawn;
    EXPECT_EQ(spec.target.batch_rows, 0) << spec.tokens << " tokens, seed " << i;
  }
  EXPECT_GT(drawn, 10);

  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  pg::CaseSpec spec = padded_spec(WeightScheme::kFp8PerTensorW8A8Dynamic);
  spec.target.batch_rows = pg::graph_batch_rows(spec.tokens);
  spec.target.pad_row_fill = pd::PadRowFill::kInf;
  const pr::Verdict inf = pr::check_padding_invariance(pg::build_case(spec), *sim);
  ASSERT_FALSE(inf.skipped);
  EXPECT_FALSE(inf.ok) << inf.message;
  spec.target.pad_row_fill = pd::PadRowFill::kZero;
  const pr::Verdict zero = pr::check_padding_invariance(pg::build_case(spec), *sim);
  EXPECT_TRUE(zero.ok) << zero.message;

  const pr::MoeCase c = pg::build_case(padded_spec(WeightScheme::kFp8PerTensorW8A8Dynamic));
  const pr::Verdict p5 = pr::check_metamorphic(c, *sim);
  EXPECT_TRUE(p5.ok) << p5.message;
  EXPECT_NE(p5.message.find("token 0 alone: not compared"), std::string::npos) << p5.message;
  const pr::Verdict p6 = pr::check_tensor_parallel(c, *sim);
  ASSERT_FALSE(p6.skipped) << p6.message;
  EXPECT_TRUE(p6.ok) << p6.message;
  EXPECT_NE(p6.message.find("EP 2: "), std::string::npos) << p6.message;
  EXPECT_NE(p6.message.find("amax of its own shard"), std::string::npos) << p6.message;
}

// GPTQ act-order on Marlin: each TP rank cuts w2's codes and g_idx along K but keeps every w2
// scale group (vLLM's load_full_w2), since a rank's columns may belong to any group; w13's g_idx
// is whole on every rank. P6 then holds; the plan is never padded.
TEST(Properties, ActOrderRanksKeepEveryW2ScaleGroup) {
  pg::CaseSpec spec = padded_spec(WeightScheme::kInt4G128ActOrderW4A16Marlin);
  spec.hidden = 128;
  spec.intermediate = 512;  // four groups of 128; TP 2: 256 columns per rank
  const auto& targets = pg::valid_targets(spec.scheme, spec.family, spec.hidden, spec.intermediate, spec.experts,
                                          spec.top_k, false);
  ASSERT_FALSE(targets.empty());
  spec.target = targets.front();
  const pr::MoeCase whole = pg::build_case(spec);  // P2 and P6 take the TP 1 case and partition it
  spec.target.tp = 2;
  const pr::MoeCase c = pg::build_case(spec);
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  ASSERT_TRUE(plan.ok()) << plan.error.value_or("");
  EXPECT_FALSE(plan.hidden_is_padded() || plan.intermediate_is_padded());
  ASSERT_EQ(plan.intermediate_per_partition, 256);
  bool foreign_group = false;
  for (int rank = 0; rank < 2; ++rank) {
    pr::MoeCase r = c;
    r.target.rank = rank;
    const auto p = pr::make_padded_case(r, plan);
    EXPECT_EQ(p.w2.scales.shape, (pd::Shape{4, 128, 4})) << rank;       // all of I's groups
    EXPECT_EQ(p.w2.group_index.shape, (pd::Shape{4, 1, 256})) << rank;  // the rank's columns
    EXPECT_EQ(p.w13.group_index.shape, (pd::Shape{4, 1, 128})) << rank;
    for (const float g : p.w2.group_index.data) {
      ASSERT_GE(g, 0.0f);
      ASSERT_LT(g, 4.0f);
      // Rank r's own columns, had the groups stayed in place, would be groups 2r and 2r + 1.
      foreign_group = foreign_group || (g != 2.0f * rank && g != 2.0f * rank + 1);
    }
  }
  EXPECT_TRUE(foreign_group) << "every rank's columns fell in its own groups: the case does not tell the loaders apart";
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  const pr::Verdict p6 = pr::check_tensor_parallel(whole, *sim);
  ASSERT_FALSE(p6.skipped) << p6.message;
  EXPECT_TRUE(p6.ok) << p6.message;
  EXPECT_NE(p6.message.find("TP 2: "), std::string::npos) << p6.message;
  const pr::Verdict p2 = pr::check_golden_agreement(whole, *sim);
  EXPECT_TRUE(p2.ok) << p2.message;
}

// fp8_per_channel_w8a8: per-token scales are row-local, so the generator draws token padding for
// the row and an Inf pad row leaves every real token's output alone (P1 passes, where the dynamic
// per-tensor row fails); P6 bounds TP by the rank-local bound (a GEMM2 row's amax is over the
// rank's I shard) and EP by the TP rounding bound (EP keeps rows whole).
TEST(Properties, PerTokenW8A8ScalesAreRowLocal) {
  pg::CaseOptions options;
  options.methods = {"fp8_per_channel"};
  int drawn = 0, padded_batches = 0;
  for (int i = 0; i < 200; ++i) {
    const pg::CaseSpec spec = pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) * 104729u + 3u), 50).value();
    ASSERT_EQ(spec.scheme, WeightScheme::kFp8PerChannelW8A8);
    ++drawn;
    if (spec.target.batch_rows > 0) ++padded_batches;
  }
  EXPECT_GT(padded_batches, 0) << drawn << " cases";

  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  pg::CaseSpec spec = padded_spec(WeightScheme::kFp8PerChannelW8A8);
  spec.target.batch_rows = pg::graph_batch_rows(spec.tokens);
  ASSERT_GT(spec.target.batch_rows, spec.tokens);
  for (const pd::PadRowFill fill : {pd::PadRowFill::kInf, pd::PadRowFill::kNaN, pd::PadRowFill::kZero}) {
    spec.target.pad_row_fill = fill;
    const pr::Verdict v = pr::check_padding_invariance(pg::build_case(spec), *sim);
    ASSERT_FALSE(v.skipped) << v.message;
    EXPECT_TRUE(v.ok) << v.message;
  }

  const pr::MoeCase c = pg::build_case(padded_spec(WeightScheme::kFp8PerChannelW8A8));
  const pr::Verdict p5 = pr::check_metamorphic(c, *sim);
  EXPECT_TRUE(p5.ok) << p5.message;
  EXPECT_EQ(p5.message.find("token 0 alone: not compared"), std::string::npos) << p5.message;
  const pr::Verdict p6 = pr::check_tensor_parallel(c, *sim);
  ASSERT_FALSE(p6.skipped) << p6.message;
  EXPECT_TRUE(p6.ok) << p6.message;
  EXPECT_NE(p6.message.find("TP 2: 0 elements beyond 0.125"), std::string::npos) << p6.message;
  EXPECT_NE(p6.message.find("EP 2: 0 elements beyond 0.03125"), std::string::npos) << p6.message;
}

// Channelwise WNA16 on Marlin (group_size -1): the plan pads I to Marlin's tile, lcm(64, 1) = 64,
// the one-column scales keep their column through padding and TP shards, and the padded and
// unpadded runs agree bitwise while the golden agrees within the WNA16 bound.
TEST(Properties, ChannelwiseWna16OnMarlinPadsTheIntermediateToItsTile) {
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  for (const WeightScheme scheme : {WeightScheme::kInt4ChannelW4A16Marlin, WeightScheme::kInt8ChannelW8A16Marlin}) {
    pg::CaseSpec s;
    s.family = moe::Family::kMixtral;
    s.dtype = moe::Dtype::kBf16;
    s.scheme = scheme;
    s.hidden = 128;
    s.intermediate = 96;
    s.experts = 4;
    s.top_k = 2;
    s.tokens = 5;
    s.activations = {pg::Distribution::kNormal, 7, 1.0f};
    s.weights = {pg::Distribution::kNormal, 11, 1.0f};
    const auto& targets = pg::valid_targets(scheme, s.family, s.hidden, s.intermediate, s.experts, s.top_k, true);
    ASSERT_FALSE(targets.empty()) << moecheck::device::name(scheme);
    s.target = targets.front();
    EXPECT_EQ(s.target.backend, "MARLIN");
    const pr::MoeCase c = pg::build_case(s);
    const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
    EXPECT_EQ(plan.intermediate_per_partition_padded, 128) << moecheck::device::name(scheme);
    const moecheck::device::PaddedCase p = pr::make_padded_case(c, plan, pr::poison_seed());
    EXPECT_EQ(p.w13.scales.shape, (pd::Shape{4, 256, 1}));
    EXPECT_EQ(p.w2.scales.shape, (pd::Shape{4, 128, 1}));
    for (const pr::Verdict& v : {pr::check_padding_invariance(c, *sim), pr::check_golden_agreement(c, *sim),
                                 pr::check_tensor_parallel(c, *sim)}) {
      ASSERT_FALSE(v.skipped) << v.message;
      EXPECT_TRUE(v.ok) << v.message;
    }
  }
}

// fp8_per_tensor_w8a8_static: an EP rank quantizes with the max of its own experts' static input
// scales (vLLM without EPLB), so P6 compares the TP shards only and says so; each EP rank's padded
// case holds exactly its experts' scales, which the sim reduces.
TEST(Properties, StaticW8A8ComparesTensorParallelShardsOnly) {
  const pr::MoeCase c = pg::build_case(padded_spec(WeightScheme::kFp8PerTensorW8A8Static));
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  const pr::Verdict v = pr::check_tensor_parallel(c, *sim);
  ASSERT_FALSE(v.skipped) << v.message;
  EXPECT_TRUE(v.ok) << v.message;
  EXPECT_NE(v.message.find("TP 2: "), std::string::npos) << v.message;
  EXPECT_EQ(v.message.find("EP 2: "), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("EP not compared"), std::string::npos) << v.message;

  const auto input_scale = [&](const moe::StackedWeight& w) {
    return std::get<moe::SchemeWeight>(w.parts.front()).storage.input_scales.at(0);
  };
  pr::MoeCase ep = c;
  ep.target.tp = 2;
  ep.target.ep = true;
  const pd::Plan plan = pr::layer_plan(ep, pr::shipped_ruleset(ep.target.ruleset));
  for (int rank = 0; rank < 2; ++rank) {
    ep.target.rank = rank;
    const moecheck::device::PaddedCase p = pr::make_padded_case(ep, plan, pr::poison_seed());
    const std::int64_t local = c.block.num_experts() / 2;
    ASSERT_EQ(p.w13.input_scales.data.size(), static_cast<std::size_t>(local));
    for (std::int64_t e = 0; e < local; ++e) {
      const auto& expert = c.block.experts[static_cast<std::size_t>(rank * local + e)];
      EXPECT_EQ(p.w13.input_scales.data[static_cast<std::size_t>(e)], input_scale(expert.gate_up)) << rank << " " << e;
      EXPECT_EQ(p.w2.input_scales.data[static_cast<std::size_t>(e)], input_scale(expert.down)) << rank << " " << e;
    }
  }
}

// The properties can fail: the sim's fault switches (bugs.md B4, B10) are caught on a fixed
// padded case.
TEST(Properties, CatchInjectedFaults) {
  const pr::MoeCase c = pg::build_case(padded_spec());
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  ASSERT_GT(plan.intermediate_per_partition_padded, plan.intermediate_per_partition) << pr::describe(c);
  bool any = false;
  for (const moecheck::device::Backend* b : moecheck::device::backends()) {
    if (!b->capabilities().injects("uninitialized_k_tail_lanes") || !b->capabilities().injects("nan_for_empty_experts"))
      continue;
    any = true;
    moecheck::device::FaultSwitches f;
    f.uninitialized_k_tail_lanes = true;
    const pr::Verdict p1 = pr::check_padding_invariance(c, *b, f);
    EXPECT_FALSE(p1.ok) << p1.message;
    const pr::Verdict p3 = pr::check_poison(c, *b, f);
    EXPECT_FALSE(p3.ok) << p3.message;
    EXPECT_TRUE(pr::check_padding_invariance(c, *b).ok);
    // B10: NaN activation scales of experts without tokens reach every output.
    moecheck::device::FaultSwitches nan_empty;
    nan_empty.nan_for_empty_experts = true;
    pg::CaseSpec one = padded_spec();
    one.tokens = 1;  // one token, top-1 of 4 experts: three experts receive none
    one.top_k = 1;
    const pr::MoeCase m = pg::build_case(one);
    const pr::Verdict p5 = pr::check_metamorphic(m, *b, nan_empty);
    EXPECT_FALSE(p5.ok) << p5.message;
    EXPECT_TRUE(pr::check_metamorphic(m, *b).ok) << pr::check_metamorphic(m, *b).message;
  }
  EXPECT_TRUE(any) << "no backend injects faults: the properties' power is untested";
}

TEST(Properties, P4CatchesRoutingOnPaddedWidthMismatch) {
  const pr::MoeCase c = pg::build_case(padded_spec());
  EXPECT_TRUE(pr::check_routing(c).ok);
  // Routing on other hidden states than the logical ones must be noticed: shift one token.
  pr::MoeCase other = c;
  other.hidden_states(0, 0) += 64.0f;
  const moe::Routing a = moe::route_block(c.block, c.hidden_states).routing;
  const moe::Routing b = moe::route_block(other.block, other.hidden_states).routing;
  EXPECT_FALSE(a.ids == b.ids && a.weights == b.weights);
}

// ---- the quarantine ledger ----------------------------------------------------------------------

TEST(Ledger, EveryEntryCitesAnIssue) {
  const auto& ledger = pr::quarantine();
  for (const pr::QuarantineEntry& q : ledger) {
    EXPECT_TRUE(pr::cites_issue(q.issue)) << q.id << ": " << q.issue;
    EXPECT_FALSE(q.reason.empty()) << q.id;
  }
  EXPECT_TRUE(pr::cites_issue("vllm-project/vllm#52051"));
  EXPECT_TRUE(pr::cites_issue("vllm-project/vllm PR #55251"));
  EXPECT_TRUE(pr::cites_issue("moecheck#5"));
  EXPECT_FALSE(pr::cites_issue("flaky, see chat"));
  EXPECT_FALSE(pr::cites_issue(""));
}

TEST(Ledger, RejectsAnEntryWithoutAnIssue) {
  moecheck_test::TempDir dir("moecheck_properties_");
  const fs::path f = dir.path() / "q.json";
  std::ofstream(f) << R"({"schema": "moecheck.quarantine/1", "entries": [{"id": "x", "property": "*", "issue": "TODO", "reason": "r"}]})";
  try {
    pr::read_quarantine(f);
    FAIL() << "accepted an entry without an issue reference";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/entries/0/issue"), std::string::npos) << e.what();
  }
}

// A quarantined failure that starts passing must be noticed: each entry still fails somewhere.
TEST(Ledger, EntriesStillFail) {
  for (const pr::QuarantineEntry& q : pr::quarantine()) {
    const std::optional<pr::MoeCase> c = quarantined_case(q);
    if (!c) {
      ADD_FAILURE() << q.id << ": matches no padded target of the shipped rulesets (stale entry?)";
      continue;
    }
    bool fails = false;
    std::string messages;
    for (const std::string& property : {std::string(pr::kP1PaddingInvariance), std::string(pr::kP3Poison)})
      for (const pr::Verdict& v : pr::check(property, *c)) {
        fails |= !v.ok;
        messages += v.message + "\n";
      }
    EXPECT_TRUE(fails) << q.id << " (" << q.issue << "): the quarantined failure passes now; remove the entry\n"
                       << messages;
  }
}

// ---- persistence --------------------------------------------------------------------------------

TEST(Persist, RoundTripIsIdentical) {
  moecheck_test::TempDir dir("moecheck_properties_");
  for (const moecheck::reference::quant::SchemeSpec& row : moecheck::reference::quant::weight_schemes()) {
    const WeightScheme scheme = row.scheme;
    pg::CaseSpec s = padded_spec(WeightScheme::kDense);
    s.scheme = scheme;
    // gpt-oss: biases and router bias too; FP8 blocks (separate gate and up parts) are concatenated.
    s.family = row.gate_up == moecheck::reference::quant::GateUpParts::kSeparate ? moe::Family::kQwen3Moe
                                                                                : moe::Family::kGptOss;
    // The smallest of these sizes that some bound backend of the scheme can run.
    for (const std::int64_t size : {96, 128, 256}) {
      s.hidden = s.intermediate = size;
      if (!moecheck::reference::quant::size_problem(row, size, size).empty()) continue;
      const auto& targets = pg::valid_targets(scheme, s.family, size, size, s.experts, s.top_k, false);
      if (targets.empty()) continue;
      s.target = targets.front();
      break;
    }
    ASSERT_FALSE(s.target.method.empty()) << row.name;
    const pr::MoeCase c = pg::build_case(s);
    bool written = false;
    const fs::path path = pr::write_counterexample({c, pr::kP1PaddingInvariance, "T/N", "reproduce=abc", "msg"},
                                                   dir.path(), &written);
    EXPECT_TRUE(written);
    EXPECT_EQ(path.filename().string(), pr::fixture_name(c, pr::kP1PaddingInvariance));
    ASSERT_TRUE(pr::is_case_fixture(path));
    const pr::CaseFixture back = pr::read_case_fixture(path);
    EXPECT_EQ(back.property, pr::kP1PaddingInvariance);
    EXPECT_EQ(back.reproduce, "reproduce=abc");
    EXPECT_EQ(back.test, "T/N");
    EXPECT_EQ(back.generator_version, pg::kGeneratorVersion);
    EXPECT_EQ(back.c.target, c.target);
    EXPECT_EQ(back.c.scheme, c.scheme);
    EXPECT_EQ(back.c.hidden_states, c.hidden_states);
    // Identical content <=> identical hash over every value and setting.
    EXPECT_EQ(pr::content_hash(back.c, pr::kP1PaddingInvariance), pr::content_hash(c, pr::kP1PaddingInvariance));
    EXPECT_EQ(pr::golden(back.c).output, pr::golden(c).output) << row.name;
    // Written again: same name, not rewritten.
    pr::write_counterexample({c, pr::kP1PaddingInvariance, "T/N", "reproduce=other", "msg"}, dir.path(), &written);
    EXPECT_FALSE(written);
    // The hash sees a one-ulp change of one weight.
    pr::MoeCase changed = back.c;
    changed.hidden_states(0, 0) = std::nextafter(changed.hidden_states(0, 0), 10.0f);
    EXPECT_NE(pr::content_hash(changed, pr::kP1PaddingInvariance), pr::content_hash(c, pr::kP1PaddingInvariance));
  }
  EXPECT_EQ(count_files(dir.path()), moecheck::reference::quant::weight_schemes().size());
  EXPECT_EQ(pr::replay_regressions({dir.path()}).fixtures, static_cast<int>(moecheck::reference::quant::weight_schemes().size()));
}

// Every (method, backend) pair of the shipped rulesets is either bound by a row of the scheme table
// (and so generated) or listed with the table's reason; no reason is left over for a method whose
// backends are all bound.
TEST(Coverage, EveryUnboundTargetHasTheTablesReason) {
  namespace rq = moecheck::reference::quant;
  std::set<std::string> listed;
  for (const pg::UnboundTargets& u : pg::unbound_targets()) {
    SCOPED_TRACE(u.method);
    EXPECT_FALSE(u.why.empty()) << "no reason in quant::unbound_reasons()";
    EXPECT_FALSE(u.backends.empty());
    EXPECT_NE(pd::find_method_info(u.method), nullptr);
    for (const std::string& b : u.backends) EXPECT_EQ(rq::scheme_for(u.method, b), nullptr) << b;
    listed.insert(u.method);
  }
  for (const rq::UnboundReason& r : rq::unbound_reasons())
    EXPECT_TRUE(listed.count(std::string(r.method))) << r.method << ": every backend is bound; drop its entry";
  // The online methods have no row at all; fp8_per_tensor's FlashInfer W8A8 backends are not bound
  // (Triton's static W8A8 and Marlin's W8A16 are).
  const auto backends_of = [](const std::string& method) {
    for (const pg::UnboundTargets& u : pg::unbound_targets())
      if (u.method == method) return u.backends;
    return std::vector<std::string>{};
  };
  EXPECT_FALSE(backends_of("mxfp4_online").empty());
  const std::vector<std::string> fp8 = backends_of("fp8_per_tensor");
  EXPECT_NE(std::find(fp8.begin(), fp8.end(), "FLASHINFER_CUTLASS"), fp8.end());
  EXPECT_EQ(std::find(fp8.begin(), fp8.end(), "TRITON"), fp8.end());
  EXPECT_EQ(std::find(fp8.begin(), fp8.end(), "MARLIN"), fp8.end());
}

// Replaces a root attribute of an HDF5 file with an int64 or a fixed-length string (h5py's
// numpy.bytes_), through the raw C API: values moecheck's writer never produces.
void set_root_attribute(const fs::path& path, const char* key, const std::int64_t* number, const char* text) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  if (H5Aexists_by_name(file, "/", key, H5P_DEFAULT) > 0) H5Adelete_by_name(file, "/", key, H5P_DEFAULT);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t type = number ? H5Tcopy(H5T_STD_I64LE) : H5Tcopy(H5T_C_S1);
  if (!number) H5Tset_size(type, std::strlen(text) + 1);
  const hid_t attribute = H5Acreate_by_name(file, "/", key, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(attribute, 0) << key;
  EXPECT_GE(number ? H5Awrite(attribute, H5T_NATIVE_INT64, number) : H5Awrite(attribute, type, text), 0) << key;
  H5Aclose(attribute);
  H5Tclose(type);
  H5Sclose(space);
  H5Fclose(file);
}

// A case fixture's token padding (batch_rows, pad_row_fill: spec/bugs.md B20's CUDA-graph batch)
// is checked on reading: a bad value is refused with the file and the attribute named, what was
// expected and what was found; every fill name reads back, from an h5py-style fixed-length string too.
TEST(Persist, CaseFixtureReaderNamesABadTokenPaddingAttribute) {
  moecheck_test::TempDir dir("moecheck_properties_");
  pg::CaseSpec s = padded_spec();
  s.target.batch_rows = s.tokens + 3;
  s.target.pad_row_fill = pd::PadRowFill::kInf;
  const pr::MoeCase c = pg::build_case(s);
  const fs::path path = pr::write_counterexample({c, pr::kP1PaddingInvariance, "T/N", "", ""}, dir.path());
  ASSERT_EQ(pr::read_case_fixture(path).c.target.batch_rows, s.tokens + 3);
  const auto error_of = [&path]() -> std::string {
    try {
      pr::read_case_fixture(path);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  for (const auto& [fill, expected] : {std::pair{"nan", pd::PadRowFill::kNaN}, std::pair{"inf", pd::PadRowFill::kInf},
                                       std::pair{"zero", pd::PadRowFill::kZero}}) {
    set_root_attribute(path, "pad_row_fill", nullptr, fill);
    EXPECT_EQ(pr::read_case_fixture(path).c.target.pad_row_fill, expected) << fill;
  }
  set_root_attribute(path, "pad_row_fill", nullptr, "ones");
  std::string e = error_of();
  EXPECT_NE(e.find(path.string()), std::string::npos) << e;
  EXPECT_NE(e.find("attribute pad_row_fill: expected nan, inf or zero, found 'ones'"), std::string::npos) << e;
  set_root_attribute(path, "pad_row_fill", nullptr, "nan");
  const std::int64_t negative = -3;
  set_root_attribute(path, "batch_rows", &negative, nullptr);
  e = error_of();
  EXPECT_NE(e.find(path.string()), std::string::npos) << e;
  EXPECT_NE(e.find("attribute batch_rows: expected >= 0, found -3"), std::string::npos) << e;
}

// The committed counterexamples read back into cases whose content hash is their file name: the
// codec and the hash are stable across versions (a scheme-table change that renamed or reordered a
// component would show here).
TEST(Persist, CommittedFixturesKeepTheirContentHashNames) {
  std::size_t seen = 0;
  for (const auto& entry : fs::directory_iterator(pr::regressions_dir())) {
    if (!pr::is_case_fixture(entry.path())) continue;
    ++seen;
    const pr::CaseFixture f = pr::read_case_fixture(entry.path());
    EXPECT_EQ(entry.path().filename().string(), pr::fixture_name(f.c, f.property)) << pr::describe(f.c);
  }
  EXPECT_GE(seen, 1u) << pr::regressions_dir();
}

// A deliberately failing property writes exactly one fixture, under a stable name, and replay
// re-checks (and here passes) it; a second failing run finds it already kept.
TEST(Persist, FailingPropertyWritesExactlyOneFixture) {
  moecheck_test::TempDir dir("moecheck_properties_");
  const pr::MoeCase fixed = pg::build_case(padded_spec());
  const auto body = [&fixed](pr::FailureRecorder& recorder) {
    const int n = *rc::gen::inRange(0, 1000);
    recorder.record(fixed, pr::kP1PaddingInvariance, "deliberate failure, n = " + std::to_string(n));
    RC_ASSERT(n < 0);
  };
  const std::string first = pr::run_property("Persist/Deliberate", body, dir.path());
  ASSERT_FALSE(first.empty());
  EXPECT_NE(first.find("REPRO: RC_PARAMS=\"reproduce="), std::string::npos) << first;
  EXPECT_NE(first.find("--gtest_filter=Persist.Deliberate"), std::string::npos) << first;
  EXPECT_NE(first.find("(new)"), std::string::npos) << first;
  ASSERT_EQ(count_files(dir.path()), 1u);
  const fs::path only = fs::directory_iterator(dir.path())->path();
  EXPECT_EQ(only.filename().string(), pr::fixture_name(fixed, pr::kP1PaddingInvariance));
  const pr::CaseFixture f = pr::read_case_fixture(only);
  EXPECT_EQ(f.test, "Persist/Deliberate");
  EXPECT_EQ(f.reproduce.rfind("reproduce=", 0), 0u) << f.reproduce;
  const std::string second = pr::run_property("Persist/Deliberate", body, dir.path());
  EXPECT_NE(second.find("(already kept)"), std::string::npos) << second;
  EXPECT_EQ(count_files(dir.path()), 1u);
  const pr::ReplayResult r = pr::replay_regressions({dir.path()});
  EXPECT_EQ(r.fixtures, 1);
  EXPECT_TRUE(r.failures.empty());
}

TEST(Persist, ReplayReportsAFailingFixture) {
  moecheck_test::TempDir dir("moecheck_properties_");
  const pr::MoeCase c = pg::build_case(padded_spec());
  pr::write_counterexample({c, pr::kP1PaddingInvariance, "T/N", "", ""}, dir.path());
  EXPECT_TRUE(pr::replay_regressions({dir.path()}).failures.empty());
  // The same fixture replayed on a backend with a padding bug (bugs.md B4) must fail.
  moecheck::device::FaultSwitches f;
  f.uninitialized_k_tail_lanes = true;
  const pr::ReplayResult r = pr::replay_regressions({dir.path()}, f);
  EXPECT_EQ(r.fixtures, 1);
  EXPECT_FALSE(r.failures.empty());
}
