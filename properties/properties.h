// The properties as plain functions of a case and a backend, so that RapidCheck (generated cases),
// the fixture replay (persisted counterexamples), `moecheck check` and `moecheck selftest` check
// exactly the same thing. Every property runs the padding path and the backend with the given
// faults (faults.h; none by default) and turns any exception into a failed verdict.
#pragma once

#include <string>
#include <vector>

#include "device/backend.h"
#include "properties/case.h"
#include "properties/compare.h"
#include "properties/faults.h"

namespace moecheck::properties {

// Property names as stored in fixtures, the ledger and reports.
inline constexpr const char* kP1PaddingInvariance = "P1_padding_invariance";
inline constexpr const char* kP2GoldenAgreement = "P2_golden_agreement";
inline constexpr const char* kP3Poison = "P3_poison";
inline constexpr const char* kP4Routing = "P4_routing";
inline constexpr const char* kP5Metamorphic = "P5_metamorphic";
inline constexpr const char* kP6TensorParallel = "P6_tensor_parallel";
const std::vector<std::string>& property_names();  // P1 ... P6
// Whether the property runs its cases on TP / EP ranks (P6 only): the others check the unsharded
// layer, so a fault that acts only on a rank's shard cannot show in them (faults.h, FaultScope).
bool shards_cases(const std::string& property);
// "P1_padding_invariance" or its short form "P1" -> the full name; std::invalid_argument otherwise.
std::string resolve_property(const std::string& name);

struct Verdict {
  bool ok = true;
  bool skipped = false;  // the backend does not support the case, or the property does not apply
  std::string property, backend;
  std::string message;   // one line: what failed, the comparison summary, the case
  Comparison comparison;
  // P2, P6: the worst |Δ| / (token row scale) of the relative tolerance check; -1 elsewhere.
  double rel_error = -1;
};

// P1: the padded run sliced to [T, H] equals the unpadded run (bitwise where the backend is
// order-preserving, +0 and -0 equal and counted; else within its ULP bound). Also the output shape
// contract (exactly T·H values, bugs.md B5, B6) and ruleset conformance: the plan the padding path
// uses has the ruleset's padded sizes (bugs.md B8, B13).
Verdict check_padding_invariance(const MoeCase& c, const device::Backend& backend, const Faults& faults = {});

// P2: the padded run sliced equals reference::moe::forward (fp64 mode) within the tolerance of
// golden_tolerance(scheme, dtype); tp = 1 cases only.
struct GoldenTolerance {
  device::WeightScheme scheme;
  reference::moe::Dtype dtype;
  // Every element: |backend − golden| <= rel · max|golden| over the element's token row
  // (a token's outputs share one scale; rows of zeros demand exact zeros).
  double rel;
  std::string reason;
};
const std::vector<GoldenTolerance>& golden_tolerances();
const GoldenTolerance& golden_tolerance(device::WeightScheme scheme, reference::moe::Dtype dtype);
Verdict check_golden_agreement(const MoeCase& c, const device::Backend& backend, const Faults& faults = {});

// P3: with every padded region poisoned by two different seeds, the sliced outputs are equal to
// each other and to the unpadded run, and finite wherever the unpadded run is finite.
Verdict check_poison(const MoeCase& c, const device::Backend& backend, const Faults& faults = {});

// P4: top-k ids and weights routed from the padded activations' first H columns
// (reference::padding::routing_input) equal those from the logical hidden states and those
// reference::moe::forward computes; the padded case carries exactly them (bugs.md B7).
// Backend-independent.
Verdict check_routing(const MoeCase& c, const Faults& faults = {});

// P5: token permutation equivariance (tokens reversed → output rows reversed); batch invariance
// (token 0 alone → the same row: every scheme here has per-token or no activation scales, so no
// token depends on another — a per-tensor activation scale would exempt its scheme); expert
// relabelling invariance (experts, router rows and biases reversed → the same output; applies to
// ungrouped routers on tokens without a top-k tie at the k-th place, which the message counts);
// no non-finite output when some expert receives no token (bugs.md B10). Bitwise where the backend
// is order-preserving, else its ULP bound.
Verdict check_metamorphic(const MoeCase& c, const device::Backend& backend, const Faults& faults = {});

// P6: for every TP degree 2, 4 and EP over 2, 4 ranks that the case's target can be partitioned
// for (a valid plan and loader), the ranks' partial outputs — each rank padding its own partition
// per the ruleset and the loader semantics — summed in rank order (the all-reduce, fp32, then
// rounded to the model dtype) equal the unpartitioned padded run within tensor_parallel_tolerance.
// Skipped (not applicable) when no degree partitions the case.
struct TpTolerance {
  reference::moe::Dtype dtype;
  double rel;  // |Σ ranks − whole| <= rel · (max |value| of the token row over whole and partials)
  std::string reason;
};
const TpTolerance& tensor_parallel_tolerance(reference::moe::Dtype dtype);
Verdict check_tensor_parallel(const MoeCase& c, const device::Backend& backend, const Faults& faults = {});

// `property` (full or short name) on every backend of device::backends() that supports the case
// (P4: once, on "host"); `backends` non-empty restricts to those names. Skipped verdicts are
// returned too (Verdict::skipped). std::invalid_argument for an unknown property name.
std::vector<Verdict> check(const std::string& property, const MoeCase& c, const Faults& faults = {},
                           const std::vector<std::string>& backends = {});

}  // namespace moecheck::properties
