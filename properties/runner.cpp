#include "properties/runner.h"

#include <rapidcheck.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "properties/rc_reproduce.h"

namespace moecheck::properties {

namespace fs = std::filesystem;

void FailureRecorder::record(const MoeCase& c, const std::string& property, const std::string& message) {
  Counterexample x;
  x.c = c;
  x.property = property;
  x.message = message;
  last_ = std::move(x);
}

std::optional<Counterexample> FailureRecorder::take() {
  std::optional<Counterexample> out = std::move(last_);
  last_.reset();
  return out;
}

std::string run_property(const std::string& test_id, const PropertyBody& body, const fs::path& dir) {
  FailureRecorder recorder;
  rc::detail::TestMetadata metadata;
  metadata.id = test_id;
  metadata.description = test_id;
  const auto result = rc::detail::checkTestable([&] { body(recorder); }, metadata);
  if (result.template is<rc::detail::SuccessResult>()) {
    const auto success = result.template get<rc::detail::SuccessResult>();
    if (!success.distribution.empty()) {
      rc::detail::printResultMessage(result, std::cout);
      std::cout << std::endl;
    }
    return {};
  }
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  if (result.template is<rc::detail::FailureResult>()) {
    const auto& failure = result.template get<rc::detail::FailureResult>();
    const std::string reproduce = "reproduce=" + rc::detail::reproduceMapToString({{test_id, failure.reproduce}});
    std::string filter = test_id;
    std::replace(filter.begin(), filter.end(), '/', '.');
    const std::string line = "REPRO: RC_PARAMS=\"" + reproduce + "\" <test binary> --gtest_filter=" + filter;
    std::cout << line << std::endl;
    ss << "\n" << line;
    if (std::optional<Counterexample> last = recorder.take()) {
      last->test = test_id;
      last->reproduce = reproduce;
      try {
        bool written = false;
        const fs::path path = write_counterexample(*last, dir, &written);
        ss << "\ncounterexample fixture: " << path.string() << (written ? " (new)" : " (already kept)");
      } catch (const std::exception& e) {
        ss << "\ncounterexample NOT persisted: " << e.what();
      }
    }
  }
  return ss.str();
}

}  // namespace moecheck::properties
