// Progress of a property run on stderr: a bar redrawn in place on a terminal, else one plain line
// per finished property (CI logs stay readable).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

#include "properties/suite.h"

namespace moecheck::cli {

class Progress {
 public:
  explicit Progress(std::string label) : label_(std::move(label)), tty_(isatty(fileno(stderr)) == 1) {}

  void update(const properties::SuiteProgress& p) {
    if (tty_) {
      const int width = 30;
      const auto total = p.cases_total > 0 ? p.cases_total : 1;
      const int filled = static_cast<int>(width * std::min<std::int64_t>(p.cases_done, total) / total);
      std::fprintf(stderr, "\r%s [%zu/%zu] %-22s [%s%s] %lld/%lld%s\033[K", label_.c_str(), p.property_index + 1,
                   p.property_count, p.property.c_str(), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
                   static_cast<long long>(p.cases_done), static_cast<long long>(p.cases_total),
                   p.failed ? (p.finished ? " FAILED" : " FAILED, shrinking...") : "");
      drawn_ = true;
      if (p.finished) {
        std::fputc('\n', stderr);
        drawn_ = false;
      }
    } else if (p.finished) {
      std::fprintf(stderr, "%s [%zu/%zu] %s: %lld cases, %s\n", label_.c_str(), p.property_index + 1,
                   p.property_count, p.property.c_str(), static_cast<long long>(p.cases_done),
                   p.failed ? "FAILED" : "pass");
    }
    std::fflush(stderr);
  }
  void done() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
};

}  // namespace moecheck::cli
