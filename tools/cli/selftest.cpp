// `moecheck selftest`: the harness tests itself. The suite runs once without faults (it must pass),
// then once per catalogued fault (properties/faults.h, one per bug class of spec/bugs.md); per fault
// it reports whether a property caught it, which, after how many generated cases, and the size of
// the shrunk counterexample. Exit status 1 if the baseline fails or any fault escapes.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "device/registry.h"
#include "properties/faults.h"
#include "properties/properties.h"
#include "properties/suite.h"
#include "tools/cli/common.h"
#include "tools/cli/progress.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace pr = moecheck::properties;

struct SelftestOptions {
  std::vector<std::string> faults;
  std::vector<std::string> backends;  // empty: every built backend
  int cases = pr::kDefaultCases;
  std::string seed;
  std::string save_to;
  std::string dtype, layout;
  bool list = false;
  bool matrix = false;
};

void print_catalog() {
  std::printf("%-34s %-4s %-13s %s\n", "fault", "bug", "site", "upstream / what it does");
  for (const pr::FaultInfo& f : pr::fault_catalog())
    std::printf("%-34.*s %-4.*s %-13.*s %.*s\n%53s%.*s\n", static_cast<int>(f.name.size()), f.name.data(),
                static_cast<int>(f.bug.size()), f.bug.data(), static_cast<int>(pr::name(f.site).size()),
                pr::name(f.site).data(), static_cast<int>(f.upstream.size()), f.upstream.data(), "",
                static_cast<int>(f.description.size()), f.description.data());
}

// The properties a fault can show in: all of them, or for a fault that acts only on a rank's shard
// (FaultScope::kShardedCase) those that run cases on TP / EP ranks. The unsharded properties would
// spend their whole budget on cases where it is inert by construction.
std::vector<std::string> properties_for(const pr::FaultInfo& f) {
  std::vector<std::string> out;
  for (const std::string& p : pr::property_names())
    if (f.scope == pr::FaultScope::kAnyCase || pr::shards_cases(p)) out.push_back(p);
  return out;
}

// The faults whose cases come from some methods only (FaultInfo::methods), after `lead`; nothing
// when there are none.
void print_method_scopes(const std::vector<const pr::FaultInfo*>& faults, const char* lead) {
  bool first = true;
  for (const pr::FaultInfo* f : faults) {
    if (f->methods.empty()) continue;
    std::printf("%s %.*s (%.*s)", first ? lead : ",", static_cast<int>(f->name.size()), f->name.data(),
                static_cast<int>(f->methods.size()), f->methods.data());
    first = false;
  }
}

// The chosen backends (all built ones by default), each checked by name.
std::vector<const device::Backend*> chosen_backends(const SelftestOptions& o) {
  if (o.backends.empty()) {
    const auto all = device::backends();
    return {all.begin(), all.end()};
  }
  std::vector<const device::Backend*> out;
  for (const std::string& name : o.backends) {
    const device::Backend* b = device::find_backend(name);
    if (!b) throw UsageError("--backend: unknown backend '" + name + "'; valid: " + device::backend_names());
    out.push_back(b);
  }
  return out;
}

pr::SuiteOptions suite_options(const SelftestOptions& o, std::uint64_t seed) {
  pr::SuiteOptions so;
  so.backends = o.backends;
  so.cases = o.cases;
  so.seed = seed;
  so.replay = false;  // generated cases only: the committed corpus would detect some faults for free
  if (!o.save_to.empty()) so.persist_to = std::filesystem::path(o.save_to);
  set_case_filters(o.dtype, o.layout, so.case_options);
  return so;
}

// Every fault against every property on its own: which properties catch which bug, and after how
// many generated cases ("-": not within the budget; "n/a": a sharded-only fault against a property
// that never shards). Informational: exit status 0 unless a fault escapes every property.
int run_matrix(const SelftestOptions& o, std::uint64_t seed, const std::vector<const pr::FaultInfo*>& faults) {
  std::printf("%-34s %-4s", "fault", "bug");
  for (const std::string& p : pr::property_names()) std::printf(" %6s", p.substr(0, 2).c_str());
  std::printf("\n");
  int escaped = 0, none = 0, not_injected = 0;
  for (const pr::FaultInfo* f : faults) {
    std::printf("%-34.*s %-4.*s", static_cast<int>(f->name.size()), f->name.data(), static_cast<int>(f->bug.size()),
                f->bug.data());
    bool any = false;
    int cells_without_cases = 0;
    const std::vector<std::string> scope = properties_for(*f);
    const std::vector<std::string> injecting = pr::injecting_backends(*f, chosen_backends(o));
    if (injecting.empty()) {  // a kernel fault no chosen backend injects: neither caught nor escaped
      for (std::size_t p = 0; p < pr::property_names().size(); ++p) std::printf(" %6s", "n/i");
      std::printf("\n");
      ++not_injected;
      continue;
    }
    for (const std::string& p : pr::property_names()) {
      if (std::find(scope.begin(), scope.end(), p) == scope.end()) {
        std::printf(" %6s", "n/a");
        continue;
      }
      // With --save-to every cell's shrunk counterexample is kept: a corpus of each property that
      // catches each fault.
      pr::SuiteOptions so = suite_options(o, seed);
      so.backends = injecting;
      so.properties = {p};
      so.faults = pr::parse_faults(f->name);
      so.methods = pr::fault_methods(*f);
      pr::SuiteResult r;
      try {
        r = pr::run_suite(so);
      } catch (const pr::NoCases&) {
        std::printf(" %6s", "none");
        ++none;
        ++cells_without_cases;
        continue;
      }
      const pr::PropertyRun& run = r.runs.front();
      if (run.ok) {
        std::printf(" %6s", "-");
      } else {
        std::printf(" %6lld", static_cast<long long>(run.cases_to_failure));
        any = true;
      }
      std::fflush(stdout);
    }
    std::printf("\n");
    // A fault that no cell could draw a case for is not an escape: the filters left it nothing.
    const bool drawn = cells_without_cases < static_cast<int>(scope.size());
    escaped += any || !drawn ? 0 : 1;
  }
  std::printf("\nentries: generated cases until the property failed; -: passed all %d cases; n/a: the fault acts "
              "on a rank's shard only and the property checks TP 1 without EP",
              o.cases);
  if (none > 0) std::printf("; none: --dtype / --layout admit no case of the fault's methods");
  if (not_injected > 0) std::printf("; n/i: no chosen backend injects the kernel fault (%d faults)", not_injected);
  print_method_scopes(faults, "; cases drawn only from the methods whose kernels hold the fault's seam:");
  std::printf("\n");
  std::printf("%s: %zu faults, %d escaped every property\n", escaped == 0 ? "PASS" : "FAIL", faults.size(), escaped);
  return escaped == 0 ? 0 : 1;
}

int run_selftest(const SelftestOptions& o) {
  if (o.list) {
    print_catalog();
    return 0;
  }
  const std::uint64_t seed = o.seed.empty() ? pr::kDefaultSeed : parse_seed(o.seed);
  std::vector<const pr::FaultInfo*> faults;
  for (const std::string& name : o.faults) {
    const pr::FaultInfo* f = pr::find_fault(name);
    if (!f) throw UsageError("--fault: unknown fault '" + name + "'; valid: " + pr::fault_names());
    faults.push_back(f);
  }
  if (faults.empty())
    for (const pr::FaultInfo& f : pr::fault_catalog()) faults.push_back(&f);
  const std::vector<const device::Backend*> backends = chosen_backends(o);  // bad names: exit 2 before any run

  std::printf("moecheck selftest: seed 0x%llx, at most %d generated cases per property, %zu faults\n",
              static_cast<unsigned long long>(seed), o.cases, faults.size());
  std::fflush(stdout);
  if (o.matrix) return run_matrix(o, seed, faults);

  // The baseline: without a fault every property must pass, or no detection below means anything.
  {
    pr::SuiteOptions so = suite_options(o, seed);
    so.persist_to.reset();
    Progress progress("baseline");
    so.progress = [&progress](const pr::SuiteProgress& p) { progress.update(p); };
    const pr::SuiteResult base = pr::run_suite(so);
    progress.done();
    if (!base.ok()) {
      for (const pr::PropertyRun& r : base.runs)
        if (!r.ok)
          std::printf("baseline FAILED: %s: %s\n", r.property.c_str(),
                      r.counterexample ? r.counterexample->message.c_str() : r.failure.c_str());
      std::printf("FAIL: the suite fails without any fault injected; detections would mean nothing\n");
      return 1;
    }
    std::printf("baseline (no fault): %zu properties x %d cases pass (%.1f s)\n\n", base.runs.size(), o.cases,
                base.seconds);
  }

  std::printf("%-34s %-4s %-13s %-9s %-22s %6s  %-22s %s\n", "fault", "bug", "site", "detected", "property",
              "cases", "shrunk to (T E H I)", "seconds");
  std::fflush(stdout);
  int escaped = 0, beyond_target = 0, sharded_only = 0, method_scoped = 0, no_cases = 0, not_injected = 0;
  for (const pr::FaultInfo* f : faults) {
    pr::SuiteOptions so = suite_options(o, seed);
    // A kernel fault runs on the chosen backends that inject it (the others refuse its cases).
    so.backends = pr::injecting_backends(*f, backends);
    if (so.backends.empty()) {
      std::printf("%-34.*s %-4.*s %-13.*s %-9s no chosen backend injects this kernel fault\n",
                  static_cast<int>(f->name.size()), f->name.data(), static_cast<int>(f->bug.size()), f->bug.data(),
                  static_cast<int>(pr::name(f->site).size()), pr::name(f->site).data(), "n/i");
      ++not_injected;
      continue;
    }
    so.faults = pr::parse_faults(f->name);
    so.properties = properties_for(*f);
    so.methods = pr::fault_methods(*f);
    if (!so.methods.empty()) ++method_scoped;
    if (f->scope == pr::FaultScope::kShardedCase) ++sharded_only;
    so.stop_at_first_failure = true;
    pr::SuiteResult r;
    try {
      r = pr::run_suite(so);
    } catch (const pr::NoCases& e) {
      // Neither detected nor escaped: the filters leave the fault nothing to act on.
      std::printf("%-34.*s %-4.*s %-13.*s %-9s %s\n", static_cast<int>(f->name.size()), f->name.data(),
                  static_cast<int>(f->bug.size()), f->bug.data(), static_cast<int>(pr::name(f->site).size()),
                  pr::name(f->site).data(), "no cases", e.what());
      ++no_cases;
      continue;
    }
    const pr::PropertyRun* caught = nullptr;
    std::int64_t cases = 0;
    for (const pr::PropertyRun& run : r.runs) {
      if (!run.ok) {
        caught = &run;
        cases += run.cases_to_failure;
        break;
      }
      cases += run.cases_checked;
    }
    std::string size = "-";
    if (caught && caught->counterexample) {
      const pr::MoeCase& c = caught->counterexample->c;
      size = "T" + std::to_string(c.tokens()) + " E" + std::to_string(c.block.num_experts()) + " H" +
             std::to_string(c.block.hidden) + " I" + std::to_string(c.block.intermediate);
      if (c.tokens() > 4 || c.block.num_experts() > 2) {
        size += " *";
        ++beyond_target;
      }
    }
    if (!caught) ++escaped;
    const std::string property = (caught ? caught->property : std::string("-")) +
                                 (f->scope == pr::FaultScope::kShardedCase ? " +" : "");
    std::printf("%-34.*s %-4.*s %-13.*s %-9s %-22s %6lld  %-22s %.1f\n", static_cast<int>(f->name.size()),
                f->name.data(), static_cast<int>(f->bug.size()), f->bug.data(),
                static_cast<int>(pr::name(f->site).size()), pr::name(f->site).data(), caught ? "yes" : "NO",
                property.c_str(), static_cast<long long>(cases), size.c_str(), r.seconds);
    if (caught && caught->counterexample)
      std::printf("    %s\n", caught->counterexample->message.substr(0, 300).c_str());
    if (caught && !caught->fixture.empty()) std::printf("    fixture: %s\n", caught->fixture.c_str());
    std::fflush(stdout);
  }
  if (sharded_only > 0)
    std::printf("\n+ acts on a rank's shard only: run against the properties that shard (P6), since P1 to P5 "
                "check TP 1 without EP, where it is inert (%d faults)\n",
                sharded_only);
  if (method_scoped > 0) {
    std::printf("\n");
    print_method_scopes(faults, "cases drawn only from the methods whose kernels hold the fault's seam:");
    std::printf("\n");
  }
  if (beyond_target > 0)
    std::printf("\n* shrunk counterexample beyond the target of <= 4 tokens and <= 2 experts (%d faults)\n",
                beyond_target);
  std::printf("\n%s: %zu faults, %zu detected, %d escaped", escaped == 0 ? "PASS" : "FAIL", faults.size(),
              faults.size() - static_cast<std::size_t>(escaped + no_cases + not_injected), escaped);
  if (no_cases > 0) std::printf(", %d without cases under --dtype / --layout", no_cases);
  if (not_injected > 0) std::printf(", %d not injected by the chosen backends", not_injected);
  std::printf("\n");
  return escaped == 0 ? 0 : 1;
}

}  // namespace

void add_selftest(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<SelftestOptions>();
  CLI::App* sub = app.add_subcommand(
      "selftest",
      "The harness tests itself: runs the property suite without faults (it must pass), then once per\n"
      "catalogued fault — every bug class of spec/bugs.md, switched on in the sim kernel or the padding path —\n"
      "and prints per fault: detected or not, the property that caught it, the generated cases until detection\n"
      "and the shrunk counterexample's size (tokens, experts, hidden, intermediate). Generated cases only (no\n"
      "replay). Exit status 0 when every fault is detected, 1 if the baseline fails or a fault escapes, 2 bad\n"
      "input.");
  sub->add_option("--fault", opts->faults, "Only these faults (repeatable; default: the whole catalog, see --list)");
  sub->add_option("--backend", opts->backends,
                  "Only these device backends (repeatable; default: every built one: " + device::backend_names() +
                      "). A kernel fault runs on those of them that inject it (Capabilities::faults); one that none "
                      "injects is reported n/i, neither detected nor escaped");
  sub->add_option("--cases", opts->cases,
                  "Generated cases per property, the budget a fault must be caught within (default " +
                      std::to_string(pr::kDefaultCases) + ")")
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", opts->seed, "RapidCheck seed, decimal or 0x-hex (default " + hex(pr::kDefaultSeed) + ")");
  sub->add_option("--save-to", opts->save_to,
                  "Write each fault's shrunk counterexample as a fixture into DIR (default: not written); with "
                  "--matrix, every property's that catches it");
  add_case_filter_options(sub, opts->dtype, opts->layout);
  sub->add_flag("--list", opts->list, "Print the fault catalog and exit");
  sub->add_flag("--matrix", opts->matrix,
                "Run every fault against every property on its own and print which properties catch it, after how "
                "many cases (no baseline; minutes)");
  sub->callback([opts, &exit_code] { exit_code = run_selftest(*opts); });
}

}  // namespace moecheck::cli
