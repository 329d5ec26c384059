// moecheck: does padding change the answer of a fused-MoE kernel? See README.md.
#include <cstdio>
#include <exception>
#include <string>

#include "fixtures/hdf5_io.h"
#include "tools/cli/common.h"
#include "tools/cli/verbs.h"

int main(int argc, char** argv) {
  CLI::App app{
      "moecheck " MOECHECK_VERSION
      ": a simulation and correctness-verification harness for fused Mixture-of-Experts kernels.\n"
      "Proves that padded and unpadded MoE outputs agree after slicing, and that both agree with a\n"
      "bit-exact golden model. Run `moecheck VERB --help` for each verb's options.",
      "moecheck"};
  app.set_version_flag("--version", std::string("moecheck ") + MOECHECK_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  for (int i = 0; i < argc; ++i) moecheck::cli::command_line() += (i ? " " : "") + std::string(i ? argv[i] : "moecheck");
  moecheck::cli::add_convert(app, exit_code);
  moecheck::cli::add_check(app, exit_code);
  moecheck::cli::add_golden(app, exit_code);
  moecheck::cli::add_pad_report(app, exit_code);
  moecheck::cli::add_selftest(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, the version, or the parse error
    if (rc != 0 && std::string(e.what()).find("-inf") != std::string::npos)
      std::fprintf(stderr, "moecheck: hint: put -- before VALUES that start with '-' and a letter (-- -inf -nan)\n");
    return rc == 0 ? 0 : 2;
  } catch (const moecheck::cli::UsageError& e) {
    std::fprintf(stderr, "moecheck: error: %s\n", e.what());
    return 2;
  } catch (const moecheck::fixtures::Error& e) {
    std::fprintf(stderr, "moecheck: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck: error: %s\n", e.what());
    return 2;
  }
  return exit_code;
}
