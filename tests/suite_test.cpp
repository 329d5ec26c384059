// The fault catalog (properties/faults.h), the properties added with it — P2 golden agreement,
// P6 tensor parallel, P5's expert relabelling, the shape and conformance checks of P1 — the EP
// expert map of the padded case, and the suite runner behind `moecheck check` and `selftest`.
// Each fault is shown to be caught on a case that exposes it and to be harmless where the
// property says it is invisible.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "device/backend.h"
#include "device/registry.h"
#include "properties/case.h"
#include "properties/faults.h"
#include "properties/gen/case.h"
#include "properties/persist.h"
#include "properties/properties.h"
#include "properties/suite.h"
#include "reference/padding/partition.h"
#include "reference/quant/scheme.h"
#include "tests/temp_dir.h"

namespace {

namespace pr = moecheck::properties;
namespace pg = moecheck::properties::gen;
namespace moe = moecheck::reference::moe;
namespace pd = moecheck::reference::padding;
namespace fs = std::filesystem;
using moecheck::device::WeightScheme;


const moecheck::device::Backend& sim() {
  const moecheck::device::Backend* b = moecheck::device::find_backend("sim");
  if (!b) throw std::logic_error("test: no sim backend");
  return *b;
}

// A case of `scheme` padded for the first target whose plan satisfies `want` (tp = 1).
template <class Want>
pr::MoeCase exposing_case(WeightScheme scheme, std::int64_t h, std::int64_t i, std::int64_t tokens, Want want,
                          moe::Family family = moe::Family::kMixtral, std::int64_t experts = 4,
                          std::int64_t top_k = 2) {
  pg::CaseSpec s;
  s.family = family;
  s.dtype = moe::Dtype::kF32;
  s.scheme = scheme;
  s.hidden = h;
  s.intermediate = i;
  s.experts = experts;
  s.top_k = top_k;
  s.tokens = tokens;
  s.activations = {pg::Distribution::kNormal, 3, 1.0f};
  s.weights = {pg::Distribution::kNormal, 5, 1.0f};
  for (const pr::PadTarget& t : pg::valid_targets(scheme, family, h, i, experts, top_k, false)) {
    s.target = t;
    pr::MoeCase c = pg::build_case(s);
    if (want(pr::plan_for(c, pr::shipped_ruleset(t.ruleset)))) return c;
  }
  throw std::logic_error("test: no target exposes the fault for H" + std::to_string(h) + " I" + std::to_string(i));
}

bool pads_hidden(const pd::Plan& p) { return p.hidden_is_padded(); }
bool pads_intermediate_by_64(const pd::Plan& p) {
  return p.intermediate_per_partition_padded - p.intermediate_per_partition >= 64;
}
bool pads_nothing(const pd::Plan& p) { return !p.hidden_is_padded() && !p.intermediate_is_padded(); }

}  // namespace

// ---- the catalog -----------------------------------------------------------------------------

TEST(FaultCatalog, OneFaultPerBugOfTheSpec) {
  std::set<std::string> bugs, names;
  for (const pr::FaultInfo& f : pr::fault_catalog()) {
    bugs.insert(std::string(f.bug));
    names.insert(std::string(f.name));
    EXPECT_FALSE(f.upstream.empty()) << f.name;
    EXPECT_FALSE(f.description.empty()) << f.name;
    const pr::Faults on = pr::parse_faults(f.name);
    EXPECT_TRUE(on.any()) << f.name;
    EXPECT_EQ(on.kernel.any(), f.site == pr::FaultSite::kKernel) << f.name;
    EXPECT_EQ(on.padding.any(), pr::in_padding_path(f.site)) << f.name;
    EXPECT_EQ(f.kernel_flag != nullptr, f.site == pr::FaultSite::kKernel) << f.name;
    EXPECT_EQ(f.padding_flag != nullptr, pr::in_padding_path(f.site)) << f.name;
    if (f.kernel_flag) {
      EXPECT_TRUE(on.kernel.*f.kernel_flag) << f.name;
    }
    if (f.padding_flag) {
      EXPECT_TRUE(on.padding.*f.padding_flag) << f.name;
    }
    EXPECT_EQ(pr::find_fault(f.name), &f);
  }
  EXPECT_EQ(names.size(), pr::fault_catalog().size());
  for (const char* b :
       {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14", "B15", "B16", "B17",
        "B18", "B19", "B20"})
    EXPECT_TRUE(bugs.count(b)) << "bugs.md " << b << " has no fault";
  EXPECT_EQ(bugs.size(), 20u);
}

// The selftest runs the faults of FaultScope::kShardedCase against P6 alone, on the claim that they
// are inert on the TP 1, no-EP cases that P1 to P5 draw. Checked per scheme at H = I = 256 (every
// scheme has a target there): with each such fault on, the padded and the unpadded layer give the
// same bits as without it, and P4 (the routing and the expert map) passes. That they act on sharded
// cases is the selftest's check (cli_selftest) and the SimFault tests'.
TEST(FaultScope, ShardedFaultsAreInertOnUnshardedCases) {
  std::vector<const pr::FaultInfo*> sharded;
  for (const pr::FaultInfo& f : pr::fault_catalog())
    if (f.scope == pr::FaultScope::kShardedCase) sharded.push_back(&f);
  ASSERT_EQ(sharded.size(), 4u);  // B16 scale_tile_rank_local, both B18 faults, B19
  EXPECT_TRUE(pr::shards_cases("P6"));
  for (const char* p : {"P1", "P2", "P3", "P4", "P5"}) EXPECT_FALSE(pr::shards_cases(p)) << p;
  const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  int schemes = 0;
  for (const moecheck::reference::quant::SchemeSpec& spec : moecheck::reference::quant::weight_schemes()) {
    if (pg::valid_targets(spec.scheme, moe::Family::kMixtral, 256, 256, 4, 2, false).empty()) continue;
    ++schemes;
    const pr::MoeCase c = exposing_case(spec.scheme, 256, 256, 5, [](const pd::Plan&) { return true; });
    const pd::Plan padded = pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset));
    const pd::Plan unpadded = pr::unpadded_plan(padded);
    const auto run = [&](const pr::Faults& f, const pd::Plan& plan) {
      moecheck::device::PaddedCase p = pr::make_padded_case(c, plan, pr::poison_seed(), f.padding);
      p.faults = f.kernel;
      return pr::run_layer(c, sim(), p, pr::poison_seed(), f.padding);
    };
    const std::vector<float> clean = run({}, padded), clean_unpadded = run({}, unpadded);
    for (const pr::FaultInfo* f : sharded) {
      const pr::Faults on = pr::parse_faults(f->name);
      EXPECT_TRUE(same_bits(run(on, padded), clean)) << f->name << " acts on " << pr::describe(c);
      EXPECT_TRUE(same_bits(run(on, unpadded), clean_unpadded)) << f->name << " acts on " << pr::describe(c);
      const pr::Verdict v = pr::check_routing(c, on);
      EXPECT_TRUE(v.ok) << f->name << ": " << v.message;
    }
  }
  EXPECT_EQ(schemes, static_cast<int>(moecheck::reference::quant::weight_schemes().size()));
}

// A kernel fault runs only on the backends that inject it; a padding-path fault on every backend.
TEST(FaultCatalog, KernelFaultsRunOnTheBackendsThatInjectThem) {
  class Listed final : public moecheck::device::Backend {
   public:
    explicit Listed(std::vector<std::string> faults) : faults_(std::move(faults)) {}
    std::string_view name() const override { return faults_.empty() ? "none" : "some"; }
    moecheck::device::Capabilities capabilities() const override {
      moecheck::device::Capabilities c;
      c.faults = faults_;
      return c;
    }
    void run(const moecheck::device::PaddedCase&, std::span<float>) const override {}

   private:
    std::vector<std::string> faults_;
  };
  const Listed none({}), some({"skip_last_output_tile"});
  const std::vector<const moecheck::device::Backend*> both{&none, &some};
  const auto names = [&](std::string_view fault) { return pr::injecting_backends(*pr::find_fault(fault), both); };
  EXPECT_EQ(names("skip_last_output_tile"), (std::vector<std::string>{"some"}));
  EXPECT_TRUE(names("uninitialized_k_tail_lanes").empty());
  EXPECT_EQ(names("uninit_pad_weights"), (std::vector<std::string>{"none", "some"}));  // the padding path
  // The sim injects every kernel fault.
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  for (const moecheck::device::KernelFaultInfo& f : moecheck::device::kernel_faults())
    EXPECT_TRUE(sim->capabilities().injects(f.name)) << f.name;
}

TEST(FaultCatalog, ParsesListsAndRejectsUnknownNames) {
  const pr::Faults two = pr::parse_faults("uninit_pad_weights,skip_last_output_tile");
  EXPECT_TRUE(two.padding.uninit_pad_weights);
  EXPECT_TRUE(two.kernel.skip_last_output_tile);
  EXPECT_FALSE(pr::parse_faults("").any());
  try {
    pr::parse_faults("uninit_pad_weights,no_such_fault", "MOECHECK_FAULT");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MOECHECK_FAULT: unknown fault 'no_such_fault'"), std::string::npos) << what;
    EXPECT_NE(what.find("output_not_sliced"), std::string::npos) << what;
  }
}

// ---- padding-path faults: caught where visible, harmless where not ------------------------------

struct PaddingFaultCase {
  const char* fault;
  const char* expected_text;  // in the failing P1 message
};

class PaddingFault : public ::testing::TestWithParam<PaddingFaultCase> {};

TEST_P(PaddingFault, CaughtByP1OnAnExposingCaseAndHarmlessUnpadded) {
  const PaddingFaultCase& p = GetParam();
  const pr::Faults f = pr::parse_faults(p.fault);
  const std::string name = p.fault;
  pr::MoeCase c = name == "intermediate_pad_counted_twice"
                      ? exposing_case(WeightScheme::kMxfp4W4A16, 96, 32, 3, pads_intermediate_by_64)
                  : name == "mxfp4_rule_on_other_formats"
                      ? exposing_case(WeightScheme::kDense, 96, 96, 3, [](const pd::Plan& plan) {
                          return plan.platform.vendor == pd::Vendor::kRocm;
                        })
                  : name == "weights_hidden_alignment_diverges"
                      ? exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 3, [](const pd::Plan& plan) {
                          return plan.hidden_padded == 256;
                        })
                      : exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 3, pads_hidden);
  const pr::Verdict clean = pr::check_padding_invariance(c, sim());
  ASSERT_TRUE(clean.ok) << clean.message;
  const pr::Verdict v = pr::check_padding_invariance(c, sim(), f);
  EXPECT_FALSE(v.ok) << v.message;
  EXPECT_NE(v.message.find(p.expected_text), std::string::npos) << v.message;
  // Where the plan pads nothing, the fault is a no-op.
  if (name != "mxfp4_rule_on_other_formats") {
    const pr::MoeCase u = exposing_case(WeightScheme::kMxfp4W4A16, 256, 256, 3, pads_nothing);
    const pr::Verdict quiet = pr::check_padding_invariance(u, sim(), f);
    EXPECT_TRUE(quiet.ok) << quiet.message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Catalog, PaddingFault,
    ::testing::Values(PaddingFaultCase{"output_read_with_logical_stride", "mismatches"},
                      PaddingFaultCase{"output_not_sliced", "output shape contract"},
                      PaddingFaultCase{"router_on_padded_activations", "mismatches"},
                      PaddingFaultCase{"weights_hidden_alignment_diverges", "exception: PaddedCase"},
                      PaddingFaultCase{"uninit_pad_weights", "non-finite"},
                      PaddingFaultCase{"intermediate_pad_counted_twice", "mismatches"},
                      PaddingFaultCase{"mxfp4_rule_on_other_formats", "ruleset conformance"}),
    [](const ::testing::TestParamInfo<PaddingFaultCase>& info) { return std::string(info.param.fault); });

TEST(PaddingFault, RouterOnPaddedActivationsIsCaughtByP4) {
  const pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 5, pads_hidden);
  EXPECT_TRUE(pr::check_routing(c).ok);
  const pr::Verdict v = pr::check_routing(c, pr::parse_faults("router_on_padded_activations"));
  EXPECT_FALSE(v.ok) << v.message;
  EXPECT_NE(v.message.find("pairs differ"), std::string::npos) << v.message;
}

// ---- P2, P5 relabelling, P6 ---------------------------------------------------------------------

TEST(GoldenAgreement, TableCoversEverySchemeAndDtypeWithAReason) {
  for (WeightScheme s : {WeightScheme::kDense, WeightScheme::kMxfp4W4A16, WeightScheme::kFp8Block128W8A16})
    for (moe::Dtype d : {moe::Dtype::kF32, moe::Dtype::kBf16}) {
      const pr::GoldenTolerance& t = pr::golden_tolerance(s, d);
      EXPECT_GT(t.rel, 0.0);
      EXPECT_LT(t.rel, 0.05);
      EXPECT_FALSE(t.reason.empty());
    }
}

TEST(GoldenAgreement, PassesOnPaddedCasesAndCatchesTheScaleMisindex) {
  // bugs.md B2: I_pad % 256 != 0 with MXFP4; the golden model sees the mis-indexed scales.
  const pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 64, 128, 4, [](const pd::Plan& p) {
    return p.intermediate_per_partition_padded % 256 != 0;
  });
  const pr::Verdict ok = pr::check_golden_agreement(c, sim());
  EXPECT_TRUE(ok.ok) << ok.message;
  const pr::Verdict bad = pr::check_golden_agreement(c, sim(), pr::parse_faults("e8m0_scale_misindex"));
  EXPECT_FALSE(bad.ok) << bad.message;
  EXPECT_NE(bad.message.find("elements beyond"), std::string::npos) << bad.message;
}

TEST(GoldenAgreement, GptOssDenseThroughItsOtherLoaderKeepsItsBiases) {
  // gpt-oss with unquantized experts loads through _load_weights_other (vllm/model_executor/
  // models/gpt_oss.py, every shipped state): biases included, the w2 bias on TP rank 0.
  const pr::MoeCase c = exposing_case(WeightScheme::kDense, 64, 64, 3, pads_nothing, moe::Family::kGptOss);
  const pd::Partition part = pd::partition(pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset)));
  EXPECT_EQ(part.loader, pd::Loader::kGptOssOther);
  EXPECT_TRUE(part.biases_loaded);
  const pr::Verdict v = pr::check_golden_agreement(c, sim());
  EXPECT_TRUE(v.ok) << v.message;
  EXPECT_EQ(v.message.find("w2 bias not loaded"), std::string::npos) << v.message;
}

// The sim, except that tokens whose first choice is expert 0 get their output moved by one ULP: a
// kernel whose result depends on the expert's index, not only on its weights.
class ExpertIndexBackend : public moecheck::device::Backend {
 public:
  std::string_view name() const override { return "expert-index-sim"; }
  moecheck::device::Capabilities capabilities() const override { return sim().capabilities(); }
  void run(const moecheck::device::PaddedCase& c, std::span<float> out) const override {
    sim().run(c, out);
    for (std::int64_t t = 0; t < c.tokens; ++t)
      if (c.topk_ids.at(t, 0) == 0)
        for (std::int64_t h = 0; h < c.plan.hidden_padded; ++h) {
          float& x = out[static_cast<std::size_t>(t * c.plan.hidden_padded + h)];
          x = std::nextafter(x, INFINITY);
        }
  }
};

TEST(Metamorphic, ExpertRelabellingIsCheckedAndTiesAreCounted) {
  const pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 6, pads_hidden);
  const pr::Verdict v = pr::check_metamorphic(c, sim());
  EXPECT_TRUE(v.ok) << v.message;
  EXPECT_NE(v.message.find("experts relabelled (6 of 6 tokens without a top-k tie)"), std::string::npos)
      << v.message;
  // Token order and batch invariance hold for the index-dependent kernel; relabelling exposes it.
  const moe::Routing r = moe::route_block(c.block, c.hidden_states).routing;
  bool expert0_first = false;
  for (std::int64_t t = 0; t < c.tokens(); ++t) expert0_first = expert0_first || r.ids(t, 0) == 0;
  ASSERT_TRUE(expert0_first) << "test: no token picks expert 0 first";
  const pr::Verdict bad = pr::check_metamorphic(c, ExpertIndexBackend());
  EXPECT_FALSE(bad.ok) << bad.message;
  EXPECT_NE(bad.message.find("tokens reversed: 6x96: 0 mismatches"), std::string::npos) << bad.message;
  EXPECT_EQ(bad.message.find("experts relabelled (6 of 6 tokens without a top-k tie): 6x96: 0 mismatches"),
            std::string::npos)
      << bad.message;
}

TEST(TensorParallel, RanksSumToTheWholeAndARankOnlyBugBreaksIt) {
  // bugs.md B2 is visible when I_pad % 256 != 0: I = 256 is not, but its TP-2 ranks (I_pad 128) are.
  // Find a target that leaves the whole at I_pad 256 and gives the TP-2 ranks I_pad % 256 != 0.
  pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 256, 5, [](const pd::Plan& p) {
    return p.intermediate_per_partition_padded == 256;
  });
  bool found = false;
  for (const pr::PadTarget& t : pg::valid_targets(WeightScheme::kMxfp4W4A16, moe::Family::kMixtral, 96, 256, 4, 2, false)) {
    pr::MoeCase tp2 = c;
    tp2.target = t;
    const pd::Plan whole = pr::plan_for(tp2, pr::shipped_ruleset(t.ruleset));
    tp2.target.tp = 2;
    const pd::Plan ranks = pr::plan_for(tp2, pr::shipped_ruleset(t.ruleset));
    if (whole.intermediate_per_partition_padded == 256 && pr::unsupported_reason(ranks, tp2.scheme).empty() &&
        ranks.intermediate_per_partition_padded % 256 != 0) {
      c.target = t;
      found = true;
      break;
    }
  }
  ASSERT_TRUE(found) << "no target pads the TP-2 ranks off the 256 grid";
  const pr::Verdict v = pr::check_tensor_parallel(c, sim());
  ASSERT_FALSE(v.skipped) << v.message;
  EXPECT_TRUE(v.ok) << v.message;
  EXPECT_NE(v.message.find("TP 2"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("EP 2"), std::string::npos) << v.message;
  const pr::Faults b2 = pr::parse_faults("e8m0_scale_misindex");
  EXPECT_TRUE(pr::check_padding_invariance(c, sim(), b2).ok) << "B2 should be invisible at tp 1 here";
  const pr::Verdict bad = pr::check_tensor_parallel(c, sim(), b2);
  EXPECT_FALSE(bad.ok) << bad.message;
  EXPECT_EQ(bad.message.find("TP 2: 0 elements beyond"), std::string::npos) << "the TP 2 sum must differ: " << bad.message;
  EXPECT_EQ(bad.comparison.nonfinite_actual, 0) << "finite, wrong values: " << bad.message;
}

TEST(TensorParallel, ExpertParallelRanksSeeLocalIdsAndMinusOne) {
  pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 7, pads_hidden, moe::Family::kMixtral, 4, 2);
  c.target.tp = 2;
  c.target.ep = true;
  c.target.rank = 1;
  const pd::Plan plan = pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset));
  ASSERT_TRUE(plan.ok()) << *plan.error;
  const moecheck::device::PaddedCase p = pr::make_padded_case(c, plan);
  EXPECT_EQ(p.experts, 2);
  const moe::Routing r = moe::route_block(c.block, c.hidden_states).routing;
  for (std::int64_t t = 0; t < c.tokens(); ++t)
    for (std::int64_t j = 0; j < 2; ++j)
      EXPECT_EQ(p.topk_ids.at(t, j), r.ids(t, j) >= 2 ? r.ids(t, j) - 2 : -1) << "token " << t << " slot " << j;
  EXPECT_NE(pr::describe(c).find(" ep"), std::string::npos);
}

// ---- the suite runner ---------------------------------------------------------------------------

TEST(Suite, PassesWithoutFaultsAndCountsCells) {
  pr::SuiteOptions o;
  o.cases = 8;
  o.replay = false;
  o.properties = {"P1", "P4"};
  std::int64_t calls = 0;
  o.progress = [&calls](const pr::SuiteProgress&) { ++calls; };
  const pr::SuiteResult r = pr::run_suite(o);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_EQ(r.runs[0].property, pr::kP1PaddingInvariance);
  EXPECT_EQ(r.runs[0].cases_checked, 8);
  EXPECT_EQ(calls, 2 * 8 + 2);  // one per case, one per finished property
  std::int64_t p4 = 0;
  for (const pr::CellResult& c : r.cells)
    if (c.property == pr::kP4Routing) {
      EXPECT_EQ(c.backend, "host");
      p4 += c.cases;
    }
  EXPECT_EQ(p4, 8);
}

TEST(Suite, AFaultFailsShrinksAndPersistsOneFixture) {
  moecheck_test::TempDir dir("moecheck_suite_");
  pr::SuiteOptions o;
  o.cases = 100;
  o.replay = false;
  o.properties = {"P1_padding_invariance", "P3"};
  o.faults = pr::parse_faults("uninit_pad_weights");
  o.persist_to = dir.path();
  o.stop_at_first_failure = true;
  const pr::SuiteResult r = pr::run_suite(o);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.runs.size(), 1u);  // stopped at the first failing property
  const pr::PropertyRun& run = r.runs[0];
  EXPECT_FALSE(run.ok);
  EXPECT_GE(run.cases_to_failure, 1);
  EXPECT_LE(run.cases_to_failure, 100);
  ASSERT_TRUE(run.counterexample.has_value());
  EXPECT_LE(run.counterexample->c.tokens(), 4) << pr::describe(run.counterexample->c);
  EXPECT_LE(run.counterexample->c.block.num_experts(), 2) << pr::describe(run.counterexample->c);
  EXPECT_EQ(run.reproduce.rfind("reproduce=", 0), 0u);
  ASSERT_FALSE(run.fixture.empty());
  EXPECT_TRUE(fs::exists(run.fixture)) << run.fixture;
  // The fixture passes without the fault and fails with it.
  EXPECT_TRUE(pr::replay_regressions({dir.path()}).failures.empty());
  EXPECT_FALSE(pr::replay_regressions({dir.path()}, o.faults).failures.empty());
  // Same seed, same failure, same fixture.
  const pr::SuiteResult again = pr::run_suite(o);
  EXPECT_EQ(again.runs[0].cases_to_failure, run.cases_to_failure);
  EXPECT_EQ(again.runs[0].fixture, run.fixture);
}

TEST(Suite, MethodFilterAndTimeBudget) {
  pr::SuiteOptions o;
  o.cases = 10;
  o.replay = false;
  o.properties = {"P1"};
  o.methods = {"mxfp4"};
  const pr::SuiteResult r = pr::run_suite(o);
  EXPECT_TRUE(r.ok());
  for (const pr::CellResult& c : r.cells) EXPECT_EQ(c.method, "mxfp4");
  o.time_budget_seconds = 1e-9;
  o.cases = 50;
  const pr::SuiteResult t = pr::run_suite(o);
  EXPECT_TRUE(t.runs[0].stopped_by_time);
  EXPECT_LT(t.runs[0].cases_checked, 50);
  EXPECT_TRUE(t.ok()) << t.runs[0].failure;  // cut short is not a failure
}

TEST(Suite, RejectsUnknownNames) {
  pr::SuiteOptions o;
  o.replay = false;
  o.backends = {"tpu"};
  EXPECT_THROW(pr::run_suite(o), std::invalid_argument);
  o.backends = {};
  o.methods = {"mxfp5"};
  EXPECT_THROW(pr::run_suite(o), std::invalid_argument);
  o.methods = {};
  o.properties = {"P9"};
  EXPECT_THROW(pr::run_suite(o), std::invalid_argument);
}

// ---- the committed corpus -----------------------------------------------------------------------

// fixtures/regressions holds the shrunk counterexamples `moecheck selftest --save-to` wrote, one per
// catalogued fault (shared where two faults shrink to the same case). They pass on the correct
// code, and replaying them alone catches every catalogued fault.
TEST(RegressionCorpus, PassesCleanAndCatchesEveryCatalogFault) {
  const fs::path dir = fs::path(MOECHECK_SOURCE_DIR) / "fixtures" / "regressions";
  const pr::ReplayResult clean = pr::replay_regressions({dir});
  ASSERT_GE(clean.fixtures, 1);
  EXPECT_TRUE(clean.failures.empty()) << clean.failures.front();
  for (const pr::FaultInfo& f : pr::fault_catalog()) {
    const pr::ReplayResult r = pr::replay_regressions({dir}, pr::parse_faults(f.name));
    EXPECT_FALSE(r.failures.empty()) << f.name << " (" << f.bug << ") escapes the committed corpus";
  }
}

// The corpus is more than one case per fault: `moecheck selftest --matrix --save-to` under each
// --dtype and --layout kept every property's shrunk counterexample, so the committed cases span both
// model dtypes, both gate/up layouts and every property that catches a fault, P6 included (its
// cases shard at TP 2 / 4 and EP 2 / 4).
TEST(RegressionCorpus, SpansDtypesLayoutsAndTheCatchingProperties) {
  const fs::path dir = fs::path(MOECHECK_SOURCE_DIR) / "fixtures" / "regressions";
  std::set<std::string> properties;
  std::set<std::pair<moe::Dtype, moe::GateUpLayout>> kinds;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (!moecheck::fixtures::is_case_fixture(e.path())) continue;
    const moecheck::fixtures::CaseFixture f = moecheck::fixtures::read_case_fixture(e.path());
    properties.insert(f.property);
    kinds.insert({f.c.block.dtype, f.c.block.semantics.layout});
  }
  for (const char* p : {"P1_padding_invariance", "P2_golden_agreement", "P3_poison", "P4_routing", "P5_metamorphic",
                        "P6_tensor_parallel"})
    EXPECT_TRUE(properties.count(p)) << p << ": no committed counterexample";
  for (const moe::Dtype d : {moe::Dtype::kF32, moe::Dtype::kBf16})
    for (const moe::GateUpLayout l : {moe::GateUpLayout::kConcatenated, moe::GateUpLayout::kInterleaved})
      EXPECT_TRUE(kinds.count({d, l})) << moe::name(d) << (l == moe::GateUpLayout::kInterleaved ? " interleaved" : " concatenated");
}

// Filters that admit no case are bad input, not a pass: FP8 blocks store gate and up apart, and
// the interleaved family (gpt-oss) cannot hold them.
TEST(Suite, FiltersThatAdmitNoCaseAreAnError) {
  pr::SuiteOptions o;
  o.properties = {"P1"};
  o.methods = {"fp8_block"};
  o.cases = 3;
  o.replay = false;
  o.case_options.layout = moe::GateUpLayout::kInterleaved;
  try {
    pr::run_suite(o);
    ADD_FAILURE() << "no error";
  } catch (const pr::NoCases& e) {
    EXPECT_NE(std::string(e.what()).find("no case can be generated with these filters (methods fp8_block"),
              std::string::npos)
        << e.what();
  }
  o.case_options.layout = moe::GateUpLayout::kConcatenated;
  o.case_options.dtype = moe::Dtype::kBf16;
  const pr::SuiteResult r = pr::run_suite(o);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_TRUE(r.runs[0].ok) << r.runs[0].failure;
}

// ---- FP8 128×128 block weights ----------------------------------------------------------------

// Both FP8-block schemes: W8A16 (CPU, Marlin) and W8A8 with per-token-group activations (the
// other backends) have targets, none of which pads; each passes P1, P2, P5 and P6 on the sim.
TEST(Fp8Block, UnpaddedTargetsPassP1P2P5AndShardOnBlockBoundaries) {
  for (const WeightScheme scheme : {WeightScheme::kFp8Block128W8A16, WeightScheme::kFp8Block128W8A8}) {
    const auto targets = pg::valid_targets(scheme, moe::Family::kQwen3Moe, 256, 256, 4, 2, false);
    ASSERT_FALSE(targets.empty()) << moecheck::device::name(scheme);
    for (const pr::PadTarget& t : targets) {
      EXPECT_EQ(t.method, "fp8_block");
      EXPECT_EQ(moecheck::reference::quant::scheme_for(t.method, t.backend)->scheme, scheme) << t.backend;
    }
    EXPECT_TRUE(pg::valid_targets(scheme, moe::Family::kQwen3Moe, 256, 256, 4, 2, true).empty())
        << "no shipped fp8_block rule pads";
    const pr::MoeCase c = exposing_case(scheme, 256, 256, 5, pads_nothing, moe::Family::kQwen3Moe);
    for (const pr::Verdict& v : {pr::check_padding_invariance(c, sim()), pr::check_golden_agreement(c, sim()),
                                 pr::check_metamorphic(c, sim()), pr::check_tensor_parallel(c, sim())}) {
      EXPECT_FALSE(v.skipped) << v.property << " " << moecheck::device::name(scheme);
      EXPECT_TRUE(v.ok) << v.message;
    }
  }
  // I = 192 over TP 2: rank 1 would start at row 96, inside a 128-row scale block. The 2026 rulesets
  // refuse it as vLLM's create_weights does (W8A16 on CPU / Marlin); W8A8 cannot even store the
  // 96-column shard's activation groups.
  pr::MoeCase odd = exposing_case(WeightScheme::kFp8Block128W8A16, 256, 256, 3, pads_nothing, moe::Family::kQwen3Moe);
  odd = [&] {
    pg::CaseSpec s;
    s.family = moe::Family::kQwen3Moe;
    s.dtype = moe::Dtype::kF32;
    s.scheme = WeightScheme::kFp8Block128W8A16;
    s.hidden = 256;
    s.intermediate = 192;
    s.experts = 4;
    s.top_k = 2;
    s.tokens = 3;
    s.target = odd.target;
    return pg::build_case(s);
  }();
  odd.target.tp = 2;
  const std::string why = pr::unsupported_reason(pr::plan_for(odd, pr::shipped_ruleset(odd.target.ruleset)), odd.scheme);
  EXPECT_NE(why.find("not a multiple of the weight block (block_n 128)"), std::string::npos) << why;
  odd.scheme = WeightScheme::kFp8Block128W8A8;
  odd.target = pr::PadTarget{"vllm-38043", "fp8_block", "DEFAULT", "cuda:sm90", 2, 0};
  const std::string w8a8 = pr::unsupported_reason(pr::plan_for(odd, pr::shipped_ruleset(odd.target.ruleset)), odd.scheme);
  EXPECT_NE(w8a8.find("fp8_block128_w8a8 needs H and I multiples of 128; found H 256, I 96"), std::string::npos) << w8a8;
}

// ---- a backend that is not order-preserving -----------------------------------------------------

// The sim with its padded runs moved by `shift` ULPs (as a kernel whose padded tiles sum in another
// order might be), declaring a 2-ULP bound: P1 and P3 accept up to the bound and no further.
class ShiftedBackend : public moecheck::device::Backend {
 public:
  explicit ShiftedBackend(int shift) : shift_(shift) {}
  std::string_view name() const override { return "shifted-sim"; }
  moecheck::device::Capabilities capabilities() const override {
    moecheck::device::Capabilities c = sim().capabilities();
    c.order_preserving = false;
    c.ulp_bound = 2;
    c.tolerance_reason = "test: padded runs moved by a few ulps";
    return c;
  }
  void run(const moecheck::device::PaddedCase& c, std::span<float> out) const override {
    sim().run(c, out);
    if (c.plan.hidden_padded == c.plan.hidden && c.plan.intermediate_per_partition_padded == c.plan.intermediate_per_partition)
      return;
    for (float& x : out)
      for (int i = 0; i < shift_; ++i) x = std::nextafter(x, INFINITY);
  }

 private:
  int shift_;
};

TEST(UlpBound, NonOrderPreservingBackendsGetTheirDeclaredBound) {
  const pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 3, pads_hidden);
  const ShiftedBackend within(2), beyond(3);
  const pr::Verdict ok = pr::check_padding_invariance(c, within);
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_NE(ok.message.find("within 2 ulp (test: padded runs moved by a few ulps)"), std::string::npos) << ok.message;
  EXPECT_EQ(ok.comparison.max_ulp, 2u);
  const pr::Verdict bad = pr::check_padding_invariance(c, beyond);
  EXPECT_FALSE(bad.ok) << bad.message;
  EXPECT_EQ(bad.comparison.max_ulp, 3u);
  EXPECT_TRUE(pr::check_poison(c, within).ok);
  EXPECT_FALSE(pr::check_poison(c, beyond).ok);
}

// ---- the shared expert in the padded path --------------------------------------------------------

// A Qwen2-MoE block (shared expert with its sigmoid gate) and a Llama-4 one (shared expert, router
// weight on the input), MXFP4 padded for a rule that pads: the finalize adds the shared expert on
// the logical hidden states, so every property passes; leaving it out (the routed output alone) is
// caught by P2; and the case fixture keeps the shared expert (content hash and golden output).
TEST(SharedExpert, FinalizeAddsItToThePaddedPathsOutput) {
  for (const moe::Family family : {moe::Family::kQwen2Moe, moe::Family::kLlama4}) {
    const pr::MoeCase c = exposing_case(WeightScheme::kMxfp4W4A16, 96, 64, 3, pads_hidden, family);
    ASSERT_TRUE(c.block.shared_expert.has_value()) << moe::name(family);
    EXPECT_EQ(c.block.shared_expert_gate.has_value(), family == moe::Family::kQwen2Moe);
    for (const pr::Verdict& v : {pr::check_padding_invariance(c, sim()), pr::check_golden_agreement(c, sim()),
                                 pr::check_poison(c, sim()), pr::check_metamorphic(c, sim()),
                                 pr::check_tensor_parallel(c, sim())}) {
      EXPECT_TRUE(v.ok) << v.message;
    }
    // Without the finalize the output misses the shared expert: far outside P2's bound.
    const moecheck::device::PaddedCase p = pr::make_padded_case(c, pr::plan_for(c, pr::shipped_ruleset(c.target.ruleset)));
    const std::vector<float> routed = pr::run_and_slice(sim(), p);
    const std::vector<float> layer = pr::finalize(c, routed);
    const moe::MoeOutput g = pr::golden(c);
    double routed_err = 0, layer_err = 0, scale = 0;
    for (std::size_t n = 0; n < layer.size(); ++n) {
      routed_err = std::max(routed_err, std::abs(double{routed[n]} - g.output.data()[n]));
      layer_err = std::max(layer_err, std::abs(double{layer[n]} - g.output.data()[n]));
      scale = std::max(scale, std::abs(double{g.output.data()[n]}));
    }
    EXPECT_LT(layer_err, scale / (1 << 16)) << moe::name(family);
    EXPECT_GT(routed_err, scale / (1 << 5)) << moe::name(family);
    // Round trip through a case fixture.
    moecheck_test::TempDir dir("moecheck_shared_");
    const fs::path path = pr::write_counterexample({c, pr::kP2GoldenAgreement, "T/N", "reproduce=x", "m"}, dir.path());
    const pr::CaseFixture back = pr::read_case_fixture(path);
    ASSERT_TRUE(back.c.block.shared_expert.has_value());
    EXPECT_EQ(back.c.block.shared_expert_gate.has_value(), c.block.shared_expert_gate.has_value());
    EXPECT_EQ(pr::content_hash(back.c, pr::kP2GoldenAgreement), pr::content_hash(c, pr::kP2GoldenAgreement));
    EXPECT_EQ(pr::golden(back.c).output, g.output);
  }
}
