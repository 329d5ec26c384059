// The ruleset loader (fixtures/ruleset_json.h): the shipped rulesets load and are named after their
// files; names resolve (MOECHECK_RULESETS overrides the folder); a user's proposed ruleset works;
// schema 1 files are still read (their "mxfp4" is the gpt-oss method); and every validation error
// of either schema names the file, the field, what was expected and what was found.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "tests/padding_test_util.h"

using namespace padding_test;
namespace fx = moecheck::fixtures;
using Json = nlohmann::ordered_json;

namespace {

const char* kTiny = R"({
  "schema": "moecheck.padding.ruleset/1",
  "name": "tiny",
  "title": "a test ruleset",
  "all2all": [{"when": {"all2all": "deepep_ht"}, "hidden": {"bytes_multiple_of": 512}}],
  "tables": {"t": [{"when": {"platform": "rocm"}, "hidden": {"multiple_of": 256}, "intermediate": {"multiple_of": 256}},
                   {"intermediate": {"multiple_of": 64}}]},
  "methods": {
    "mxfp4": {"backends": ["TRITON", {"name": "MY_KERNEL", "platforms": ["cuda:sm90"]}], "backend_selection": "mxfp4",
              "fill": {"weight": "zero", "scale": "0x00", "bias": "zero"},
              "rules": [{"when": {"backend": "MY_KERNEL"}, "hidden": {"multiple_of": 128}}, {"use": "t"}]},
    "fp8_per_tensor": {"backends": [{"name": "DEFAULT", "platforms": ["*"]}, "FLASHINFER_CUTLASS"],
                       "fill": {"weight": "uninitialized", "bias": "zero"},
                       "post_load_fill": {"weight": "zero", "bias": "zero"}, "rules": [],
                       "post_load": [{"when": {"backend": "FLASHINFER_CUTLASS", "gated": true},
                                      "intermediate": {"multiple_of": 16}, "w13_padding": "end"}]}
  },
  "mxfp4_backend_selection": {"priority": ["TRITON"], "fallback": {"cpu": "NONE"}},
  "kernel_pad_args": [{"when": {"backend": "CK"}, "kernel": "k", "hidden_pad": {"of": "hidden_padding", "floor_to": 128},
                       "intermediate_pad": {"of": "none"}}],
  "generic_loader": {"error_when_intermediate_padded": "broken"}
})";

Json tiny() { return Json::parse(kTiny); }

// Schema 2: a selection table, the new condition fields, Marlin's lcm rounding and requirements,
// environment and package defaults, the generic loader's shard and bias modes.
const char* kTiny2 = R"({
  "schema": "moecheck.padding.ruleset/2",
  "name": "tiny2",
  "title": "a schema 2 test ruleset",
  "env_defaults": {"VLLM_ROCM_USE_AITER": "0"},
  "packages": {"flashinfer": ["cuda"], "amd_quark": []},
  "all2all": [{"when": {"all2all": ["deepep_ht", "deepep_v2"]}, "hidden": {"bytes_multiple_of": 512}}],
  "selections": {
    "s": {"candidates": [{"backend": "AITER", "when": {"platform": "rocm", "env": {"VLLM_ROCM_USE_AITER": "1"}}},
                         {"backend": "MARLIN", "when": {"platform": "cuda", "hidden_multiple_of": 128,
                                                         "intermediate_multiple_of": "group_size"}},
                         {"error": "no kernel for this", "when": {"platform": "cpu"}},
                         {"backend": "TRITON", "when": {"activation": ["silu", "swigluoai"], "packages": ["flashinfer"]}},
                         {"backend": "TRITON", "when": {"platform": "rocm"}}],
          "otherwise": "NotImplementedError: nothing", "source": "test"}
  },
  "methods": {
    "int4_wna16": {"backends": [{"name": "MARLIN", "platforms": ["cuda"]}, {"name": "TRITON", "platforms": ["cuda", "rocm"]},
                                {"name": "AITER", "platforms": ["rocm"]}],
                   "backend_selection": "s",
                   "fill": {"weight": "uninitialized", "scale": "uninitialized", "bias": "zero"},
                   "post_load_fill": {"weight": "zero", "scale": "zero", "bias": "zero"},
                   "rules": [{"when": {"moe_tp": [1], "eplb": true}, "note": "tp 1 with eplb"}],
                   "post_load": [{"when": {"backend": "MARLIN", "act_order": true},
                                  "require": [{"intermediate_multiple_of": {"lcm": [64, "group_size"]}, "error": "strict"}]},
                                 {"when": {"backend": "MARLIN"},
                                  "require": [{"hidden_multiple_of": 128, "error": "H % 128"}],
                                  "intermediate": {"multiple_of_lcm": [64, "group_size"]}}]}
  },
  "kernel_pad_args": [{"when": {"backend": "AITER", "moe_tp": 1}, "kernel": "k", "hidden_pad": {"of": "hidden_padding", "floor_to": 128},
                       "intermediate_pad": {"of": "intermediate_padding", "floor_to": 64, "times": 2}},
                      {"when": {"backend": "AITER"}, "kernel": "k", "hidden_pad": {"of": "hidden_padding", "floor_to": 128},
                       "intermediate_pad": {"of": "intermediate_padding", "floor_to": 64}}],
  "generic_loader": {"shard": "per_partition", "biases": "every_rank"}
})";

Json tiny2() { return Json::parse(kTiny2); }

TEST(PaddingRulesetJson, Schema2TinyRulesetSelectsRoundsAndRequires) {
  const pd::Ruleset rs = fx::parse_ruleset(kTiny2, "tiny2.json");
  EXPECT_EQ(rs.schema, 2);
  EXPECT_EQ(rs.generic_loader.shard, pd::GenericLoader::Shard::kPerPartition);
  EXPECT_EQ(rs.generic_loader.biases, pd::GenericLoader::Biases::kEveryRank);
  pd::ParallelConfig pc;
  const auto sel = [&](const char* plat, pd::Problem p, pd::Settings s = {}) {
    return pd::select_backend(rs, "int4_wna16", p, platform(plat), pc, pd::ActDtype::kBf16, s);
  };
  pd::Problem ok = sizes(2048, 1536);  // H % 128 == 0, I % 128 == 0
  EXPECT_EQ(sel("cuda:sm90", ok).backend, "MARLIN");
  EXPECT_EQ(sel("cuda:sm90", sizes(2880, 1536)).backend, "TRITON");  // 2880 % 128 != 0: next candidate
  EXPECT_EQ(sel("rocm:gfx942", ok).backend, "TRITON");                // AITER is off by the env default
  EXPECT_EQ(sel("rocm:gfx942", ok, {{{"VLLM_ROCM_USE_AITER", "1"}}, {}}).backend, "AITER");
  EXPECT_EQ(sel("cpu", ok).error, "no kernel for this");
  pd::Problem gelu = ok;
  gelu.activation = "gelu";
  EXPECT_EQ(sel("xpu", gelu).error, "NotImplementedError: nothing");  // no candidate matches: otherwise
  EXPECT_EQ(sel("xpu", ok).error, "NotImplementedError: nothing");    // TRITON matches but does not run on xpu
  EXPECT_EQ(sel("rocm:gfx942", ok).step, "table");
  EXPECT_NE(sel("rocm:gfx942", ok).source.find("selections/s/candidates/4"), std::string::npos);

  // Marlin's lcm(64, group) tile padding and its requirements.
  const auto plan = [&](pd::Problem p, const char* backend = "MARLIN", int tp = 1) {
    pd::ParallelConfig par;
    par.tp_size = tp;
    return pd::make_plan(rs, p, "int4_wna16", backend, platform("cuda:sm90"), par, pd::ActDtype::kBf16);
  };
  pd::Problem g32 = sizes(2048, 96 * 16);
  g32.group_size = 32;
  EXPECT_EQ(plan(g32, "MARLIN", 16).intermediate_per_partition_padded, 128);  // 96 -> lcm(64, 32) = 64 multiple
  pd::Problem g128 = g32;
  g128.group_size = 128;
  EXPECT_EQ(plan(g128, "MARLIN", 16).intermediate_per_partition_padded, 128);
  pd::Problem chan = g32;
  chan.group_size = -1;
  EXPECT_EQ(plan(chan, "MARLIN", 16).intermediate_per_partition_padded, 128);  // channelwise: lcm(64, 1)
  const pd::Plan bad_h = plan(sizes(2880, 1536));
  ASSERT_FALSE(bad_h.ok());
  EXPECT_EQ(*bad_h.error, "H % 128 (hidden 2880 is not a multiple of 128)");
  pd::Problem act = g32;
  act.act_order = true;
  const pd::Plan strict = plan(act, "MARLIN", 16);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(*strict.error, "strict (intermediate per partition 96 is not a multiple of 64 = the group size)");

  // moe_tp in kernel pad args: the factor 2 only at MoE TP 1.
  pd::ParallelConfig tp1, tp2;
  tp2.tp_size = 2;
  pd::Problem rocm = sizes(2048, 1536);
  EXPECT_EQ(pd::make_plan(rs, rocm, "int4_wna16", "AITER", platform("rocm:gfx950"), tp1, pd::ActDtype::kBf16)
                .kernel_pad_args->kernel, "k");
}

TEST(PaddingRulesetJson, ShippedRulesetsLoadUnderTheirFileNames) {
  const auto names = fx::ruleset_names();
  EXPECT_EQ(names, (std::vector<std::string>{"vllm-2026-05", "vllm-2026-08", "vllm-34285", "vllm-38043",
                                             "vllm-52915", "vllm-pre-34285"}));
  for (const auto& n : names) {
    const pd::Ruleset rs = fx::load_ruleset(n);
    EXPECT_EQ(rs.name, n);
    EXPECT_FALSE(rs.title.empty());
    EXPECT_NE(rs.find_method("gpt_oss_mxfp4"), nullptr) << n;
    if (rs.schema == 1) {
      EXPECT_TRUE(rs.mxfp4_selection.has_value()) << n;
      EXPECT_EQ(rs.canonical_method("mxfp4"), "gpt_oss_mxfp4") << n;  // schema 1's name of the gpt-oss method
    } else {
      // Schema 2: every method has a selection table, and "mxfp4" is the generic method.
      for (const pd::MethodRules& m : rs.methods) EXPECT_FALSE(m.selection.empty()) << n << " " << m.name;
      EXPECT_EQ(rs.canonical_method("mxfp4"), "mxfp4") << n;
    }
  }
  EXPECT_EQ(fx::load_ruleset("vllm-38043").schema, 1);
  EXPECT_EQ(fx::load_ruleset("vllm-2026-08").schema, 2);
  EXPECT_EQ(fx::kDefaultRuleset, "vllm-2026-08");
}

TEST(PaddingRulesetJson, TinyRulesetParsesAndANewBackendWorks) {
  const pd::Ruleset rs = fx::parse_ruleset(kTiny, "tiny.json");
  ASSERT_EQ(rs.methods.size(), 2u);
  EXPECT_EQ(rs.schema, 1);
  // Schema 1: the method key "mxfp4" is the gpt-oss method; both names find it.
  EXPECT_EQ(rs.methods[0].name, "gpt_oss_mxfp4");  // file order is kept
  EXPECT_EQ(rs.find_method("mxfp4"), rs.find_method("gpt_oss_mxfp4"));
  pd::ParallelConfig pc;
  const pd::Plan mine = pd::make_plan(rs, gpt_oss(), "mxfp4", "MY_KERNEL", platform("cuda:sm90"), pc, pd::ActDtype::kBf16);
  ASSERT_TRUE(mine.ok()) << mine.error.value_or("");
  EXPECT_EQ(mine.hidden_padded, 2944);
  EXPECT_FALSE(pd::make_plan(rs, gpt_oss(), "mxfp4", "MY_KERNEL", platform("cuda:sm100"), pc, pd::ActDtype::kBf16).ok());
  EXPECT_EQ(rs.kernel_pad_args.at(0).hidden_pad.floor_to, 128);
  EXPECT_EQ(rs.generic_loader.error_when_intermediate_padded, "broken");
  EXPECT_EQ(rs.methods[1].post_load.at(0).w13_padding, pd::W13Padding::kEnd);
  EXPECT_NE(rs.methods[0].rules[0].where.find("tiny.json:/methods/mxfp4/rules/0"), std::string::npos);
}

TEST(PaddingRulesetJson, ProposedRulesetFromAFile) {
  // A pre-merge check of a vLLM change starts as a copy of the default with one rule changed.
  Json j = Json::parse(std::ifstream(fx::rulesets_dir() / "vllm-2026-08.json"));
  j["name"] = "proposal";
  for (auto& rule : j["tables"]["mxfp4_oracle"])
    if (rule.contains("when") && rule["when"].size() == 1 && rule["when"].contains("platform") &&
        rule["when"]["platform"] == "rocm")
      rule["intermediate"] = {{"multiple_of", 128}};
  const auto dir = std::filesystem::temp_directory_path() / ("moecheck_padding_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "proposal.json";
  std::ofstream(file) << j.dump(2);
  const pd::Ruleset rs = fx::load_ruleset(file.string());
  EXPECT_EQ(rs.name, "proposal");
  pd::ParallelConfig pc;
  pc.tp_size = 8;
  const pd::Plan p = pd::make_plan(rs, gpt_oss(), "gpt_oss_mxfp4", "TRITON", platform("rocm:gfx942"), pc, pd::ActDtype::kBf16);
  EXPECT_EQ(p.hidden_padded, 3072);
  EXPECT_EQ(p.intermediate_per_partition_padded, 384);  // 512 in vllm-2026-08

  // Names resolve in $MOECHECK_RULESETS when set.
  ::setenv("MOECHECK_RULESETS", dir.string().c_str(), 1);
  EXPECT_EQ(fx::ruleset_names(), (std::vector<std::string>{"proposal"}));
  EXPECT_EQ(fx::load_ruleset("proposal").name, "proposal");
  std::filesystem::rename(file, dir / "other.json");
  try {
    fx::load_ruleset("other");
    ADD_FAILURE() << "a file whose name differs from its \"name\" must be refused";
  } catch (const fx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.json: /name: expected \"other\" (the file's name), found \"proposal\""),
              std::string::npos)
        << e.what();
  }
  ::unsetenv("MOECHECK_RULESETS");
  std::filesystem::remove_all(dir);
}

TEST(PaddingRulesetJson, UnknownNameListsTheValidOnes) {
  try {
    fx::load_ruleset("vllm-99999");
    ADD_FAILURE();
  } catch (const fx::Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "unknown ruleset 'vllm-99999'; valid rulesets: vllm-2026-05, vllm-2026-08, vllm-34285, vllm-38043, "
                  "vllm-52915, vllm-pre-34285"),
              std::string::npos)
        << e.what();
  }
}

TEST(PaddingRulesetJson, MissingFile) {
  try {
    fx::load_ruleset("/nonexistent/x.json");
    ADD_FAILURE();
  } catch (const fx::Error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/x.json: /: expected a readable ruleset file, found none (cannot open it)");
  }
}

// ---- every validation error ------------------------------------------------------------------------

struct BadCase {
  BadCase(std::string n, std::function<void(Json&)> m, std::string f, std::string e, std::string fo, std::string r = "")
      : name(std::move(n)), mutate(std::move(m)), field(std::move(f)), expected(std::move(e)), found(std::move(fo)),
        raw(std::move(r)) {}
  std::string name;
  std::function<void(Json&)> mutate;  // applied to tiny()
  std::string field, expected, found;  // message: "bad.json: FIELD: expected ...EXPECTED..., found ...FOUND..."
  std::string raw;                     // if set: the whole text instead of a mutation
};

// gtest prints a parameter with this (CTest shows it in each test's name); the default is a byte dump.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const std::vector<BadCase> kBad = {
    {"SyntaxError", nullptr, "/", "a JSON document", "a syntax error (parse error at line 1", "{\"schema\": }"},
    {"DuplicateField", nullptr, "/methods/mxfp4/fill", "each field once", "the field a second time",
     R"({"schema": "moecheck.padding.ruleset/1", "methods": {"mxfp4": {"fill": 1, "fill": 2}}})"},
    {"RootNotObject", nullptr, "/", "a ruleset object", "an array of 0 elements", "[]"},
    {"UnknownRootField", [](Json& j) { j["comment"] = "x"; }, "/comment", "one of the fields schema, name",
     "the unknown field \"comment\""},
    {"MissingName", [](Json& j) { j.erase("name"); }, "/name", "the required field \"name\"",
     "nothing (the field is missing)"},
    {"WrongSchema", [](Json& j) { j["schema"] = "moecheck.padding.ruleset/3"; }, "/schema",
     "\"moecheck.padding.ruleset/2\" (or the older \"moecheck.padding.ruleset/1\")", "\"moecheck.padding.ruleset/3\" (a string)"},
    {"Schema2FieldInSchema1", [](Json& j) { j["tables"]["t"][0]["when"]["activation"] = "silu"; },
     "/tables/t/0/when/activation", "one of the fields method, backend",
     "the unknown field \"activation\" (a schema 2 field: the file's \"schema\" must be \"moecheck.padding.ruleset/2\")"},
    {"Schema2SelectionsInSchema1", [](Json& j) { j["selections"] = Json::object(); }, "/selections",
     "one of the fields schema, name", "the unknown field \"selections\" (a schema 2 field"},
    {"DeepepV2InSchema1", [](Json& j) { j["all2all"][0]["when"]["all2all"] = "deepep_v2"; }, "/all2all/0/when/all2all",
     "a known all2all", "\"deepep_v2\" (a string)"},
    {"NameWithSpace", [](Json& j) { j["name"] = "my rules"; }, "/name", "letters, digits", "\"my rules\" (a string)"},
    {"EmptyTitle", [](Json& j) { j["title"] = ""; }, "/title", "a non-empty string", "\"\" (a string)"},
    {"StateField", [](Json& j) { j["state"] = {{"sha", "x"}}; }, "/state/sha", "one of the fields commit, pr, date",
     "the unknown field \"sha\""},
    {"MethodsEmpty", [](Json& j) { j["methods"] = Json::object(); }, "/methods", "a non-empty object of methods",
     "an object"},
    {"TablesNotObject", [](Json& j) { j["tables"] = Json::array(); }, "/tables", "an object of named rule tables",
     "an array of 0 elements"},
    {"RulesNotArray", [](Json& j) { j["methods"]["mxfp4"]["rules"] = 5; }, "/methods/mxfp4/rules",
     "an array of rule objects", "5 (an integer)"},
    {"RuleNotObject", [](Json& j) { j["methods"]["mxfp4"]["rules"][0] = "round"; }, "/methods/mxfp4/rules/0",
     "a rule object", "\"round\" (a string)"},
    {"UnknownRuleField", [](Json& j) { j["methods"]["mxfp4"]["rules"][0]["hiden"] = {{"multiple_of", 1}}; },
     "/methods/mxfp4/rules/0/hiden", "one of the fields when, use, hidden", "the unknown field \"hiden\""},
    {"UnknownConditionField", [](Json& j) { j["methods"]["mxfp4"]["rules"][0]["when"]["vendor"] = "amd"; },
     "/methods/mxfp4/rules/0/when/vendor", "one of the fields method, backend, platform", "the unknown field \"vendor\""},
    {"UnknownMethodInCondition", [](Json& j) { j["kernel_pad_args"][0]["when"]["method"] = "mxfp5"; },
     "/kernel_pad_args/0/when/method", "a known method (unquantized, fp8_per_tensor", "\"mxfp5\" (a string)"},
    {"UnknownBackendInCondition", [](Json& j) { j["methods"]["mxfp4"]["rules"][0]["when"]["backend"] = "TRITONN"; },
     "/methods/mxfp4/rules/0/when/backend", "a known backend (AITER, AITER_MXFP4_BF16", "\"TRITONN\" (a string)"},
    {"UnknownPlatform", [](Json& j) { j["tables"]["t"][0]["when"]["platform"] = {"rocm", "gfx942"}; },
     "/tables/t/0/when/platform/1", "a known platform (*, cuda, rocm, xpu, cpu, cuda:sm90", "\"gfx942\" (a string)"},
    {"UnknownAll2All", [](Json& j) { j["all2all"][0]["when"]["all2all"] = "deepep"; }, "/all2all/0/when/all2all",
     "a known all2all (none, deepep_ht, deepep_ll, nixl, deepep_v2)", "\"deepep\" (a string)"},
    {"UnknownActDtype", [](Json& j) { j["all2all"][0]["when"]["act_dtype"] = "fp8"; }, "/all2all/0/when/act_dtype",
     "a known act_dtype (bf16, fp16, fp32)", "\"fp8\" (a string)"},
    {"EmptyModelType", [](Json& j) { j["tables"]["t"][1]["when"] = {{"model_type", ""}}; }, "/tables/t/1/when/model_type",
     "a known model_type (a Hugging Face model_type", "\"\" (a string)"},
    {"EmptyConditionList", [](Json& j) { j["tables"]["t"][0]["when"]["platform"] = Json::array(); },
     "/tables/t/0/when/platform", "a platform name or a non-empty array of them", "an array of 0 elements"},
    {"GatedNotBool", [](Json& j) { j["methods"]["fp8_per_tensor"]["post_load"][0]["when"]["gated"] = "yes"; },
     "/methods/fp8_per_tensor/post_load/0/when/gated", "true or false", "\"yes\" (a string)"},
    {"RoundTwoKinds", [](Json& j) { j["tables"]["t"][1]["intermediate"]["bytes_multiple_of"] = 512; },
     "/tables/t/1/intermediate", "exactly one of multiple_of, bytes_multiple_of, smallest_of", "an object with 2 fields"},
    {"RoundUnknownKind", [](Json& j) { j["tables"]["t"][1]["intermediate"] = {{"align", 64}}; },
     "/tables/t/1/intermediate/align", "one of the fields multiple_of, bytes_multiple_of, smallest_of",
     "the unknown field \"align\""},
    {"MultipleOfString", [](Json& j) { j["tables"]["t"][1]["intermediate"]["multiple_of"] = "64"; },
     "/tables/t/1/intermediate/multiple_of", "an integer >= 1", "\"64\" (a string)"},
    {"MultipleOfZero", [](Json& j) { j["tables"]["t"][1]["intermediate"]["multiple_of"] = 0; },
     "/tables/t/1/intermediate/multiple_of", "an integer >= 1", "0 (an integer)"},
    {"SmallestOfEmpty", [](Json& j) { j["all2all"][0]["hidden"] = {{"smallest_of", Json::array()}}; },
     "/all2all/0/hidden/smallest_of", "a non-empty array of sizes in ascending order", "an array of 0 elements"},
    {"SmallestOfUnsorted", [](Json& j) { j["all2all"][0]["hidden"] = {{"smallest_of", {2048, 4096, 3072}}}; },
     "/all2all/0/hidden/smallest_of/2", "a size larger than the previous one (4096; ascending order)", "3072 (an integer)"},
    {"All2AllIntermediate", [](Json& j) { j["all2all"][0]["intermediate"] = {{"multiple_of", 2}}; },
     "/all2all/0/intermediate", "one of the fields when, hidden, error, note, source", "the unknown field \"intermediate\""},
    {"UseUnknownTable", [](Json& j) { j["methods"]["mxfp4"]["rules"][1]["use"] = "oracle"; }, "/methods/mxfp4/rules/1/use",
     "the name of a table in /tables (t)", "\"oracle\" (a string)"},
    {"UseWithHidden", [](Json& j) { j["methods"]["mxfp4"]["rules"][1]["hidden"] = {{"multiple_of", 2}}; },
     "/methods/mxfp4/rules/1/hidden", "no \"hidden\" next to \"use\" (the table decides)", "an object"},
    {"UseInsideTable", [](Json& j) { j["tables"]["t"][0]["use"] = "t"; }, "/tables/t/0/use",
     "one of the fields when, hidden, intermediate", "the unknown field \"use\""},
    {"SkipWithoutAlignment", [](Json& j) { j["tables"]["t"][0]["skip_forward_padding"] = true; },
     "/tables/t/0/kernel_activation_alignment", "the field \"kernel_activation_alignment\" (required with skip_forward_padding true)",
     "nothing (the field is missing)"},
    {"AlignmentWithoutSkip", [](Json& j) { j["tables"]["t"][0]["kernel_activation_alignment"] = 256; },
     "/tables/t/0/kernel_activation_alignment", "no kernel_activation_alignment unless skip_forward_padding is true",
     "256 (an integer)"},
    {"SkipNotBool", [](Json& j) { j["tables"]["t"][0]["skip_forward_padding"] = 1; }, "/tables/t/0/skip_forward_padding",
     "true or false", "1 (an integer)"},
    {"W13PaddingValue", [](Json& j) { j["methods"]["fp8_per_tensor"]["post_load"][0]["w13_padding"] = "tail"; },
     "/methods/fp8_per_tensor/post_load/0/w13_padding", "\"per_half\" or \"end\"", "\"tail\" (a string)"},
    {"W13PaddingInInitRule", [](Json& j) { j["methods"]["mxfp4"]["rules"][0]["w13_padding"] = "end"; },
     "/methods/mxfp4/rules/0/w13_padding", "one of the fields when, use, hidden", "the unknown field \"w13_padding\""},
    {"EmptyError", [](Json& j) { j["tables"]["t"][1]["error"] = ""; }, "/tables/t/1/error", "a non-empty string",
     "\"\" (a string)"},
    {"NoteNotString", [](Json& j) { j["tables"]["t"][1]["note"] = 3; }, "/tables/t/1/note", "a string", "3 (an integer)"},
    {"UnregisteredMethod", [](Json& j) { j["methods"]["mxfp5"] = j["methods"]["mxfp4"]; }, "/methods/mxfp5",
     "a registered method name as the key (unquantized, fp8_per_tensor", "the method \"mxfp5\""},
    {"MethodMissingFill", [](Json& j) { j["methods"]["mxfp4"].erase("fill"); }, "/methods/mxfp4/fill",
     "the required field \"fill\"", "nothing (the field is missing)"},
    {"UnknownMethodField", [](Json& j) { j["methods"]["mxfp4"]["rule"] = Json::array(); }, "/methods/mxfp4/rule",
     "one of the fields backends, backend_selection, fill", "the unknown field \"rule\""},
    {"BackendsEmpty", [](Json& j) { j["methods"]["mxfp4"]["backends"] = Json::array(); }, "/methods/mxfp4/backends",
     "a non-empty array of backends", "an array of 0 elements"},
    {"BackendUnregistered", [](Json& j) { j["methods"]["mxfp4"]["backends"][0] = "TRITONX"; },
     "/methods/mxfp4/backends/0", "a registered backend (MARLIN, BATCHED_MARLIN", "\"TRITONX\" (a string)"},
    {"NewBackendWithoutPlatforms", [](Json& j) { j["methods"]["mxfp4"]["backends"][1].erase("platforms"); },
     "/methods/mxfp4/backends/1/name", "a registered backend (MARLIN", "\"MY_KERNEL\" (a string)"},
    {"BackendTwice", [](Json& j) { j["methods"]["mxfp4"]["backends"].push_back("TRITON"); }, "/methods/mxfp4/backends/2",
     "a backend not listed before", "\"TRITON\" a second time"},
    {"BackendPlatformUnknown", [](Json& j) { j["methods"]["mxfp4"]["backends"][1]["platforms"] = {"sm90"}; },
     "/methods/mxfp4/backends/1/platforms/0", "a known platform", "\"sm90\" (a string)"},
    {"BackendSelectionValue", [](Json& j) { j["methods"]["mxfp4"]["backend_selection"] = "auto"; },
     "/methods/mxfp4/backend_selection", "\"mxfp4\" (the only selection of schema 1", "\"auto\" (a string)"},
    {"BackendSelectionWithoutData", [](Json& j) { j.erase("mxfp4_backend_selection"); },
     "/methods/mxfp4/backend_selection", "a ruleset with /mxfp4_backend_selection", "none in this file"},
    {"FillWord", [](Json& j) { j["methods"]["mxfp4"]["fill"]["weight"] = "zeros"; }, "/methods/mxfp4/fill/weight",
     "\"zero\" or \"uninitialized\"", "\"zeros\" (a string)"},
    {"ScaleByte", [](Json& j) { j["methods"]["mxfp4"]["fill"]["scale"] = "0x1"; }, "/methods/mxfp4/fill/scale",
     "\"uninitialized\" or a scale byte \"0x00\".. \"0xff\"", "\"0x1\" (a string)"},
    {"ScaleMissing", [](Json& j) { j["methods"]["mxfp4"]["fill"].erase("scale"); }, "/methods/mxfp4/fill/scale",
     "the required field \"scale\"", "nothing (the field is missing)"},
    {"ScaleForUnscaledMethod", [](Json& j) { j["methods"]["fp8_per_tensor"]["fill"]["scale"] = "0x00"; },
     "/methods/fp8_per_tensor/fill/scale", "one of the fields weight, bias", "the unknown field \"scale\""},
    {"PostLoadWithoutFill", [](Json& j) { j["methods"]["fp8_per_tensor"].erase("post_load_fill"); },
     "/methods/fp8_per_tensor/post_load_fill", "the field \"post_load_fill\" (required with post_load rules)",
     "nothing (the field is missing)"},
    {"PriorityUnknown", [](Json& j) { j["mxfp4_backend_selection"]["priority"] = {"TRITON", "CUTLASS"}; },
     "/mxfp4_backend_selection/priority/1", "a known backend", "\"CUTLASS\" (a string)"},
    {"PriorityMissing", [](Json& j) { j["mxfp4_backend_selection"].erase("priority"); },
     "/mxfp4_backend_selection/priority", "the required field \"priority\"", "nothing (the field is missing)"},
    {"FallbackVendor", [](Json& j) { j["mxfp4_backend_selection"]["fallback"]["tpu"] = "NONE"; },
     "/mxfp4_backend_selection/fallback/tpu", "one of the fields cuda, rocm, xpu, cpu", "the unknown field \"tpu\""},
    {"FallbackBackend", [](Json& j) { j["mxfp4_backend_selection"]["fallback"]["cpu"] = "NOPE"; },
     "/mxfp4_backend_selection/fallback/cpu", "a known backend", "\"NOPE\" (a string)"},
    {"PadArgOf", [](Json& j) { j["kernel_pad_args"][0]["hidden_pad"]["of"] = "hidden"; },
     "/kernel_pad_args/0/hidden_pad/of", "\"none\", \"hidden_padding\" or \"intermediate_padding\"", "\"hidden\" (a string)"},
    {"PadArgFloorZero", [](Json& j) { j["kernel_pad_args"][0]["hidden_pad"]["floor_to"] = 0; },
     "/kernel_pad_args/0/hidden_pad/floor_to", "an integer >= 1", "0 (an integer)"},
    {"PadArgsMissingKernel", [](Json& j) { j["kernel_pad_args"][0].erase("kernel"); }, "/kernel_pad_args/0/kernel",
     "the required field \"kernel\"", "nothing (the field is missing)"},
    {"PadArgsNotArray", [](Json& j) { j["kernel_pad_args"] = Json::object(); }, "/kernel_pad_args",
     "an array of kernel_pad_args objects", "an object"},
    {"GenericLoaderEmpty", [](Json& j) { j["generic_loader"]["error_when_intermediate_padded"] = ""; },
     "/generic_loader/error_when_intermediate_padded", "a non-empty string", "\"\" (a string)"},
    {"GenericLoaderField", [](Json& j) { j["generic_loader"]["broken"] = true; }, "/generic_loader/broken",
     "one of the fields error_when_intermediate_padded", "the unknown field \"broken\""},
};

// Schema 2 (mutations of tiny2()).
const std::vector<BadCase> kBad2 = {
    {"MxfpSelectionInSchema2", [](Json& j) { j["mxfp4_backend_selection"] = Json::object(); }, "/mxfp4_backend_selection",
     "one of the fields schema, name", "the unknown field \"mxfp4_backend_selection\""},
    // WNA16 group scales are fp16/bf16 tensors: a byte fill (meaningful for E8M0 / E4M3 scale bytes)
    // was once written for them, and only P6's TP 4 Marlin tile padding reached it.
    {"ByteFillOnFloatScales", [](Json& j) { j["methods"]["int4_wna16"]["post_load_fill"]["scale"] = "0x00"; },
     "/methods/int4_wna16/post_load_fill/scale", "\"zero\", \"one\" or \"uninitialized\" (the scales of int4_wna16 are floats",
     "\"0x00\" (a string)"},
    {"SelectionUnknown", [](Json& j) { j["methods"]["int4_wna16"]["backend_selection"] = "wna"; },
     "/methods/int4_wna16/backend_selection", "the name of a selection in /selections (s)", "\"wna\" (a string)"},
    {"SelectionPicksForeignBackend", [](Json& j) { j["methods"]["int4_wna16"]["backends"].erase(2); },
     "/methods/int4_wna16/backend_selection", "a selection whose backends int4_wna16 lists",
     "\"s\", whose candidate /selections/s/candidates/0 picks AITER"},
    {"CandidateBothBackendAndError", [](Json& j) { j["selections"]["s"]["candidates"][2]["backend"] = "TRITON"; },
     "/selections/s/candidates/2", "a candidate with exactly one of \"backend\" and \"error\"", "an object with both"},
    {"CandidateUnknownBackend", [](Json& j) { j["selections"]["s"]["candidates"][0]["backend"] = "AITERX"; },
     "/selections/s/candidates/0/backend", "a known backend", "\"AITERX\" (a string)"},
    {"SelectionWithoutOtherwise", [](Json& j) { j["selections"]["s"].erase("otherwise"); }, "/selections/s/otherwise",
     "the required field \"otherwise\"", "nothing (the field is missing)"},
    {"SelectionEmpty", [](Json& j) { j["selections"]["s"]["candidates"] = Json::array(); }, "/selections/s/candidates",
     "a non-empty array of candidates", "an array of 0 elements"},
    {"UnknownActivation", [](Json& j) { j["selections"]["s"]["candidates"][3]["when"]["activation"] = "swiglu"; },
     "/selections/s/candidates/3/when/activation", "a known activation (silu, gelu", "\"swiglu\" (a string)"},
    {"UnknownRouting", [](Json& j) { j["selections"]["s"]["candidates"][3]["when"]["routing"] = "topk"; },
     "/selections/s/candidates/3/when/routing", "a known routing (default, renormalize", "\"topk\" (a string)"},
    {"UnknownCpuIsa", [](Json& j) { j["selections"]["s"]["candidates"][3]["when"]["cpu_isa"] = "avx512"; },
     "/selections/s/candidates/3/when/cpu_isa", "a known cpu_isa (amx, vec, neon, vsx)", "\"avx512\" (a string)"},
    {"UnknownPackage", [](Json& j) { j["selections"]["s"]["candidates"][3]["when"]["packages"] = {"flashinfr"}; },
     "/selections/s/candidates/3/when/packages/0", "a known package (one of /packages: amd_quark, flashinfer)",
     "\"flashinfr\" (a string)"},
    {"EnvEmpty", [](Json& j) { j["selections"]["s"]["candidates"][0]["when"]["env"] = Json::object(); },
     "/selections/s/candidates/0/when/env", "a non-empty object", "an object"},
    {"MoeTpZero", [](Json& j) { j["methods"]["int4_wna16"]["rules"][0]["when"]["moe_tp"] = {0}; },
     "/methods/int4_wna16/rules/0/when/moe_tp/0", "an integer >= 1", "0 (an integer)"},
    {"EplbNotBool", [](Json& j) { j["methods"]["int4_wna16"]["rules"][0]["when"]["eplb"] = "on"; },
     "/methods/int4_wna16/rules/0/when/eplb", "true or false", "\"on\" (a string)"},
    {"ActScheme", [](Json& j) { j["methods"]["int4_wna16"]["rules"][0]["when"]["act_scheme"] = "per_token"; },
     "/methods/int4_wna16/rules/0/when/act_scheme", "a known act_scheme (static, dynamic)", "\"per_token\" (a string)"},
    {"DivisorWord", [](Json& j) { j["selections"]["s"]["candidates"][1]["when"]["intermediate_multiple_of"] = "group"; },
     "/selections/s/candidates/1/when/intermediate_multiple_of", "an integer >= 1, \"group_size\" or {\"lcm\"",
     "\"group\" (a string)"},
    {"LcmShape", [](Json& j) { j["methods"]["int4_wna16"]["post_load"][1]["intermediate"] = {{"multiple_of_lcm", {64}}}; },
     "/methods/int4_wna16/post_load/1/intermediate/multiple_of_lcm", "an array [N, \"group_size\"]", "an array of 1 element"},
    {"RequireBothDims", [](Json& j) { j["methods"]["int4_wna16"]["post_load"][1]["require"][0]["intermediate_multiple_of"] = 64; },
     "/methods/int4_wna16/post_load/1/require/0", "exactly one of hidden_multiple_of, intermediate_multiple_of",
     "an object with both"},
    {"RequireWithoutError", [](Json& j) { j["methods"]["int4_wna16"]["post_load"][1]["require"][0].erase("error"); },
     "/methods/int4_wna16/post_load/1/require/0/error", "the required field \"error\"", "nothing (the field is missing)"},
    {"RequireNextToUse", [](Json& j) {
       j["tables"] = {{"t", Json::array({Json::object()})}};
       j["methods"]["int4_wna16"]["rules"][0] = {{"use", "t"}, {"require", Json::array()}};
     }, "/methods/int4_wna16/rules/0/require", "no \"require\" next to \"use\"", "an array of 0 elements"},
    {"LoaderShard", [](Json& j) { j["generic_loader"]["shard"] = "padded"; }, "/generic_loader/shard",
     "\"allocated\" or \"per_partition\"", "\"padded\" (a string)"},
    {"LoaderBiases", [](Json& j) { j["generic_loader"]["biases"] = "rank0"; }, "/generic_loader/biases",
     "\"none\" or \"every_rank\"", "\"rank0\" (a string)"},
    {"PackagesNotPlatforms", [](Json& j) { j["packages"]["flashinfer"] = {"nvidia"}; }, "/packages/flashinfer/0",
     "a known platform", "\"nvidia\" (a string)"},
    {"EnvDefaultEmpty", [](Json& j) { j["env_defaults"]["VLLM_ROCM_USE_AITER"] = ""; }, "/env_defaults/VLLM_ROCM_USE_AITER",
     "a non-empty string", "\"\" (a string)"},
};

void expect_error(const BadCase& c, const std::function<Json()>& base) {
  std::string text = c.raw;
  if (text.empty()) {
    Json j = base();
    c.mutate(j);
    text = j.dump();
  }
  try {
    fx::parse_ruleset(text, "bad.json");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const fx::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.json: " + c.field + ": expected ", 0), 0u) << msg;
    const auto found_at = msg.find(", found ");
    ASSERT_NE(found_at, std::string::npos) << msg;
    EXPECT_NE(msg.substr(0, found_at).find(c.expected), std::string::npos) << "expected part: " << c.expected << "\n" << msg;
    EXPECT_NE(msg.find(c.found, found_at), std::string::npos) << "found part: " << c.found << "\n" << msg;
  }
}

class PaddingBadRuleset : public ::testing::TestWithParam<BadCase> {};
TEST_P(PaddingBadRuleset, MessageNamesFileFieldExpectedAndFound) { expect_error(GetParam(), tiny); }
INSTANTIATE_TEST_SUITE_P(PaddingEveryError, PaddingBadRuleset, ::testing::ValuesIn(kBad),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

class PaddingBadRuleset2 : public ::testing::TestWithParam<BadCase> {};
TEST_P(PaddingBadRuleset2, MessageNamesFileFieldExpectedAndFound) { expect_error(GetParam(), tiny2); }
INSTANTIATE_TEST_SUITE_P(PaddingEveryError2, PaddingBadRuleset2, ::testing::ValuesIn(kBad2),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

}  // namespace

// vLLM PR #52915's loading (bugs.md B16): the ruleset that admits block-FP8 shards off the grid
// says so in its generic loader, and its fp8_block shards plan without create_weights' error.
TEST(PaddingRulesetJson, Pr52915LoadsBlockScalesInGlobalCoordinates) {
  EXPECT_EQ(fx::load_ruleset("vllm-52915").generic_loader.block_scales,
            moecheck::reference::padding::GenericLoader::BlockScales::kGlobalGrid);
  EXPECT_EQ(fx::load_ruleset("vllm-2026-08").generic_loader.block_scales,
            moecheck::reference::padding::GenericLoader::BlockScales::kOnGrid);
}
