// Shared helpers of the padding tests: the shipped rulesets (loaded once), platforms, gpt-oss.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "fixtures/ruleset_json.h"
#include "reference/padding.h"

namespace padding_test {

namespace pd = moecheck::reference::padding;

inline const pd::Ruleset& ruleset(const std::string& name) {
  static std::map<std::string, pd::Ruleset> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, moecheck::fixtures::load_ruleset(name)).first;
  return it->second;
}

inline pd::Platform platform(std::string_view name) {
  const auto p = pd::parse_platform(name);
  if (!p) throw std::invalid_argument("test: unknown platform " + std::string(name));
  return *p;
}

// gpt-oss-120b experts (models.md §1.1): H = I = 2880, E = 128, k = 4, biases.
inline pd::Problem gpt_oss(bool known_model = true) {
  pd::Problem p;
  p.hidden = 2880;
  p.intermediate = 2880;
  p.experts = 128;
  p.topk = 4;
  p.has_bias = true;
  if (known_model) p.model_type = "gpt_oss";
  return p;
}

inline pd::Problem sizes(std::int64_t hidden, std::int64_t intermediate, std::int64_t experts = 4) {
  pd::Problem p;
  p.hidden = hidden;
  p.intermediate = intermediate;
  p.experts = experts;
  return p;
}

struct Parallel {
  int tp = 1;
  bool ep = false;
  pd::All2All all2all = pd::All2All::kNone;
  pd::ActDtype act = pd::ActDtype::kBf16;
};

inline pd::Plan plan(const std::string& rs, const std::string& method, const std::string& backend,
                     std::string_view platform_name, const pd::Problem& problem, Parallel par = {}) {
  pd::ParallelConfig pc;
  pc.tp_size = par.tp;
  pc.enable_ep = par.ep;
  pc.all2all = par.all2all;
  return pd::make_plan(ruleset(rs), problem, method, backend, platform(platform_name), pc, par.act);
}

}  // namespace padding_test
