// Each verb registers its subcommand, options and callback on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace moecheck::cli {

// `exit_code` receives the verb's status: 0 success, 1 a check failed, 2 bad input (UsageError
// and fixtures::Error are caught in main()).
void add_convert(CLI::App& app, int& exit_code);
void add_check(CLI::App& app, int& exit_code);
void add_golden(CLI::App& app, int& exit_code);
void add_pad_report(CLI::App& app, int& exit_code);
void add_selftest(CLI::App& app, int& exit_code);

}  // namespace moecheck::cli
