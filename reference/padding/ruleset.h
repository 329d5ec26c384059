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

// One way to round a size up (padding.md §1.1, §2.1, §2.3 use exactly these three).
struct Round {
  enum class Kind : std::uint8_t {
    kKeep,             // unchanged
    kMultipleOf,       // round_up(x, multiple)
    kBytesMultipleOf,  // DeepEP HT: round the row's bytes (x · itemsize(act_dtype)) up to `multiple`
    kSmallestOf,       // DeepEP LL / NIXL: the smallest of `sizes` that is >= x; error above the last
  };
  Kind kind = Kind::kKeep;
  std::int64_t multiple = 0;
  std::vector<std::int64_t> sizes;  // ascending

  // The alignment the result is guaranteed to be a multiple of (1 for kKeep and kSmallestOf).
  std::int64_t alignment(ActDtype dtype) const;
};

struct RoundResult {
  std::int64_t value = 0;
  std::optional<std::string> error;  // kSmallestOf with x above the largest size
};
RoundResult apply(const Round& round, std::int64_t x, ActDtype dtype);
std::string describe(const Round& round);  // "multiple of 256", "unchanged", ...

// When a rule applies. Every field that is set must match; an empty list or an unset value matches
// anything. Lists are alternatives.
struct Condition {
  std::vector<std::string> methods;
  std::vector<std::string> backends;
  std::vector<std::string> platforms;    // platform patterns (platform.h)
  std::vector<std::string> model_types;  // Hugging Face model_type; never matches an unknown model
  std::vector<All2All> all2all;
  std::vector<ActDtype> act_dtypes;
  std::optional<bool> gated;  // act_and_mul experts (w13 holds gate and up)
  std::optional<bool> ep;     // expert parallelism enabled

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
  std::string note, source;
  std::string where;  // "FILE:/json/pointer" of the rule, for provenance in reports
};

// Contents of the padded region of a newly allocated tensor.
enum class FillKind : std::uint8_t {
  kNotApplicable,  // the method has no such tensor (e.g. no block scales)
  kZero,           // torch.zeros: weights 0x00 bytes / 0.0, biases 0.0
  kByte,           // scales: a fixed byte (MXFP4 0x00 = 2^-127, Quark 0x01 = 2^-126; §1.6)
  kUninitialized,  // torch.empty: whatever the memory holds (moecheck leaves its poison there)
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
  bool mxfp4_backend_selection = false;  // its backend is chosen by select_mxfp4_backend (§2.2)
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

struct Ruleset {
  std::string name, title;
  std::string commit, pr, date, spec;  // documentation of the state it describes
  std::string origin;                  // the file it was read from
  std::vector<Rule> all2all;           // base-class hidden rounding (§1.1), applied first
  std::map<std::string, std::vector<Rule>, std::less<>> tables;
  std::vector<MethodRules> methods;
  std::vector<KernelPadArgRule> kernel_pad_args;
  std::optional<Mxfp4Selection> mxfp4_selection;
  // §3.4 #37010..#39688: the generic loader failed whenever I_pad > I. Set: that error.
  std::optional<std::string> generic_loader_error_when_intermediate_padded;

  const MethodRules* find_method(std::string_view method) const;
  std::string method_names() const;
};

// The first rule of `rules` that matches (resolving `use` through ruleset.tables), or nullptr.
// `via` receives the delegating rule when the match came through a table.
const Rule* first_match(const Ruleset& ruleset, const std::vector<Rule>& rules, const MatchContext& context,
                        const Rule** via = nullptr);

}  // namespace moecheck::reference::padding
