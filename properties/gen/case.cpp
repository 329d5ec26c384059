#include "properties/gen/case.h"

#include <algorithm>
#include <iterator>
#include <cmath>
#include <map>
#include <tuple>

#include "fixtures/ruleset_json.h"
#include "properties/quarantine.h"
#include "reference/padding/platform.h"
#include "reference/padding/registry.h"
#include "reference/quant/marlin.h"
#include "reference/quant/scheme.h"

namespace moecheck::properties::gen {

namespace moe = reference::moe;
namespace pd = reference::padding;
using device::WeightScheme;

std::ostream& operator<<(std::ostream& os, const CaseSpec& s) {
  return os << moe::name(s.family) << " " << moe::name(s.dtype) << " " << device::name(s.scheme) << " T" << s.tokens
            << " H" << s.hidden << " I" << s.intermediate << " E" << s.experts << " k" << s.top_k << " | "
            << s.target.ruleset << " " << s.target.method << " " << s.target.backend << " " << s.target.platform
            << " tp" << s.target.tp << "/" << s.target.rank
            << (s.target.batch_rows > 0 ? " batch" + std::to_string(s.target.batch_rows) + ":" +
                                              std::string(pd::name(s.target.pad_row_fill))
                                        : std::string())
            << " | x " << s.activations << ", w " << s.weights;
}

namespace {

}  // namespace

bool has_shared_expert(moe::Family family) {
  switch (family) {
    case moe::Family::kQwen2Moe:
    case moe::Family::kDeepseekV2:
    case moe::Family::kDeepseekV3:
    case moe::Family::kLlama4:
    case moe::Family::kGraniteMoeShared: return true;
    default: return false;
  }
}

namespace {

// `rows` x `cols` values of `spec` with its scale replaced and its seed offset by `salt`.
std::vector<float> values(ValueSpec spec, std::uint32_t salt, float scale, std::int64_t rows, std::int64_t cols) {
  spec.seed = spec.seed * 131u + salt;
  spec.scale = scale;
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  fill(spec, v);
  return v;
}

moe::Weight make_weight(WeightScheme scheme, const std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
  return moe::quantize_weight(scheme, Eigen::Map<const reference::quant::RowMatrixXf>(v.data(), rows, cols));
}

// gate_up as the scheme's checkpoints store it (quant::GateUpParts): one [2I, H] tensor, or gate and
// up apart, each with its own scales (DeepSeek-V3's FP8 grids; vLLM's per-half grid).
moe::StackedWeight make_gate_up(WeightScheme scheme, std::vector<float> v, std::int64_t i, std::int64_t h) {
  moe::StackedWeight w;
  if (reference::quant::spec(scheme).gate_up == reference::quant::GateUpParts::kFused) {
    w.parts.push_back(make_weight(scheme, v, 2 * i, h));
    return w;
  }
  const auto half = static_cast<std::ptrdiff_t>(i * h);
  w.parts.push_back(make_weight(scheme, std::vector<float>(v.begin(), v.begin() + half), i, h));
  w.parts.push_back(make_weight(scheme, std::vector<float>(v.begin() + half, v.end()), i, h));
  return w;
}

}  // namespace

MoeCase build_case(const CaseSpec& s) {
  MoeCase c;
  moe::MoeBlock& b = c.block;
  b.family = s.family;
  b.dtype = s.dtype;
  b.hidden = s.hidden;
  b.intermediate = s.intermediate;
  b.semantics = moe::semantics(s.family);
  b.semantics.router.top_k = s.top_k;
  const bool biases = s.family == moe::Family::kGptOss;
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.hidden));
  const float mid_scale = 1.0f / std::sqrt(static_cast<float>(s.intermediate));
  // The router always gets normal weights: ties in the top-k (grid values) would make routing
  // depend on tie-breaking, which the spec leaves to the implementation.
  ValueSpec router_spec = s.weights;
  router_spec.distribution = Distribution::kNormal;
  b.router = moe::DenseWeight{s.experts, s.hidden, values(router_spec, 1, 1.0f, s.experts, s.hidden)};
  if (biases) b.router_bias = values(router_spec, 2, 1.0f, 1, s.experts);
  for (std::int64_t e = 0; e < s.experts; ++e) {
    moe::Expert x;
    const auto salt = static_cast<std::uint32_t>(16 + 4 * e);
    x.gate_up = make_gate_up(s.scheme, values(s.weights, salt, in_scale, 2 * s.intermediate, s.hidden),
                             s.intermediate, s.hidden);
    x.down.parts.push_back(make_weight(s.scheme, values(s.weights, salt + 1, mid_scale, s.hidden, s.intermediate),
                                       s.hidden, s.intermediate));
    if (biases) {
      x.gate_up_bias = values(router_spec, salt + 2, 0.5f, 1, 2 * s.intermediate);
      x.down_bias = values(router_spec, salt + 3, 0.5f, 1, s.hidden);
    }
    b.experts.push_back(std::move(x));
  }
  // The shared expert of the families that have one: dense in the model dtype (vLLM runs it as a
  // layer of its own, outside the fused-MoE kernel), SwiGLU with gate/up concatenated, no biases, of
  // the routed experts' intermediate size; Qwen2-MoE scales it by σ(x · gate).
  if (has_shared_expert(s.family)) {
    moe::Expert shared;
    const auto salt = static_cast<std::uint32_t>(16 + 4 * s.experts);
    shared.gate_up.parts.push_back(moe::DenseWeight{
        2 * s.intermediate, s.hidden, values(s.weights, salt, in_scale, 2 * s.intermediate, s.hidden)});
    shared.down.parts.push_back(
        moe::DenseWeight{s.hidden, s.intermediate, values(s.weights, salt + 1, mid_scale, s.hidden, s.intermediate)});
    b.shared_expert = std::move(shared);
    if (s.family == moe::Family::kQwen2Moe)
      b.shared_expert_gate = moe::DenseWeight{1, s.hidden, values(router_spec, salt + 2, in_scale, 1, s.hidden)};
  }
  c.scheme = s.scheme;
  const std::vector<float> h = values(s.activations, 3, s.activations.scale, s.tokens, s.hidden);
  c.hidden_states = Eigen::Map<const RowMatrix<float>>(h.data(), s.tokens, s.hidden);
  c.target = s.target;
  return c;
}

namespace {
enum class TargetFilter : std::uint8_t { kAny, kPadded, kHiddenPadded };

const std::vector<PadTarget>& targets(WeightScheme scheme, moe::Family family, std::int64_t hidden,
                                      std::int64_t intermediate, std::int64_t experts, std::int64_t top_k,
                                      TargetFilter filter) {
  using Key = std::tuple<WeightScheme, moe::Family, std::int64_t, std::int64_t, std::int64_t, std::int64_t, TargetFilter>;
  static std::map<Key, std::vector<PadTarget>> cache;
  const Key key{scheme, family, hidden, intermediate, experts, top_k, filter};
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::vector<PadTarget> out;
  MoeCase probe;  // only what plan_for reads
  probe.scheme = scheme;  // plan_for reads its WNA16 group size (Marlin's tile padding)
  probe.block.family = family;
  probe.block.semantics = moe::semantics(family);  // the activation and layout the rules look at
  probe.block.hidden = hidden;
  probe.block.intermediate = intermediate;
  probe.block.experts.resize(static_cast<std::size_t>(experts));
  if (family == moe::Family::kGptOss) probe.block.experts.front().gate_up_bias = {0.0f};
  probe.block.semantics.router.top_k = top_k;
  // A row whose kernel cannot take the family's block (KernelContract) has no target for it.
  if (!kernel_problem(probe).empty()) return cache.emplace(key, std::move(out)).first->second;
  for (const std::string& rs_name : fixtures::ruleset_names()) {
    const pd::Ruleset& rs = shipped_ruleset(rs_name);
    for (const reference::quant::MethodBinding& binding : reference::quant::spec(scheme).methods) {
      const std::string method(binding.method);
      const pd::MethodRules* rules = rs.find_method(method);
      if (!rules) continue;
      for (const pd::BackendChoice& choice : rules->backends)
        for (const pd::Platform& platform : pd::platforms()) {
          // Only the backends that run the method with this scheme's numerics.
          if (!binding.binds(choice.name)) continue;
          if (!pd::backend_runs_on(choice, platform)) continue;
          probe.target = PadTarget{rs_name, method, choice.name, std::string(platform.name), 1, 0};
          const pd::Plan plan = plan_for(probe, rs);
          if (!unsupported_reason(plan, scheme).empty() || quarantined(plan, "*")) continue;
          if (filter == TargetFilter::kPadded && !plan.hidden_is_padded() && !plan.intermediate_is_padded()) continue;
          if (filter == TargetFilter::kHiddenPadded && !plan.hidden_is_padded()) continue;
          out.push_back(probe.target);
        }
    }
  }
  return cache.emplace(key, std::move(out)).first->second;
}
}  // namespace

const std::vector<PadTarget>& valid_targets(WeightScheme scheme, moe::Family family, std::int64_t hidden,
                                            std::int64_t intermediate, std::int64_t experts, std::int64_t top_k,
                                            bool require_padding) {
  return targets(scheme, family, hidden, intermediate, experts, top_k,
                 require_padding ? TargetFilter::kPadded : TargetFilter::kAny);
}

const std::vector<PadTarget>& hidden_padding_targets(WeightScheme scheme, moe::Family family, std::int64_t hidden,
                                                     std::int64_t intermediate, std::int64_t experts,
                                                     std::int64_t top_k) {
  return targets(scheme, family, hidden, intermediate, experts, top_k, TargetFilter::kHiddenPadded);
}

const std::vector<UnboundTargets>& unbound_targets() {
  static const std::vector<UnboundTargets> out = [] {
    std::vector<UnboundTargets> v;
    for (const std::string& rs_name : fixtures::ruleset_names()) {
      const pd::Ruleset& rs = shipped_ruleset(rs_name);
      for (const pd::MethodRules& rules : rs.methods)
        for (const pd::BackendChoice& choice : rules.backends) {
          const std::string& method = rules.name;
          if (reference::quant::scheme_for(method, choice.name)) continue;
          auto it = std::find_if(v.begin(), v.end(), [&](const UnboundTargets& u) { return u.method == method; });
          if (it == v.end()) {
            const reference::quant::UnboundReason* why = reference::quant::unbound_reason(method);
            v.push_back({method, {}, why ? std::string(why->why) : std::string()});
            it = std::prev(v.end());
          }
          if (std::find(it->backends.begin(), it->backends.end(), choice.name) == it->backends.end())
            it->backends.push_back(choice.name);
        }
    }
    return v;
  }();
  return out;
}

namespace {
struct Shape {
  moe::Family family;
  moe::Dtype dtype;
  WeightScheme scheme;
  std::int64_t hidden, intermediate;
  ExpertCount ek;
  std::int64_t tokens;
};
}  // namespace

namespace {
std::vector<PadTarget> of_methods(const std::vector<PadTarget>& targets, const std::vector<std::string>& methods) {
  if (methods.empty()) return targets;
  std::vector<PadTarget> out;
  for (const PadTarget& t : targets)
    if (std::find(methods.begin(), methods.end(), t.method) != methods.end()) out.push_back(t);
  return out;
}
}  // namespace

rc::Gen<CaseSpec> case_spec(CaseOptions o) {
  std::vector<WeightScheme> schemes;
  for (const reference::quant::SchemeSpec& spec : reference::quant::weight_schemes()) {
    const WeightScheme s = spec.scheme;
    const std::vector<std::string> ms = methods_for(s);
    const bool wanted = o.methods.empty() || std::any_of(ms.begin(), ms.end(), [&](const std::string& m) {
                          return std::find(o.methods.begin(), o.methods.end(), m) != o.methods.end();
                        });
    if (wanted) schemes.push_back(s);
  }
  if (schemes.empty()) throw std::invalid_argument("case_spec: no weight scheme has any of the requested methods");
  // Schemes that some shipped rule pads are drawn three times as often as the others: padding is
  // where the bugs are, and most rows (FP8 blocks, WNA16 on Triton) are never padded by any rule.
  // Probed on a few small sizes; only the drawing odds depend on it, not which cases are valid.
  // Those that some rule pads H for (padded activations and a sliced output: B5–B7) six times.
  std::vector<WeightScheme> weighted_schemes;  // a padded scheme three times: shrinking_element is uniform
  for (const WeightScheme s : schemes) {
    bool pads = false, pads_hidden = false;
    for (const std::int64_t size : {96, 128, 160, 256})
      for (const moe::Family family : {moe::Family::kMixtral, moe::Family::kGptOss}) {
        pads = pads || !valid_targets(s, family, size, size, 8, 2, true).empty();
        pads_hidden = pads_hidden || !hidden_padding_targets(s, family, size, size, 8, 2).empty();
      }
    // So are the weight-only 2-D scale grids, whose TP shards a ruleset may cut off the block grid
    // (B16; W8A8 refuses such shards).
    const reference::quant::SchemeSpec& row = reference::quant::spec(s);
    for (const reference::quant::ComponentSpec& c : row.components)
      pads = pads || (c.row_block > 1 && !row.activation.quantized());
    weighted_schemes.insert(weighted_schemes.end(), pads_hidden ? 6 : pads ? 3 : 1, s);
  }
  const rc::Gen<WeightScheme> scheme_gen = shrinking_element(weighted_schemes);
  // The shared-expert families (their finalize adds a dense expert to the padded path's output)
  // beside the plain ones; Llama-4 also weights the input, not the output.
  std::vector<moe::Family> families;
  for (const moe::Family f : {moe::Family::kMixtral, moe::Family::kQwen3Moe, moe::Family::kGptOss, moe::Family::kQwen2Moe,
                              moe::Family::kLlama4, moe::Family::kGraniteMoeShared, moe::Family::kDeepseekV2})
    if (!o.layout || moe::semantics(f).layout == *o.layout) families.push_back(f);
  std::vector<moe::Dtype> dtypes;
  for (const moe::Dtype d : {moe::Dtype::kF32, moe::Dtype::kBf16})
    if (!o.dtype || d == *o.dtype) dtypes.push_back(d);
  if (families.empty() || dtypes.empty())
    throw std::invalid_argument("case_spec: no generated family has the requested gate/up layout and dtype");
  // With a method filter only MXFP4-sized shapes may be needed: a shape whose scheme fell back to
  // dense (sizes not whole 32-blocks) or has no target of the filtered methods is redrawn.
  const auto shape = rc::gen::suchThat(
      rc::gen::apply(
          [](moe::Family f, moe::Dtype d, WeightScheme s, std::int64_t h, std::int64_t i, ExpertCount ek,
             std::int64_t t, std::int64_t h_off, std::int64_t i_off) {
            // Separately stored gate and up (FP8 grids) cannot be interleaved row by row: the
            // interleaved family, gpt-oss, ships MXFP4.
            if (reference::quant::spec(s).gate_up == reference::quant::GateUpParts::kSeparate &&
                moe::semantics(f).layout == moe::GateUpLayout::kInterleaved)
              s = WeightScheme::kMxfp4W4A16;
            // Generated sizes (whole 32-blocks) that a coarser scheme cannot store (FP8 W8A8 and
            // WNA16: whole 128-groups) are rounded up to its multiple, so that the scheme is drawn
            // as often as the others; sizes that are not whole 32-blocks (a real size like 720)
            // stay dense.
            const std::int64_t multiple = reference::quant::spec(s).size_multiple;
            if (h % kSizeQuantum == 0 && i % kSizeQuantum == 0 && multiple % kSizeQuantum == 0) {
              h = reference::quant::round_up(h, multiple);
              i = reference::quant::round_up(i, multiple);
            }
            // A scheme that stores finer sizes gets them off the 32-grid too (off_grid_offset),
            // in steps of its own multiple.
            if (h % kSizeQuantum == 0 && i % kSizeQuantum == 0 && multiple < kSizeQuantum) {
              h += h_off / multiple * multiple;
              i += i_off / multiple * multiple;
            }
            // Marlin runs only layers whose H is a multiple of 128 (marlin_moe_shape_problem; vLLM
            // picks another backend otherwise): its rows get such an H, and I as drawn, which
            // Marlin's tile padding rounds.
            if (reference::quant::spec(s).repack == reference::quant::WeightRepack::kMarlin &&
                h % kSizeQuantum == 0)
              h = reference::quant::round_up(h, reference::quant::kMarlinMoeHiddenMultiple);
            if (!reference::quant::size_problem(reference::quant::spec(s), h, i).empty()) s = WeightScheme::kDense;
            // A scheme no bound backend pads or shards for these sizes (FP8 grids: the ruleset's
            // shard rules need whole blocks; W8A16 FP8 only on CPU and Marlin) stays dense too.
            if (valid_targets(s, f, h, i, ek.experts, ek.top_k, false).empty()) s = WeightScheme::kDense;
            return Shape{f, d, s, h, i, ek, t};
          },
          shrinking_element<moe::Family>(families), shrinking_element<moe::Dtype>(dtypes), scheme_gen,
          feature_size(o.allow_large), feature_size(o.allow_large), experts_and_top_k(o.max_experts),
          token_count(o.max_tokens), off_grid_offset(), off_grid_offset()),
      [o](const Shape& sh) {
        return o.methods.empty() ||
               !of_methods(valid_targets(sh.scheme, sh.family, sh.hidden, sh.intermediate, sh.ek.experts,
                                         sh.ek.top_k, o.require_padding),
                           o.methods)
                    .empty();
      });
  return rc::gen::mapcat(shape, [o](const Shape& sh) {
    const auto padded = of_methods(
        valid_targets(sh.scheme, sh.family, sh.hidden, sh.intermediate, sh.ek.experts, sh.ek.top_k, true), o.methods);
    const auto all = of_methods(valid_targets(sh.scheme, sh.family, sh.hidden, sh.intermediate, sh.ek.experts,
                                              sh.ek.top_k, o.require_padding),
                                o.methods);
    if (all.empty())
      throw std::logic_error("case_spec: no valid padding target for " + std::string(device::name(sh.scheme)) +
                             " H" + std::to_string(sh.hidden) + " I" + std::to_string(sh.intermediate));
    const auto hidden_padded = of_methods(
        hidden_padding_targets(sh.scheme, sh.family, sh.hidden, sh.intermediate, sh.ek.experts, sh.ek.top_k),
        o.methods);
    // Padding targets most of the time: they are where the bugs are; those that pad H (padded
    // activations, a sliced output) half of those times where the shape has any.
    const rc::Gen<PadTarget> target =
        padded.empty()          ? shrinking_element(all)
        : hidden_padded.empty() ? rc::gen::weightedOneOf<PadTarget>(
                                      {{3, shrinking_element(padded)}, {1, shrinking_element(all)}})
                                : rc::gen::weightedOneOf<PadTarget>({{3, shrinking_element(padded)},
                                                                     {3, shrinking_element(hidden_padded)},
                                                                     {2, shrinking_element(all)}});
    return rc::gen::apply(
        [sh](PadTarget t, ValueSpec x, ValueSpec w, TokenPadding pad) {
          if (pad.on) {
            t.batch_rows = graph_batch_rows(sh.tokens);
            t.pad_row_fill = pad.fill;
          }
          CaseSpec s;
          s.family = sh.family;
          s.dtype = sh.dtype;
          s.scheme = sh.scheme;
          s.hidden = sh.hidden;
          s.intermediate = sh.intermediate;
          s.experts = sh.ek.experts;
          s.top_k = sh.ek.top_k;
          s.tokens = sh.tokens;
          s.target = t;
          s.activations = x;
          s.weights = w;
          return s;
        },
        target, value_spec(1.0f), value_spec(1.0f),
        // A batch-coupled activation scale (the amax of the whole padded batch) lets a pad row change
        // every real token's output: vLLM does so, by design, so P1 cannot hold its cases to the
        // unpadded batch; they are drawn without token padding (quant::ActivationSpec::batch_coupled).
        reference::quant::spec(sh.scheme).activation.batch_coupled() ? rc::gen::just(TokenPadding{})
                                                                     : token_padding());
  });
}

}  // namespace moecheck::properties::gen
