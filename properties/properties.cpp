#include "properties/properties.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "reference/padding/pad.h"

namespace moecheck::properties {

namespace pd = reference::padding;

const std::vector<std::string>& property_names() {
  static const std::vector<std::string> names = {kP1PaddingInvariance, kP3Poison, kP4Routing,
                                                     kP5Metamorphic};
  return names;
}

device::FaultSwitches env_faults() {
  device::FaultSwitches f;
  const char* env = std::getenv("MOECHECK_FAULT");
  if (!env || !*env) return f;
  std::string_view rest = env;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    const device::KernelFaultInfo* info = device::find_kernel_fault(name);
    if (!info) {
      std::string valid;
      for (const device::KernelFaultInfo& k : device::kernel_faults()) valid += (valid.empty() ? "" : ", ") + std::string(k.name);
      throw std::invalid_argument("MOECHECK_FAULT: unknown fault '" + std::string(name) + "'; valid: " + valid);
    }
    f.*(info->flag) = true;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return f;
}

namespace {

// A second poison seed, unrelated to the first, for P3.
constexpr std::uint64_t kOtherPoison = 0x0DDBA11C0FFEEULL;

std::uint64_t allowed_ulp(const device::Capabilities& caps) {
  return caps.order_preserving ? 0 : static_cast<std::uint64_t>(caps.ulp_bound < 0 ? 0 : caps.ulp_bound);
}

Verdict start(const char* property, const device::Backend& backend) {
  Verdict v;
  v.property = property;
  v.backend = std::string(backend.name());
  return v;
}

std::string tolerance_text(const device::Capabilities& caps) {
  if (caps.order_preserving) return "bitwise (order-preserving; +0 == -0)";
  std::ostringstream os;  // (not string concatenation: g++ 12 -Wrestrict false positive)
  os << "within " << caps.ulp_bound << " ulp (" << caps.tolerance_reason << ")";
  return os.str();
}

}  // namespace

Verdict check_padding_invariance(const MoeCase& c, const device::Backend& backend, const device::FaultSwitches& faults) {
  Verdict v = start(kP1PaddingInvariance, backend);
  const pd::Plan plan = plan_for(c, shipped_ruleset(c.target.ruleset));
  device::PaddedCase padded = make_padded_case(c, plan);
  const device::Capabilities caps = backend.capabilities();
  if (!caps.supports(padded)) {
    v.skipped = true;
    return v;
  }
  padded.faults = faults;
  const device::PaddedCase unpadded = make_padded_case(c, unpadded_plan(plan));
  const std::vector<float> y_unpadded = run_and_slice(backend, unpadded);
  const std::vector<float> y_padded = run_and_slice(backend, padded);
  const reference::moe::Routing routing = route_logical(c.block, c.hidden_states);
  v.comparison = compare(y_unpadded, y_padded, c.tokens(), c.block.hidden, allowed_ulp(caps), &routing);
  v.ok = v.comparison.ok();
  std::ostringstream os;
  os << kP1PaddingInvariance << " on " << v.backend << " " << tolerance_text(caps) << ": padded (H_pad "
     << plan.hidden_padded << ", I_pad " << plan.intermediate_per_partition_padded << ") vs unpadded: "
     << v.comparison.summary() << "; ulp histogram " << v.comparison.histogram_text() << "; case " << describe(c);
  v.message = os.str();
  return v;
}

Verdict check_poison(const MoeCase& c, const device::Backend& backend, const device::FaultSwitches& faults) {
  Verdict v = start(kP3Poison, backend);
  const pd::Plan plan = plan_for(c, shipped_ruleset(c.target.ruleset));
  device::PaddedCase a = make_padded_case(c, plan, pd::poison_seed());
  const device::Capabilities caps = backend.capabilities();
  if (!caps.supports(a)) {
    v.skipped = true;
    return v;
  }
  device::PaddedCase b = make_padded_case(c, plan, pd::poison_seed() ^ kOtherPoison);
  a.faults = b.faults = faults;
  const std::vector<float> y_ref = run_and_slice(backend, make_padded_case(c, unpadded_plan(plan)));
  const std::vector<float> ya = run_and_slice(backend, a, pd::poison_seed());
  const std::vector<float> yb = run_and_slice(backend, b, pd::poison_seed() ^ kOtherPoison);
  const reference::moe::Routing routing = route_logical(c.block, c.hidden_states);
  const Comparison seeds = compare(ya, yb, c.tokens(), c.block.hidden, 0, &routing);
  v.comparison = compare(y_ref, ya, c.tokens(), c.block.hidden, allowed_ulp(caps), &routing);
  std::int64_t leaked_nonfinite = 0;
  for (std::size_t i = 0; i < ya.size(); ++i)
    if (std::isfinite(y_ref[i]) && (!std::isfinite(ya[i]) || !std::isfinite(yb[i]))) ++leaked_nonfinite;
  v.ok = seeds.ok() && v.comparison.ok() && leaked_nonfinite == 0;
  std::ostringstream os;
  os << kP3Poison << " on " << v.backend << ": " << leaked_nonfinite
     << " non-finite outputs where the unpadded run is finite; poison seed A vs B: " << seeds.summary()
     << "; seed A vs unpadded " << tolerance_text(caps) << ": " << v.comparison.summary() << "; case " << describe(c);
  v.message = os.str();
  return v;
}

Verdict check_routing(const MoeCase& c) {
  Verdict v{.ok = true, .skipped = false, .property = kP4Routing, .backend = "host", .message = {}, .comparison = {}};
  const pd::Plan plan = plan_for(c, shipped_ruleset(c.target.ruleset));
  const device::PaddedCase padded = make_padded_case(c, plan);
  const pd::Tensor<float> router_in = pd::routing_input(plan, padded.hidden);
  const RowMatrix<float> x_from_padded =
      Eigen::Map<const RowMatrix<float>>(router_in.data.data(), router_in.dim(0), router_in.dim(1));
  const reference::moe::Routing logical = route_logical(c.block, c.hidden_states);
  const reference::moe::Routing from_padded = route_logical(c.block, x_from_padded);
  const reference::moe::Routing golden_routing = golden(c).routing;
  std::ostringstream os;
  const auto same = [](const reference::moe::Routing& a, const reference::moe::Routing& b) {
    if (a.ids != b.ids || a.weights.rows() != b.weights.rows() || a.weights.cols() != b.weights.cols()) return false;
    for (Eigen::Index t = 0; t < a.weights.rows(); ++t)
      for (Eigen::Index j = 0; j < a.weights.cols(); ++j)
        if (ulp_distance(a.weights(t, j), b.weights(t, j)) != 0) return false;
    return true;
  };
  bool carried = true;
  for (std::int64_t t = 0; t < c.tokens(); ++t)
    for (std::int64_t j = 0; j < padded.top_k; ++j)
      carried = carried && padded.topk_ids.at(t, j) == logical.ids(t, j) &&
                ulp_distance(padded.topk_weights.at(t, j), logical.weights(t, j)) == 0;
  const bool padded_ok = same(logical, from_padded), golden_ok = same(logical, golden_routing);
  v.ok = padded_ok && golden_ok && carried;
  os << kP4Routing << ": routing from padded activations[:, :H] " << (padded_ok ? "equal" : "DIFFERS")
     << "; vs reference::moe::forward " << (golden_ok ? "equal" : "DIFFERS") << "; PaddedCase top-k "
     << (carried ? "equal" : "DIFFERS") << "; case " << describe(c);
  v.message = os.str();
  return v;
}

Verdict check_metamorphic(const MoeCase& c, const device::Backend& backend, const device::FaultSwitches& faults) {
  Verdict v = start(kP5Metamorphic, backend);
  const pd::Plan plan = plan_for(c, shipped_ruleset(c.target.ruleset));
  device::PaddedCase padded = make_padded_case(c, plan);
  const device::Capabilities caps = backend.capabilities();
  if (!caps.supports(padded)) {
    v.skipped = true;
    return v;
  }
  const auto run = [&](const MoeCase& x) {
    device::PaddedCase p = make_padded_case(x, plan);
    p.faults = faults;
    return run_and_slice(backend, p);
  };
  const std::int64_t T = c.tokens(), H = c.block.hidden;
  const std::vector<float> y = run(c);
  const reference::moe::Routing routing = route_logical(c.block, c.hidden_states);

  // Token permutation: reversed.
  MoeCase reversed = c;
  reversed.hidden_states = c.hidden_states.colwise().reverse();
  const std::vector<float> yr = run(reversed);
  std::vector<float> yr_back(yr.size());
  for (std::int64_t t = 0; t < T; ++t)
    std::copy_n(yr.begin() + (T - 1 - t) * H, H, yr_back.begin() + t * H);
  v.comparison = compare(y, yr_back, T, H, allowed_ulp(caps), &routing);
  bool ok = v.comparison.ok();
  std::ostringstream os;
  os << kP5Metamorphic << " on " << v.backend << ": tokens reversed: " << v.comparison.summary();

  // Batch invariance: token 0 alone.
  if (T > 0) {
    MoeCase alone = c;
    alone.hidden_states = c.hidden_states.topRows(1);
    const std::vector<float> y0 = run(alone);
    const Comparison single = compare(std::span<const float>(y).first(static_cast<std::size_t>(H)), y0, 1, H,
                                      allowed_ulp(caps));
    ok = ok && single.ok();
    os << "; token 0 alone: " << single.summary();
  }

  // Experts without tokens: the output stays finite.
  std::vector<bool> used(static_cast<std::size_t>(c.block.num_experts()), false);
  for (Eigen::Index t = 0; t < routing.ids.rows(); ++t)
    for (Eigen::Index j = 0; j < routing.ids.cols(); ++j) used[static_cast<std::size_t>(routing.ids(t, j))] = true;
  const auto empty_experts = std::count(used.begin(), used.end(), false);
  const auto nonfinite = std::count_if(y.begin(), y.end(), [](float x) { return !std::isfinite(x); });
  if (empty_experts > 0) ok = ok && nonfinite == 0;
  os << "; " << empty_experts << " experts without tokens, " << nonfinite << " non-finite outputs; case " << describe(c);
  v.ok = ok;
  v.message = os.str();
  return v;
}

std::vector<Verdict> check(const std::string& property, const MoeCase& c, const device::FaultSwitches& faults) {
  std::vector<Verdict> out;
  if (property == kP4Routing) {
    out.push_back(check_routing(c));
    return out;
  }
  if (property != kP1PaddingInvariance && property != kP3Poison && property != kP5Metamorphic)
    throw std::invalid_argument("unknown property '" + property +
                                "'; valid: P1_padding_invariance, P3_poison, P4_routing, P5_metamorphic");
  for (const device::Backend* b : device::backends()) {
    Verdict v = property == kP1PaddingInvariance ? check_padding_invariance(c, *b, faults)
                : property == kP3Poison          ? check_poison(c, *b, faults)
                                                 : check_metamorphic(c, *b, faults);
    if (!v.skipped) out.push_back(std::move(v));
  }
  return out;
}

}  // namespace moecheck::properties
