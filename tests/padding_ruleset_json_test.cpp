// The ruleset loader (fixtures/ruleset_json.h): the shipped rulesets load and are named after their
// files; names resolve (MOECHECK_RULESETS overrides the folder); a user's proposed ruleset works;
// and every validation error names the file, the field, what was expected and what was found.
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

TEST(PaddingRulesetJson, ShippedRulesetsLoadUnderTheirFileNames) {
  const auto names = fx::ruleset_names();
  EXPECT_EQ(names, (std::vector<std::string>{"vllm-2026-05", "vllm-34285", "vllm-38043", "vllm-pre-34285"}));
  for (const auto& n : names) {
    const pd::Ruleset rs = fx::load_ruleset(n);
    EXPECT_EQ(rs.name, n);
    EXPECT_FALSE(rs.title.empty());
    EXPECT_TRUE(rs.mxfp4_selection.has_value());
    EXPECT_NE(rs.find_method("mxfp4"), nullptr);
  }
  EXPECT_EQ(fx::kDefaultRuleset, "vllm-38043");
}

TEST(PaddingRulesetJson, TinyRulesetParsesAndANewBackendWorks) {
  const pd::Ruleset rs = fx::parse_ruleset(kTiny, "tiny.json");
  ASSERT_EQ(rs.methods.size(), 2u);
  EXPECT_EQ(rs.methods[0].name, "mxfp4");  // file order is kept
  pd::ParallelConfig pc;
  const pd::Plan mine = pd::make_plan(rs, gpt_oss(), "mxfp4", "MY_KERNEL", platform("cuda:sm90"), pc, pd::ActDtype::kBf16);
  ASSERT_TRUE(mine.ok()) << mine.error.value_or("");
  EXPECT_EQ(mine.hidden_padded, 2944);
  EXPECT_FALSE(pd::make_plan(rs, gpt_oss(), "mxfp4", "MY_KERNEL", platform("cuda:sm100"), pc, pd::ActDtype::kBf16).ok());
  EXPECT_EQ(rs.kernel_pad_args.at(0).hidden_pad.floor_to, 128);
  EXPECT_EQ(rs.generic_loader_error_when_intermediate_padded, "broken");
  EXPECT_EQ(rs.methods[1].post_load.at(0).w13_padding, pd::W13Padding::kEnd);
  EXPECT_NE(rs.methods[0].rules[0].where.find("tiny.json:/methods/mxfp4/rules/0"), std::string::npos);
}

TEST(PaddingRulesetJson, ProposedRulesetFromAFile) {
  // A pre-merge check of a vLLM change starts as a copy of the default with one rule changed.
  Json j = Json::parse(std::ifstream(fx::rulesets_dir() / "vllm-38043.json"));
  j["name"] = "proposal";
  for (auto& rule : j["tables"]["mxfp4_oracle"])
    if (rule.contains("when") && rule["when"].contains("platform") && rule["when"]["platform"] == "rocm")
      rule["intermediate"] = {{"multiple_of", 128}};
  const auto dir = std::filesystem::temp_directory_path() / ("moecheck_padding_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "proposal.json";
  std::ofstream(file) << j.dump(2);
  const pd::Ruleset rs = fx::load_ruleset(file.string());
  EXPECT_EQ(rs.name, "proposal");
  pd::ParallelConfig pc;
  pc.tp_size = 8;
  const pd::Plan p = pd::make_plan(rs, gpt_oss(), "mxfp4", "TRITON", platform("rocm:gfx942"), pc, pd::ActDtype::kBf16);
  EXPECT_EQ(p.hidden_padded, 3072);
  EXPECT_EQ(p.intermediate_per_partition_padded, 384);  // 512 in vllm-38043

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
                  "unknown ruleset 'vllm-99999'; valid rulesets: vllm-2026-05, vllm-34285, vllm-38043, vllm-pre-34285"),
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
    {"WrongSchema", [](Json& j) { j["schema"] = "moecheck.padding.ruleset/2"; }, "/schema",
     "\"moecheck.padding.ruleset/1\"", "\"moecheck.padding.ruleset/2\" (a string)"},
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
     "/methods/mxfp4/rules/0/when/backend", "a known backend (BATCHED_MARLIN, CK, CPU", "\"TRITONN\" (a string)"},
    {"UnknownPlatform", [](Json& j) { j["tables"]["t"][0]["when"]["platform"] = {"rocm", "gfx942"}; },
     "/tables/t/0/when/platform/1", "a known platform (*, cuda, rocm, xpu, cpu, cuda:sm90", "\"gfx942\" (a string)"},
    {"UnknownAll2All", [](Json& j) { j["all2all"][0]["when"]["all2all"] = "deepep"; }, "/all2all/0/when/all2all",
     "a known all2all (none, deepep_ht, deepep_ll, nixl)", "\"deepep\" (a string)"},
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
     "/methods/mxfp4/backend_selection", "\"mxfp4\" (the only selection modelled", "\"auto\" (a string)"},
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

class PaddingBadRuleset : public ::testing::TestWithParam<BadCase> {};

TEST_P(PaddingBadRuleset, MessageNamesFileFieldExpectedAndFound) {
  const BadCase& c = GetParam();
  std::string text = c.raw;
  if (text.empty()) {
    Json j = tiny();
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

INSTANTIATE_TEST_SUITE_P(PaddingEveryError, PaddingBadRuleset, ::testing::ValuesIn(kBad),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

}  // namespace
