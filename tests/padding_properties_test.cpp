// Properties of the rules themselves (RapidCheck), over every shipped ruleset, method, backend and
// platform: padded >= logical; each stage's alignment divides its padded size; rounding is
// idempotent and monotonic; the ranks' real rows cover the logical intermediate exactly once; and
// the plan, the weight shapes, the pad functions' outputs and the activation shapes agree.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/padding_test_util.h"

using namespace padding_test;

namespace {

const std::vector<std::string> kRulesets = {"vllm-pre-34285", "vllm-34285", "vllm-38043", "vllm-2026-05"};

struct Case {
  std::string ruleset, method, backend, platform;
  std::int64_t hidden = 1, intermediate_per_partition = 1;
  int tp = 1;
  bool ep = false;
  pd::All2All all2all = pd::All2All::kNone;
  pd::ActDtype act = pd::ActDtype::kBf16;
  bool gated = true;
  bool gpt_oss = false;
  std::int64_t experts = 1;

  pd::Problem problem() const {
    pd::Problem p;
    p.hidden = hidden;
    p.intermediate = intermediate_per_partition * (ep ? 1 : tp);
    p.experts = experts;
    p.gated = gated;
    if (gpt_oss) p.model_type = "gpt_oss";
    return p;
  }
  pd::Plan plan() const {
    return padding_test::plan(ruleset, method, backend, platform, problem(),
                              {.tp = tp, .ep = ep, .all2all = all2all, .act = act});
  }
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << c.ruleset << " " << c.method << " " << c.backend << " " << c.platform << " H" << c.hidden << " I"
            << c.intermediate_per_partition << " tp" << c.tp << (c.ep ? " ep" : "") << " all2all "
            << pd::name(c.all2all) << " " << pd::name(c.act) << (c.gated ? "" : " non-gated")
            << (c.gpt_oss ? " gpt_oss" : "") << " E" << c.experts;
}

// Sizes: often whole 32-blocks (so MX methods are valid), sometimes anything.
rc::Gen<std::int64_t> gen_size(std::int64_t max_blocks) {
  return rc::gen::oneOf(rc::gen::map(rc::gen::inRange<std::int64_t>(1, max_blocks + 1), [](std::int64_t b) { return 32 * b; }),
                        rc::gen::map(rc::gen::inRange<std::int64_t>(1, max_blocks + 1), [](std::int64_t b) { return 32 * b; }),
                        rc::gen::inRange<std::int64_t>(1, 32 * max_blocks + 1));
}

// (ruleset, method, backend, platform) that can run, composed so that shrinking stays valid.
rc::Gen<Case> gen_combination() {
  return rc::gen::mapcat(rc::gen::elementOf(kRulesets), [](const std::string& rs) {
    std::vector<std::string> methods;
    for (const auto& m : ruleset(rs).methods) methods.push_back(m.name);
    return rc::gen::mapcat(rc::gen::elementOf(methods), [rs](const std::string& method) {
      std::vector<std::pair<std::string, std::string>> runs;  // (backend, platform)
      for (const auto& b : ruleset(rs).find_method(method)->backends)
        for (const auto& p : pd::platforms())
          if (pd::backend_runs_on(b, p)) runs.emplace_back(b.name, std::string(p.name));
      return rc::gen::map(rc::gen::elementOf(runs), [rs, method](const std::pair<std::string, std::string>& bp) {
        Case c;
        c.ruleset = rs;
        c.method = method;
        c.backend = bp.first;
        c.platform = bp.second;
        return c;
      });
    });
  });
}

rc::Gen<Case> gen_case(std::int64_t max_hidden_blocks, std::int64_t max_intermediate_blocks, std::vector<int> tps) {
  return rc::gen::apply(
      [](Case c, std::int64_t h, std::int64_t i, int tp, bool ep, pd::All2All a2a, pd::ActDtype act, bool gated,
         bool gpt_oss, std::int64_t experts) {
        c.hidden = h;
        c.intermediate_per_partition = i;
        c.tp = tp;
        c.ep = ep;
        c.all2all = a2a;
        c.act = act;
        c.gated = gated;
        c.gpt_oss = gpt_oss;
        c.experts = experts;
        return c;
      },
      gen_combination(), gen_size(max_hidden_blocks), gen_size(max_intermediate_blocks), rc::gen::elementOf(tps),
      rc::gen::arbitrary<bool>(),
      rc::gen::element(pd::All2All::kNone, pd::All2All::kNone, pd::All2All::kDeepepHt, pd::All2All::kDeepepLl,
                       pd::All2All::kNixl),
      rc::gen::element(pd::ActDtype::kBf16, pd::ActDtype::kFp16, pd::ActDtype::kFp32),
      rc::gen::element(true, true, false), rc::gen::arbitrary<bool>(), rc::gen::inRange<std::int64_t>(1, 5));
}

rc::Gen<Case> gen_big_case() { return gen_case(280, 128, {1, 2, 4, 8}); }   // H up to 8960, I/tp up to 4096
rc::Gen<Case> gen_small_case() { return gen_case(8, 6, {1, 2, 4}); }        // H up to 256, I/tp up to 192

}  // namespace

RC_GTEST_PROP(PaddingRules, PaddedIsAtLeastLogicalAndAlignmentsDivide, ()) {
  const Case c = *gen_big_case();
  RC_LOG() << c;
  const pd::Plan p = c.plan();
  RC_TAG(c.method);
  RC_PRE(p.ok());
  RC_ASSERT(p.hidden_after_all2all >= p.hidden);
  RC_ASSERT(p.hidden_allocated >= p.hidden_after_all2all);
  RC_ASSERT(p.hidden_padded >= p.hidden_allocated);
  RC_ASSERT(p.intermediate_per_partition_allocated >= p.intermediate_per_partition);
  RC_ASSERT(p.intermediate_per_partition_padded >= p.intermediate_per_partition_allocated);
  RC_ASSERT(p.hidden_after_all2all % p.all2all_alignment == 0);
  RC_ASSERT(p.hidden_allocated % p.allocation_hidden_alignment == 0);
  RC_ASSERT(p.intermediate_per_partition_allocated % p.allocation_intermediate_alignment == 0);
  RC_ASSERT(p.hidden_padded % p.post_load_hidden_alignment == 0);
  RC_ASSERT(p.intermediate_per_partition_padded % p.post_load_intermediate_alignment == 0);
  // Rounding up never overshoots by a whole alignment step (it is the *smallest* multiple).
  if (p.allocation_intermediate_alignment > 1)
    RC_ASSERT(p.intermediate_per_partition_allocated - p.intermediate_per_partition < p.allocation_intermediate_alignment);
  RC_ASSERT(pd::flop_overhead(p) >= 0.0);
  RC_ASSERT(pd::weight_bytes_overhead(p) >= -1e-12);
}

RC_GTEST_PROP(PaddingRules, RoundingIsIdempotent, ()) {
  const Case c = *gen_big_case();
  RC_LOG() << c;
  const pd::Plan p = c.plan();
  RC_PRE(p.ok());
  Case again = c;
  again.hidden = p.hidden_padded;
  again.intermediate_per_partition = p.intermediate_per_partition_padded;
  const pd::Plan q = again.plan();
  RC_ASSERT(q.ok());
  RC_ASSERT(q.hidden_padded == p.hidden_padded);
  RC_ASSERT(q.intermediate_per_partition_padded == p.intermediate_per_partition_padded);
}

RC_GTEST_PROP(PaddingRules, RoundsAreIdempotentAndMonotonic, (std::int64_t a, std::int64_t b)) {
  // Every Round in every shipped ruleset, on its own.
  const std::int64_t x = std::abs(a % 20000) + 1, y = std::abs(b % 20000) + 1;
  for (const auto& name : kRulesets) {
    const pd::Ruleset& rs = ruleset(name);
    std::vector<const pd::Rule*> rules;
    for (const auto& r : rs.all2all) rules.push_back(&r);
    for (const auto& [t, list] : rs.tables)
      for (const auto& r : list) rules.push_back(&r);
    for (const auto& m : rs.methods) {
      for (const auto& r : m.rules) rules.push_back(&r);
      for (const auto& r : m.post_load) rules.push_back(&r);
    }
    for (const pd::Rule* r : rules)
      for (const pd::Round* round : {&r->hidden, &r->intermediate})
        for (auto act : {pd::ActDtype::kBf16, pd::ActDtype::kFp32}) {
          const auto fx = pd::apply(*round, x, act), fy = pd::apply(*round, y, act);
          if (fx.error || fy.error) continue;
          RC_ASSERT(fx.value >= x);
          RC_ASSERT(fx.value % round->alignment(act) == 0);
          const auto ffx = pd::apply(*round, fx.value, act);
          RC_ASSERT(!ffx.error);
          RC_ASSERT(ffx.value == fx.value);
          if (x <= y) RC_ASSERT(fx.value <= fy.value);
        }
  }
}

RC_GTEST_PROP(PaddingRules, PlanIsMonotonic, ()) {
  const Case c = *gen_big_case();
  const std::int64_t dh = *rc::gen::inRange<std::int64_t>(0, 600);
  const std::int64_t di = *rc::gen::inRange<std::int64_t>(0, 300);
  Case bigger = c;
  bigger.hidden += dh;
  bigger.intermediate_per_partition += di;
  RC_LOG() << c << " vs +" << dh << "/+" << di;
  const pd::Plan p = c.plan(), q = bigger.plan();
  RC_PRE(p.ok() && q.ok());
  RC_ASSERT(p.hidden_padded <= q.hidden_padded);
  RC_ASSERT(p.intermediate_per_partition_padded <= q.intermediate_per_partition_padded);
}

RC_GTEST_PROP(PaddingRules, RanksCoverTheLogicalIntermediateExactlyOnce, ()) {
  const Case c = *gen_big_case();
  RC_LOG() << c;
  const pd::Plan p = c.plan();
  RC_PRE(p.ok());
  std::vector<pd::Loader> loaders = {pd::default_loader(p)};
  if (loaders.front() != pd::Loader::kGeneric) loaders.push_back(pd::Loader::kGeneric);
  for (pd::Loader loader : loaders) {
    const pd::Partition part = pd::partition(p, loader);
    if (!part.ok()) continue;  // a real loader failure (the gpt-oss slice does not fit): reported, not a cover
    std::vector<int> hits(static_cast<std::size_t>(p.intermediate_full), 0);
    std::int64_t experts_seen = 0;
    for (const auto& r : part.ranks) {
      RC_ASSERT(r.real_begin <= r.real_end);
      RC_ASSERT(r.real_rows() <= p.intermediate_per_partition_allocated);
      RC_ASSERT(r.padding_rows() >= 0);
      for (std::int64_t i = r.real_begin; i < r.real_end; ++i) ++hits[static_cast<std::size_t>(i)];
      experts_seen += r.experts();
    }
    if (p.parallel.enable_ep) {
      for (int h : hits) RC_ASSERT(h == static_cast<int>(part.ranks.size()));  // EP: every rank, all of I
      RC_ASSERT(experts_seen == c.experts);                                    // experts split exactly
    } else {
      for (int h : hits) RC_ASSERT(h == 1);
      RC_ASSERT(part.ranks.size() == static_cast<std::size_t>(c.tp));
      RC_ASSERT(std::count_if(part.ranks.begin(), part.ranks.end(), [](const pd::RankShard& r) { return r.holds_w2_bias; }) ==
                (part.biases_loaded ? 1 : 0));
    }
  }
}

RC_GTEST_PROP(PaddingRules, PlanWeightAndActivationShapesAgree, ()) {
  const Case c = *gen_small_case();
  RC_LOG() << c;
  const pd::Plan p = c.plan();
  RC_PRE(p.ok());
  const pd::MethodInfo& m = p.method_info();
  const pd::ExpertShapes s = pd::padded_shapes(p);
  const std::int64_t halves = c.gated ? 2 : 1;
  RC_ASSERT(s.w13 == (pd::Shape{p.local_experts, halves * p.intermediate_per_partition_padded,
                                m.weight_packing.storage(p.hidden_padded)}));
  RC_ASSERT(s.w2 == (pd::Shape{p.local_experts, p.hidden_padded, m.weight_packing.storage(p.intermediate_per_partition_padded)}));
  RC_ASSERT(s.w13_bias == (pd::Shape{p.local_experts, halves * p.intermediate_per_partition_padded}));
  RC_ASSERT(s.w2_bias == (pd::Shape{p.local_experts, p.hidden_padded}));

  // The pad functions produce exactly those shapes from a rank's logical tensors, for every rank.
  const pd::Partition part = pd::partition(p, pd::Loader::kGeneric);
  RC_PRE(part.ok());
  const bool interleaved = *rc::gen::arbitrary<bool>();
  const pd::W13Layout layout = interleaved ? pd::W13Layout::kInterleaved : pd::W13Layout::kConcatenated;
  const pd::Packing pack = m.weight_packing;
  for (const auto& r : part.ranks) {
    const std::int64_t e = r.experts();
    if (r.real_rows() % pack.elements != 0 || p.hidden % pack.elements != 0) continue;  // not storable as packed bytes
    pd::Tensor<std::uint8_t> w13({e, halves * r.real_rows(), pack.storage(p.hidden)}, 0x33);
    pd::Tensor<std::uint8_t> w2({e, p.hidden, pack.storage(r.real_rows())}, 0x44);
    const auto pw13 = pd::pad_w13(p, w13, layout, pd::Role::kWeight, pack);
    const auto pw2 = pd::pad_w2(p, w2, pd::Role::kWeight, pack);
    pd::ExpertShapes want = s;
    want.w13[0] = want.w2[0] = e;
    RC_ASSERT(pw13.shape == want.w13);
    RC_ASSERT(pw2.shape == want.w2);
    if (m.scale == pd::ScaleKind::kPerRowBlock && r.real_rows() % m.scale_block == 0 && p.hidden % m.scale_block == 0 &&
        p.fill.scale.kind == pd::FillKind::kByte) {
      const auto ps = pd::pad_w13(p, pd::Tensor<std::uint8_t>({e, halves * r.real_rows(), m.scale_packing.storage(p.hidden)}, 7),
                                  layout, pd::Role::kScale, m.scale_packing);
      RC_ASSERT(ps.shape == (pd::Shape{e, s.w13_scale[1], s.w13_scale[2]}));
    }
    // Where the plan zero-fills, the padded tensor is exactly the real bytes plus zeros (no poison
    // left, no real byte lost); where it does not (torch.empty), the poison stays (PadFill tests).
    const bool zero_fill = p.fill.weight.kind == pd::FillKind::kZero &&
                           (!p.has_post_load_padding() || p.post_load_fill.weight.kind == pd::FillKind::kZero);
    if (zero_fill) {
      std::int64_t real = 0;
      for (auto b : pw13.data) {
        real += b == 0x33;
        RC_ASSERT(b == 0x33 || b == 0x00);
      }
      RC_ASSERT(real == w13.numel());
    }
  }
  // Activations: the runner's output, the kernel's input and the output slice.
  const std::int64_t tokens = *rc::gen::inRange<std::int64_t>(1, 4);
  const pd::ActivationShapes a = pd::activation_shapes(p, tokens);
  pd::Tensor<float> x({tokens, p.hidden}, 0.5f);
  const auto runner = pd::pad_activations(p, x);
  RC_ASSERT(runner.shape == a.runner_output);
  RC_ASSERT(pd::kernel_activations(p, x).shape == a.kernel_input);
  if (!p.skip_forward_padding) RC_ASSERT(a.kernel_input == (pd::Shape{tokens, p.hidden_padded}));
  RC_ASSERT(pd::slice_output(p, runner).shape == a.output);
  RC_ASSERT(pd::routing_input(p, runner).shape == a.router);
  RC_ASSERT(pd::slice_output(p, runner).data == x.data);
}
