#include "reference/padding/plan.h"

#include <limits>

#include <stdexcept>

namespace moecheck::reference::padding {

std::string_view name(PadRowFill fill) {
  switch (fill) {
    case PadRowFill::kNaN: return "nan";
    case PadRowFill::kInf: return "inf";
    case PadRowFill::kZero: return "zero";
  }
  return "unknown";
}
std::optional<PadRowFill> parse_pad_row_fill(std::string_view text) {
  for (PadRowFill f : {PadRowFill::kNaN, PadRowFill::kInf, PadRowFill::kZero})
    if (name(f) == text) return f;
  return std::nullopt;
}
float value(PadRowFill fill) {
  switch (fill) {
    case PadRowFill::kNaN: return std::numeric_limits<float>::quiet_NaN();
    case PadRowFill::kInf: return std::numeric_limits<float>::infinity();
    case PadRowFill::kZero: return 0.0f;
  }
  return 0.0f;
}

namespace {

void record(Plan& plan, const Rule& rule, const Rule* via) {
  if (via && !via->note.empty()) plan.notes.push_back(via->note);
  if (!rule.note.empty()) plan.notes.push_back(rule.note);
  std::string source = rule.where;
  if (!rule.source.empty()) source += " (" + rule.source + ")";
  plan.sources.push_back(source);
}

// Applies one stage's rule to (hidden, intermediate): its requirements on the sizes it sees, then
// its rounding. Returns false (and sets plan.error) on error.
bool apply_rule(Plan& plan, const Rule& rule, std::int64_t& hidden, std::int64_t& intermediate,
                std::int64_t& hidden_alignment, std::int64_t& intermediate_alignment) {
  if (rule.error) {
    plan.error = *rule.error;
    return false;
  }
  const std::int64_t group = plan.problem.group_size;
  for (const Rule::Requirement& req : rule.require) {
    const std::int64_t size = req.hidden ? hidden : intermediate;
    const std::int64_t m = req.multiple_of.resolve(group);
    if (size % m != 0) {
      plan.error = req.error + " (" + (req.hidden ? "hidden " : "intermediate per partition ") + std::to_string(size) +
                   " is not a multiple of " + std::to_string(m) +
                   (req.multiple_of.group_size ? " = the group size" : "") + ")";
      return false;
    }
  }
  const RoundResult h = apply(rule.hidden, hidden, plan.act_dtype, group);
  if (h.error) {
    plan.error = "hidden: " + *h.error;
    return false;
  }
  const RoundResult i = apply(rule.intermediate, intermediate, plan.act_dtype, group);
  if (i.error) {
    plan.error = "intermediate: " + *i.error;
    return false;
  }
  hidden = h.value;
  intermediate = i.value;
  hidden_alignment = rule.hidden.alignment(plan.act_dtype, group);
  intermediate_alignment = rule.intermediate.alignment(plan.act_dtype, group);
  return true;
}

// Padded sizes must keep packed codes and scale blocks whole (bugs.md B13: FP4 /2, FP6 ·3/4, MX /32).
std::optional<std::string> storage_error(const MethodInfo& m, std::int64_t hidden, std::int64_t intermediate) {
  const std::int64_t pack = m.weight_packing.elements;
  const std::int64_t block = m.requires_whole_blocks ? m.scale_block : 1;
  for (auto [what, size] : {std::pair<const char*, std::int64_t>{"hidden", hidden}, {"intermediate", intermediate}}) {
    if (size % pack != 0)
      return std::string(what) + " " + std::to_string(size) + " is not a whole number of " + std::to_string(pack) +
             "-element packing groups of " + std::string(m.name);
    if (size % block != 0)
      return std::string(what) + " " + std::to_string(size) + " is not a whole number of " + std::to_string(block) +
             "-element scale blocks of " + std::string(m.name) + " (the scale tensor would hold a partial block)";
  }
  return std::nullopt;
}

}  // namespace

const MethodInfo& Plan::method_info() const {
  const MethodInfo* m = find_method_info(method);
  if (!m) throw std::invalid_argument("method '" + method + "' is not registered; valid: " + method_names());
  return *m;
}

MatchContext match_context(const Ruleset& ruleset, const Problem& problem, std::string_view method,
                           std::string_view backend, const Platform& platform, const ParallelConfig& parallel,
                           ActDtype act_dtype, const Settings& settings) {
  MatchContext c;
  c.method = ruleset.canonical_method(method);
  c.backend = backend;
  c.platform = &platform;
  c.model_type = problem.model_type;
  c.all2all = parallel.all2all;
  c.act_dtype = act_dtype;
  c.gated = problem.gated;
  c.ep = parallel.enable_ep;
  c.activation = problem.activation;
  c.routing = problem.routing;
  c.moe_tp = parallel.moe_tp_size();
  c.eplb = parallel.enable_eplb;
  c.has_bias = problem.has_bias;
  c.act_order = problem.act_order;
  c.act_scheme = problem.act_scheme;
  c.hidden = problem.hidden;
  c.intermediate = c.moe_tp > 0 ? problem.intermediate / c.moe_tp : problem.intermediate;
  c.group_size = problem.group_size;
  c.ruleset = &ruleset;
  c.settings = &settings;
  return c;
}

Plan make_plan(const Ruleset& ruleset, const Problem& problem, std::string_view method_name, std::string_view backend,
               const Platform& platform, const ParallelConfig& parallel, ActDtype act_dtype, const Settings& settings) {
  const std::string_view method = ruleset.canonical_method(method_name);
  Plan plan;
  plan.ruleset = ruleset.name;
  plan.method = std::string(method);
  plan.backend = std::string(backend);
  plan.platform = platform;
  plan.parallel = parallel;
  plan.act_dtype = act_dtype;
  plan.problem = problem;
  plan.hidden = problem.hidden;
  plan.intermediate_full = problem.intermediate;
  const int tp = parallel.moe_tp_size();
  const int ep = parallel.ep_size();
  plan.local_experts = problem.experts > 0 ? cdiv(problem.experts, ep) : 0;
  plan.hidden_after_all2all = plan.hidden_allocated = plan.hidden_padded = problem.hidden;

  auto fail = [&plan](std::string why) {
    plan.error = std::move(why);
    return plan;
  };
  if (problem.hidden <= 0 || problem.intermediate <= 0) return fail("hidden and intermediate sizes must be positive");
  if (tp <= 0 || ep <= 0) return fail("parallel sizes must be positive");
  // §1.3 step 1: FusedMoE asserts intermediate_size % tp_size == 0.
  if (problem.intermediate % tp != 0)
    return fail("intermediate size " + std::to_string(problem.intermediate) + " is not divisible by the MoE TP size " +
                std::to_string(tp) + " (FusedMoE.__init__ asserts it, padding.md §1.3)");
  plan.intermediate_per_partition = problem.intermediate / tp;
  plan.intermediate_per_partition_allocated = plan.intermediate_per_partition_padded = plan.intermediate_per_partition;

  const MethodInfo* info = find_method_info(method);
  if (!info) return fail("method '" + std::string(method) + "' is not registered; valid: " + method_names());
  const MethodRules* rules = ruleset.find_method(method);
  if (!rules) return fail("method " + std::string(method) + " does not exist in ruleset " + ruleset.name);
  const BackendChoice* choice = rules->find_backend(backend);
  if (!choice)
    return fail("backend " + std::string(backend) + " is not available to " + std::string(method) + " in ruleset " +
                ruleset.name + " (available: " + rules->backend_names() + ")");
  if (!backend_runs_on(*choice, platform))
    return fail("backend " + std::string(backend) + " does not run on " + std::string(platform.name) +
                " (runs on: " + backend_platforms(*choice) + ")");
  plan.generic_loader = ruleset.generic_loader;
  plan.fill = rules->fill;
  plan.post_load_fill = rules->post_load_fill.value_or(rules->fill);

  MatchContext context = match_context(ruleset, problem, method, backend, platform, parallel, act_dtype, settings);

  // 1. All-to-all hidden rounding (FusedMoEMethodBase.maybe_roundup_sizes default, §1.1).
  std::int64_t hidden = problem.hidden;
  std::int64_t intermediate = plan.intermediate_per_partition;
  if (parallel.all2all != All2All::kNone) {
    const Rule* via = nullptr;
    const Rule* rule = first_match(ruleset, ruleset.all2all, context, &via);
    if (!rule) {
      plan.notes.push_back("ruleset " + ruleset.name + " has no rule for all-to-all " +
                           std::string(name(parallel.all2all)) + ": hidden unchanged");
    } else {
      std::int64_t unused_alignment = 1;
      if (!apply_rule(plan, *rule, hidden, intermediate, plan.all2all_alignment, unused_alignment)) return plan;
      intermediate = plan.intermediate_per_partition;  // the base class never touches I
      record(plan, *rule, via);
    }
  }
  plan.hidden_after_all2all = hidden;

  // 2. The method's own rule on top (§1.1 subclass convention, §2).
  {
    context.hidden = hidden;
    context.intermediate = intermediate;
    const Rule* via = nullptr;
    if (const Rule* rule = first_match(ruleset, rules->rules, context, &via)) {
      if (!apply_rule(plan, *rule, hidden, intermediate, plan.allocation_hidden_alignment,
                      plan.allocation_intermediate_alignment)) {
        plan.hidden_allocated = plan.hidden_padded = hidden;
        return plan;
      }
      plan.skip_forward_padding = rule->skip_forward_padding;
      plan.kernel_activation_alignment = rule->kernel_activation_alignment;
      record(plan, *rule, via);
    }
  }
  plan.hidden_allocated = hidden;
  plan.intermediate_per_partition_allocated = intermediate;

  // 3. Post-load alignment (§2.3: FlashInfer FP8, NVFP4 TRTLLM; §7.2: Marlin, CPU), on top of the
  // allocation.
  {
    context.hidden = hidden;
    context.intermediate = intermediate;
    const Rule* via = nullptr;
    if (const Rule* rule = first_match(ruleset, rules->post_load, context, &via)) {
      if (!apply_rule(plan, *rule, hidden, intermediate, plan.post_load_hidden_alignment,
                      plan.post_load_intermediate_alignment)) {
        plan.hidden_padded = hidden;
        plan.intermediate_per_partition_padded = intermediate;
        return plan;
      }
      plan.post_load_w13_padding = rule->w13_padding;
      record(plan, *rule, via);
    }
  }
  plan.hidden_padded = hidden;
  plan.intermediate_per_partition_padded = intermediate;

  // 4. §2.5 the padding sizes the backend passes to its kernel.
  for (const KernelPadArgRule& k : ruleset.kernel_pad_args) {
    if (!matches(k.when, context)) continue;
    const std::int64_t hp = plan.hidden_padded - plan.hidden;
    const std::int64_t ip = plan.intermediate_per_partition_padded - plan.intermediate_per_partition;
    plan.kernel_pad_args = KernelPadArgs{k.kernel, k.hidden_pad.value(hp, ip), k.intermediate_pad.value(hp, ip)};
    if (!k.note.empty()) plan.notes.push_back(k.note);
    break;
  }

  if (auto e = storage_error(*info, plan.hidden_padded, plan.intermediate_per_partition_padded)) return fail(*e);
  return plan;
}

ExpertShapes padded_shapes(const Plan& plan) {
  const MethodInfo& m = plan.method_info();
  const std::int64_t e = plan.local_experts, h = plan.hidden_padded, i = plan.intermediate_per_partition_padded;
  const std::int64_t halves = plan.problem.gated ? 2 : 1;
  ExpertShapes s;
  s.w13 = {e, halves * i, m.weight_packing.storage(h)};
  s.w2 = {e, h, m.weight_packing.storage(i)};
  switch (m.scale) {
    case ScaleKind::kPerRowBlock:
      s.w13_scale = {e, halves * i, m.scale_packing.storage(h)};
      s.w2_scale = {e, h, m.scale_packing.storage(i)};
      break;
    case ScaleKind::kBlock2d:
      s.w13_scale = {e, halves * cdiv(i, m.scale_block), cdiv(h, m.scale_block)};
      s.w2_scale = {e, cdiv(h, m.scale_block), cdiv(i, m.scale_block)};
      break;
    case ScaleKind::kPerTensor:
      s.w13_scale = s.w2_scale = {e};
      break;
    case ScaleKind::kPerChannel:
      s.w13_scale = {e, halves * i, 1};
      s.w2_scale = {e, h, 1};
      break;
    case ScaleKind::kNone:
    case ScaleKind::kGroup:
      break;
  }
  s.w13_bias = {e, halves * i};
  s.w2_bias = {e, h};
  return s;
}

ExpertShapes logical_shapes(const Plan& plan) {
  Plan logical = plan;
  logical.hidden_padded = plan.hidden;
  logical.intermediate_per_partition_padded = plan.intermediate_per_partition;
  return padded_shapes(logical);
}

ActivationShapes activation_shapes(const Plan& plan, std::int64_t tokens) {
  ActivationShapes a;
  a.input = a.router = a.output = {tokens, plan.hidden};
  if (plan.skip_forward_padding) {
    a.runner_output = {tokens, plan.hidden};
    a.kernel_input = {tokens, round_up(plan.hidden, plan.kernel_activation_alignment)};
  } else {
    a.runner_output = a.kernel_input = {tokens, plan.hidden_padded};
  }
  return a;
}

double flop_overhead(const Plan& plan) {
  const double padded = double(plan.hidden_padded) * double(plan.intermediate_per_partition_padded);
  const double logical = double(plan.hidden) * double(plan.intermediate_per_partition);
  return padded / logical - 1.0;
}

double expert_weight_bytes(const MethodInfo& m, std::int64_t hidden, std::int64_t intermediate) {
  const double h = double(hidden), i = double(intermediate);
  double bytes = 3.0 * h * i * m.weight_bits / 8.0;  // w13 [2I, H] + w2 [H, I]
  const std::int64_t b = m.scale_block;
  switch (m.scale) {
    case ScaleKind::kPerRowBlock:
      bytes += double(2 * intermediate * cdiv(hidden, b) + hidden * cdiv(intermediate, b));
      break;
    case ScaleKind::kBlock2d:
      bytes += 4.0 * double(2 * cdiv(intermediate, b) * cdiv(hidden, b) + cdiv(hidden, b) * cdiv(intermediate, b));
      break;
    case ScaleKind::kPerTensor:
      bytes += 8.0;
      break;
    case ScaleKind::kPerChannel:
      bytes += 4.0 * double(2 * intermediate + hidden);
      break;
    case ScaleKind::kNone:
    case ScaleKind::kGroup:
      break;
  }
  return bytes;
}

double weight_bytes_overhead(const Plan& plan) {
  const MethodInfo& m = plan.method_info();
  return expert_weight_bytes(m, plan.hidden_padded, plan.intermediate_per_partition_padded) /
             expert_weight_bytes(m, plan.hidden, plan.intermediate_per_partition) -
         1.0;
}

}  // namespace moecheck::reference::padding
