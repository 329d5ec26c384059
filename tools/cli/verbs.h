// Each verb registers its subcommand, options and callback on the app.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace moecheck::cli {

// `exit_code` receives the verb's status: 0 success, 1 a check failed, 2 bad input (UsageError
// and fixtures::Error are caught in main()).
void add_convert(CLI::App& app, int& exit_code);
void add_check(CLI::App& app, int& exit_code);
void add_golden(CLI::App& app, int& exit_code);
void add_pad_report(CLI::App& app, int& exit_code);
void add_selftest(CLI::App& app, int& exit_code);

// --dtype and --layout of the verbs that generate cases (check, selftest); their values go to
// set_case_filters (common.h).
inline void add_case_filter_options(CLI::App* sub, std::string& dtype, std::string& layout) {
  sub->add_option("--dtype", dtype, "Only generate cases of this model dtype: fp32 or bf16 (default: both)");
  sub->add_option("--layout", layout,
                  "Only generate families of this gate/up layout: concatenated or interleaved (gpt-oss; its FP8-grid "
                  "schemes fall back to MXFP4) (default: both)");
}

}  // namespace moecheck::cli
