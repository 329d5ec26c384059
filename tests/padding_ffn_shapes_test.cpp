// FFN sizes from Hugging Face config.json (fixtures/ffn_shapes.h over fixtures/model_config.h) for
// the families of spec/models.md: routed experts, the shared expert and dense layers, per the layer
// selection rules of models.md §1.2; and the errors, which name the file, the key, what was expected
// and found.
#include <gtest/gtest.h>

#include "fixtures/ffn_shapes.h"
#include "fixtures/model_config.h"

namespace fx = moecheck::fixtures;

namespace {

const fx::FfnShape* find(const fx::ModelFfns& m, const std::string& kind) {
  for (const auto& f : m.ffns)
    if (f.kind == kind) return &f;
  return nullptr;
}

std::string config(const std::string& name) {
  return std::string(MOECHECK_SOURCE_DIR) + "/tests/padding_configs/" + name;
}

TEST(PaddingFfnShapes, GptOss120b) {
  const fx::ModelFfns m = fx::read_model_ffns(config("gpt-oss-120b.json"));
  EXPECT_EQ(m.model_type, "gpt_oss");
  ASSERT_EQ(m.ffns.size(), 1u);
  const auto& r = m.ffns[0];
  EXPECT_EQ(r.kind, "routed");
  EXPECT_EQ(r.hidden, 2880);
  EXPECT_EQ(r.intermediate, 2880);
  EXPECT_EQ(r.experts, 128);
  EXPECT_EQ(r.topk, 4);
  EXPECT_TRUE(r.has_bias);
  EXPECT_EQ(fx::describe_layers(r.layers), "0-35");
}

TEST(PaddingFfnShapes, DeepSeekV2LiteSharedAndDense) {
  const fx::ModelFfns m = fx::read_model_ffns(config("deepseek-v2-lite.json"));
  ASSERT_EQ(m.ffns.size(), 3u);
  EXPECT_EQ(find(m, "routed")->intermediate, 1408);
  EXPECT_EQ(find(m, "routed")->experts, 64);
  EXPECT_EQ(find(m, "routed")->topk, 6);
  EXPECT_EQ(fx::describe_layers(find(m, "routed")->layers), "1-26");
  EXPECT_EQ(find(m, "shared")->intermediate, 2816);  // 2 shared experts fused (models.md §1.1)
  EXPECT_EQ(find(m, "dense")->intermediate, 10944);
  EXPECT_EQ(fx::describe_layers(find(m, "dense")->layers), "0");
}

TEST(PaddingFfnShapes, Qwen15MoeSharedExpert) {
  const fx::ModelFfns m = fx::read_model_ffns(config("qwen1.5-moe-a2.7b.json"));
  ASSERT_EQ(m.ffns.size(), 2u);
  EXPECT_EQ(find(m, "routed")->intermediate, 1408);
  EXPECT_EQ(find(m, "routed")->experts, 60);
  EXPECT_EQ(find(m, "shared")->intermediate, 5632);
  EXPECT_EQ(find(m, "dense"), nullptr);
}

TEST(PaddingFfnShapes, Llama4MaverickInterleavedDenseLayers) {
  const fx::ModelFfns m = fx::read_model_ffns(config("llama4-maverick.json"));
  EXPECT_EQ(m.model_type, "llama4_text");
  EXPECT_EQ(find(m, "routed")->layers.size(), 24u);
  EXPECT_EQ(fx::describe_layers(find(m, "routed")->layers), "1-47 step 2");
  EXPECT_EQ(find(m, "shared")->intermediate, 8192);
  EXPECT_EQ(find(m, "dense")->intermediate, 16384);
  EXPECT_EQ(fx::describe_layers(find(m, "dense")->layers), "0-46 step 2");
}

TEST(PaddingFfnShapes, DbrxNestedFfnConfig) {
  const fx::ModelFfns m = fx::read_model_ffns(config("dbrx.json"));
  ASSERT_EQ(m.ffns.size(), 1u);
  EXPECT_EQ(m.ffns[0].hidden, 6144);
  EXPECT_EQ(m.ffns[0].intermediate, 10752);
  EXPECT_EQ(m.ffns[0].experts, 16);
  EXPECT_EQ(m.ffns[0].topk, 4);
}

TEST(PaddingFfnShapes, OtherFamiliesInline) {
  struct Case {
    const char* json;
    std::int64_t hidden, intermediate, experts, topk;
    std::size_t kinds;
  };
  const Case cases[] = {
      {R"({"model_type":"mixtral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_local_experts":8,"num_experts_per_tok":2})",
       4096, 14336, 8, 2, 1},
      {R"({"model_type":"qwen3_moe","hidden_size":2048,"intermediate_size":6144,"moe_intermediate_size":768,"num_hidden_layers":48,"num_experts":128,"num_experts_per_tok":8,"decoder_sparse_step":1,"mlp_only_layers":[]})",
       2048, 768, 128, 8, 1},
      {R"({"model_type":"olmoe","hidden_size":2048,"intermediate_size":1024,"num_hidden_layers":16,"num_experts":64,"num_experts_per_tok":8})",
       2048, 1024, 64, 8, 1},
      {R"({"model_type":"phimoe","hidden_size":4096,"intermediate_size":6400,"num_hidden_layers":32,"num_local_experts":16,"num_experts_per_tok":2})",
       4096, 6400, 16, 2, 1},
      {R"({"model_type":"granitemoeshared","hidden_size":1024,"intermediate_size":512,"shared_intermediate_size":1024,"num_hidden_layers":24,"num_local_experts":32,"num_experts_per_tok":8})",
       1024, 512, 32, 8, 2},
      {R"({"model_type":"deepseek_v3","hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,"num_hidden_layers":61,"n_routed_experts":256,"n_shared_experts":1,"num_experts_per_tok":8,"first_k_dense_replace":3})",
       7168, 2048, 256, 8, 3},
      {R"({"model_type":"qwen2_moe","hidden_size":64,"intermediate_size":256,"moe_intermediate_size":32,"shared_expert_intermediate_size":128,"num_hidden_layers":4,"num_experts":4,"num_experts_per_tok":2,"decoder_sparse_step":2,"mlp_only_layers":[3]})",
       64, 32, 4, 2, 3},
  };
  for (const auto& c : cases) {
    const fx::ModelFfns m = fx::parse_model_ffns(c.json, "inline.json");
    ASSERT_FALSE(m.ffns.empty()) << c.json;
    EXPECT_EQ(m.ffns[0].hidden, c.hidden) << c.json;
    EXPECT_EQ(m.ffns[0].intermediate, c.intermediate) << c.json;
    EXPECT_EQ(m.ffns[0].experts, c.experts) << c.json;
    EXPECT_EQ(m.ffns[0].topk, c.topk) << c.json;
    EXPECT_EQ(m.ffns.size(), c.kinds) << c.json;
  }
  // Qwen2 selection: MoE iff layer not in mlp_only_layers and (layer+1) % step == 0 -> only layer 1.
  // The shared expert is part of the MoE block: same layers. Dense layers use intermediate_size.
  const fx::ModelFfns q = fx::parse_model_ffns(cases[6].json, "q.json");
  EXPECT_EQ(q.ffns[0].layers, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(q.ffns[1].kind, "shared");
  EXPECT_EQ(q.ffns[1].intermediate, 128);
  EXPECT_EQ(q.ffns[1].layers, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(q.ffns[2].kind, "dense");
  EXPECT_EQ(q.ffns[2].intermediate, 256);
  EXPECT_EQ(q.ffns[2].layers, (std::vector<std::int64_t>{0, 2, 3}));
  EXPECT_EQ(fx::parse_model_ffns(cases[5].json, "v3.json").ffns[2].layers, (std::vector<std::int64_t>{0, 1, 2}));
}

TEST(PaddingFfnShapes, ErrorsNameFileKeyExpectedAndFound) {
  const std::pair<const char*, const char*> cases[] = {
      // A model_type the golden model has no family for is sized by the common MoE keys.
      {R"({"model_type":"bert"})", "x.json: key 'hidden_size': expected a positive integer (model_type bert is read by its common MoE keys), found none"},
      {R"({"model_type":"minimax_m2","hidden_size":3072,"num_hidden_layers":62,"num_local_experts":256,"num_experts_per_tok":"8"})",
       "x.json: key 'num_experts_per_tok': expected a non-negative integer, found \"8\""},
      {R"({"hidden_size":1})", "x.json: key 'model_type': expected one of gpt_oss, mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek_v2, deepseek_v3, llama4, granitemoe, granitemoeshared, phimoe, dbrx, llama4_text, found none"},
      {R"({"model_type":"mixtral","hidden_size":4096,"num_hidden_layers":2,"num_local_experts":8,"num_experts_per_tok":2})",
       "x.json: key 'intermediate_size': expected a positive integer (required for mixtral), found none"},
      {R"({"model_type":"mixtral","hidden_size":"4096"})", "x.json: key 'hidden_size': expected a positive integer, found \"4096\""},
      {R"({"model_type":"llama4"})", "x.json: key 'text_config': expected an object (required for llama4), found none"},
      {R"({"model_type":"llama4","text_config":{"hidden_size":5120,"num_hidden_layers":2,"intermediate_size":8192,"num_local_experts":0}})",
       "x.json: key 'text_config.num_local_experts': expected a positive integer, found 0"},
      {R"({"model_type":"qwen2_moe","hidden_size":64,"num_hidden_layers":2,"moe_intermediate_size":32,"shared_expert_intermediate_size":64,"num_experts":4,"num_experts_per_tok":2,"mlp_only_layers":"0"})",
       "x.json: key 'mlp_only_layers': expected an array of layer indices 0..1, found \"0\""},
      {R"({"model_type":"dbrx","d_model":8,"n_layers":1,"ffn_config":{"ffn_hidden_size":8,"moe_num_experts":2}})",
       "x.json: key 'ffn_config.moe_top_k': expected a positive integer (required for dbrx), found none"},
      {"{", "x.json: expected valid JSON, found a syntax error at byte 2 ("},
      // The golden model loads MoE layers only; pad-report also needs the dense layers' MLP size.
      {R"({"model_type":"deepseek_v3","hidden_size":8,"moe_intermediate_size":4,"num_hidden_layers":4,"n_routed_experts":4,"num_experts_per_tok":2,"n_group":1,"topk_group":1,"first_k_dense_replace":2})",
       "x.json: key 'intermediate_size': expected a positive integer (required for deepseek_v3: the MLP of the dense layers 0-1), found none"},
      {R"({"model_type":"llama4","text_config":{"hidden_size":8,"num_hidden_layers":6,"intermediate_size":4,"num_local_experts":4,"num_experts_per_tok":1,"interleave_moe_layer_step":2}})",
       "x.json: key 'text_config.intermediate_size_mlp': expected a positive integer (required for llama4: the MLP of the dense layers 0-4 step 2), found none"},
      {R"({"model_type":"llama4_text","hidden_size":8,"num_hidden_layers":6,"intermediate_size":4,"intermediate_size_mlp":16,"num_local_experts":4,"num_experts_per_tok":1,"moe_layers":[1,6]})",
       "x.json: key 'moe_layers': expected an array of layer indices 0..5 (num_hidden_layers 6), found [1,6]"},
      // Qwen2-MoE always has a shared expert (transformers builds one): its size is required.
      {R"({"model_type":"qwen2_moe","hidden_size":64,"num_hidden_layers":2,"moe_intermediate_size":32,"num_experts":4,"num_experts_per_tok":2})",
       "x.json: key 'shared_expert_intermediate_size': expected a positive integer (required for qwen2_moe), found none"},
  };
  for (const auto& [json, message] : cases) {
    try {
      fx::parse_model_ffns(json, "x.json");
      ADD_FAILURE() << "accepted " << json;
    } catch (const fx::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(message, 0), 0u) << e.what();
    }
  }
  EXPECT_THROW(fx::read_model_ffns("/nonexistent/config.json"), fx::Error);
}

}  // namespace

// pad-report reads the sizes of checkpoints whose weights the golden model cannot load (GPTQ, AWQ,
// compressed-tensors): their quant_method is kept by name, not refused.
TEST(PaddingFfnShapes, OtherQuantMethodsAreReadForTheirSizes) {
  const std::string text = R"({"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 2,
    "intermediate_size": 14336, "num_local_experts": 8, "num_experts_per_tok": 2,
    "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}})";
  const fx::ModelConfig c = fx::parse_model_config(text, "gptq/config.json", fx::Require::kEveryFfn);
  EXPECT_EQ(c.quantization.method, fx::QuantizationConfig::Method::kOther);
  EXPECT_EQ(c.quantization.name, "gptq");
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.moe_layers.size(), 2u);
}
