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
  bool ep = false;
  std::string all2all = "none", platform, method, backend, ruleset, act_dtype = "bf16", format = "table";
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

// The MXFP4 backend vLLM picks by default on a platform (no LoRA, no env switches, --moe-backend
// auto, FlashInfer and triton_kernels installed), or nullopt.
std::optional<std::string> default_mxfp4_backend(const pd::Ruleset& rs, const pd::Platform& platform) {
  pd::SelectionInputs in;
  in.platform = platform;
  return pd::select_mxfp4_backend(rs, in).backend;
}

class Reporter {
 public:
  Reporter(const pd::Ruleset& rs, const Request& req) : rs_(rs), req_(req) {
    for (const auto& p : pd::platforms()) defaults_[std::string(p.name)] = default_mxfp4_backend(rs, p);
  }

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
  std::vector<pd::Platform> platforms_for(const pd::BackendChoice* choice) const {
    std::vector<pd::Platform> out;
    if (req_.platform) return {*req_.platform};
    for (const auto& p : pd::platforms())
      if (!choice || pd::backend_runs_on(*choice, p)) out.push_back(p);
    return out;
  }

  void add_method(std::vector<Row>& out, const fixtures::FfnShape& ffn, const std::string& method) const {
    const pd::MethodRules* m = rs_.find_method(method);
    if (!m) {  // a registered method this ruleset lacks: one row per asked backend/platform, with the reason
      for (const auto& p : platforms_for(nullptr))
        add_row(out, ffn, method, req_.backend.empty() ? "-" : req_.backend, p, nullptr);
      return;
    }
    if (req_.backend == "auto") {
      for (const auto& p : platforms_for(nullptr)) {
        if (!m->mxfp4_backend_selection) {
          add_error_rows(out, ffn, method, "auto", p,
                         "backend selection is modelled for the MXFP4 methods only (padding.md §2.2); name a backend of " +
                             method + ": " + m->backend_names());
          continue;
        }
        pd::SelectionInputs in;
        in.platform = p;
        const pd::SelectionResult s = pd::select_mxfp4_backend(rs_, in);
        if (!s.backend) {
          add_error_rows(out, ffn, method, "auto", p, *s.error);
          continue;
        }
        add_row(out, ffn, method, *s.backend, p, m);
      }
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

  void add_error_rows(std::vector<Row>& out, const fixtures::FfnShape& ffn, const std::string& method,
                      const std::string& backend, const pd::Platform& p, const std::string& error) const {
    for (int tp : req_.tps) {
      Row r = base_row(ffn, method, backend, p, tp);
      r.error = error;
      out.push_back(std::move(r));
    }
  }

  Row base_row(const fixtures::FfnShape& ffn, const std::string& method, const std::string& backend,
               const pd::Platform& p, int tp) const {
    Row r;
    r.ruleset = rs_.name;
    r.method = method;
    r.backend = backend;
    r.platform = std::string(p.name);
    r.ffn = ffn.kind;
    r.tp = tp;
    r.hidden = ffn.hidden;
    const int moe_tp = req_.parallel.enable_ep ? 1 : tp;
    r.intermediate_per_partition = ffn.intermediate % moe_tp == 0 ? ffn.intermediate / moe_tp : 0;
    return r;
  }

  void add_row(std::vector<Row>& out, const fixtures::FfnShape& ffn, const std::string& method,
               const std::string& backend, const pd::Platform& p, const pd::MethodRules* m) const {
    pd::Problem problem;
    problem.hidden = ffn.hidden;
    problem.intermediate = ffn.intermediate;
    problem.experts = ffn.experts;
    problem.topk = ffn.topk;
    problem.has_bias = ffn.has_bias;
    problem.model_type = req_.model_type;
    for (int tp : req_.tps) {
      pd::ParallelConfig parallel = req_.parallel;
      parallel.tp_size = tp;
      const pd::Plan plan = pd::make_plan(rs_, problem, method, backend, p, parallel, req_.act_dtype);
      Row r = base_row(ffn, method, backend, p, tp);
      std::vector<std::string> notes;
      if (req_.from_model) notes.push_back(ffn_label(ffn));
      if (!plan.ok()) {
        r.error = *plan.error;
        r.note = join(notes, "; ");
        out.push_back(std::move(r));
        continue;
      }
      r.intermediate_per_partition = plan.intermediate_per_partition;
      if (m && m->mxfp4_backend_selection && defaults_.at(r.platform) == backend)
        notes.push_back("vLLM's default MXFP4 backend on " + r.platform);
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
  std::map<std::string, std::optional<std::string>> defaults_;
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
  if (!o.method.empty() && !pd::find_method_info(o.method))
    throw UsageError("unknown method '" + o.method + "'; valid methods: " + pd::method_names());
  req.method = o.method;
  if (!o.backend.empty() && o.backend != "auto") {
    std::set<std::string> known;
    std::vector<std::string> valid;
    for (const auto& b : pd::backends()) known.insert(std::string(b.name));
    for (const auto* rs : rulesets)
      for (const auto& m : rs->methods) {
        for (const auto& b : m.backends) {
          known.insert(b.name);
          if ((o.method.empty() || m.name == o.method) &&
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
  sub->add_option("--all2all", o->all2all,
                  "All-to-all backend whose hidden rounding comes first: none, deepep_ht, deepep_ll, nixl (default none)");
  sub->add_option("--platform", o->platform,
                  "cuda:sm90, cuda:sm100, cuda:sm120, rocm:gfx942, rocm:gfx950, xpu or cpu (default: every platform "
                  "each backend runs on)");
  sub->add_option("--method", o->method,
                  "Quant method (default: all of the ruleset's): unquantized, fp8_per_tensor, fp8_block, "
                  "fp8_per_block_online, mxfp4, quark_w_mxfp4, quark_w_mxfp4_a_mxfp4, quark_w_mxfp4_a_fp8, "
                  "quark_w_mxfp6, nvfp4, int4_wna16, int8_wna16");
  sub->add_option("--backend", o->backend,
                  "Kernel backend (default: every backend of each method), e.g. TRITON, MARLIN, CK, "
                  "FLASHINFER_TRTLLM_MXFP4_BF16; 'auto' picks vLLM's default MXFP4 backend per platform (§2.2)");
  sub->add_option("--ruleset", o->ruleset,
                  "A ruleset name (vllm-pre-34285, vllm-34285, vllm-38043, vllm-2026-05; default vllm-38043; "
                  "$MOECHECK_RULESETS overrides the folder) or a FILE.json with a proposed ruleset");
  sub->add_option("--act-dtype", o->act_dtype, "Activation dtype, bf16 or fp16 (default bf16; DeepEP HT rounds bytes)");
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
