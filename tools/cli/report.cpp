#include "tools/cli/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "properties/gen/case.h"
#include "properties/properties.h"
#include "tools/cli/common.h"

namespace moecheck::cli {

namespace fs = std::filesystem;
namespace pr = moecheck::properties;

namespace {

std::string result_text(const pr::CellResult& c) {
  if (c.failures > 0) return "FAIL";
  if (c.cases == 0) return "n/a";
  return "pass";
}

// The largest error: relative to the token row's scale for P2 and P6 (their tolerance), else ULPs.
std::string ulp_text(const pr::CellResult& c) {
  if (c.nonfinite) return "NaN/Inf";
  if (c.max_rel >= 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "rel %.2g", c.max_rel);
    return buf;
  }
  return std::to_string(c.max_ulp) + " ulp";
}


void write_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot open for writing");
    out << text;
    out.close();
    if (!out) throw std::runtime_error(tmp.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw std::runtime_error(file.string() + ": cannot rename from " + tmp.string() + ": " + ec.message());
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters; keep tab and newline.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t') out += ' ';
        else out += ch;
    }
  }
  return out;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

const pr::PropertyRun* run_of(const pr::SuiteResult& s, const std::string& property) {
  for (const pr::PropertyRun& r : s.runs)
    if (r.property == property) return &r;
  return nullptr;
}

std::string counterexample_size(const pr::Counterexample& x) {
  std::ostringstream os;
  os << "T" << x.c.tokens() << " E" << x.c.block.num_experts() << " H" << x.c.block.hidden << " I"
     << x.c.block.intermediate;
  return os.str();
}

// The unbound (method, backend) pairs that a report with this --method filter lists.
std::vector<const pr::gen::UnboundTargets*> unbound_of(const std::vector<std::string>& methods) {
  std::vector<const pr::gen::UnboundTargets*> out;
  for (const pr::gen::UnboundTargets& u : pr::gen::unbound_targets())
    if (methods.empty() || std::find(methods.begin(), methods.end(), u.method) != methods.end()) out.push_back(&u);
  return out;
}

nlohmann::json to_json(const CheckReport& r) {
  nlohmann::json j;
  j["tool"] = "moecheck check";
  j["command"] = r.command;
  j["ok"] = r.ok();
  j["codecs"] = {{"ran", r.codecs.ran},
                 {"oracle", r.codecs.oracle_file},
                 {"datasets", r.codecs.datasets},
                 {"mismatches", r.codecs.mismatches},
                 {"ok", r.codecs.ok}};
  j["replay"] = {{"fixtures", r.suite.replay.fixtures},
                 {"verdicts", r.suite.replay.verdicts},
                 {"failures", r.suite.replay.failures}};
  j["seed"] = hex(r.suite.seed);
  j["cases_per_property"] = r.suite.cases;
  j["seconds"] = r.suite.seconds;
  nlohmann::json runs = nlohmann::json::array();
  for (const pr::PropertyRun& run : r.suite.runs) {
    nlohmann::json x = {{"property", run.property},
                        {"ok", run.ok},
                        {"cases_checked", run.cases_checked},
                        {"stopped_by_time_budget", run.stopped_by_time},
                        {"seconds", run.seconds}};
    if (!run.ok) {
      x["cases_to_failure"] = run.cases_to_failure;
      x["failure"] = run.failure;
      x["reproduce"] = run.reproduce;
      x["fixture"] = run.fixture;
      if (run.counterexample) {
        x["counterexample"] = {{"case", pr::describe(run.counterexample->c)},
                               {"tokens", run.counterexample->c.tokens()},
                               {"experts", run.counterexample->c.block.num_experts()},
                               {"hidden", run.counterexample->c.block.hidden},
                               {"intermediate", run.counterexample->c.block.intermediate},
                               {"message", run.counterexample->message}};
      }
    }
    runs.push_back(std::move(x));
  }
  j["properties"] = std::move(runs);
  nlohmann::json unbound = nlohmann::json::array();
  for (const pr::gen::UnboundTargets* u : unbound_of(r.methods))
    unbound.push_back({{"method", u->method}, {"backends", u->backends}, {"why", u->why}});
  j["not_generated"] = std::move(unbound);
  nlohmann::json cells = nlohmann::json::array();
  for (const pr::CellResult& c : r.suite.cells)
    cells.push_back({{"property", c.property},
                     {"method", c.method},
                     {"backend", c.backend},
                     {"cases", c.cases},
                     {"skipped", c.skipped},
                     {"failures", c.failures},
                     {"result", result_text(c)},
                     {"max_ulp", c.max_ulp},
                     {"max_rel", c.max_rel},
                     {"nonfinite", c.nonfinite}});
  j["cells"] = std::move(cells);
  return j;
}

std::string to_junit(const CheckReport& r) {
  struct Case {
    std::string classname, name, failure, detail;
    double seconds = 0;
    bool skipped = false;
  };
  std::vector<Case> cases;
  if (r.codecs.ran)
    cases.push_back({"codecs", "oracle " + r.codecs.oracle_file,
                     r.codecs.ok ? "" : std::to_string(r.codecs.mismatches) + " mismatches", "", 0, false});
  {
    std::string failures;
    for (const std::string& f : r.suite.replay.failures) failures += f + "\n";
    cases.push_back({"replay", std::to_string(r.suite.replay.fixtures) + " regression fixtures",
                     failures.empty() ? "" : std::to_string(r.suite.replay.failures.size()) + " fixtures fail",
                     failures, 0, false});
  }
  for (const pr::CellResult& c : r.suite.cells) {
    Case k{c.property, c.method + " / " + c.backend, "", "", 0, c.cases == 0};
    if (c.failures > 0) {
      const pr::PropertyRun* run = run_of(r.suite, c.property);
      k.failure = "failed";
      if (run) {
        k.failure = run->counterexample ? run->counterexample->message : run->failure;
        k.detail = run->failure + "\nRC_PARAMS=\"" + run->reproduce + "\"\nfixture: " + run->fixture;
      }
    }
    cases.push_back(std::move(k));
  }
  std::size_t failures = 0, skipped = 0;
  for (const Case& c : cases) {
    failures += !c.failure.empty();
    skipped += c.skipped;
  }
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"moecheck check\" tests=\"" << cases.size() << "\" failures=\"" << failures << "\">\n";
  os << "  <testsuite name=\"moecheck check\" tests=\"" << cases.size() << "\" failures=\"" << failures
     << "\" skipped=\"" << skipped << "\" time=\"" << r.suite.seconds << "\">\n";
  for (const Case& c : cases) {
    os << "    <testcase classname=\"" << xml_escape(c.classname) << "\" name=\"" << xml_escape(c.name) << "\">";
    if (!c.failure.empty())
      os << "\n      <failure message=\"" << xml_escape(c.failure) << "\">" << xml_escape(c.detail) << "</failure>\n    ";
    else if (c.skipped)
      os << "<skipped message=\"no generated case applied to this backend\"/>";
    os << "</testcase>\n";
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

std::string to_markdown(const CheckReport& r) {
  std::ostringstream os;
  os << "# moecheck check: " << (r.ok() ? "PASS" : "FAIL") << "\n\n";
  os << "`" << md_escape(r.command) << "`  \n";
  os << "seed " << hex(r.suite.seed) << ", " << r.suite.cases << " generated cases per property, " << r.suite.seconds
     << " s\n\n";
  if (r.codecs.ran)
    os << "- codecs vs `" << r.codecs.oracle_file << "`: " << r.codecs.datasets << " datasets, " << r.codecs.mismatches
       << " mismatches\n";
  os << "- replay: " << r.suite.replay.fixtures << " counterexample fixtures, " << r.suite.replay.verdicts
     << " verdicts, " << r.suite.replay.failures.size() << " failures\n\n";
  os << "| property | method | backend | cases | skipped | result | max error |\n";
  os << "|---|---|---|---:|---:|---|---:|\n";
  for (const pr::CellResult& c : r.suite.cells)
    os << "| " << c.property << " | " << c.method << " | " << c.backend << " | " << c.cases << " | " << c.skipped
       << " | " << result_text(c) << " | " << ulp_text(c) << " |\n";
  if (const auto unbound = unbound_of(r.methods); !unbound.empty()) {
    os << "\nNot generated (no row of the weight-scheme table binds them):\n\n";
    for (const pr::gen::UnboundTargets* u : unbound) {
      std::string backends;
      for (const std::string& b : u->backends) backends += (backends.empty() ? "" : ", ") + b;
      os << "- " << u->method << " on " << backends << ": " << md_escape(u->why) << "\n";
    }
  }
  for (const pr::PropertyRun& run : r.suite.runs) {
    if (run.ok) continue;
    os << "\n## " << run.property << " failed after " << run.cases_to_failure << " cases\n\n";
    if (run.counterexample)
      os << "Shrunk counterexample (" << counterexample_size(*run.counterexample) << "): `"
         << md_escape(pr::describe(run.counterexample->c)) << "`\n\n```\n" << run.counterexample->message << "\n```\n\n";
    os << "Reproduce: `RC_PARAMS=\"" << run.reproduce << "\"`; fixture: `" << run.fixture << "`\n";
  }
  for (const std::string& f : r.suite.replay.failures) os << "\n- replay failure: `" << md_escape(f) << "`";
  os << "\n";
  return os.str();
}

}  // namespace

std::string summary_table(const pr::SuiteResult& suite) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-22s %-28s %-14s %7s %7s %-6s %s\n", "property", "method", "backend", "cases",
                "skipped", "result", "max error");
  os << line;
  for (const pr::CellResult& c : suite.cells) {
    std::snprintf(line, sizeof line, "%-22s %-28s %-14s %7lld %7lld %-6s %s\n", c.property.c_str(), c.method.c_str(),
                  c.backend.c_str(), static_cast<long long>(c.cases), static_cast<long long>(c.skipped),
                  result_text(c).c_str(), ulp_text(c).c_str());
    os << line;
  }
  return os.str();
}

std::string unbound_table(const std::vector<std::string>& methods) {
  std::ostringstream os;
  for (const pr::gen::UnboundTargets* u : unbound_of(methods)) {
    if (os.tellp() == 0) os << "not generated (no row of the weight-scheme table binds them):\n";
    std::string backends;
    for (const std::string& b : u->backends) backends += (backends.empty() ? "" : ", ") + b;
    os << "  " << u->method << " on " << backends << ": " << (u->why.empty() ? "(no reason given)" : u->why) << "\n";
  }
  return os.str();
}

void write_report(const fs::path& dir, const CheckReport& report) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot create the report directory: " + ec.message());
  write_atomically(dir / "summary.json", to_json(report).dump(2) + "\n");
  write_atomically(dir / "junit.xml", to_junit(report));
  write_atomically(dir / "report.md", to_markdown(report));
}

}  // namespace moecheck::cli
