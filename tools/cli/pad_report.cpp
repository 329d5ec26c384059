// `moecheck pad-report`: what each quant method / backend / platform / TP degree pads a model's
// MoE sizes to, under a ruleset (reference/padding/rulesets), and what two rulesets disagree on.
// The rules are data; this file only enumerates combinations and prints plans (README.md
// "pad-report"; padding.md §2.4 is its worked example).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures/ffn_shapes.h"
#include "fixtures/model_config.h"  // describe_layers
#include "fixtures/ruleset_json.h"
#include "reference/padding.h"
#include "tools/cli/common.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace pd = reference::padding;

struct PadReportOptions {
  std::string model;
  std::int64_t hidden = 0, intermediate = 0, experts = 0, topk = 0;
  std::vector<int> tp;
  bool ep = false, eplb = false, show_invalid = false;
  std::string all2all = "none", platform, method, backend, ruleset, act_dtype = "bf16", format = "table";
  std::string activation, routing, act_scheme;  // empty: the model's (or silu / renormalize / dynamic)
  std::optional<std::int64_t> group_size;
  std::optional<bool> act_order;
  std::vector<std::string> env, packages;  // VAR=VALUE, NAME=0|1
  std::string cpu_isa = "amx";
  std::vector<std::string> diff;
};

// The TP degrees listed when --tp is not given (the columns of padding.md §2.4).
constexpr int kDefaultTp[] = {1, 2, 4, 8};

struct Row {
  std::string ruleset, method, backend, platform, ffn;
  int tp = 1;
  std::int64_t hidden = 0, intermediate_per_partition = 0;
  std::optional<std::int64_t> hidden_padded, intermediate_per_partition_padded;
  std::optional<double> flop_overhead, weight_bytes_overhead;
  std::string note;
  std::optional<std::string> error;
};

// What the user asked, checked and parsed.
struct Request {
  std::vector<fixtures::FfnShape> ffns;  // one (routed) without --model
  std::string model_type;
  bool from_model = false;
  std::vector<int> tps;
  pd::ParallelConfig parallel;  // tp_size set per row
  pd::ActDtype act_dtype = pd::ActDtype::kBf16;
  std::optional<pd::Platform> platform;
  std::string method, backend;
  bool show_invalid = false;
  // The checkpoint settings rules read (--group-size, --act-order, --act-scheme, else config.json's
  // quantization_config, else these defaults) and the deployment's environment and packages.
  std::int64_t group_size = 128;
  bool act_order = false;
  std::string act_scheme = "dynamic";
  std::string activation, routing;  // overrides of the FFN's own
  pd::Settings settings;
};

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

double four_decimals(double x) { return std::round(x * 1e4) / 1e4; }

std::string ffn_label(const fixtures::FfnShape& f) {
  if (f.kind == "routed") return "routed experts (layers " + fixtures::describe_layers(f.layers) + ")";
  if (f.kind == "shared")
    return "shared expert (layers " + fixtures::describe_layers(f.layers) +
           "; vLLM runs it outside FusedMoE, unpadded: sizes as if this method's fused-MoE kernel ran it)";
  return "dense MLP (layers " + fixtures::describe_layers(f.layers) +
         "; not a FusedMoE layer in vLLM, unpadded: sizes as if this method's fused-MoE kernel ran it)";
}

class Reporter {
 public:
  Reporter(const pd::Ruleset& rs, const Request& req) : rs_(rs), req_(req) {}

  std::vector<Row> rows() const {
    std::vector<Row> out;
    for (const auto& ffn : req_.ffns) {
      if (!req_.method.empty()) {
        add_method(out, ffn, req_.method);
      } else {
        for (const auto& m : rs_.methods) add_method(out, ffn, m.name);
      }
    }
    return out;
  }

 private:
  // The platforms a backend gets rows for: every platform it runs on, or the one asked for (where
  // it does not run only with --show-invalid, as an error row).
  std::vector<pd::Platform> platforms_for(const pd::BackendChoice* choice) const {
    std::vector<pd::Platform> out;
    if (req_.platform) {
      if (!choice || req_.show_invalid || pd::backend_runs_on(*choice, *req_.platform)) out.push_back(*req_.platform);
      return out;
    }
    for (const auto& p : pd::platforms())
      if (!choice || pd::backend_runs_on(*choice, p)) out.push_back(p);
    return out;
  }

  pd::Problem problem_of(const fixtures::FfnShape& ffn) const {
    pd::Problem problem = fixtures::padding_problem(ffn, req_.model_type);
    if (!req_.activation.empty()) problem.activation = req_.activation;
    if (!req_.routing.empty()) problem.routing = req_.routing;
    problem.group_size = req_.group_size;
    problem.act_order = req_.act_order;
    problem.act_scheme = req_.act_scheme;
    return problem;
  }

  void add_method(std::vector<Row>& out, const fixtures::FfnShape& ffn, const std::string& method) const {
    const pd::MethodRules* m = rs_.find_method(method);
    if (!m) {  // a registered method this ruleset lacks: one row per asked backend/platform, with the reason
      for (const auto& p : platforms_for(nullptr))
        add_row(out, ffn, method, req_.backend.empty() ? "-" : req_.backend, p, nullptr);
      return;
    }
    if (req_.backend == "auto") {
      for (const auto& p : platforms_for(nullptr)) add_row(out, ffn, method, "auto", p, m);
      return;
    }
    for (const auto& choice : m->backends) {
      if (!req_.backend.empty() && choice.name != req_.backend) continue;
      for (const auto& p : platforms_for(&choice)) add_row(out, ffn, method, choice.name, p, m);
    }
    if (!req_.backend.empty() && !m->find_backend(req_.backend)) {
      const pd::BackendChoice asked{req_.backend, {}};
      for (const auto& p : platforms_for(pd::find_backend_info(req_.backend) ? &asked : nullptr))
        add_row(out, ffn, method, req_.backend, p, m);
    }
  }

  Row base_row(const fixtures::FfnShape& ffn, const std::string& method, const std::string& backend,
               const pd::Platform& p, int tp) const {
    Row r;
    r.ruleset = rs_.name;
    r.method = std::string(rs_.canonical_method(method));
    r.backend = backend;
    r.platform = std::string(p.name);
    r.ffn = ffn.kind;
    r.tp = tp;
    r.hidden = ffn.hidden;
    const int moe_tp = req_.parallel.enable_ep ? 1 : tp;
    r.intermediate_per_partition = ffn.intermediate % moe_tp == 0 ? ffn.intermediate / moe_tp : 0;
    return r;
  }

  // `backend` "auto": vLLM's default for this combination (the ruleset's selection).
  void add_row(std::vector<Row>& out, const fixtures::FfnShape& ffn, const std::string& method,
               const std::string& asked_backend, const pd::Platform& p, const pd::MethodRules* m) const {
    const pd::Problem problem = problem_of(ffn);
    for (int tp : req_.tps) {
      pd::ParallelConfig parallel = req_.parallel;
      parallel.tp_size = tp;
      std::vector<std::string> notes;
      if (req_.from_model) notes.push_back(ffn_label(ffn));
      std::string backend = asked_backend;
      if (m) {
        const pd::BackendChoiceResult chosen =
            pd::select_backend(rs_, method, problem, p, parallel, req_.act_dtype, req_.settings);
        if (asked_backend == "auto") {
          if (!chosen.backend) {
            Row r = base_row(ffn, method, "auto", p, tp);
            r.error = chosen.error.value_or("no default backend");
            notes.push_back("selection: " + chosen.source);
            r.note = join(notes, "; ");
            out.push_back(std::move(r));
            continue;
          }
          backend = *chosen.backend;
          notes.push_back("vLLM's default backend (" + chosen.source + ")");
        } else if (chosen.backend && *chosen.backend == asked_backend) {
          notes.push_back("vLLM's default backend on " + std::string(p.name));
        }
        if (!chosen.note.empty() && chosen.backend == backend) notes.push_back(chosen.note);
      }
      const pd::Plan plan = pd::make_plan(rs_, problem, method, backend, p, parallel, req_.act_dtype, req_.settings);
      Row r = base_row(ffn, method, backend, p, tp);
      if (!plan.ok()) {
        r.error = *plan.error;
        r.note = join(notes, "; ");
        out.push_back(std::move(r));
        continue;
      }
      r.intermediate_per_partition = plan.intermediate_per_partition;
      for (const auto& rule_source : plan.sources) {
        const auto open = rule_source.find(" (");
        if (open != std::string::npos) notes.push_back(rule_source.substr(open + 2, rule_source.size() - open - 3));
      }
      for (const auto& n : plan.notes) notes.push_back(n);
      if (plan.kernel_pad_args)
        notes.push_back(plan.kernel_pad_args->kernel + "(hidden_pad=" + std::to_string(plan.kernel_pad_args->hidden_pad) +
                        ", intermediate_pad=" + std::to_string(plan.kernel_pad_args->intermediate_pad) + ")");
      if ((plan.hidden_is_padded() || plan.intermediate_is_padded()) && plan.fill.weight.kind == pd::FillKind::kUninitialized &&
          plan.hidden_allocated + plan.intermediate_per_partition_allocated >
              plan.hidden + plan.intermediate_per_partition)
        notes.push_back("padded weights are uninitialized at allocation (torch.empty)");
      if (parallel.all2all != pd::All2All::kNone && !parallel.enable_ep)
        notes.push_back("all-to-all kernels are used with expert parallelism (--ep)");
      const pd::Partition part = pd::partition(plan);
      if (!part.ok()) {
        r.error = *part.error;
      } else if (parallel.enable_ep) {
        notes.push_back("EP " + std::to_string(parallel.ep_size()) + ": " + std::to_string(plan.local_experts) +
                        (plan.local_experts == 1 ? " local expert" : " local experts") +
                        " on rank 0, full intermediate per rank");
      } else if (parallel.moe_tp_size() > 1) {
        notes.push_back(part.summary());
        if (problem.has_bias && part.ranks.size() > 1 && part.ranks.back().holds_w2_bias)
          notes.push_back("the w2 bias is loaded on every TP rank, so the all-reduce adds it " +
                          std::to_string(part.ranks.size()) + " times (generic loader bias path, #44120)");
      }
      r.note = join(notes, "; ");
      if (!r.error) {
        r.hidden_padded = plan.hidden_padded;
        r.intermediate_per_partition_padded = plan.intermediate_per_partition_padded;
        r.flop_overhead = four_decimals(pd::flop_overhead(plan));
        r.weight_bytes_overhead = four_decimals(pd::weight_bytes_overhead(plan));
      }
      out.push_back(std::move(r));
    }
  }

  const pd::Ruleset& rs_;
  const Request& req_;
};

// ---- output ------------------------------------------------------------------------------------

nlohmann::ordered_json to_json(const Row& r) {
  nlohmann::ordered_json j;
  j["method"] = r.method;
  j["backend"] = r.backend;
  j["platform"] = r.platform;
  j["ruleset"] = r.ruleset;
  j["tp"] = r.tp;
  j["hidden"] = r.hidden;
  j["hidden_padded"] = r.hidden_padded ? nlohmann::ordered_json(*r.hidden_padded) : nullptr;
  j["intermediate_per_partition"] = r.intermediate_per_partition;
  j["intermediate_per_partition_padded"] =
      r.intermediate_per_partition_padded ? nlohmann::ordered_json(*r.intermediate_per_partition_padded) : nullptr;
  j["flop_overhead"] = r.flop_overhead ? nlohmann::ordered_json(*r.flop_overhead) : nullptr;
  j["weight_bytes_overhead"] = r.weight_bytes_overhead ? nlohmann::ordered_json(*r.weight_bytes_overhead) : nullptr;
  j["note"] = r.note;
  j["error"] = r.error ? nlohmann::ordered_json(*r.error) : nullptr;
  return j;
}

void print_json(const std::vector<Row>& rows) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) out += (i ? ",\n  " : "\n  ") + to_json(rows[i]).dump();
  out += rows.empty() ? "]\n" : "\n]\n";
  std::fputs(out.c_str(), stdout);
}

std::string num(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }
std::string frac(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", *v);
  return buf;
}

// Prints aligned columns (table) or a Markdown table (md); the last column is free text.
void print_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& cells, bool md) {
  if (md) {
    auto line = [](const std::vector<std::string>& c) {
      std::string s = "|";
      for (auto x : c) {
        std::string esc;
        for (char ch : x) esc += ch == '|' ? std::string("\\|") : std::string(1, ch);
        s += " " + esc + " |";
      }
      return s + "\n";
    };
    std::string out = line(header);
    out += "|";
    for (std::size_t i = 0; i < header.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& c : cells) out += line(c);
    std::fputs(out.c_str(), stdout);
    return;
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& c : cells)
    for (std::size_t i = 0; i + 1 < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
  auto line = [&](const std::vector<std::string>& c) {
    std::string s;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i + 1 == c.size()) {
        s += c[i];
        break;
      }
      s += c[i] + std::string(width[i] - c[i].size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(header);
  for (const auto& c : cells) out += line(c);
  std::fputs(out.c_str(), stdout);
}

std::string describe_request(const Request& req, const std::string& model) {
  std::string s;
  if (req.from_model) {
    s = "model " + model + " (" + req.model_type + ")";
  } else {
    const auto& f = req.ffns.front();
    s = "H=" + std::to_string(f.hidden) + " I=" + std::to_string(f.intermediate);
    if (f.experts > 1) s += " E=" + std::to_string(f.experts);
    if (f.topk > 1) s += " k=" + std::to_string(f.topk);
  }
  s += "; act " + std::string(pd::name(req.act_dtype)) + "; all2all " + std::string(pd::name(req.parallel.all2all));
  if (req.parallel.enable_ep) s += "; expert parallel (tp ranks = ep ranks)";
  return s;
}

void print_report(const pd::Ruleset& rs, const Request& req, const PadReportOptions& o, const std::vector<Row>& rows) {
  if (o.format == "json") return print_json(rows);
  const bool md = o.format == "md";
  const std::string title = "ruleset " + rs.name + ": " + rs.title;
  const std::string what = describe_request(req, o.model);
  std::printf(md ? "### %s\n\n%s\n\n" : "# %s\n# %s\n", title.c_str(), what.c_str());
  std::vector<std::string> header = {"method", "backend", "platform"};
  if (req.from_model) header.push_back("ffn");
  for (auto h : {"tp", "hidden", "hidden_pad", "I/tp", "I/tp_pad", "flop+", "bytes+", "note"}) header.push_back(h);
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> c = {r.method, r.backend, r.platform};
    if (req.from_model) c.push_back(r.ffn);
    for (auto x : {std::to_string(r.tp), std::to_string(r.hidden), num(r.hidden_padded),
                   std::to_string(r.intermediate_per_partition), num(r.intermediate_per_partition_padded),
                   frac(r.flop_overhead), frac(r.weight_bytes_overhead)})
      c.push_back(x);
    c.push_back(r.error ? join({"ERROR: " + *r.error, r.note}, "; ") : r.note);
    cells.push_back(std::move(c));
  }
  print_grid(header, cells, md);
  if (!md) std::printf("# %zu combinations\n", rows.size());
}

// Rows that differ between A and B (padded sizes or validity), A's order then B's extra rows.
void print_diff(const pd::Ruleset& a, const pd::Ruleset& b, const Request& req, const PadReportOptions& o,
                const std::vector<Row>& rows_a, const std::vector<Row>& rows_b) {
  using Key = std::tuple<std::string, std::string, std::string, std::string, int>;
  auto key = [](const Row& r) { return Key{r.method, r.backend, r.platform, r.ffn, r.tp}; };
  std::map<Key, const Row*> in_b;
  for (const auto& r : rows_b) in_b[key(r)] = &r;
  std::set<Key> in_a;
  auto absent = [](const Row& like, const pd::Ruleset& rs) {
    Row r = like;
    r.ruleset = rs.name;
    r.hidden_padded.reset();
    r.intermediate_per_partition_padded.reset();
    r.flop_overhead.reset();
    r.weight_bytes_overhead.reset();
    r.note.clear();
    r.error = "combination not in ruleset " + rs.name;
    return r;
  };
  auto differ = [](const Row& x, const Row& y) {
    return x.error.has_value() != y.error.has_value() || x.hidden_padded != y.hidden_padded ||
           x.intermediate_per_partition_padded != y.intermediate_per_partition_padded;
  };
  std::vector<std::pair<Row, Row>> pairs;
  std::size_t compared = 0;
  for (const auto& r : rows_a) {
    in_a.insert(key(r));
    ++compared;
    const auto it = in_b.find(key(r));
    const Row other = it == in_b.end() ? absent(r, b) : *it->second;
    if (it == in_b.end() || differ(r, other)) pairs.emplace_back(r, other);
  }
  for (const auto& r : rows_b)
    if (!in_a.count(key(r))) {
      ++compared;
      pairs.emplace_back(absent(r, a), r);
    }

  if (o.format == "json") {
    std::vector<Row> flat;
    for (const auto& [x, y] : pairs) flat.push_back(x), flat.push_back(y);
    return print_json(flat);
  }
  const bool md = o.format == "md";
  const std::string title = "diff " + a.name + " -> " + b.name + ": " + std::to_string(pairs.size()) + " of " +
                            std::to_string(compared) + " combinations differ in padded sizes or validity";
  std::printf(md ? "### %s\n\n%s\n\n" : "# %s\n# %s\n", title.c_str(), describe_request(req, o.model).c_str());
  std::vector<std::string> header = {"method", "backend", "platform"};
  if (req.from_model) header.push_back("ffn");
  for (auto h : {"tp", "hidden", "I/tp"}) header.push_back(h);
  header.push_back(a.name + " (H_pad, I_pad)");
  header.push_back(b.name + " (H_pad, I_pad)");
  header.push_back("note (" + b.name + ")");
  auto sizes = [](const Row& r) {
    if (r.error) return std::string(r.error->rfind("combination not in", 0) == 0 ? "absent" : "error");
    return num(r.hidden_padded) + ", " + num(r.intermediate_per_partition_padded);
  };
  std::vector<std::vector<std::string>> cells;
  for (const auto& [x, y] : pairs) {
    std::vector<std::string> c = {y.method, y.backend, y.platform};
    if (req.from_model) c.push_back(y.ffn);
    c.push_back(std::to_string(y.tp));
    c.push_back(std::to_string(y.hidden));
    c.push_back(std::to_string(y.intermediate_per_partition ? y.intermediate_per_partition : x.intermediate_per_partition));
    c.push_back(sizes(x));
    c.push_back(sizes(y));
    const Row& explain = y.error && y.error->rfind("combination not in", 0) == 0 ? x : y;
    c.push_back(explain.error ? join({"ERROR: " + *explain.error, explain.note}, "; ") : explain.note);
    cells.push_back(std::move(c));
  }
  if (pairs.empty()) {
    std::printf("no differences\n");
    return;
  }
  print_grid(header, cells, md);
}

// ---- parsing -----------------------------------------------------------------------------------

Request make_request(const PadReportOptions& o, const std::vector<const pd::Ruleset*>& rulesets) {
  Request req;
  if (o.format != "table" && o.format != "json" && o.format != "md")
    throw UsageError("unknown format '" + o.format + "'; valid formats: table, json, md");
  if (!o.model.empty()) {
    if (o.hidden || o.intermediate || o.experts || o.topk)
      throw UsageError("--model reads hidden, intermediate, experts and top-k from config.json: drop "
                       "--hidden/--intermediate/--experts/--topk");
    const fixtures::ModelFfns m = fixtures::read_model_ffns(o.model);
    req.ffns = m.ffns;
    req.model_type = m.model_type;
    req.from_model = true;
    if (m.group_size != 0) req.group_size = m.group_size;
    req.act_order = m.act_order;
    if (!m.act_scheme.empty()) req.act_scheme = m.act_scheme;
  } else {
    if (!o.hidden || !o.intermediate)
      throw UsageError("give --model CONFIG.json, or --hidden H and --intermediate I (both)");
    if (o.hidden < 1 || o.intermediate < 1 || o.experts < 0 || o.topk < 0)
      throw UsageError("--hidden and --intermediate must be >= 1, --experts and --topk >= 1 when given");
    fixtures::FfnShape f;
    f.kind = "routed";
    f.hidden = o.hidden;
    f.intermediate = o.intermediate;
    f.experts = o.experts ? o.experts : 1;
    f.topk = o.topk ? o.topk : 1;
    f.layers = {0};
    req.ffns.push_back(f);
  }
  if (o.group_size) {
    if (*o.group_size == 0 || *o.group_size < -1)
      throw UsageError("--group-size " + std::to_string(*o.group_size) + " is not a group size (a positive integer, or -1 for channelwise)");
    req.group_size = *o.group_size;
  }
  if (o.act_order) req.act_order = *o.act_order;
  if (!o.act_scheme.empty()) {
    if (o.act_scheme != "static" && o.act_scheme != "dynamic")
      throw UsageError("unknown activation scheme '" + o.act_scheme + "'; valid: static, dynamic");
    req.act_scheme = o.act_scheme;
  }
  if (!o.activation.empty() && !pd::is_activation(o.activation))
    throw UsageError("unknown activation '" + o.activation + "'; valid: " + pd::activation_names());
  req.activation = o.activation;
  if (!o.routing.empty() && !pd::is_routing(o.routing))
    throw UsageError("unknown routing method '" + o.routing + "'; valid: " + pd::routing_names());
  req.routing = o.routing;
  for (const std::string& e : o.env) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == e.size())
      throw UsageError("--env '" + e + "' is not VARIABLE=VALUE");
    req.settings.env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (const std::string& e : o.packages) {
    const auto eq = e.find('=');
    const std::string value = eq == std::string::npos ? "" : e.substr(eq + 1);
    if (eq == std::string::npos || eq == 0 || (value != "0" && value != "1"))
      throw UsageError("--package '" + e + "' is not NAME=1 (installed) or NAME=0 (not installed)");
    req.settings.packages[e.substr(0, eq)] = value == "1";
  }
  if (!pd::is_cpu_isa(o.cpu_isa))
    throw UsageError("unknown CPU ISA '" + o.cpu_isa + "'; valid: " + pd::cpu_isa_names());
  req.settings.cpu_isa = o.cpu_isa;
  req.show_invalid = o.show_invalid;
  req.parallel.enable_eplb = o.eplb;
  req.tps = o.tp.empty() ? std::vector<int>(std::begin(kDefaultTp), std::end(kDefaultTp)) : o.tp;
  for (int t : req.tps)
    if (t < 1) throw UsageError("--tp " + std::to_string(t) + " is not a positive number of ranks");
  req.parallel.enable_ep = o.ep;
  const auto a2a = pd::parse_all2all(o.all2all);
  if (!a2a) throw UsageError("unknown all-to-all backend '" + o.all2all + "'; valid: " + pd::all2all_names());
  req.parallel.all2all = *a2a;
  if (o.act_dtype != "bf16" && o.act_dtype != "fp16")
    throw UsageError("unknown activation dtype '" + o.act_dtype + "'; valid: bf16, fp16");
  req.act_dtype = *pd::parse_act_dtype(o.act_dtype);
  if (!o.platform.empty()) {
    req.platform = pd::parse_platform(o.platform);
    if (!req.platform) throw UsageError("unknown platform '" + o.platform + "'; valid platforms: " + pd::platform_names());
  }
  if (!o.method.empty()) {
    bool known = pd::find_method_info(o.method) != nullptr;
    for (const auto* rs : rulesets) known = known || rs->find_method(o.method) != nullptr;
    if (!known) throw UsageError("unknown method '" + o.method + "'; valid methods: " + pd::method_names());
  }
  req.method = o.method;
  if (!o.backend.empty() && o.backend != "auto") {
    std::set<std::string> known;
    std::vector<std::string> valid;
    for (const auto& b : pd::backends()) known.insert(std::string(b.name));
    for (const auto* rs : rulesets)
      for (const auto& m : rs->methods) {
        for (const auto& b : m.backends) {
          known.insert(b.name);
          if ((o.method.empty() || m.name == rs->canonical_method(o.method)) &&
              std::find(valid.begin(), valid.end(), b.name) == valid.end())
            valid.push_back(b.name);
        }
      }
    if (!known.count(o.backend))
      throw UsageError("unknown backend '" + o.backend + "'; valid backends" +
                       (o.method.empty() ? "" : " of " + o.method) + ": auto, " + join(valid, ", "));
  }
  req.backend = o.backend;
  return req;
}

int run_pad_report(const PadReportOptions& o) {
  if (!o.diff.empty()) {
    if (!o.ruleset.empty()) throw UsageError("--diff A B compares two rulesets: drop --ruleset");
    const pd::Ruleset a = fixtures::load_ruleset(o.diff.at(0));
    const pd::Ruleset b = fixtures::load_ruleset(o.diff.at(1));
    const Request req = make_request(o, {&a, &b});
    print_diff(a, b, req, o, Reporter(a, req).rows(), Reporter(b, req).rows());
    return 0;
  }
  const pd::Ruleset rs = fixtures::load_ruleset(o.ruleset.empty() ? fixtures::kDefaultRuleset : o.ruleset);
  const Request req = make_request(o, {&rs});
  print_report(rs, req, o, Reporter(rs, req).rows());
  return 0;
}

}  // namespace

void add_pad_report(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PadReportOptions>();
  CLI::App* sub = app.add_subcommand(
      "pad-report",
      "What each quant method, backend, platform and TP degree pads the MoE hidden and per-partition\n"
      "intermediate sizes to (vLLM's maybe_roundup_sizes and post-load alignments), under a versioned\n"
      "ruleset (reference/padding/rulesets), with the FLOP and weight-byte overhead of the padding.\n"
      "Without --method/--backend/--platform every applicable combination is listed; without --tp,\n"
      "tp 1, 2, 4 and 8. Invalid combinations are rows with an error. Exit status 0, 2 bad input.");
  sub->add_option("--model", o->model,
                  "A Hugging Face config.json (gpt_oss, mixtral, qwen2_moe, qwen3_moe, deepseek_v2, deepseek_v3, "
                  "llama4, olmoe, phimoe, granitemoe, granitemoeshared, dbrx): every FFN kind it has (routed "
                  "experts, shared expert, dense layers) is reported");
  sub->add_option("--hidden", o->hidden, "Hidden size H (without --model)");
  sub->add_option("--intermediate", o->intermediate,
                  "Per-expert intermediate size I of the checkpoint, before the TP split (without --model)");
  sub->add_option("--experts", o->experts, "Routed experts E (without --model; sets the local experts under --ep)");
  sub->add_option("--topk", o->topk, "Experts per token k (without --model)");
  sub->add_option("--tp", o->tp,
                  "Tensor-parallel degree(s), e.g. --tp 4 or --tp 1,2,4,8 (default: 1, 2, 4, 8). The per-partition "
                  "intermediate size is I/tp (must divide)")
      ->delimiter(',');
  sub->add_flag("--ep", o->ep, "Expert parallelism: the MoE TP is 1 and each of the --tp ranks holds whole experts");
  sub->add_flag("--eplb", o->eplb, "Expert-parallel load balancing (--enable-eplb; vLLM then skips the ROCm stride padding)");
  sub->add_option("--all2all", o->all2all,
                  "All-to-all backend whose hidden rounding comes first: none, deepep_ht, deepep_ll, deepep_v2, nixl "
                  "(default none)");
  sub->add_option("--platform", o->platform,
                  "cuda:sm90, cuda:sm100, cuda:sm120, rocm:gfx942, rocm:gfx950, xpu or cpu (its ISA by --cpu-isa) (default: "
                  "every platform each backend runs on); backends that do not run there are left out");
  sub->add_flag("--show-invalid", o->show_invalid,
                "With --platform: also list the backends that do not run there, as error rows");
  sub->add_option("--method", o->method,
                  "Quant method (default: all of the ruleset's): " + pd::method_names());
  sub->add_option("--backend", o->backend,
                  "Kernel backend (default: every backend of each method), e.g. TRITON, MARLIN, AITER_MXFP4_BF16, "
                  "FLASHINFER_TRTLLM_MXFP4_BF16; 'auto' gives vLLM's default backend of each method per platform, "
                  "activation and routing (the ruleset's selection; its source in the note)");
  sub->add_option("--activation", o->activation,
                  "The MoE activation (default: the model's; silu without --model): " + pd::activation_names());
  sub->add_option("--routing", o->routing,
                  "The routing method backends see (default: the model's; renormalize without --model): " +
                      pd::routing_names());
  sub->add_option("--group-size", o->group_size,
                  "WNA16 quantization group size (-1 channelwise; default: config.json's, else 128): Marlin pads I to "
                  "lcm(64, group)");
  sub->add_option("--act-order", o->act_order, "GPTQ act-order (desc_act) true/false (default: config.json's, else false)");
  sub->add_option("--act-scheme", o->act_scheme,
                  "FP8 per-tensor activation scales, static or dynamic (default: config.json's, else dynamic)");
  sub->add_option("--env", o->env,
                  "VARIABLE=VALUE (repeatable): an environment setting the ruleset's selection reads, e.g. "
                  "VLLM_ROCM_USE_AITER=1 (default: the ruleset's env_defaults)");
  sub->add_option("--package", o->packages,
                  "NAME=1 or NAME=0 (repeatable): an optional package installed or not, e.g. amd_quark=1 (default: "
                  "the ruleset's packages)");
  sub->add_option("--cpu-isa", o->cpu_isa,
                  "The vector ISA of the cpu platform: amx (x86 with AMX, the default), vec, neon or vsx (Power): the "
                  "CPU experts' alignment and which CPU kernels exist");
  sub->add_option("--ruleset", o->ruleset,
                  "A ruleset name (" + join(fixtures::ruleset_names(), ", ") + "; default " +
                      std::string(fixtures::kDefaultRuleset) +
                      "; $MOECHECK_RULESETS overrides the folder) or a FILE.json with a proposed ruleset");
  sub->add_option("--act-dtype", o->act_dtype, "Activation dtype, bf16 or fp16 (default bf16; DeepEP HT and V2 round bytes)");
  sub->add_option("--diff", o->diff,
                  "Compare two rulesets (names or files): list only the combinations whose padded sizes or validity "
                  "differ, old and new side by side")
      ->expected(2);
  sub->add_option("--format", o->format,
                  "table (default), md, or json: one array of rows with the keys method, backend, platform, "
                  "ruleset, tp, hidden, hidden_padded, intermediate_per_partition, "
                  "intermediate_per_partition_padded, flop_overhead, weight_bytes_overhead (fractions), note, "
                  "error (null or why the combination is invalid)");
  sub->callback([o, &exit_code] { exit_code = run_pad_report(*o); });
}

}  // namespace moecheck::cli
