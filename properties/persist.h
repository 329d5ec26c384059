// Counterexamples kept forever (anchors.md A11, A12, Implications 4): a failing property's shrunk
// case is written as a complete, self-describing HDF5 value fixture — the seed-independent form
// that survives generator changes — named by a content hash so the same case is never written
// twice. Every run replays the fixtures before generating new cases.
//
// File layout (fixtures/README.md conventions, schema_version 1; root attribute kind =
// "moecheck.case"): root attributes property, test, reproduce, generator_version, description,
// family, dtype, scheme, top_k, ruleset, method, backend, platform, tp, rank, ep (0/1; absent = 0); /inputs/hidden_states
// f32 [T, H]; /weights/router f32 [E, H], /weights/router_bias f32 [E] (if any); dense: /weights/w13
// f32 [E, 2I, H], /weights/w2 f32 [E, H, I]; MXFP4: /weights/w13_blocks e2m1x2 [E, 2I, H],
// /weights/w13_scales e8m0 [E, 2I, H/32], /weights/w2_blocks, /weights/w2_scales likewise; FP8
// 128x128 blocks: /weights/w13_codes fp8 e4m3fn [E, 2I, H] (gate rows, then up rows),
// /weights/w13_scale_inv f32 [E, 2·ceil(I/128), ceil(H/128)] (the gate grid, then the up grid),
// /weights/w2_codes [E, H, I], /weights/w2_scale_inv [E, ceil(H/128), ceil(I/128)];
// /weights/w13_bias [E, 2I], /weights/w2_bias [E, H] (if any); group /plan with the padded sizes
// and fills as attributes; /expected/output f32 [T, H] (reference::moe::forward, fp64),
// /expected/topk_ids i32 [T, k], /expected/topk_weights f32 [T, k].
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "properties/case.h"

namespace moecheck::properties {

inline constexpr const char* kCaseFixtureKind = "moecheck.case";

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

struct CaseFixture {
  MoeCase c;
  std::string property, test, reproduce;
  std::int64_t generator_version = 0;
  std::filesystem::path path;
};
bool is_case_fixture(const std::filesystem::path& file);  // an HDF5 fixture with kind "moecheck.case"
CaseFixture read_case_fixture(const std::filesystem::path& file);  // fixtures::Error on a bad file

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

// Runs one RapidCheck property the way RC_GTEST_PROP does, and on failure prints the one-line
// reproduction and persists the minimal counterexample the body recorded (record_failure) into
// `dir`. Returns an empty string on success, else the failure message (fixture path included).
std::string run_property(const std::string& test_id, const std::function<void()>& body,
                         const std::filesystem::path& dir = regressions_dir());
// Called by a property body when its check fails, before RC_ASSERT: the last recorded case is the
// minimal one (RapidCheck runs the minimal case last).
void record_failure(const MoeCase& c, const std::string& property, const std::string& message);
// The case the last record_failure call kept (after shrinking: the minimal one), and forgets it.
std::optional<Counterexample> take_recorded_failure();

}  // namespace moecheck::properties

// A RapidCheck property as a gtest, with persistence: like RC_GTEST_PROP(TestCase, Name, ()) but
// a failure also prints `REPRO: RC_PARAMS="reproduce=..." <binary> --gtest_filter=TestCase.Name`
// and writes the counterexample fixture.
#define MOECHECK_PROP(TestCase, Name)                                                               \
  void moecheck_prop_##TestCase##_##Name();                                                         \
  TEST(TestCase, Name) {                                                                            \
    const std::string failure =                                                                     \
        ::moecheck::properties::run_property(#TestCase "/" #Name, &moecheck_prop_##TestCase##_##Name); \
    if (!failure.empty()) FAIL() << failure;                                                        \
  }                                                                                                 \
  void moecheck_prop_##TestCase##_##Name()
