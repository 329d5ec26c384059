// `moecheck check`: the main job. At this stage it verifies the bit-exact codecs against the
// committed oracles; later stages add the padding properties on every built backend.
#include <cstdio>
#include <string>

#include "fixtures/format_oracle.h"
#include "reference/formats.h"
#include "tools/cli/common.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace fmt = reference::formats;

struct CheckOptions {
  std::string data, oracle;
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

int run_check(const CheckOptions& o) {
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
  const bool ok = report.ok() && table_ok;
  std::printf("\n%s: %zu oracle datasets, %llu mismatches\n", ok ? "PASS" : "FAIL", report.rows.size(),
              static_cast<unsigned long long>(report.total_mismatches()));
  return ok ? 0 : 1;
}

}  // namespace

void add_check(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "The main job: verify moecheck against its committed oracles and print a one-screen summary.\n"
      "Now: every codec against PyTorch's casts and decodes (fixtures/data/oracle/torch_formats.h5) and\n"
      "the linked rcp.approx table against its measured histogram. Exit status 0 pass, 1 mismatch, 2 bad input.");
  sub->add_option("--data", opts->data, "Folder of the committed fixtures (default: $MOECHECK_DATA, else the source "
                                        "tree's fixtures/data)");
  sub->add_option("--oracle", opts->oracle, "Oracle file (default: DATA/oracle/torch_formats.h5)");
  sub->callback([opts, &exit_code] { exit_code = run_check(*opts); });
}

}  // namespace moecheck::cli
