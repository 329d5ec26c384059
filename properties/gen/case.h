// The case generator: sizes, experts and top-k, family and dtype, weight scheme, a padding target
// drawn from the shipped rulesets (only combinations whose plan is valid and that the device
// layout can express, never a quarantined one), and value distributions. Each step is a
// RapidCheck generator composed with gen::mapcat / gen::apply, so a failing case shrinks along
// every axis at once: fewer tokens, smaller sizes, fewer experts, simpler values.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "device/backend.h"
#include "properties/case.h"
#include "properties/gen/sizes.h"
#include "properties/gen/values.h"
#include "reference/moe/block.h"

namespace moecheck::properties::gen {

// Bumped whenever a generator change makes an old reproduce string mean a different case. Written
// into every counterexample fixture; the fixture's values stay valid across versions.
// 2: choices shrink toward their first value; 3: padding targets and real sizes shrink too
// (shrinking_element instead of rc::gen::elementOf, which draws the same values but never shrinks,
// so reproduce strings of version 2 name other shrink paths); 4: the scheme table's new rows, schemes
// that a shipped rule pads drawn three times as often, a scheme without a bound target for the
// drawn sizes falls back to dense, and the shared-expert families are drawn; 5: a quarter of the
// cases pad their tokens to a CUDA-graph batch (gen::token_padding); 6: the NVFP4 and DeepGEMM
// UE8M0 rows, and sizes rounded up to a coarse scheme's multiple (128) instead of falling back to
// dense.
inline constexpr std::int64_t kGeneratorVersion = 6;
inline constexpr std::int64_t generator_version = kGeneratorVersion;

// Everything a case is made of, small enough to print and shrink.
struct CaseSpec {
  reference::moe::Family family = reference::moe::Family::kMixtral;
  reference::moe::Dtype dtype = reference::moe::Dtype::kF32;
  device::WeightScheme scheme = device::WeightScheme::kDense;
  std::int64_t hidden = 32, intermediate = 32, experts = 1, top_k = 1, tokens = 0;
  PadTarget target;
  ValueSpec activations, weights;
};
std::ostream& operator<<(std::ostream& os, const CaseSpec& spec);

// Qwen2-MoE, DeepSeek-V2 / V3, Llama-4 and GraniteMoeShared blocks carry a shared expert.
bool has_shared_expert(reference::moe::Family family);

// The MoeCase a spec describes (deterministic).
MoeCase build_case(const CaseSpec& spec);

struct CaseOptions {
  bool allow_large = false;    // admit the real model sizes (2880, 2688, ...): slow on the host
  std::int64_t max_tokens = 24;
  std::int64_t max_experts = 8;
  bool require_padding = false;  // only targets whose plan pads H or I (P1, P3 want those most)
  // Only targets of these padding-registry methods ("mxfp4", "unquantized", ...); empty: all.
  // Schemes without such a method are not drawn.
  std::vector<std::string> methods;
  // Only this model dtype, only families with this gate/up layout (interleaved: gpt-oss, whose
  // separately stored FP8 grids fall back to MXFP4); unset: both. For a corpus that holds
  // counterexamples of each (moecheck selftest --dtype, --layout).
  std::optional<reference::moe::Dtype> dtype;
  std::optional<reference::moe::GateUpLayout> layout;
};

// The padding targets (tp = 1) a block of this scheme and these sizes can be padded for: every
// shipped ruleset × method of the scheme × backend × platform where the backend runs, whose plan is
// valid, expressible as a device::PaddedCase, and not quarantined (quarantine.h). Sorted, cached.
const std::vector<PadTarget>& valid_targets(device::WeightScheme scheme, reference::moe::Family family,
                                            std::int64_t hidden, std::int64_t intermediate, std::int64_t experts,
                                            std::int64_t top_k, bool require_padding);
// Those of them whose plan pads the hidden size (H_pad > H): the activations are padded and the
// output sliced, where bugs B5–B7 live; the case generator weights them up.
const std::vector<PadTarget>& hidden_padding_targets(device::WeightScheme scheme, reference::moe::Family family,
                                                     std::int64_t hidden, std::int64_t intermediate,
                                                     std::int64_t experts, std::int64_t top_k);

rc::Gen<CaseSpec> case_spec(CaseOptions options = {});

// The (method, backend) pairs of the shipped rulesets that no row of the weight-scheme table binds,
// so that no case is ever generated for them: per method, its backends in the rulesets' order and
// the table's reason (quant::unbound_reason; empty `why` if the table gives none, which a test forbids).
struct UnboundTargets {
  std::string method;
  std::vector<std::string> backends;
  std::string why;
};
const std::vector<UnboundTargets>& unbound_targets();

}  // namespace moecheck::properties::gen
