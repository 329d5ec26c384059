// The suite runner behind `moecheck check` and `moecheck selftest`: the committed counterexamples
// replayed first, then every selected property over generated cases (RapidCheck, shrinking on
// failure) on every selected backend, with per-(property, method, backend) statistics, a case
// budget and a time budget, optional faults, and the shrunk counterexamples persisted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "properties/faults.h"
#include "properties/gen/case.h"
#include "properties/persist.h"

namespace moecheck::properties {

inline constexpr int kDefaultCases = 100;                         // generated cases per property
inline constexpr std::uint64_t kDefaultSeed = 0x6d6f65636865636bULL;  // "moecheck"

struct SuiteProgress {
  std::string property;
  std::size_t property_index = 0, property_count = 0;
  std::int64_t cases_done = 0, cases_total = 0;
  bool failed = false;    // this property has failed (it is shrinking or done)
  bool finished = false;  // the property's run is over
};

struct SuiteOptions {
  std::vector<std::string> properties;  // full or short names; empty: all (P1 ... P6)
  std::vector<std::string> backends;    // device backend names; empty: every built backend
  std::vector<std::string> methods;     // padding-registry methods; empty: all
  int cases = kDefaultCases;            // generated cases per property
  std::uint64_t seed = kDefaultSeed;
  double time_budget_seconds = 0;       // 0: none; else split evenly over the properties
  Faults faults;
  bool replay = true;
  std::vector<std::filesystem::path> replay_from = replay_dirs();
  std::optional<std::filesystem::path> persist_to;  // where new counterexamples go; none: not written
  bool stop_at_first_failure = false;               // selftest: the first failing property ends the run
  gen::CaseOptions case_options;
  std::function<void(const SuiteProgress&)> progress;  // called after every generated case
};

// One (property, method, backend) cell of the summary table.
struct CellResult {
  std::string property, method, backend;
  std::int64_t cases = 0;     // generated cases checked on this backend (skipped ones not counted)
  std::int64_t skipped = 0;   // cases the backend does not support or the property does not apply to
  std::int64_t failures = 0;  // 0 or 1: a property stops at its first failure
  std::uint64_t max_ulp = 0;  // largest fp32 ULP distance of the property's comparison
  double max_rel = -1;        // P2, P6: largest error relative to the token row's scale; -1 elsewhere
  bool nonfinite = false;     // a NaN/Inf took part in a comparison
};

// One property's RapidCheck run.
struct PropertyRun {
  std::string property;
  bool ok = true;
  bool stopped_by_time = false;   // the time budget ended it before `cases`
  std::int64_t cases_checked = 0;
  std::int64_t cases_to_failure = 0;  // RapidCheck's successes before the failure, plus one
  std::string failure;     // RapidCheck's failure message (the shrunk counterexample's verdict)
  std::string reproduce;   // RC_PARAMS reproduce string
  std::optional<Counterexample> counterexample;  // the shrunk case
  std::string fixture;     // where it was written ("" if not persisted)
  double seconds = 0;
};

// run_suite's error when the case filters admit no case at all (std::invalid_argument: the CLI
// reports it as bad input).
struct NoCases : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct SuiteResult {
  ReplayResult replay;
  std::vector<PropertyRun> runs;
  std::vector<CellResult> cells;  // property order, then method, then backend
  std::uint64_t seed = 0;
  int cases = 0;
  double seconds = 0;
  bool ok() const;
};

// std::invalid_argument for an unknown property, backend or method name.
SuiteResult run_suite(const SuiteOptions& options);

}  // namespace moecheck::properties
