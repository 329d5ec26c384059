// The platform model (which accelerator a kernel runs on), the parallel model (TP, DP, EP and the
// all-to-all backend) and the activation dtype: the inputs, besides the sizes, that decide which
// padding rule applies. Source: ../shared/spec/padding.md §1.1 (all-to-all), §1.7 (what "TP"
// means), §2.1–§2.2 (platform conditions of the MXFP4 rules and backend selection).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "reference/quant/blocks.h"

namespace moecheck::reference::padding {

enum class Vendor : std::uint8_t { kCuda, kRocm, kXpu, kCpu };

struct Platform {
  std::string_view name;  // "cuda:sm90", "rocm:gfx942", "xpu", "cpu"
  Vendor vendor;
  std::string_view arch;  // "sm90", "gfx950"; empty for xpu and cpu
  // Compute capability x10 as torch reports it: CUDA 90/100/120; ROCm gfx942 = 94 and gfx950 = 95
  // (torch's (9, 4) / (9, 5)); 0 where there is none (xpu, cpu). §2.2 selects Triton by it.
  int capability;
};

std::span<const Platform> platforms();  // every modelled platform, in a stable order
std::optional<Platform> parse_platform(std::string_view text);
std::string platform_names();  // comma-separated, for error messages
std::string_view name(Vendor vendor);

// A platform pattern in a rule or a backend's support list: "*" (any), a vendor ("cuda", "rocm",
// "xpu", "cpu") or one platform name ("rocm:gfx950").
bool is_platform_pattern(std::string_view pattern);
bool platform_matches(std::string_view pattern, const Platform& platform);
std::string platform_pattern_names();

// The activation dtype (vLLM's moe_in_dtype, §1.1); DeepEP HT rounds bytes, so its size matters.
enum class ActDtype : std::uint8_t { kBf16, kFp16, kFp32 };
std::string_view name(ActDtype dtype);
int itemsize(ActDtype dtype);
std::optional<ActDtype> parse_act_dtype(std::string_view text);
std::string act_dtype_names();

// The all-to-all (dispatch/combine) backend, whose hidden rounding vLLM applies first (§1.1;
// DeepEP V2 from #41183, padding.md §7.2).
enum class All2All : std::uint8_t { kNone, kDeepepHt, kDeepepLl, kNixl, kDeepepV2 };
std::string_view name(All2All a2a);
std::optional<All2All> parse_all2all(std::string_view text);
std::string all2all_names();

// The parallel layout of one MoE layer.
struct ParallelConfig {
  int tp_size = 1;  // tensor-parallel degree as the user gives it (vLLM --tensor-parallel-size)
  int dp_size = 1;  // data-parallel degree
  bool enable_ep = false;  // --enable-expert-parallel
  bool enable_eplb = false;  // --enable-eplb: vLLM then skips the ROCm stride padding (#49350)
  All2All all2all = All2All::kNone;

  // §1.3/§1.7: without EP the MoE TP is tp·dp flattened (pcp is not modelled); with EP it is 1
  // and every rank holds the full intermediate size of its own experts.
  int moe_tp_size() const { return enable_ep ? 1 : tp_size * dp_size; }
  int ep_size() const { return enable_ep ? tp_size * dp_size : 1; }
};

// The MoE activation of a layer (vLLM's MoEActivation, lower case): backends support some of them,
// and one MXFP4 rule depends on it (padding.md §7.2 item 2). gpt-oss is swigluoai, the other
// families of spec/models.md silu.
bool is_activation(std::string_view name);
std::string activation_names();

// The routing method, as far as backend selection looks at it: DeepSeek-V4 routing changes the
// generic MXFP4 priorities on ROCm (padding.md §7.2 item 2). Names are vLLM's RoutingMethodType.
bool is_routing(std::string_view name);
std::string routing_names();

// vllm/utils/math_utils.py round_up and cdiv (§0 notation). Arguments must be positive multiples
// / divisors; x >= 0.
using quant::cdiv;      // reference/quant/blocks.h
using quant::round_up;
std::int64_t lcm(std::int64_t a, std::int64_t b);  // both > 0

}  // namespace moecheck::reference::padding
