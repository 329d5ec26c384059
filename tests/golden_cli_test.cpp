// `moecheck golden` as a user runs it: OUT.h5's datasets and attributes against the library on the
// same inputs, and the error for a layer that is not an MoE layer (a checkpoint written here).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "fixtures/from_model.h"
#include "fixtures/hdf5_io.h"
#include "reference/moe.h"
#include "tests/moe_test_support.h"

namespace fx = moecheck::fixtures;
namespace moe = moecheck::reference::moe;

namespace {

const std::filesystem::path kHf = std::filesystem::path(MOECHECK_SOURCE_DIR) / "fixtures" / "data" / "hf";

struct CliResult {
  int status;
  std::string output;
};

CliResult golden(const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path log = dir / "log.txt";
  const std::string cmd = std::string(MOECHECK_BINARY) + " golden " + args + " > '" + log.string() + "' 2>&1";
  const int raw = std::system(cmd.c_str());
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

}  // namespace

TEST(GoldenCli, WritesTheForwardOfTheLibraryWithItsAttributes) {
  const std::filesystem::path ckpt = kHf / "gpt_oss", in = ckpt / "moe_block.h5";
  if (!std::filesystem::exists(in)) GTEST_SKIP() << in << " does not exist";
  moecheck::test::TempDir dir;
  const std::filesystem::path out = dir.path() / "out.h5";
  const CliResult run = golden("--checkpoint " + ckpt.string() + " --layer 0 --hidden-states " + in.string() +
                             " --out " + out.string() + " --accumulate fp32",
                         dir.path());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("wrote " + out.string() + ": /output f32 [12, 96]"), std::string::npos) << run.output;

  const fx::Reader r(out);
  const fx::Reader fixture(in);
  const std::vector<float> x = fixture.read_f32("hidden_states", {12, 96});
  const fx::MoeLayer layer = fx::load_moe_layer(ckpt, 0);
  const moe::MoeOutput want =
      moe::forward(layer.block, Eigen::Map<const moe::RowMatrix<float>>(x.data(), 12, 96), moe::Accumulate::kFp32);
  const std::vector<float> output = r.read_f32("output", {12, 96});
  EXPECT_EQ(0, std::memcmp(output.data(), want.output.data(), output.size() * sizeof(float)));
  const std::vector<std::int32_t> ids = r.read_i32("topk_ids", {12, 2});
  EXPECT_EQ(ids, std::vector<std::int32_t>(want.routing.ids.data(), want.routing.ids.data() + 24));
  const std::vector<float> weights = r.read_f32("topk_weights", {12, 2});
  EXPECT_EQ(weights, std::vector<float>(want.routing.weights.data(), want.routing.weights.data() + 24));
  const std::vector<float> logits = r.read_f32("router_logits", {12, 4});
  EXPECT_EQ(logits, std::vector<float>(want.router_logits.data(), want.router_logits.data() + 48));
  EXPECT_EQ(r.require_string_attribute("/", "model_type"), "gpt_oss");
  EXPECT_EQ(r.require_string_attribute("/", "family"), "gpt_oss");
  EXPECT_EQ(r.require_int_attribute("/", "layer"), 0);
  EXPECT_EQ(r.require_string_attribute("/", "block"), "model.layers.0.mlp");
  EXPECT_EQ(r.require_string_attribute("/", "dtype"), "float32");
  EXPECT_EQ(r.require_string_attribute("/", "accumulate"), "fp32");
  EXPECT_EQ(r.require_int_attribute("/", "top_k"), 2);
  EXPECT_EQ(r.require_int_attribute("/", "num_experts"), 4);
}

TEST(GoldenCli, ADenseLayerIsAnErrorNamingTheMoeLayers) {
  moecheck::test::TempDir dir;
  const nlohmann::json config = {{"model_type", "deepseek_v3"}, {"hidden_size", 8}, {"num_hidden_layers", 4},
                                 {"n_routed_experts", 4}, {"num_experts_per_tok", 2}, {"moe_intermediate_size", 4},
                                 {"n_group", 1}, {"topk_group", 1}, {"first_k_dense_replace", 2}};
  moecheck::test::write_text(dir.path() / "config.json", config.dump());
  moecheck::test::write_safetensors(dir.path() / "model.safetensors", {});
  fx::Writer w(dir.path() / "in.h5");
  const std::vector<float> x(16, 1.0f);
  w.write("hidden_states", fx::Tensor::f32({2, 8}, x));
  w.commit();
  const CliResult run = golden("--checkpoint " + dir.path().string() + " --layer 1 --hidden-states " +
                             (dir.path() / "in.h5").string() + " --out " + (dir.path() / "out.h5").string(),
                         dir.path());
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("moecheck: error: " + (dir.path() / "config.json").string() +
                            ": layer 1 of this deepseek_v3 model is a dense MLP layer, not an MoE layer; MoE layers: 2-3"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.h5"));
}
