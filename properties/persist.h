// Counterexamples kept forever (anchors.md A11, A12, Implications 4): a failing property's shrunk
// case is written as a case fixture (fixtures/case_fixture.h: the one codec, with the file layout)
// named by a content hash, so the same case is never written twice. Every run replays the
// fixtures before generating new cases.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/case_fixture.h"
#include "properties/case.h"

namespace moecheck::properties {

using fixtures::kCaseFixtureKind;

struct Counterexample {
  MoeCase c;
  std::string property;   // "P1_padding_invariance", ...
  std::string test;       // the gtest id, "Properties/P1PaddingInvariance"
  std::string reproduce;  // "reproduce=..." as RapidCheck prints it inside RC_PARAMS="..."
  std::string message;    // the verdict's one line
};

// $MOECHECK_REGRESSIONS if set, else fixtures/regressions in the source tree.
std::filesystem::path regressions_dir();
// fixtures/regressions and fixtures/data of the source tree (or $MOECHECK_REGRESSIONS alone).
std::vector<std::filesystem::path> replay_dirs();

// 16 hex digits over everything that defines the case and the property (not the reproduce string,
// the test name or the message: the same case found twice is one fixture).
std::string content_hash(const MoeCase& c, const std::string& property);
std::string fixture_name(const MoeCase& c, const std::string& property);  // "case-<hash>.h5"

// Writes the fixture into `dir` atomically (fixtures::Writer) unless a file of that name exists.
// Returns the path; `written` says whether it was new.
std::filesystem::path write_counterexample(const Counterexample& x, const std::filesystem::path& dir,
                                           bool* written = nullptr);

using fixtures::CaseFixture;
using fixtures::is_case_fixture;
using fixtures::read_case_fixture;

// Re-checks every case fixture of `dirs` (recursively, sorted by path) with its property on every
// backend; returns one line per failure (empty: all pass). Files that are not case fixtures are
// passed over.
struct ReplayResult {
  std::int64_t fixtures = 0, verdicts = 0;
  std::vector<std::string> failures;
};
// `faults` is passed to every backend run (moecheck selftest replays under each fault).
ReplayResult replay_regressions(const std::vector<std::filesystem::path>& dirs = replay_dirs(),
                                const Faults& faults = {});

}  // namespace moecheck::properties
