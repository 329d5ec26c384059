// What `moecheck check` found, as a text table for the terminal and as a report directory:
// summary.json (machine-readable), junit.xml (for CI test views) and report.md (for a pull request).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "properties/suite.h"

namespace moecheck::cli {

struct CodecSummary {
  bool ran = false;
  std::string oracle_file;
  std::size_t datasets = 0;
  std::uint64_t mismatches = 0;
  bool ok = true;
};

struct CheckReport {
  std::string command;  // the command line, for the record
  CodecSummary codecs;
  properties::SuiteResult suite;
  std::vector<std::string> methods;  // --method (empty: all): which unbound pairs the report lists
  bool ok() const { return codecs.ok && suite.ok(); }
};

// The summary table: one row per (property, method, backend): cases, skipped, result, max ULP.
std::string summary_table(const properties::SuiteResult& suite);
// The registry methods and kernel backends of the shipped rulesets that no row of the weight-scheme
// table binds, so no case is generated for them, each with the table's reason
// (properties::gen::unbound_targets); `methods` restricts it (empty: all).
std::string unbound_table(const std::vector<std::string>& methods);

// Writes DIR/summary.json, DIR/junit.xml and DIR/report.md (each to a temporary name, then renamed),
// creating DIR. std::runtime_error naming the file on an I/O error.
void write_report(const std::filesystem::path& dir, const CheckReport& report);

}  // namespace moecheck::cli
