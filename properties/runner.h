// Runs a RapidCheck property the way RC_GTEST_PROP does, with persistence: on failure it prints a
// one-line reproduction and writes the shrunk counterexample as a case fixture (persist.h). The
// failing case travels in a FailureRecorder owned by the run, not in global state.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "properties/case.h"
#include "properties/persist.h"

namespace moecheck::properties {

// Keeps the last failing case a property body reports. RapidCheck runs the minimal case last, so
// after a failed run it holds the shrunk counterexample.
class FailureRecorder {
 public:
  // Called by a property body when its check fails, before RC_ASSERT / RC_FAIL.
  void record(const MoeCase& c, const std::string& property, const std::string& message);
  // The case the last record() kept, and forgets it.
  std::optional<Counterexample> take();

 private:
  std::optional<Counterexample> last_;
};

using PropertyBody = std::function<void(FailureRecorder&)>;

// Runs `body` as the RapidCheck property `test_id` (RC_PARAMS applies). Returns an empty string on
// success, else the failure message with the REPRO line and where the counterexample fixture went
// (written into `dir`, named by its content hash).
std::string run_property(const std::string& test_id, const PropertyBody& body,
                         const std::filesystem::path& dir = regressions_dir());

}  // namespace moecheck::properties

// A RapidCheck property as a gtest, with persistence: like RC_GTEST_PROP(TestCase, Name, ()) but a
// failure also prints `REPRO: RC_PARAMS="reproduce=..." <binary> --gtest_filter=TestCase.Name` and
// writes the counterexample fixture. The body sees `recorder` (a FailureRecorder&).
#define MOECHECK_PROP(TestCase, Name)                                                                  \
  void moecheck_prop_##TestCase##_##Name(::moecheck::properties::FailureRecorder& recorder);          \
  TEST(TestCase, Name) {                                                                               \
    const std::string failure =                                                                        \
        ::moecheck::properties::run_property(#TestCase "/" #Name, &moecheck_prop_##TestCase##_##Name); \
    if (!failure.empty()) FAIL() << failure;                                                           \
  }                                                                                                    \
  void moecheck_prop_##TestCase##_##Name([[maybe_unused]] ::moecheck::properties::FailureRecorder& recorder)
