// The logical test case (MoeCase) and its padded, device-layout form (device::PaddedCase), built
// only through reference::padding: the plan decides the sizes, the pad functions allocate poisoned
// buffers and fill them as the ruleset says, the partition functions cut TP shards. Nothing here
// knows a padding rule or a codec; routing runs on the logical hidden states (bugs.md B7).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "device/backend.h"
#include "properties/faults.h"
#include "reference/moe/block.h"
#include "reference/moe/forward.h"
#include "reference/padding/plan.h"
#include "reference/padding/poison.h"
#include "reference/padding/ruleset.h"

namespace moecheck::properties {

using reference::moe::RowMatrix;

// The poison seed of the suite: MOECHECK_POISON_SEED (decimal or 0x-hex) if set, else
// reference::padding::kDefaultPoisonSeed. std::invalid_argument if set but not a number (a silent
// default would make a failure unreproducible). Everything below takes the seed as an argument.
std::uint64_t poison_seed();

// What a case is padded for: one row of pad-report.
struct PadTarget {
  std::string ruleset = "vllm-2026-08";
  std::string method = "unquantized";
  std::string backend = "DEFAULT";
  std::string platform = "cpu";
  int tp = 1;       // vLLM --tensor-parallel-size (without EP: MoE TP = tp)
  int rank = 0;     // the rank whose shard is run
  bool ep = false;  // --enable-expert-parallel: MoE TP 1, rank r holds its share of the experts
  bool operator==(const PadTarget&) const = default;
};

// A logical (unpadded) case: the block with its weights in their quantized form, the scheme the
// device reads them in, the hidden states, and where it is to be padded.
struct MoeCase {
  reference::moe::MoeBlock block;  // no shared expert: the device call does not include it
  device::WeightScheme scheme = device::WeightScheme::kDense;
  RowMatrix<float> hidden_states;  // [T, H], values of the block's dtype
  PadTarget target;

  std::int64_t tokens() const { return hidden_states.rows(); }
};

// The weight scheme of a block whose experts hold DenseWeight (kDense) or Mxfp4Weight parts;
// std::invalid_argument for anything else (FP8 block scales: see the README, not yet paddable).
device::WeightScheme scheme_of(const reference::moe::MoeBlock& block);

// The methods of the padding registry whose weights are stored in `scheme`.
std::vector<std::string> methods_for(device::WeightScheme scheme);

// The plan of the case's target (never throws for invalid combinations: see Plan::error): the
// ruleset's table, the reference the padding path must conform to.
reference::padding::Plan plan_for(const MoeCase& c, const reference::padding::Ruleset& ruleset);
// The plan the padding path (the layer) uses: plan_for, unless a padding fault changes it
// (PaddingFaults::mxfp4_rule_on_other_formats, bugs.md B13).
reference::padding::Plan layer_plan(const MoeCase& c, const reference::padding::Ruleset& ruleset,
                                    const PaddingFaults& faults = {});

// The same plan with every padded size equal to its logical size: the unpadded run. The pad
// functions then copy without adding a region, so both runs go through the same code.
reference::padding::Plan unpadded_plan(const reference::padding::Plan& plan);

// Why `plan` cannot be expressed as a device::PaddedCase (empty: it can). Today: an invalid plan,
// or a kernel activation width (skip_forward_padding) other than H_pad.
std::string unsupported_reason(const reference::padding::Plan& plan);

// The padded case for `plan` (from plan_for or unpadded_plan): the target rank's shard of every
// weight, padded by reference::padding, activations padded as the kernel receives them, routing
// computed on the logical hidden states. `seed` seeds the poison of every padded buffer. With
// expert parallelism the top-k ids are the rank's local ids, -1 for experts of other ranks (vLLM's
// expert_map). `faults` switches the padding-path bugs B7, B8, B9, B11 (faults.h) on.
// std::invalid_argument when unsupported_reason(plan) is not empty.
device::PaddedCase make_padded_case(const MoeCase& c, const reference::padding::Plan& plan,
                                    std::uint64_t seed = poison_seed(),
                                    const PaddingFaults& faults = {});
device::PaddedCase make_padded_case(const MoeCase& c, const reference::padding::Ruleset& ruleset,
                                    std::uint64_t seed = poison_seed());

// Runs `backend` into a poisoned [T, H_pad] buffer and slices it to [T, H] with
// reference::padding::slice_output (or as the padding faults B5, B6 get it wrong).
std::vector<float> run_and_slice(const device::Backend& backend, const device::PaddedCase& padded,
                                 std::uint64_t seed = poison_seed(),
                                 const PaddingFaults& faults = {});
// The slice alone: [T, H_pad] row-major -> [T, H].
std::vector<float> slice_output(const device::PaddedCase& padded, std::span<const float> output,
                                const PaddingFaults& faults = {});

// The golden output of the case's rank shard: reference::moe::forward on the unpadded block
// (tp = 1: the whole block).
reference::moe::MoeOutput golden(const MoeCase& c,
                                 reference::moe::Accumulate accumulate = reference::moe::Accumulate::kFp64);

// "mixtral bfloat16 dense T5 H96 I64 E4 k2 | vllm-2026-08 gpt_oss_mxfp4 TRITON cuda:sm90 tp1/0" (" ep" appended with EP)
std::string describe(const MoeCase& c);

}  // namespace moecheck::properties

namespace moecheck::properties {
// A shipped ruleset by name (fixtures::load_ruleset), loaded once per process.
const reference::padding::Ruleset& shipped_ruleset(const std::string& name);
}  // namespace moecheck::properties
