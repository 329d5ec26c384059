#include "properties/suite.h"

#include <rapidcheck.h>
#include <rapidcheck/detail/TestListenerAdapter.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "device/registry.h"
#include "properties/properties.h"
#include "properties/runner.h"
#include "properties/rc_reproduce.h"
#include "reference/padding/registry.h"

namespace moecheck::properties {
namespace {
std::string methods_text(const std::vector<std::string>& methods) {
  if (methods.empty()) return "all";
  std::string out;
  for (const std::string& m : methods) out += (out.empty() ? "" : ",") + m;
  return out;
}
}  // namespace

bool SuiteResult::ok() const {
  if (!replay.failures.empty()) return false;
  return std::all_of(runs.begin(), runs.end(), [](const PropertyRun& r) { return r.ok; });
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// `also`: appended to the message (the backends built but not usable here, and why).
void require_known(const std::vector<std::string>& names, const std::vector<std::string>& valid, const char* what,
                   const std::string& also = {}) {
  for (const std::string& n : names)
    if (std::find(valid.begin(), valid.end(), n) == valid.end()) {
      std::string list;
      for (const std::string& v : valid) list += (list.empty() ? "" : ", ") + v;
      throw std::invalid_argument(std::string("unknown ") + what + " '" + n + "'; valid: " + list + also);
    }
}

}  // namespace

SuiteResult run_suite(const SuiteOptions& o) {
  const auto t0 = Clock::now();
  SuiteResult result;
  result.seed = o.seed;
  result.cases = o.cases;
  if (o.cases < 1) throw std::invalid_argument("cases: expected at least 1, found " + std::to_string(o.cases));
  if (o.time_budget_seconds < 0) throw std::invalid_argument("time budget: expected seconds >= 0");

  std::vector<std::string> properties;
  for (const std::string& p : o.properties.empty() ? property_names() : o.properties)
    properties.push_back(resolve_property(p));
  std::vector<std::string> backend_names;
  for (const device::Backend* b : device::backends()) backend_names.emplace_back(b->name());
  const std::string unusable = device::unusable_backends();
  require_known(o.backends, backend_names, "backend", unusable.empty() ? "" : "; built but not usable here: " + unusable);
  std::vector<std::string> method_names;
  for (const reference::padding::MethodInfo& m : reference::padding::methods()) method_names.emplace_back(m.name);
  require_known(o.methods, method_names, "method");

  if (o.replay) result.replay = replay_regressions(o.replay_from, o.faults);

  gen::CaseOptions copts = o.case_options;
  copts.methods = o.methods;

  using Key = std::tuple<std::size_t, std::string, std::string>;  // property index, method, backend
  std::map<Key, CellResult> cells;

  for (std::size_t pi = 0; pi < properties.size(); ++pi) {
    const std::string& property = properties[pi];
    const auto p0 = Clock::now();
    const bool timed = o.time_budget_seconds > 0;
    const auto deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                 o.time_budget_seconds * static_cast<double>(pi + 1) / static_cast<double>(properties.size())));
    PropertyRun run;
    run.property = property;
    bool failed = false;
    SuiteProgress progress{property, pi, properties.size(), 0, o.cases, false, false};

    FailureRecorder recorder;
    const auto body = [&]() {
      if (!failed && (run.stopped_by_time || (timed && Clock::now() > deadline))) {
        // Out of time: a discard, which with maxDiscardRatio 0 ends the run at once (below).
        run.stopped_by_time = true;
        RC_DISCARD("time budget");
      }
      const gen::CaseSpec spec = *gen::case_spec(copts);
      const MoeCase c = build_case(spec);
      const std::vector<Verdict> verdicts = check(property, c, o.faults, o.backends);
      const Verdict* bad = nullptr;
      for (const Verdict& v : verdicts)
        if (!v.skipped && !v.ok && !bad) bad = &v;
      if (!failed) {  // the generation phase: statistics (shrinking candidates are not counted)
        ++run.cases_checked;
        for (const Verdict& v : verdicts) {
          CellResult& cell = cells[Key{pi, c.target.method, v.backend}];
          cell.property = property;
          cell.method = c.target.method;
          cell.backend = v.backend;
          if (v.skipped) {
            ++cell.skipped;
            continue;
          }
          ++cell.cases;
          if (!v.ok) ++cell.failures;
          cell.max_rel = std::max(cell.max_rel, v.rel_error);
          if (v.comparison.max_ulp != kNanDistance) cell.max_ulp = std::max(cell.max_ulp, v.comparison.max_ulp);
          if (v.comparison.nonfinite_actual > 0 || v.comparison.nonfinite_expected > 0 ||
              v.comparison.max_ulp == kNanDistance)
            cell.nonfinite = true;
        }
        failed = bad != nullptr;
        progress.cases_done = run.cases_checked;
        progress.failed = failed;
        if (o.progress) o.progress(progress);
      }
      if (bad) {
        recorder.record(c, property, bad->message);
        RC_FAIL(bad->message);
      }
    };

    rc::detail::TestMetadata metadata;
    metadata.id = "moecheck/" + property;
    metadata.description = metadata.id;
    rc::detail::TestParams params;
    params.seed = o.seed + pi;
    params.maxSuccess = o.cases;
    params.maxSize = 100;
    params.maxDiscardRatio = 0;  // the bodies discard only when the time budget is spent
    // A silent listener: the suite reports failures itself (RapidCheck's default one would also
    // print a reproduce line at process exit).
    rc::detail::TestListenerAdapter quiet;
    // No reproduce map: RapidCheck's global configuration (RC_PARAMS, and its "Using configuration"
    // line) is not consulted; the suite's own seed decides.
    const std::unordered_map<std::string, rc::detail::Reproduce> no_reproduce;
    const rc::detail::TestResult r = rc::detail::checkTestable(body, metadata, params, quiet, no_reproduce);
    const bool gave_up_for_time = run.stopped_by_time && r.template is<rc::detail::GaveUpResult>();
    // Giving up before the first case is a generator that cannot meet the filters (a method whose
    // schemes store gate and up apart, with --layout interleaved): nothing was checked.
    if (r.template is<rc::detail::GaveUpResult>() && !run.stopped_by_time && run.cases_checked == 0) {
      std::ostringstream msg;
      rc::detail::printResultMessage(r, msg);
      throw NoCases(property + ": no case can be generated with these filters (methods " +
                    methods_text(o.methods) + ", dtype " +
                    (copts.dtype ? std::string(reference::moe::name(*copts.dtype)) : std::string("all")) +
                    ", layout " +
                    (copts.layout ? std::string(*copts.layout == reference::moe::GateUpLayout::kInterleaved
                                                    ? "interleaved"
                                                    : "concatenated")
                                  : std::string("all")) +
                    "): " + msg.str());
    }
    if (!r.template is<rc::detail::SuccessResult>() && !gave_up_for_time) {
      run.ok = false;
      std::ostringstream msg;
      rc::detail::printResultMessage(r, msg);
      run.failure = msg.str();
      if (r.template is<rc::detail::FailureResult>()) {
        const auto& f = r.template get<rc::detail::FailureResult>();
        run.cases_to_failure = f.numSuccess + 1;
        run.failure = f.description;
        run.reproduce = "reproduce=" + rc::detail::reproduceMapToString({{metadata.id, f.reproduce}});
      }
      run.counterexample = recorder.take();
      if (run.counterexample) {
        run.failure = run.counterexample->message;  // the shrunk case's verdict
        run.counterexample->test = metadata.id;
        run.counterexample->reproduce = run.reproduce;
        if (o.persist_to) {
          try {
            run.fixture = write_counterexample(*run.counterexample, *o.persist_to).string();
          } catch (const std::exception& e) {
            run.fixture = std::string("(not persisted: ") + e.what() + ")";
          }
        }
      }
    }
    run.seconds = seconds_since(p0);
    progress.finished = true;
    progress.failed = !run.ok;
    if (o.progress) o.progress(progress);
    result.runs.push_back(std::move(run));
    if (!result.runs.back().ok && o.stop_at_first_failure) break;
  }
  for (auto& [key, cell] : cells) result.cells.push_back(std::move(cell));
  result.seconds = seconds_since(t0);
  return result;
}

}  // namespace moecheck::properties
