// The vocabulary of padding rulesets. A ruleset is data (a JSON file in rulesets/, loaded by
// fixtures/ruleset_json.h): it says, for one vLLM state, how each quant method rounds the hidden
// size and the per-partition intermediate size, and how padded regions are filled. This header
// holds only the types those files map to and the interpreter of their vocabulary (round a size,
// match a condition, pick the first matching rule); no rule itself is written in C++.
// The JSON schema of every field is in reference/padding/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reference/padding/platform.h"

namespace moecheck::reference::padding {

struct Ruleset;

// A divisor a rule names: a fixed number, the checkpoint's quantization group size (WNA16 /
// Marlin: padding.md §7.2 item 5), or the lcm of both (Marlin's strict act-order shape).
struct Divisor {
  std::int64_t value = 1;
  bool group_size = false;  // lcm(value, the Problem's group_size)

  // The number it stands for; a group size <= 0 (channelwise, "-1") counts as 1.
  std::int64_t resolve(std::int64_t group) const;
  std::string describe() const;  // "128", "group_size", "lcm(64, group_size)"
};

// One way to round a size up (padding.md §1.1, §2.1, §2.3, §7.2).
struct Round {
  enum class Kind : std::uint8_t {
    kKeep,             // unchanged
    kMultipleOf,       // round_up(x, multiple)
    kBytesMultipleOf,  // DeepEP HT / V2: round the row's bytes (x · itemsize(act_dtype)) up to `multiple`
    kSmallestOf,       // DeepEP LL / NIXL: the smallest of `sizes` that is >= x; error above the last
    kMultipleOfLcm,    // Marlin tile padding: round_up(x, lcm(64, group size)) (schema 2): `with`
  };
  Kind kind = Kind::kKeep;
  std::int64_t multiple = 0;
  std::vector<std::int64_t> sizes;  // ascending
  Divisor with;                     // kMultipleOfLcm: the multiple

  // The alignment the result is guaranteed to be a multiple of (1 for kKeep and kSmallestOf).
  std::int64_t alignment(ActDtype dtype, std::int64_t group_size = 0) const;
};

struct RoundResult {
  std::int64_t value = 0;
  std::optional<std::string> error;  // kSmallestOf with x above the largest size
};
RoundResult apply(const Round& round, std::int64_t x, ActDtype dtype, std::int64_t group_size = 0);
std::string describe(const Round& round);  // "multiple of 256", "unchanged", ...

// What the selection and the rules may ask of the deployment besides sizes: environment variables
// (absent = the ruleset's env_defaults) and which optional packages are installed (absent = the
// ruleset's package defaults per platform). Default-constructed: vLLM's default settings.
struct Settings {
  std::map<std::string, std::string, std::less<>> env;
  std::map<std::string, bool, std::less<>> packages;
  // The vector ISA of a `cpu` platform, as vLLM's CPU MoE experts name it: "amx" (x86 with AMX, the
  // default), "vec" (x86 without AMX), "neon" (Arm), "vsx" (Power). fused_moe/experts/cpu_moe.py.
  std::string cpu_isa = "amx";
};
bool is_cpu_isa(std::string_view name);
std::string cpu_isa_names();

// When a rule applies. Every field that is set must match; an empty list or an unset value matches
// anything. Lists are alternatives. The fields after `ep` are schema 2.
struct Condition {
  std::vector<std::string> methods;
  std::vector<std::string> backends;
  std::vector<std::string> platforms;    // platform patterns (platform.h)
  std::vector<std::string> model_types;  // Hugging Face model_type; never matches an unknown model
  std::vector<All2All> all2all;
  std::vector<ActDtype> act_dtypes;
  std::optional<bool> gated;  // act_and_mul experts (w13 holds gate and up)
  std::optional<bool> ep;     // expert parallelism enabled
  std::vector<std::string> activations;  // MoE activation (platform.h is_activation)
  std::vector<std::string> routings;     // routing method (platform.h is_routing)
  std::vector<int> moe_tp;               // the MoE TP size (flattened; 1 with EP)
  std::optional<bool> eplb;              // --enable-eplb
  std::optional<bool> has_bias;          // the experts have biases
  std::optional<bool> act_order;         // GPTQ desc_act / compressed-tensors actorder
  std::vector<std::string> act_schemes;  // activation scales of an FP8 checkpoint: static, dynamic
  // Each variable's value (given, else the ruleset's default; "unset" when neither) is one of these.
  std::map<std::string, std::vector<std::string>, std::less<>> env;
  std::vector<std::string> packages;  // all installed (Settings, else the ruleset's defaults)
  std::vector<std::string> cpu_isas;  // the Settings' cpu_isa (only meaningful on a cpu platform)
  // The sizes the rule sees are multiples of these (logical sizes in a selection; the sizes
  // before the rule in a rule list).
  std::optional<Divisor> hidden_multiple_of, intermediate_multiple_of;

  bool empty() const;
};

// What a condition is matched against.
struct MatchContext {
  std::string_view method;
  std::string_view backend;
  const Platform* platform = nullptr;
  std::string_view model_type;  // empty: unknown
  All2All all2all = All2All::kNone;
  ActDtype act_dtype = ActDtype::kBf16;
  bool gated = true;
  bool ep = false;
  std::string_view activation = "silu";
  std::string_view routing = "renormalize";
  int moe_tp = 1;
  bool eplb = false;
  bool has_bias = false;
  bool act_order = false;
  std::string_view act_scheme = "dynamic";
  std::int64_t hidden = 0, intermediate = 0;  // for hidden_multiple_of / intermediate_multiple_of
  std::int64_t group_size = 0;
  const Ruleset* ruleset = nullptr;    // env and package defaults
  const Settings* settings = nullptr;  // what the deployment sets (nullptr: defaults)
};
bool matches(const Condition& when, const MatchContext& context);

// How a post-load alignment places the existing w13 rows in the larger tensor.
enum class W13Padding : std::uint8_t {
  kPerHalf,  // each gate/up half keeps its rows at the top of its half (what kernels expect)
  kEnd,      // the whole [gate; up] block at the top, zeros after it: vLLM's FlashInfer FP8/NVFP4
             // alignment (bugs.md B12, vllm#48624), which breaks the gate/up split at I_pad
};
std::string_view name(W13Padding padding);

// One rule. Rules are tried in order; the first whose `when` matches decides (a rule with `use`
// delegates to a named table and is passed over when nothing in the table matches).
struct Rule {
  Condition when;
  std::string use;  // name of a table in Ruleset::tables
  Round hidden, intermediate;
  bool skip_forward_padding = false;              // §1.4: the runner does not pad activations
  std::int64_t kernel_activation_alignment = 0;   // ...the kernel pads them internally to this
  W13Padding w13_padding = W13Padding::kPerHalf;  // post-load rules only
  std::optional<std::string> error;               // the combination is invalid, and why
  // Checks on the sizes the rule sees (before it rounds): each that fails makes the plan invalid
  // with its error (Marlin's H % 128 == 0 and I % group_size == 0, padding.md §7.2 item 5).
  struct Requirement {
    bool hidden = true;  // else the intermediate size per partition
    Divisor multiple_of;
    std::string error;
  };
  std::vector<Requirement> require;
  std::string note, source;
  std::string where;  // "FILE:/json/pointer" of the rule, for provenance in reports
};

// Contents of the padded region of a newly allocated tensor.
enum class FillKind : std::uint8_t {
  kNotApplicable,  // the method has no such tensor (e.g. no block scales)
  kZero,           // torch.zeros: weights 0x00 bytes / 0.0, biases 0.0
  kByte,           // scales: a fixed byte (MXFP4 0x00 = 2^-127, Quark 0x01 = 2^-126; §1.6)
  kUninitialized,  // torch.empty: whatever the memory holds (moecheck leaves its poison there)
  kOne,            // torch.ones: fp32 scales 1.0 (compressed-tensors' FP8 weight_scale allocation)
};
struct FillValue {
  FillKind kind = FillKind::kNotApplicable;
  std::uint8_t byte = 0;  // kByte
};
struct Fill {
  FillValue weight, scale, bias;
};
std::string describe(const FillValue& fill);  // "zero", "0x01", "uninitialized", "n/a"

// A backend a method can use in this ruleset, and where it runs (empty: the registry's platforms).
struct BackendChoice {
  std::string name;
  std::vector<std::string> platforms;
};

struct MethodRules {
  std::string name;  // a method of the registry (registry.h)
  std::vector<BackendChoice> backends;
  bool mxfp4_backend_selection = false;  // schema 1: its backend is chosen by select_mxfp4_backend (§2.2)
  std::string selection;                 // schema 2: the name of its table in Ruleset::selections
  Fill fill;                             // at allocation (create_weights)
  std::optional<Fill> post_load_fill;    // of the regions a post-load alignment adds
  std::vector<Rule> rules;               // maybe_roundup_sizes, after the all-to-all rounding
  std::vector<Rule> post_load;           // applied after loading, on top of `rules`
  std::string note, source;

  const BackendChoice* find_backend(std::string_view backend) const;
  std::string backend_names() const;
};

// A size argument a backend passes to its kernel (§2.5): of(...) floored to a multiple of
// floor_to, times `times`.
struct PadArg {
  enum class Of : std::uint8_t { kNone, kHiddenPadding, kIntermediatePadding };
  Of of = Of::kNone;
  std::int64_t floor_to = 1;
  std::int64_t times = 1;
  std::int64_t value(std::int64_t hidden_padding, std::int64_t intermediate_padding) const;
};
struct KernelPadArgRule {
  Condition when;
  std::string kernel;  // e.g. "rocm_aiter_ops.fused_moe"
  PadArg hidden_pad, intermediate_pad;
  std::string note, source, where;
};

// §2.2 data that changes between versions: the priority list and the per-vendor fallback.
struct Mxfp4Selection {
  std::vector<std::string> priority;
  std::map<Vendor, std::string> fallback;  // vendor -> backend; absent: NotImplementedError
};

// Schema 2: vLLM's default backend of a method as a table. Candidates are tried in order; the first
// whose backend runs on the platform (the method's backend list) and whose `when` matches is the
// default, or, for a candidate with an error, the selection fails with it. No match: `otherwise`.
struct SelectionCandidate {
  std::string backend;               // empty for an error candidate
  Condition when;
  std::optional<std::string> error;  // what vLLM raises here
  std::string note, source, where;
};
struct BackendSelection {
  std::string name;
  std::vector<SelectionCandidate> candidates;
  std::string otherwise;  // what vLLM raises when nothing is supported (NotImplementedError ...)
  std::string source, where;
};

// How the generic FusedMoE.weight_loader cuts a checkpoint for TP ranks (padding.md §1.5, §1.7).
struct GenericLoader {
  enum class Shard : std::uint8_t {
    kAllocated,     // chunks of the allocated (padded) I_pad: the shard size of the padded parameter
    kPerPartition,  // chunks of I_full / tp, placed at the top of the padded slot (#42595, 2026-05-29)
  };
  enum class Biases : std::uint8_t {
    kNone,       // no bias path: biases come from model loaders only
    kEveryRank,  // w13 bias cut like w13; w2 bias copied in full on every TP rank (#44120)
  };
  // How a TP shard of a 2-D block-scale grid (FP8 128x128, padding.md §1.5) is loaded.
  enum class BlockScales : std::uint8_t {
    kOnGrid,      // every shard starts on a scale block (vLLM's create_weights refuses others)
    kGlobalGrid,  // any shard; each row takes its checkpoint block (rank_offset + r) / 128 (#52915)
  };
  Shard shard = Shard::kAllocated;
  Biases biases = Biases::kNone;
  BlockScales block_scales = BlockScales::kOnGrid;
  // §3.4 #37010..#39688: the generic loader failed whenever I_pad > I. Set: that error.
  std::optional<std::string> error_when_intermediate_padded;
};

struct Ruleset {
  int schema = 1;  // moecheck.padding.ruleset/N
  std::string name, title;
  std::string commit, pr, date, spec;  // documentation of the state it describes
  std::string origin;                  // the file it was read from
  std::vector<Rule> all2all;           // base-class hidden rounding (§1.1), applied first
  std::map<std::string, std::vector<Rule>, std::less<>> tables;
  std::vector<MethodRules> methods;
  std::vector<KernelPadArgRule> kernel_pad_args;
  std::optional<Mxfp4Selection> mxfp4_selection;                            // schema 1
  std::map<std::string, BackendSelection, std::less<>> selections;           // schema 2
  std::map<std::string, std::string, std::less<>> env_defaults;              // schema 2
  std::map<std::string, std::vector<std::string>, std::less<>> packages;     // installed by default where
  GenericLoader generic_loader;
  // Old method names the file used, and what the registry calls them now: schema 1 files name the
  // method of gpt-oss checkpoints "mxfp4" (vLLM's single Mxfp4MoEMethod before #39604).
  std::map<std::string, std::string, std::less<>> method_aliases;

  // The method, looked up by its name or an alias.
  const MethodRules* find_method(std::string_view method) const;
  std::string_view canonical_method(std::string_view method) const;  // the alias resolved
  // An environment variable's value under `settings` ("unset" when neither they nor the ruleset
  // give one), and whether a package is installed on `platform`.
  std::string env_value(std::string_view var, const Settings* settings) const;
  bool package_available(std::string_view package, const Platform& platform, const Settings* settings) const;
  std::string method_names() const;
};

// The first rule of `rules` that matches (resolving `use` through ruleset.tables), or nullptr.
// `via` receives the delegating rule when the match came through a table.
const Rule* first_match(const Ruleset& ruleset, const std::vector<Rule>& rules, const MatchContext& context,
                        const Rule** via = nullptr);

}  // namespace moecheck::reference::padding
