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
#include "fixtures/moe_case.h"
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

// The logical case and its target (fixtures/moe_case.h: below fixtures and properties both).
using fixtures::describe;
using fixtures::MoeCase;
using fixtures::PadTarget;
using fixtures::plan_for;
using fixtures::scheme_of;
using fixtures::shipped_ruleset;

// The methods of the padding registry whose checkpoints are stored in `scheme` (its table row).
std::vector<std::string> methods_for(device::WeightScheme scheme);

// The plan the padding path (the layer) uses: plan_for, unless a padding fault changes it
// (PaddingFaults::mxfp4_rule_on_other_formats, bugs.md B13).
reference::padding::Plan layer_plan(const MoeCase& c, const reference::padding::Ruleset& ruleset,
                                    const PaddingFaults& faults = {});

// The same plan with every padded size equal to its logical size: the unpadded run. The pad
// functions then copy without adding a region, so both runs go through the same code.
reference::padding::Plan unpadded_plan(const reference::padding::Plan& plan);

// Why `plan` cannot be expressed as a device::PaddedCase of a case stored as `scheme` (empty: it
// can): an invalid plan, a shard the scheme cannot store, a scale grid that would need padding or
// splitting, or a kernel activation width (skip_forward_padding) other than H_pad.
// `kernel_shape_rules` false leaves out the kernel's own shape rules (Marlin's I % 64 after its tile
// padding): the unpadded reference run of P1 and P3 computes what the padded layer must equal, a
// shape the deployed kernel never takes.
std::string unsupported_reason(const reference::padding::Plan& plan, reference::quant::WeightScheme scheme,
                               bool kernel_shape_rules = true);
// Why the kernel of c's scheme cannot take c's block (quant::KernelContract: biases, interleaved
// gate/up, GELU, the router weight on the input); empty if it can. The generators draw no such case.
std::string kernel_problem(const MoeCase& c);

// The padded case for `plan` (from plan_for or unpadded_plan): the target rank's shard of every
// weight, padded by reference::padding, activations padded as the kernel receives them, routing
// computed on the logical hidden states. `seed` seeds the poison of every padded buffer. With
// expert parallelism the top-k ids are the rank's local ids, -1 for experts of other ranks (vLLM's
// expert_map). `faults` switches the padding-path bugs B7, B8, B9, B11 (faults.h) on.
// std::invalid_argument when unsupported_reason(plan, c.scheme) or kernel_problem(c) is not empty.
device::PaddedCase make_padded_case(const MoeCase& c, const reference::padding::Plan& plan,
                                    std::uint64_t seed = poison_seed(),
                                    const PaddingFaults& faults = {});
device::PaddedCase make_padded_case(const MoeCase& c, const reference::padding::Ruleset& ruleset,
                                    std::uint64_t seed = poison_seed());
// The unpadded reference of `plan`'s case: make_padded_case with unpadded_plan(plan), the kernel's
// shape rules left out (unsupported_reason).
device::PaddedCase make_unpadded_reference(const MoeCase& c, const reference::padding::Plan& plan,
                                           std::uint64_t seed = poison_seed(), const PaddingFaults& faults = {});

// Runs `backend` into a poisoned [T, H_pad] buffer and slices it to [T, H] with
// reference::padding::slice_output (or as the padding faults B5, B6 get it wrong).
std::vector<float> run_and_slice(const device::Backend& backend, const device::PaddedCase& padded,
                                 std::uint64_t seed = poison_seed(),
                                 const PaddingFaults& faults = {});
// The caller's finalize after the fused-MoE call, as vLLM's layer does it: the shared expert (if
// the block has one) runs on the LOGICAL hidden states — a dense layer of its own, outside the
// kernel under test, computed here with reference::moe::shared_expert_output and fp32 sums — its
// gate applied, and its output added to the sliced routed output [T, H] in the model dtype. A
// block without a shared expert returns `routed` unchanged.
std::vector<float> finalize(const MoeCase& c, std::vector<float> routed);
// run_and_slice, then finalize: the layer's output [T, H].
std::vector<float> run_layer(const MoeCase& c, const device::Backend& backend, const device::PaddedCase& padded,
                             std::uint64_t seed = poison_seed(), const PaddingFaults& faults = {});
// The slice alone: [T, H_pad] row-major -> [T, H].
std::vector<float> slice_output(const device::PaddedCase& padded, std::span<const float> output,
                                const PaddingFaults& faults = {});

// The golden output of the case's rank shard: reference::moe::forward on the unpadded block
// (tp = 1: the whole block).
reference::moe::MoeOutput golden(const MoeCase& c,
                                 reference::moe::Accumulate accumulate = reference::moe::Accumulate::kFp64);


}  // namespace moecheck::properties

