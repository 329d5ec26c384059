// `moecheck check`: the main job. The bit-exact codecs against the committed oracles, the committed
// counterexamples replayed, then every property over generated cases on every built backend; a
// summary table, an optional report directory, exit status 0 pass / 1 failure / 2 bad input.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>

#include "device/registry.h"
#include "fixtures/format_oracle.h"
#include "properties/properties.h"
#include "properties/suite.h"
#include "reference/formats.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"
#include "tools/cli/report.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace fmt = reference::formats;

struct CheckOptions {
  std::string data, oracle;
  std::vector<std::string> backends, methods, properties, faults;
  int cases = properties::kDefaultCases;
  std::string seed;
  double time_budget = 0;
  std::string report, save_to;
  std::string dtype, layout;  // --dtype, --layout: case filters (set_case_filters)
  bool no_replay = false, no_save = false, no_codecs = false, large = false;
  std::string command;
};

// The measured rcp.approx.ftz table linked into this binary still has its measured histogram.
bool check_rcp_table() {
  std::uint64_t counts[3] = {0, 0, 0};
  for (std::uint32_t i = 0; i < (1u << 23); ++i) {
    const int d = fmt::rcp_delta(i);
    ++counts[d == 0 ? 0 : d == 1 ? 1 : 2];
  }
  const bool ok = fmt::rcp_delta_table().size() == fmt::kRcpDeltaTableBytes && counts[0] == 7280086 &&
                  counts[1] == 733799 && counts[2] == 374723;
  std::printf("%-34s %-28s %10u %10s\n", "rcp.approx.ftz delta table", "measured counts 0/+1/-1", 1u << 23,
              ok ? "0" : "MISMATCH");
  return ok;
}

CodecSummary run_codecs(const CheckOptions& o) {
  const std::filesystem::path data = o.data.empty() ? default_data_dir() : std::filesystem::path(o.data);
  const std::filesystem::path oracle =
      o.oracle.empty() ? data / "oracle" / "torch_formats.h5" : std::filesystem::path(o.oracle);
  if (!std::filesystem::exists(oracle))
    throw UsageError("oracle file " + oracle.string() + " does not exist (set --data, --oracle or MOECHECK_DATA)");
  const fixtures::OracleReport report = fixtures::check_format_oracle(oracle);
  std::printf("moecheck check: codecs against %s\n", report.file.string().c_str());
  std::printf("  oracle: %s, torch %s on %s, %s; %llu inputs\n\n", report.generator.c_str(),
              report.torch_version.c_str(), report.device.c_str(), report.created.c_str(),
              static_cast<unsigned long long>(report.inputs));
  std::printf("%-34s %-28s %10s %10s %s\n", "format/variant", "oracle dataset", "checked", "mismatches",
              "NaN compared by class");
  for (const auto& row : report.rows) {
    std::printf("%-34s %-28s %10llu %10llu %llu\n", row.check.c_str(), row.dataset.c_str(),
                static_cast<unsigned long long>(row.checked), static_cast<unsigned long long>(row.mismatches),
                static_cast<unsigned long long>(row.nan_by_class));
    for (const auto& e : row.examples) std::printf("    %s\n", e.c_str());
  }
  const bool table_ok = check_rcp_table();
  CodecSummary s;
  s.ran = true;
  s.oracle_file = report.file.string();
  s.datasets = report.rows.size();
  s.mismatches = report.total_mismatches();
  s.ok = report.ok() && table_ok;
  std::printf("codecs: %s, %zu oracle datasets, %llu mismatches\n\n", s.ok ? "pass" : "FAIL", s.datasets,
              static_cast<unsigned long long>(s.mismatches));
  std::fflush(stdout);
  return s;
}

int run_check(const CheckOptions& o) {
  CheckReport report;
  report.command = o.command;
  if (!o.no_codecs) report.codecs = run_codecs(o);

  properties::SuiteOptions so;
  so.properties = o.properties;
  so.backends = o.backends;
  so.methods = o.methods;
  so.cases = o.cases;
  if (!o.seed.empty()) so.seed = parse_seed(o.seed);
  so.time_budget_seconds = o.time_budget;
  std::string fault_list;
  for (const std::string& f : o.faults) fault_list += (fault_list.empty() ? "" : ",") + f;
  try {
    so.faults = fault_list.empty() ? properties::env_faults() : properties::parse_faults(fault_list, "--fault");
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  so.replay = !o.no_replay;
  so.case_options.allow_large = o.large;
  set_case_filters(o.dtype, o.layout, so.case_options);
  if (!o.no_save) so.persist_to = o.save_to.empty() ? properties::regressions_dir() : std::filesystem::path(o.save_to);
  Progress progress("properties");
  so.progress = [&progress](const properties::SuiteProgress& p) { progress.update(p); };

  std::string backends;
  for (const device::Backend* b : device::backends())
    if (o.backends.empty() || std::find(o.backends.begin(), o.backends.end(), b->name()) != o.backends.end())
      backends += (backends.empty() ? "" : ", ") + std::string(b->name());
  std::printf("properties: seed 0x%llx, %d generated cases per property, backends %s%s%s\n",
              static_cast<unsigned long long>(so.seed), so.cases, backends.c_str(),
              so.faults.any() ? ", FAULTS INJECTED: " : "", so.faults.any() ? fault_list.c_str() : "");
  std::fflush(stdout);
  try {
    report.suite = properties::run_suite(so);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  progress.done();

  const properties::ReplayResult& rp = report.suite.replay;
  if (so.replay)
    std::printf("replay: %lld counterexample fixtures, %lld verdicts, %zu failures\n", static_cast<long long>(rp.fixtures),
                static_cast<long long>(rp.verdicts), rp.failures.size());
  for (const std::string& f : rp.failures) std::printf("  REPLAY FAILURE %s\n", f.c_str());
  std::printf("\n%s\n", summary_table(report.suite).c_str());
  report.methods = so.methods;
  if (const std::string unbound = unbound_table(so.methods); !unbound.empty())
    std::printf("%s\n", unbound.c_str());
  for (const properties::PropertyRun& run : report.suite.runs) {
    if (run.ok) continue;
    std::printf("%s FAILED after %lld generated cases%s\n", run.property.c_str(),
                static_cast<long long>(run.cases_to_failure),
                run.counterexample ? ", shrunk to:" : ":");
    std::printf("  %s\n", run.counterexample ? run.counterexample->message.c_str() : run.failure.c_str());
    std::printf("  REPRO: RC_PARAMS=\"%s\" moecheck check --property %s --seed 0x%llx --cases %d\n",
                run.reproduce.c_str(), run.property.c_str(), static_cast<unsigned long long>(so.seed), so.cases);
    if (!run.fixture.empty()) std::printf("  counterexample fixture: %s\n", run.fixture.c_str());
  }
  for (const properties::PropertyRun& run : report.suite.runs)
    if (run.stopped_by_time)
      std::printf("note: %s stopped by the time budget after %lld of %d cases\n", run.property.c_str(),
                  static_cast<long long>(run.cases_checked), so.cases);
  if (!o.report.empty()) {
    write_report(o.report, report);
    std::printf("report: %s/{summary.json,junit.xml,report.md}\n", o.report.c_str());
  }
  std::int64_t failures = 0, checked = 0;
  bool cut = false;
  for (const properties::PropertyRun& run : report.suite.runs) {
    failures += !run.ok;
    checked += run.cases_checked;
    cut = cut || run.stopped_by_time;
  }
  const std::string cut_text = cut ? " (time budget: " + std::to_string(checked) + " checked)" : "";
  std::printf("%s: %zu oracle datasets, %llu mismatches; %lld fixtures replayed, %zu failing; %zu properties x %d "
              "cases%s, %lld failing (%.1f s)\n",
              report.ok() ? "PASS" : "FAIL", report.codecs.datasets,
              static_cast<unsigned long long>(report.codecs.mismatches), static_cast<long long>(rp.fixtures),
              rp.failures.size(), report.suite.runs.size(), so.cases, cut_text.c_str(),
              static_cast<long long>(failures), report.suite.seconds);
  return report.ok() ? 0 : 1;
}

}  // namespace

void add_check(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "The main job: does padding change the answer? In order:\n"
      "  1. codecs: every format conversion against PyTorch's (fixtures/data/oracle/torch_formats.h5) and the\n"
      "     linked rcp.approx table against its measured histogram;\n"
      "  2. replay: every counterexample fixture kept in fixtures/regressions and fixtures/data;\n"
      "  3. properties P1..P6 (padding invariance, golden agreement, poison, routing, metamorphic, tensor\n"
      "     parallel) over generated cases on every built backend; a failing property is shrunk to a minimal\n"
      "     case, printed with its reproduction, and written as a fixture to fixtures/regressions.\n"
      "Prints a summary table (property x method/backend: cases, result, max ULP). Progress goes to stderr\n"
      "(a bar on a terminal, plain lines otherwise). Exit status 0 pass, 1 a check failed, 2 bad input.");
  sub->add_option("--data", opts->data, "Folder of the committed fixtures (default: $MOECHECK_DATA, else the source "
                                        "tree's fixtures/data)");
  sub->add_option("--oracle", opts->oracle, "Oracle file (default: DATA/oracle/torch_formats.h5)");
  sub->add_option("--backend", opts->backends, "Only these device backends (repeatable; default: every built one: " +
                                                     device::backend_names() + ")");
  sub->add_option("--method", opts->methods,
                  "Only padding targets of these quantization methods of the padding registry (repeatable; e.g. "
                  "mxfp4, unquantized; default: all)");
  sub->add_option("--property", opts->properties,
                  "Only these properties (repeatable; P1..P6 or full names such as P3_poison; default: all)");
  sub->add_option("--cases", opts->cases, "Generated cases per property (default " +
                                              std::to_string(properties::kDefaultCases) + ")")
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", opts->seed, "RapidCheck seed, decimal or 0x-hex (default " + hex(properties::kDefaultSeed) + ": runs repeat)");
  sub->add_option("--time-budget", opts->time_budget,
                  "Stop generating after SECONDS in all, split evenly over the properties (default: none)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--report", opts->report, "Write DIR/summary.json, DIR/junit.xml and DIR/report.md");
  sub->add_option("--fault", opts->faults,
                  "Inject a catalogued fault into the padding path or the sim (repeatable; see `moecheck selftest "
                  "--list`; default: $MOECHECK_FAULT, else none)");
  sub->add_option("--save-to", opts->save_to,
                  "Where failing counterexamples are written (default: $MOECHECK_REGRESSIONS, else the source "
                  "tree's fixtures/regressions)");
  add_case_filter_options(sub, opts->dtype, opts->layout);
  sub->add_flag("--large", opts->large,
                "Also generate the real model sizes (2880, 2688, 1440, 1408, 720, 704) and boundaries up to 128*12 "
                "(slower: a gpt-oss-sized P1 case takes about 5 s)");
  sub->add_flag("--no-save", opts->no_save, "Do not write counterexample fixtures");
  sub->add_flag("--no-replay", opts->no_replay, "Do not replay the kept counterexample fixtures");
  sub->add_flag("--no-codecs", opts->no_codecs, "Skip the codec oracle check");
  sub->callback([opts, &exit_code] {
    opts->command = command_line();
    exit_code = run_check(*opts);
  });
}

}  // namespace moecheck::cli
