// The properties as plain functions of a case and a backend, so that RapidCheck (generated cases)
// and the fixture replay (persisted counterexamples) check exactly the same thing.
#pragma once

#include <string>
#include <vector>

#include "device/backend.h"
#include "properties/case.h"
#include "properties/compare.h"

namespace moecheck::properties {

// Property names as stored in fixtures and the ledger.
inline constexpr const char* kP1PaddingInvariance = "P1_padding_invariance";
inline constexpr const char* kP3Poison = "P3_poison";
inline constexpr const char* kP4Routing = "P4_routing";
inline constexpr const char* kP5Metamorphic = "P5_metamorphic";
const std::vector<std::string>& property_names();

// The faults named by MOECHECK_FAULT (comma-separated names of device::kernel_faults()), so the
// same suite runs against a deliberately broken backend (the selftest); none when unset.
// std::invalid_argument naming the valid faults for an unknown name.
device::FaultSwitches env_faults();

struct Verdict {
  bool ok = true;
  bool skipped = false;  // the backend does not support the case
  std::string property, backend;
  std::string message;   // one line: what failed, the comparison summary, the case
  Comparison comparison;
};

// P1: the padded run sliced to [T, H] equals the unpadded run (bitwise where the backend is
// order-preserving, +0 and -0 equal and counted; else within its ULP bound).
Verdict check_padding_invariance(const MoeCase& c, const device::Backend& backend,
                                 const device::FaultSwitches& faults = {});
// P3: with every padded region poisoned by two different seeds, the sliced outputs are equal to
// each other and to the unpadded run, and finite wherever the unpadded run is finite.
Verdict check_poison(const MoeCase& c, const device::Backend& backend, const device::FaultSwitches& faults = {});
// P4: top-k ids and weights routed from the padded activations' first H columns
// (reference::padding::routing_input) equal those from the logical hidden states and those
// reference::moe::forward computes; the padded case carries exactly them. Backend-independent.
Verdict check_routing(const MoeCase& c);

// P5 (part): token permutation equivariance (tokens reversed → output rows reversed), batch
// invariance (token 0 alone → the same row: every scheme here has per-token or no activation
// scales, so no token depends on another), and no non-finite output when some expert receives no
// token (bugs.md B10). Bitwise where the backend is order-preserving, else its ULP bound. Expert
// relabelling is not checked yet (routing ties would make it ill-defined without a no-tie filter).
Verdict check_metamorphic(const MoeCase& c, const device::Backend& backend, const device::FaultSwitches& faults = {});

// `property` on every backend of device::backends() that supports the case (P4: once).
// std::invalid_argument for an unknown property name.
std::vector<Verdict> check(const std::string& property, const MoeCase& c, const device::FaultSwitches& faults = {});

}  // namespace moecheck::properties
