#include "reference/padding/platform.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>

#include "reference/names.h"

namespace moecheck::reference::padding {
namespace {

constexpr std::array<Platform, 7> kPlatforms = {{
    {"cuda:sm90", Vendor::kCuda, "sm90", 90},
    {"cuda:sm100", Vendor::kCuda, "sm100", 100},
    {"cuda:sm120", Vendor::kCuda, "sm120", 120},
    {"rocm:gfx942", Vendor::kRocm, "gfx942", 94},
    {"rocm:gfx950", Vendor::kRocm, "gfx950", 95},
    {"xpu", Vendor::kXpu, "", 0},
    {"cpu", Vendor::kCpu, "", 0},
}};

constexpr std::array<std::string_view, 4> kVendorNames = {"cuda", "rocm", "xpu", "cpu"};
constexpr std::array<std::string_view, 3> kActDtypeNames = {"bf16", "fp16", "fp32"};
constexpr std::array<std::string_view, 5> kAll2AllNames = {"none", "deepep_ht", "deepep_ll", "nixl", "deepep_v2"};
// vllm/model_executor/layers/fused_moe/activation.py MoEActivation values the rules and backends
// name (lower case, as vLLM's --activation strings).
constexpr std::array<std::string_view, 9> kActivationNames = {
    "silu", "gelu", "gelu_tanh", "swigluoai", "swigluoai_uninterleave", "situ", "swiglustep", "relu2_no_mul", "relu2"};
// fused_moe/config.py RoutingMethodType, lower case with underscores.
constexpr std::array<std::string_view, 9> kRoutingNames = {"default",     "renormalize", "renormalize_naive",
                                                           "deepseek_v3", "deepseek_v4", "llama4",
                                                           "sigmoid",     "sigmoid_renorm", "custom"};

using reference::joined_names;

}  // namespace

std::span<const Platform> platforms() { return kPlatforms; }

std::optional<Platform> parse_platform(std::string_view text) {
  for (const Platform& p : kPlatforms)
    if (p.name == text) return p;
  return std::nullopt;
}

std::string platform_names() { return joined_names(kPlatforms); }

std::string_view name(Vendor vendor) { return kVendorNames[static_cast<std::size_t>(vendor)]; }

bool is_platform_pattern(std::string_view pattern) {
  if (pattern == "*") return true;
  for (auto v : kVendorNames)
    if (v == pattern) return true;
  return parse_platform(pattern).has_value();
}

bool platform_matches(std::string_view pattern, const Platform& platform) {
  return pattern == "*" || pattern == platform.name || pattern == name(platform.vendor);
}

std::string platform_pattern_names() { return "*, " + joined_names(kVendorNames) + ", " + platform_names(); }

std::string_view name(ActDtype dtype) { return kActDtypeNames[static_cast<std::size_t>(dtype)]; }

int itemsize(ActDtype dtype) { return dtype == ActDtype::kFp32 ? 4 : 2; }

std::optional<ActDtype> parse_act_dtype(std::string_view text) {
  for (std::size_t i = 0; i < kActDtypeNames.size(); ++i)
    if (kActDtypeNames[i] == text) return static_cast<ActDtype>(i);
  return std::nullopt;
}

std::string act_dtype_names() { return joined_names(kActDtypeNames); }

std::string_view name(All2All a2a) { return kAll2AllNames[static_cast<std::size_t>(a2a)]; }

std::optional<All2All> parse_all2all(std::string_view text) {
  for (std::size_t i = 0; i < kAll2AllNames.size(); ++i)
    if (kAll2AllNames[i] == text) return static_cast<All2All>(i);
  return std::nullopt;
}

std::string all2all_names() { return joined_names(kAll2AllNames); }

bool is_activation(std::string_view name) {
  return std::find(kActivationNames.begin(), kActivationNames.end(), name) != kActivationNames.end();
}
std::string activation_names() { return joined_names(kActivationNames); }

bool is_routing(std::string_view name) {
  return std::find(kRoutingNames.begin(), kRoutingNames.end(), name) != kRoutingNames.end();
}
std::string routing_names() { return joined_names(kRoutingNames); }

std::int64_t lcm(std::int64_t a, std::int64_t b) {
  if (a <= 0 || b <= 0) throw std::invalid_argument("lcm: needs a > 0 and b > 0");
  return a / std::gcd(a, b) * b;
}

}  // namespace moecheck::reference::padding
