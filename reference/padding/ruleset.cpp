#include "reference/padding/ruleset.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace moecheck::reference::padding {
namespace {

template <class T>
bool listed(const std::vector<T>& list, const T& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::int64_t Divisor::resolve(std::int64_t group) const {
  return group_size ? lcm(value, group > 0 ? group : 1) : value;
}

namespace {
constexpr std::string_view kCpuIsas[] = {"amx", "vec", "neon", "vsx"};
}  // namespace

bool is_cpu_isa(std::string_view name) {
  return std::find(std::begin(kCpuIsas), std::end(kCpuIsas), name) != std::end(kCpuIsas);
}

std::string cpu_isa_names() {
  std::string out;
  for (auto n : kCpuIsas) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::string Divisor::describe() const {
  if (!group_size) return std::to_string(value);
  return value == 1 ? "group_size" : "lcm(" + std::to_string(value) + ", group_size)";
}

std::int64_t Round::alignment(ActDtype dtype, std::int64_t group_size) const {
  switch (kind) {
    case Kind::kMultipleOf:
      return multiple;
    case Kind::kMultipleOfLcm:
      return with.resolve(group_size);
    case Kind::kBytesMultipleOf:
      return multiple % itemsize(dtype) == 0 ? multiple / itemsize(dtype) : 1;
    case Kind::kKeep:
    case Kind::kSmallestOf:
      break;
  }
  return 1;
}

RoundResult apply(const Round& round, std::int64_t x, ActDtype dtype, std::int64_t group_size) {
  switch (round.kind) {
    case Round::Kind::kKeep:
      return {x, std::nullopt};
    case Round::Kind::kMultipleOf:
      return {round_up(x, round.multiple), std::nullopt};
    case Round::Kind::kMultipleOfLcm:
      // marlin_utils.py marlin_moe_padded_intermediate: lcm(64, group); a channelwise group (-1) is 64.
      return {round_up(x, round.with.resolve(group_size)), std::nullopt};
    case Round::Kind::kBytesMultipleOf: {
      // §1.1 DeepEP HT: bytes = H·itemsize; if bytes % 512 != 0, H' = round_up(bytes, 512)/itemsize.
      const std::int64_t size = itemsize(dtype);
      const std::int64_t bytes = x * size;
      if (bytes % round.multiple == 0) return {x, std::nullopt};
      return {round_up(bytes, round.multiple) / size, std::nullopt};
    }
    case Round::Kind::kSmallestOf:
      for (std::int64_t s : round.sizes)
        if (s >= x) return {s, std::nullopt};
      return {x, "size " + std::to_string(x) + " is above the largest supported size " +
                     std::to_string(round.sizes.empty() ? 0 : round.sizes.back()) + " (" + describe(round) + ")"};
  }
  return {x, std::nullopt};
}

std::string describe(const Round& round) {
  switch (round.kind) {
    case Round::Kind::kKeep:
      return "unchanged";
    case Round::Kind::kMultipleOf:
      return "multiple of " + std::to_string(round.multiple);
    case Round::Kind::kMultipleOfLcm:
      return "multiple of " + round.with.describe();
    case Round::Kind::kBytesMultipleOf:
      return "bytes multiple of " + std::to_string(round.multiple);
    case Round::Kind::kSmallestOf: {
      std::string out = "smallest of {";
      for (std::size_t i = 0; i < round.sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(round.sizes[i]);
      return out + "}";
    }
  }
  return "?";
}

bool Condition::empty() const {
  return methods.empty() && backends.empty() && platforms.empty() && model_types.empty() && all2all.empty() &&
         act_dtypes.empty() && !gated && !ep && activations.empty() && routings.empty() && moe_tp.empty() && !eplb &&
         !has_bias && !act_order && act_schemes.empty() && env.empty() && packages.empty() && cpu_isas.empty() &&
         !hidden_multiple_of && !intermediate_multiple_of;
}

bool matches(const Condition& when, const MatchContext& c) {
  if (!listed(when.methods, c.method) || !listed(when.backends, c.backend)) return false;
  if (!when.platforms.empty()) {
    if (c.platform == nullptr) return false;
    bool any = false;
    for (const auto& p : when.platforms) any = any || platform_matches(p, *c.platform);
    if (!any) return false;
  }
  // An unknown model (no --model) is no model type at all: gpt-oss-only rules do not fire.
  if (!when.model_types.empty() && (c.model_type.empty() || !listed(when.model_types, c.model_type))) return false;
  if (!listed(when.all2all, c.all2all) || !listed(when.act_dtypes, c.act_dtype)) return false;
  if (when.gated && *when.gated != c.gated) return false;
  if (when.ep && *when.ep != c.ep) return false;
  if (!listed(when.activations, c.activation) || !listed(when.routings, c.routing)) return false;
  if (!listed(when.moe_tp, c.moe_tp) || !listed(when.act_schemes, c.act_scheme)) return false;
  if (when.eplb && *when.eplb != c.eplb) return false;
  if (when.has_bias && *when.has_bias != c.has_bias) return false;
  if (when.act_order && *when.act_order != c.act_order) return false;
  if (when.hidden_multiple_of && c.hidden % when.hidden_multiple_of->resolve(c.group_size) != 0) return false;
  if (when.intermediate_multiple_of && c.intermediate % when.intermediate_multiple_of->resolve(c.group_size) != 0)
    return false;
  for (const auto& [var, values] : when.env) {
    const std::string value = c.ruleset ? c.ruleset->env_value(var, c.settings) : std::string("unset");
    if (!listed(values, value)) return false;
  }
  if (!when.cpu_isas.empty()) {
    static const Settings kDefaults;
    if (!listed(when.cpu_isas, std::string_view((c.settings ? *c.settings : kDefaults).cpu_isa))) return false;
  }
  for (const auto& package : when.packages)
    if (!c.ruleset || !c.platform || !c.ruleset->package_available(package, *c.platform, c.settings)) return false;
  return true;
}

std::string_view name(W13Padding padding) { return padding == W13Padding::kPerHalf ? "per_half" : "end"; }

std::string describe(const FillValue& fill) {
  switch (fill.kind) {
    case FillKind::kNotApplicable:
      return "n/a";
    case FillKind::kZero:
      return "zero";
    case FillKind::kUninitialized:
      return "uninitialized";
    case FillKind::kOne:
      return "one";
    case FillKind::kByte: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", fill.byte);
      return buf;
    }
  }
  return "?";
}

const BackendChoice* MethodRules::find_backend(std::string_view backend) const {
  for (const auto& b : backends)
    if (b.name == backend) return &b;
  return nullptr;
}

std::string MethodRules::backend_names() const {
  std::string out;
  for (const auto& b : backends) out += (out.empty() ? "" : ", ") + b.name;
  return out;
}

std::int64_t PadArg::value(std::int64_t hidden_padding, std::int64_t intermediate_padding) const {
  const std::int64_t raw =
      of == Of::kHiddenPadding ? hidden_padding : of == Of::kIntermediatePadding ? intermediate_padding : 0;
  return raw / floor_to * floor_to * times;
}

const MethodRules* Ruleset::find_method(std::string_view method) const {
  const std::string_view name = canonical_method(method);
  for (const auto& m : methods)
    if (m.name == name) return &m;
  return nullptr;
}

std::string_view Ruleset::canonical_method(std::string_view method) const {
  const auto it = method_aliases.find(method);
  return it == method_aliases.end() ? method : std::string_view(it->second);
}

std::string Ruleset::env_value(std::string_view var, const Settings* settings) const {
  if (settings) {
    if (const auto it = settings->env.find(var); it != settings->env.end()) return it->second;
  }
  if (const auto it = env_defaults.find(var); it != env_defaults.end()) return it->second;
  return "unset";
}

bool Ruleset::package_available(std::string_view package, const Platform& platform, const Settings* settings) const {
  if (settings) {
    if (const auto it = settings->packages.find(package); it != settings->packages.end()) return it->second;
  }
  const auto it = packages.find(package);
  if (it == packages.end()) return false;
  for (const auto& pattern : it->second)
    if (platform_matches(pattern, platform)) return true;
  return false;
}

std::string Ruleset::method_names() const {
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ", ") + m.name;
  return out;
}

const Rule* first_match(const Ruleset& ruleset, const std::vector<Rule>& rules, const MatchContext& context,
                        const Rule** via) {
  if (via) *via = nullptr;
  for (const Rule& rule : rules) {
    if (!matches(rule.when, context)) continue;
    if (rule.use.empty()) return &rule;
    const auto table = ruleset.tables.find(rule.use);
    if (table == ruleset.tables.end())
      throw std::invalid_argument("ruleset " + ruleset.name + ": " + rule.where + " uses the unknown table '" +
                                  rule.use + "'");
    for (const Rule& inner : table->second) {
      if (!inner.use.empty())
        throw std::invalid_argument("ruleset " + ruleset.name + ": " + inner.where + ": tables may not use tables");
      if (matches(inner.when, context)) {
        if (via) *via = &rule;
        return &inner;
      }
    }
  }
  return nullptr;
}

}  // namespace moecheck::reference::padding
