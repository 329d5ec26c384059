// config.json + safetensors → MoeBlock (fixtures/model_config, fixtures/from_model). Each family's
// checkpoint is written here in its on-disk form (names, fused or per-expert, out×in or in×out,
// interleaved or concatenated, MXFP4, FP8 blocks) from a canonical block built directly; the
// loaded block must compute bitwise what the canonical one computes. Then every malformed input.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fixtures/from_model.h"
#include "fixtures/hdf5_io.h"
#include "reference/moe.h"
#include "reference/quant/fp8_block.h"
#include "reference/quant/mxfp4.h"
#include "tests/moe_test_support.h"

namespace fx = moecheck::fixtures;
namespace moe = moecheck::reference::moe;
namespace quant = moecheck::reference::quant;
using moe::Dtype;
using moe::Family;
using moecheck::test::StTensor;
using moecheck::test::TempDir;
using moecheck::test::Values;
using nlohmann::json;

namespace {

std::vector<float> dense_values(const moe::StackedWeight& w) {
  std::vector<float> v(static_cast<std::size_t>(w.rows() * w.cols()));
  moe::materialize(w, Dtype::kF32, v);
  return v;
}

// Rows [begin, end) of a row-major [rows, cols] matrix.
std::vector<float> rows_of(const std::vector<float>& m, std::int64_t cols, std::int64_t begin, std::int64_t end) {
  return {m.begin() + begin * cols, m.begin() + end * cols};
}

std::vector<float> transpose(const std::vector<float>& m, std::int64_t rows, std::int64_t cols) {
  std::vector<float> t(m.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) t[static_cast<std::size_t>(c * rows + r)] = m[static_cast<std::size_t>(r * cols + c)];
  return t;
}

// What a test checkpoint holds: sizes, the canonical block, and the on-disk tensors and config.
struct Case {
  Family family;
  std::int64_t H = 32, I = 32, E = 4, k = 2, S = 0, layers = 2, layer = 1;
  moe::MoeBlock block;  // canonical: dense, out×in, the family's layout
  json config;
  std::vector<StTensor> tensors;
  bool bf16_on_disk = false;

  StTensor tensor(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) const {
    return bf16_on_disk ? moecheck::test::st_bf16(name, std::move(shape), v) : moecheck::test::st_f32(name, std::move(shape), v);
  }
};

moe::StackedWeight random_weight(std::int64_t rows, std::int64_t cols, Values& v) {
  return {{moe::DenseWeight{rows, cols, v.vec(static_cast<std::size_t>(rows * cols), 0.3f)}}};
}

// The canonical block with dense random weights (exact in bf16) and the family's semantics.
Case make_case(Family f, std::uint32_t seed) {
  Case c;
  c.family = f;
  Values v(seed);
  if (f == Family::kLlama4) c.k = 1;
  if (f == Family::kQwen2Moe || f == Family::kGraniteMoeShared) c.S = 64;
  if (f == Family::kDeepseekV2 || f == Family::kDeepseekV3) c.S = 2 * c.I;  // n_shared_experts = 2
  if (f == Family::kLlama4) c.S = c.I;
  moe::MoeBlock& b = c.block;
  b.family = f;
  b.hidden = c.H;
  b.intermediate = c.I;
  b.semantics = moe::semantics(f);
  b.semantics.router.top_k = c.k;
  b.router = {c.E, c.H, v.vec(static_cast<std::size_t>(c.E * c.H), 0.5f)};
  for (std::int64_t e = 0; e < c.E; ++e) {
    moe::Expert x{random_weight(2 * c.I, c.H, v), random_weight(c.H, c.I, v), {}, {}};
    if (f == Family::kGptOss) {
      x.gate_up_bias = v.vec(static_cast<std::size_t>(2 * c.I), 0.5f);
      x.down_bias = v.vec(static_cast<std::size_t>(c.H), 0.5f);
    }
    b.experts.push_back(std::move(x));
  }
  if (f == Family::kGptOss) b.router_bias = v.vec(static_cast<std::size_t>(c.E));
  if (c.S > 0) b.shared_expert = moe::Expert{random_weight(2 * c.S, c.H, v), random_weight(c.H, c.S, v), {}, {}};
  if (f == Family::kQwen2Moe) b.shared_expert_gate = moe::DenseWeight{1, c.H, v.vec(static_cast<std::size_t>(c.H))};
  if (f == Family::kDeepseekV3) b.correction_bias = v.vec(static_cast<std::size_t>(c.E), 0.2f);
  return c;
}

// config.json and tensors in the family's on-disk form, for layer c.layer.
void write_family(Case& c) {
  const std::string L = std::to_string(c.layer), p = "model.layers." + L + ".";
  const moe::MoeBlock& b = c.block;
  json& j = c.config;
  j["model_type"] = std::string(moe::name(c.family));
  j["hidden_size"] = c.H;
  j["num_hidden_layers"] = c.layers;
  j["num_experts_per_tok"] = c.k;
  j["hidden_act"] = "silu";
  const auto per_expert = [&](const std::string& base, const char* gate, const char* up, const char* down) {
    for (std::int64_t e = 0; e < c.E; ++e) {
      const std::string n = base + std::to_string(e) + ".";
      const std::vector<float> gu = dense_values(b.experts[e].gate_up), dn = dense_values(b.experts[e].down);
      c.tensors.push_back(c.tensor(n + gate + ".weight", {c.I, c.H}, rows_of(gu, c.H, 0, c.I)));
      c.tensors.push_back(c.tensor(n + up + ".weight", {c.I, c.H}, rows_of(gu, c.H, c.I, 2 * c.I)));
      c.tensors.push_back(c.tensor(n + down + ".weight", {c.H, c.I}, dn));
    }
  };
  const auto shared_mlp = [&](const std::string& base) {
    const std::vector<float> gu = dense_values(b.shared_expert->gate_up), dn = dense_values(b.shared_expert->down);
    c.tensors.push_back(c.tensor(base + "gate_proj.weight", {c.S, c.H}, rows_of(gu, c.H, 0, c.S)));
    c.tensors.push_back(c.tensor(base + "up_proj.weight", {c.S, c.H}, rows_of(gu, c.H, c.S, 2 * c.S)));
    c.tensors.push_back(c.tensor(base + "down_proj.weight", {c.H, c.S}, dn));
  };
  // Fused [E, a, b] from each expert's out×in matrix, transposed when stored in×out.
  const auto fused = [&](const std::string& name, bool gate_up, bool in_by_out) {
    const std::int64_t rows = gate_up ? 2 * c.I : c.H, cols = gate_up ? c.H : c.I;
    std::vector<float> all;
    for (const moe::Expert& x : b.experts) {
      const std::vector<float> m = dense_values(gate_up ? x.gate_up : x.down);
      const std::vector<float> o = in_by_out ? transpose(m, rows, cols) : m;
      all.insert(all.end(), o.begin(), o.end());
    }
    c.tensors.push_back(c.tensor(name, in_by_out ? std::vector<std::int64_t>{c.E, cols, rows}
                                                 : std::vector<std::int64_t>{c.E, rows, cols}, all));
  };
  switch (c.family) {
    case Family::kGptOss: {
      j["num_local_experts"] = c.E;
      j["intermediate_size"] = c.I;
      c.tensors.push_back(c.tensor(p + "mlp.router.weight", {c.E, c.H}, b.router.values));
      c.tensors.push_back(c.tensor(p + "mlp.router.bias", {c.E}, b.router_bias));
      fused(p + "mlp.experts.gate_up_proj", true, true);
      fused(p + "mlp.experts.down_proj", false, true);
      std::vector<float> gb, db;
      for (const moe::Expert& x : b.experts) {
        gb.insert(gb.end(), x.gate_up_bias.begin(), x.gate_up_bias.end());
        db.insert(db.end(), x.down_bias.begin(), x.down_bias.end());
      }
      c.tensors.push_back(c.tensor(p + "mlp.experts.gate_up_proj_bias", {c.E, 2 * c.I}, gb));
      c.tensors.push_back(c.tensor(p + "mlp.experts.down_proj_bias", {c.E, c.H}, db));
      break;
    }
    case Family::kMixtral:
    case Family::kPhimoe:
      j["num_local_experts"] = c.E;
      j["intermediate_size"] = c.I;
      c.tensors.push_back(c.tensor(p + "block_sparse_moe.gate.weight", {c.E, c.H}, b.router.values));
      per_expert(p + "block_sparse_moe.experts.", "w1", "w3", "w2");
      break;
    case Family::kQwen2Moe:
    case Family::kQwen3Moe:
    case Family::kOlmoe:
      j["num_experts"] = c.E;
      j[c.family == Family::kOlmoe ? "intermediate_size" : "moe_intermediate_size"] = c.I;
      j["norm_topk_prob"] = c.family == Family::kQwen3Moe;
      c.tensors.push_back(c.tensor(p + "mlp.gate.weight", {c.E, c.H}, b.router.values));
      per_expert(p + "mlp.experts.", "gate_proj", "up_proj", "down_proj");
      if (c.family == Family::kQwen2Moe) {
        j["shared_expert_intermediate_size"] = c.S;
        shared_mlp(p + "mlp.shared_expert.");
        c.tensors.push_back(c.tensor(p + "mlp.shared_expert_gate.weight", {1, c.H}, b.shared_expert_gate->values));
      }
      break;
    case Family::kDeepseekV2:
    case Family::kDeepseekV3:
      j["n_routed_experts"] = c.E;
      j["moe_intermediate_size"] = c.I;
      j["n_shared_experts"] = 2;
      j["first_k_dense_replace"] = 1;
      j["routed_scaling_factor"] = 1.5;
      j["n_group"] = 2;
      j["topk_group"] = 1;
      j["norm_topk_prob"] = true;
      if (c.family == Family::kDeepseekV2) j["topk_method"] = "group_limited_greedy";
      c.tensors.push_back(c.tensor(p + "mlp.gate.weight", {c.E, c.H}, b.router.values));
      per_expert(p + "mlp.experts.", "gate_proj", "up_proj", "down_proj");
      shared_mlp(p + "mlp.shared_experts.");
      if (c.family == Family::kDeepseekV3)
        c.tensors.push_back(moecheck::test::st_f32(p + "mlp.gate.e_score_correction_bias", {c.E}, b.correction_bias));
      break;
    case Family::kLlama4:
      j["model_type"] = "llama4_text";
      j["num_local_experts"] = c.E;
      j["intermediate_size"] = c.I;
      j["interleave_moe_layer_step"] = 2;
      c.tensors.push_back(c.tensor(p + "feed_forward.router.weight", {c.E, c.H}, b.router.values));
      fused(p + "feed_forward.experts.gate_up_proj", true, true);
      fused(p + "feed_forward.experts.down_proj", false, true);
      shared_mlp(p + "feed_forward.shared_expert.");
      break;
    case Family::kGraniteMoe:
    case Family::kGraniteMoeShared:
      j["num_local_experts"] = c.E;
      j["intermediate_size"] = c.I;
      c.tensors.push_back(c.tensor(p + "block_sparse_moe.router.layer.weight", {c.E, c.H}, b.router.values));
      fused(p + "block_sparse_moe.input_linear.weight", true, false);
      fused(p + "block_sparse_moe.output_linear.weight", false, false);
      if (c.S > 0) {
        j["shared_intermediate_size"] = c.S;
        c.tensors.push_back(c.tensor(p + "shared_mlp.input_linear.weight", {2 * c.S, c.H}, dense_values(b.shared_expert->gate_up)));
        c.tensors.push_back(c.tensor(p + "shared_mlp.output_linear.weight", {c.H, c.S}, dense_values(b.shared_expert->down)));
      }
      break;
    case Family::kDbrx: {
      j.erase("hidden_size");
      j.erase("num_hidden_layers");
      j.erase("num_experts_per_tok");
      j["d_model"] = c.H;
      j["n_layers"] = c.layers;
      j["ffn_config"] = {{"ffn_hidden_size", c.I}, {"moe_num_experts", c.E}, {"moe_top_k", c.k},
                         {"moe_normalize_expert_weights", 2.0}, {"ffn_act_fn", {{"name", "silu"}}}};
      const std::string q = "transformer.blocks." + L + ".ffn.";
      c.tensors.push_back(c.tensor(q + "router.layer.weight", {c.E, c.H}, b.router.values));
      std::vector<float> w1, v1, w2;
      for (const moe::Expert& x : b.experts) {
        const std::vector<float> gu = dense_values(x.gate_up), dn = transpose(dense_values(x.down), c.H, c.I);
        w1.insert(w1.end(), gu.begin(), gu.begin() + c.I * c.H);
        v1.insert(v1.end(), gu.begin() + c.I * c.H, gu.end());
        w2.insert(w2.end(), dn.begin(), dn.end());
      }
      c.tensors.push_back(c.tensor(q + "experts.mlp.w1", {c.E * c.I, c.H}, w1));
      c.tensors.push_back(c.tensor(q + "experts.mlp.v1", {c.E * c.I, c.H}, v1));
      c.tensors.push_back(c.tensor(q + "experts.mlp.w2", {c.E * c.I, c.H}, w2));
      break;
    }
  }
}

// The semantics config.json says, written out by hand (not through fixtures::semantics).
void expected_semantics(Case& c) {
  moe::RouterConfig& r = c.block.semantics.router;
  switch (c.family) {
    case Family::kQwen3Moe:
      r.normalization = moe::Normalization::kSum;  // norm_topk_prob true
      break;
    case Family::kDeepseekV2:
    case Family::kDeepseekV3:
      r.routed_scaling_factor = 1.5;
      r.n_group = 2;
      r.topk_group = 1;
      break;
    case Family::kDbrx:
      r.lp_norm_p = 2.0;
      break;
    default:
      break;
  }
}

std::filesystem::path save(const Case& c, const std::filesystem::path& dir) {
  moecheck::test::write_text(dir / "config.json", c.config.dump(2));
  moecheck::test::write_safetensors(dir / "model.safetensors", c.tensors);
  return dir;
}

moe::RowMatrix<float> hidden(std::int64_t T, std::int64_t H, std::uint32_t seed) {
  Values v(seed);
  const std::vector<float> x = v.vec(static_cast<std::size_t>(T * H));
  return Eigen::Map<const moe::RowMatrix<float>>(x.data(), T, H);
}

void expect_same_forward(const moe::MoeBlock& loaded, const moe::MoeBlock& canonical, const std::string& what) {
  const moe::RowMatrix<float> x = hidden(9, canonical.hidden, 17);
  const moe::MoeOutput a = moe::forward(loaded, x, moe::Accumulate::kFp32);
  const moe::MoeOutput b = moe::forward(canonical, x, moe::Accumulate::kFp32);
  EXPECT_EQ(a.routing.ids, b.routing.ids) << what;
  EXPECT_EQ(a.routing.weights, b.routing.weights) << what;
  EXPECT_EQ(0, std::memcmp(a.output.data(), b.output.data(), sizeof(float) * static_cast<std::size_t>(a.output.size())))
      << what << "\n" << a.output.topRows(1) << "\n" << b.output.topRows(1);
  EXPECT_GT(b.output.cwiseAbs().maxCoeff(), 0.0f) << what;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fx::Error& e) {
    return e.what();
  }
  return "(no fixtures::Error)";
}

}  // namespace

TEST(MoeFromModel, EveryFamilyLoadsToTheCanonicalBlock) {
  for (Family f : {Family::kGptOss, Family::kMixtral, Family::kQwen2Moe, Family::kQwen3Moe, Family::kOlmoe,
                   Family::kDeepseekV2, Family::kDeepseekV3, Family::kLlama4, Family::kGraniteMoe,
                   Family::kGraniteMoeShared, Family::kPhimoe, Family::kDbrx}) {
    Case c = make_case(f, 100 + static_cast<int>(f));
    write_family(c);
    expected_semantics(c);
    TempDir dir;
    save(c, dir.path());
    const fx::MoeLayer got = fx::load_moe_layer(dir.path(), c.layer);
    EXPECT_EQ(got.block.family, f);
    EXPECT_EQ(got.block.dtype, Dtype::kF32);  // no "dtype" key: the F32 router weight decides
    EXPECT_EQ(got.layer, c.layer);
    expect_same_forward(got.block, c.block, std::string(moe::name(f)));
  }
}

TEST(MoeFromModel, ModulePathsAndDtypes) {
  Case c = make_case(Family::kMixtral, 1);
  c.bf16_on_disk = true;
  write_family(c);
  TempDir dir;
  save(c, dir.path());
  fx::MoeLayer got = fx::load_moe_layer(dir.path(), 1);
  EXPECT_EQ(got.module, "model.layers.1.mlp");
  EXPECT_EQ(got.block.dtype, Dtype::kBf16);  // from the BF16 router weight
  got = fx::load_moe_layer(dir.path() / "model.safetensors", 1, Dtype::kF32);  // a file path, an override
  EXPECT_EQ(got.block.dtype, Dtype::kF32);
  c.config["dtype"] = "float32";
  save(c, dir.path());
  EXPECT_EQ(fx::load_moe_layer(dir.path(), 1).block.dtype, Dtype::kF32);  // config.json wins over the tensors
  c.config["dtype"] = "float16";
  save(c, dir.path());
  EXPECT_NE(error_of([&] { fx::load_moe_layer(dir.path(), 1); }).find("key 'dtype': expected \"float32\" or \"bfloat16\""),
            std::string::npos);
}

TEST(MoeFromModel, GptOssMxfp4ExpertsStayQuantized) {
  Case c = make_case(Family::kGptOss, 5);
  Values v(6);
  std::vector<std::uint8_t> gb, gs, db, ds;
  for (moe::Expert& x : c.block.experts) {
    for (auto [w, rows, cols, blocks, scales] :
         {std::tuple{&x.gate_up, 2 * c.I, c.H, &gb, &gs}, std::tuple{&x.down, c.H, c.I, &db, &ds}}) {
      quant::Mxfp4Weight m{rows, cols, std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / 2)),
                           std::vector<std::uint8_t>(static_cast<std::size_t>(rows * cols / 32))};
      for (auto& byte : m.blocks) byte = static_cast<std::uint8_t>(v.raw());
      for (auto& s : m.scales) s = static_cast<std::uint8_t>(123 + v.raw() % 5);
      blocks->insert(blocks->end(), m.blocks.begin(), m.blocks.end());
      scales->insert(scales->end(), m.scales.begin(), m.scales.end());
      w->parts = {m};
    }
  }
  write_family(c);
  std::erase_if(c.tensors, [](const StTensor& t) { return t.name.ends_with("gate_up_proj") || t.name.ends_with("down_proj"); });
  const std::string p = "model.layers.1.mlp.experts.";
  c.tensors.push_back(moecheck::test::st_bytes(p + "gate_up_proj_blocks", "U8", {c.E, 2 * c.I, c.H / 32, 16}, gb));
  c.tensors.push_back(moecheck::test::st_bytes(p + "gate_up_proj_scales", "U8", {c.E, 2 * c.I, c.H / 32}, gs));
  c.tensors.push_back(moecheck::test::st_bytes(p + "down_proj_blocks", "U8", {c.E, c.H, c.I / 32, 16}, db));
  c.tensors.push_back(moecheck::test::st_bytes(p + "down_proj_scales", "U8", {c.E, c.H, c.I / 32}, ds));
  c.config["quantization_config"] = {{"quant_method", "mxfp4"}};
  TempDir dir;
  save(c, dir.path());
  const fx::MoeLayer got = fx::load_moe_layer(dir.path(), 1);
  ASSERT_TRUE(std::holds_alternative<quant::Mxfp4Weight>(got.block.experts[0].gate_up.parts[0]));
  expect_same_forward(got.block, c.block, "gpt_oss mxfp4");
}

TEST(MoeFromModel, DeepseekV3Fp8BlockExpertsWithScaleInv) {
  Case c = make_case(Family::kDeepseekV3, 8);
  write_family(c);
  expected_semantics(c);
  Values v(9);
  const std::int64_t block = 24;  // H = I = 32 and S = 64 are not multiples: partial edge blocks
  const auto fp8 = [&](std::int64_t rows, std::int64_t cols) {
    quant::Fp8BlockWeight w;
    w.rows = rows;
    w.cols = cols;
    w.block_rows = w.block_cols = block;
    for (std::int64_t i = 0; i < rows * cols; ++i) {
      std::uint8_t code = static_cast<std::uint8_t>(v.raw());
      w.codes.push_back((code & 0x7F) == 0x7F ? 0x3F : code);
    }
    for (std::int64_t i = 0; i < ((rows + block - 1) / block) * ((cols + block - 1) / block); ++i)
      w.scale_inv.push_back(std::abs(v.next(0.01f)) + 1e-3f);
    return w;
  };
  // Replace every expert and shared projection on disk and in the canonical block by FP8 blocks.
  std::erase_if(c.tensors, [](const StTensor& t) { return t.name.find("_proj.weight") != std::string::npos; });
  const auto put = [&](const std::string& name, const quant::Fp8BlockWeight& w) {
    c.tensors.push_back(moecheck::test::st_bytes(name, "F8_E4M3", {w.rows, w.cols}, w.codes));
    c.tensors.push_back(moecheck::test::st_f32(name + "_scale_inv", {(w.rows + block - 1) / block, (w.cols + block - 1) / block}, w.scale_inv));
  };
  const auto swiglu = [&](moe::Expert& x, const std::string& base, std::int64_t inter) {
    const quant::Fp8BlockWeight g = fp8(inter, c.H), u = fp8(inter, c.H), d = fp8(c.H, inter);
    put(base + "gate_proj.weight", g);
    put(base + "up_proj.weight", u);
    put(base + "down_proj.weight", d);
    x.gate_up.parts = {g, u};
    x.down.parts = {d};
  };
  for (std::int64_t e = 0; e < c.E; ++e) swiglu(c.block.experts[e], "model.layers.1.mlp.experts." + std::to_string(e) + ".", c.I);
  swiglu(*c.block.shared_expert, "model.layers.1.mlp.shared_experts.", c.S);
  c.config["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {block, block}}};
  TempDir dir;
  save(c, dir.path());
  for (Dtype d : {Dtype::kF32, Dtype::kBf16}) {
    const fx::MoeLayer got = fx::load_moe_layer(dir.path(), 1, d);
    ASSERT_TRUE(std::holds_alternative<quant::Fp8BlockWeight>(got.block.experts[2].down.parts[0]));
    c.block.dtype = d;
    expect_same_forward(got.block, c.block, "deepseek_v3 fp8");
  }
}

// ---- which layers are MoE ------------------------------------------------------------------------

TEST(MoeFromModel, LayerSelectionRules) {
  const auto layers = [](json j) {
    TempDir dir;
    moecheck::test::write_text(dir.path() / "config.json", j.dump());
    return fx::read_model_config(dir.path() / "config.json").moe_layers;
  };
  const json qwen = {{"model_type", "qwen2_moe"}, {"hidden_size", 8}, {"num_hidden_layers", 6}, {"num_experts", 4},
                     {"num_experts_per_tok", 2}, {"moe_intermediate_size", 4}, {"shared_expert_intermediate_size", 8},
                     {"decoder_sparse_step", 2}, {"mlp_only_layers", {3}}};
  EXPECT_EQ(layers(qwen), (std::vector<std::int64_t>{1, 5}));  // (l + 1) % 2 == 0 and l not in [3]
  json ds = {{"model_type", "deepseek_v3"}, {"hidden_size", 8}, {"num_hidden_layers", 5}, {"n_routed_experts", 4},
             {"num_experts_per_tok", 2}, {"moe_intermediate_size", 4}, {"n_group", 2}, {"topk_group", 1},
             {"first_k_dense_replace", 3}};
  EXPECT_EQ(layers(ds), (std::vector<std::int64_t>{3, 4}));
  json llama = {{"model_type", "llama4_text"}, {"hidden_size", 8}, {"num_hidden_layers", 6}, {"num_local_experts", 4},
                {"num_experts_per_tok", 1}, {"intermediate_size", 4}, {"interleave_moe_layer_step", 2}};
  EXPECT_EQ(layers(llama), (std::vector<std::int64_t>{1, 3, 5}));
  llama["moe_layers"] = {4, 0};
  EXPECT_EQ(layers(llama), (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(fx::describe_layers({0, 1, 2, 5, 7, 8}), "0-2, 5, 7-8");
  EXPECT_EQ(fx::describe_layers({1, 3, 5, 7}), "1-7 step 2");
  EXPECT_EQ(fx::describe_layers({1, 3}), "1, 3");
  EXPECT_EQ(fx::describe_layers({}), "none");
}

// The other layers' MLP: optional for the golden model (it loads MoE layers only), required by
// Require::kEveryFfn (pad-report), read and checked whenever present.
TEST(MoeFromModel, DenseLayersAndTheirMlpSize) {
  TempDir dir;
  const auto read = [&](const json& j, fx::Require require) {
    moecheck::test::write_text(dir.path() / "config.json", j.dump());
    return fx::read_model_config(dir.path() / "config.json", require);
  };
  json ds = {{"model_type", "deepseek_v2"}, {"hidden_size", 8}, {"num_hidden_layers", 4}, {"n_routed_experts", 4},
             {"num_experts_per_tok", 2}, {"moe_intermediate_size", 4}, {"first_k_dense_replace", 2}};
  fx::ModelConfig c = read(ds, fx::Require::kMoeLayers);
  EXPECT_EQ(fx::dense_layers(c), (std::vector<std::int64_t>{0, 1}));
  EXPECT_FALSE(c.dense_intermediate_size.has_value());
  EXPECT_FALSE(c.expert_biases);
  EXPECT_EQ(error_of([&] { read(ds, fx::Require::kEveryFfn); }),
            (dir.path() / "config.json").string() +
                ": key 'intermediate_size': expected a positive integer (required for deepseek_v2: the MLP of the dense "
                "layers 0-1), found none");
  ds["intermediate_size"] = 24;
  EXPECT_EQ(read(ds, fx::Require::kMoeLayers).dense_intermediate_size, 24);
  EXPECT_EQ(read(ds, fx::Require::kEveryFfn).dense_intermediate_size, 24);
  ds["intermediate_size"] = 0;
  EXPECT_EQ(error_of([&] { read(ds, fx::Require::kMoeLayers); }),
            (dir.path() / "config.json").string() + ": key 'intermediate_size': expected a positive integer, found 0");
  ds["first_k_dense_replace"] = 0;  // every layer MoE: no dense MLP, intermediate_size is not its size
  c = read(ds, fx::Require::kEveryFfn);
  EXPECT_TRUE(fx::dense_layers(c).empty());
  EXPECT_FALSE(c.dense_intermediate_size.has_value());

  const json oss = {{"model_type", "gpt_oss"}, {"hidden_size", 8}, {"num_hidden_layers", 2}, {"num_local_experts", 4},
                    {"experts_per_token", 2}, {"intermediate_size", 8}};
  c = read(oss, fx::Require::kEveryFfn);
  EXPECT_TRUE(c.expert_biases);
  EXPECT_EQ(c.top_k, 2);  // the alias experts_per_token
}

// ---- malformed input: each error names the file, the tensor or key, expected and found ------------

TEST(MoeFromModel, Errors) {
  Case c = make_case(Family::kMixtral, 3);
  write_family(c);
  TempDir dir;
  const std::string file = (dir.path() / "model.safetensors").string(), config = (dir.path() / "config.json").string();
  const auto load = [&](std::int64_t layer) { return error_of([&] { fx::load_moe_layer(dir.path(), layer); }); };
  const auto contains = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };

  save(c, dir.path());
  moecheck::test::write_text(dir.path() / "config.json", "{\"model_type\": \"mixtral\",, }");
  std::string e = load(1);
  EXPECT_TRUE(contains(e, config + ": expected valid JSON, found a syntax error at byte")) << e;

  // A tensor missing: the error names the file and the tensor.
  Case missing = c;
  std::erase_if(missing.tensors, [](const StTensor& t) { return t.name == "model.layers.1.block_sparse_moe.experts.2.w3.weight"; });
  save(missing, dir.path());
  e = load(1);
  EXPECT_TRUE(contains(e, file) && contains(e, "model.layers.1.block_sparse_moe.experts.2.w3.weight")) << e;

  // A shape that disagrees with config.json (intermediate_size 32, the tensor has 31 rows).
  Case shape = c;
  for (StTensor& t : shape.tensors)
    if (t.name == "model.layers.1.block_sparse_moe.experts.1.w1.weight") {
      t.shape = {31, 32};
      t.bytes.resize(31 * 32 * 4);
    }
  save(shape, dir.path());
  e = load(1);
  EXPECT_TRUE(contains(e, file) && contains(e, "experts.1.w1.weight") && contains(e, "expected [32, 32]") &&
              contains(e, "found [31, 32]")) << e;

  // No expert tensors under either naming: both names are listed.
  Case none = c;
  std::erase_if(none.tensors, [](const StTensor& t) { return t.name.find("experts") != std::string::npos; });
  save(none, dir.path());
  e = load(1);
  EXPECT_TRUE(contains(e, "missing tensor") && contains(e, "model.layers.1.block_sparse_moe.experts.0.w1.weight") &&
              contains(e, "model.layers.1.mlp.experts.gate_up_proj")) << e;

  save(c, dir.path());
  EXPECT_EQ(load(2), config + ": layer 2: expected 0..1 (num_hidden_layers 2)");

  Case dense_layer = make_case(Family::kDeepseekV3, 4);
  write_family(dense_layer);
  save(dense_layer, dir.path());
  EXPECT_EQ(load(0), config + ": layer 0 of this deepseek_v3 model is a dense MLP layer, not an MoE layer; MoE layers: 1");

  json j = c.config;
  j["model_type"] = "llama";
  moecheck::test::write_text(dir.path() / "config.json", j.dump());
  EXPECT_TRUE(contains(load(1), config + ": key 'model_type': expected one of gpt_oss, mixtral")) << load(1);
  j = c.config;
  j.erase("intermediate_size");
  moecheck::test::write_text(dir.path() / "config.json", j.dump());
  EXPECT_EQ(load(1), config + ": key 'intermediate_size': expected a positive integer (required for mixtral), found none");
  j = c.config;
  j["num_local_experts"] = "eight";
  moecheck::test::write_text(dir.path() / "config.json", j.dump());
  EXPECT_EQ(load(1), config + ": key 'num_local_experts': expected a positive integer, found \"eight\"");
  j = c.config;
  j["quantization_config"] = {{"quant_method", "gptq"}};
  moecheck::test::write_text(dir.path() / "config.json", j.dump());
  // The config reads (pad-report needs its sizes); loading its weights is what fails.
  EXPECT_TRUE(contains(load(1), "key 'quantization_config.quant_method': expected \"mxfp4\"")) << load(1);
  EXPECT_TRUE(contains(load(1), "found \"gptq\"")) << load(1);

  json groups = dense_layer.config;
  groups["n_group"] = 3;  // 4 experts
  moecheck::test::write_text(dir.path() / "config.json", groups.dump());
  EXPECT_EQ(load(1), config + ": key 'n_group': expected a divisor of the 4 routed experts, found 3");

  // An F8_E4M3 tensor in a checkpoint whose config has no FP8 quantization.
  Case f8 = c;
  for (StTensor& t : f8.tensors)
    if (t.name == "model.layers.1.block_sparse_moe.experts.0.w2.weight") {
      t.dtype = "F8_E4M3";
      t.bytes.assign(32 * 32, 0x38);
    }
  save(f8, dir.path());
  e = load(1);
  EXPECT_TRUE(contains(e, file) && contains(e, "experts.0.w2.weight") && contains(e, "found F8_E4M3")) << e;
  // ... and with the FP8 config but no scale: the missing weight_scale_inv is named.
  f8.config["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {16, 16}}};
  save(f8, dir.path());
  e = load(1);
  EXPECT_TRUE(contains(e, "experts.0.w2.weight_scale_inv")) << e;
}
