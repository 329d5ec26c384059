// `moecheck golden`: the golden forward of one MoE layer of a Hugging Face checkpoint on the hidden
// states of an HDF5 file (reference/moe, fixtures/from_model).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fixtures/from_model.h"
#include "fixtures/hdf5_io.h"
#include "reference/moe.h"
#include "tools/cli/common.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace fx = fixtures;
namespace moe = reference::moe;

struct GoldenOptions {
  std::string checkpoint, hidden_states, dataset = "hidden_states", out, accumulate = "fp64", dtype = "auto";
  std::int64_t layer = -1;
};

moe::RowMatrix<float> read_hidden_states(const GoldenOptions& o, const fx::MoeLayer& layer) {
  const fx::Reader in(o.hidden_states);
  const std::int64_t hidden = layer.block.hidden;
  const std::string expected = "float32 [T, " + std::to_string(hidden) + "] (T tokens by hidden_size " +
                               std::to_string(hidden) + " of " + layer.config.path.string() + ")";
  if (!in.has(o.dataset)) {
    std::string names;
    for (const std::string& d : in.datasets()) names += (names.empty() ? "" : ", ") + d;
    throw fx::Error(o.hidden_states + ": dataset '" + o.dataset + "': expected " + expected +
                    ", found no such dataset (datasets: " + (names.empty() ? "none" : names) + ")");
  }
  const fx::Tensor t = in.read(o.dataset);
  if (t.type != fx::ElementType::kF32 || t.shape.size() != 2 || t.shape[1] != hidden)
    throw fx::Error(o.hidden_states + ": dataset '" + o.dataset + "': expected " + expected + ", found " +
                    std::string(fx::name(t.type)) + " " + fx::to_string(t.shape));
  const std::span<const float> values = t.view<float>();
  return Eigen::Map<const moe::RowMatrix<float>>(values.data(), t.shape[0], hidden);
}

void run_golden(const GoldenOptions& o) {
  const auto accumulate = moe::parse_accumulate(o.accumulate);
  if (!accumulate) throw UsageError("unknown --accumulate '" + o.accumulate + "'; valid: fp64, fp32");
  std::optional<moe::Dtype> dtype;
  if (o.dtype != "auto") {
    dtype = moe::parse_dtype(o.dtype);
    if (!dtype) throw UsageError("unknown --dtype '" + o.dtype + "'; valid: auto, float32, bfloat16");
  }
  if (!std::filesystem::exists(o.checkpoint)) throw UsageError("checkpoint " + o.checkpoint + " does not exist");
  if (!std::filesystem::exists(o.hidden_states))
    throw UsageError("hidden-states file " + o.hidden_states + " does not exist");

  const fx::MoeLayer layer = fx::load_moe_layer(o.checkpoint, o.layer, dtype);
  const moe::RowMatrix<float> x = read_hidden_states(o, layer);
  fx::Writer w(o.out);  // before the forward: a bad --out fails at once; no commit, no file
  const moe::MoeOutput r = moe::forward(layer.block, x, *accumulate);

  const std::int64_t tokens = x.rows(), k = r.routing.ids.cols(), experts = layer.block.num_experts();
  w.write("output", fx::Tensor::f32({tokens, layer.block.hidden}, {r.output.data(), std::size_t(r.output.size())}));
  w.write("topk_ids", fx::Tensor::i32({tokens, k}, {r.routing.ids.data(), std::size_t(r.routing.ids.size())}));
  w.write("topk_weights",
          fx::Tensor::f32({tokens, k}, {r.routing.weights.data(), std::size_t(r.routing.weights.size())}));
  w.write("router_logits",
          fx::Tensor::f32({tokens, experts}, {r.router_logits.data(), std::size_t(r.router_logits.size())}));
  w.set_string_attribute("/", "model_type", layer.config.model_type);
  w.set_string_attribute("/", "family", std::string(moe::name(layer.block.family)));
  w.set_int_attribute("/", "layer", layer.layer);
  w.set_string_attribute("/", "block", layer.module);
  w.set_string_attribute("/", "dtype", std::string(moe::name(layer.block.dtype)));
  w.set_string_attribute("/", "accumulate", std::string(moe::name(*accumulate)));
  w.set_int_attribute("/", "num_experts", experts);
  w.set_int_attribute("/", "top_k", k);
  w.set_string_attribute("/", "checkpoint", o.checkpoint);
  w.set_string_attribute("/", "hidden_states", o.hidden_states + ":" + o.dataset);
  w.set_string_attribute("/", "generator", "moecheck golden " MOECHECK_VERSION);
  w.commit();
  std::printf("wrote %s: /output f32 [%lld, %lld], /topk_ids i32 and /topk_weights f32 [%lld, %lld], "
              "/router_logits f32 [%lld, %lld] (%s layer %lld, %s, accumulate %s; %zu of %lld experts evaluated)\n",
              o.out.c_str(), static_cast<long long>(tokens), static_cast<long long>(layer.block.hidden),
              static_cast<long long>(tokens), static_cast<long long>(k), static_cast<long long>(tokens),
              static_cast<long long>(experts), layer.config.model_type.c_str(), static_cast<long long>(layer.layer),
              std::string(moe::name(layer.block.dtype)).c_str(), std::string(moe::name(*accumulate)).c_str(),
              r.experts_evaluated.size(), static_cast<long long>(experts));
}

}  // namespace

void add_golden(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<GoldenOptions>();
  CLI::App* sub = app.add_subcommand(
      "golden",
      "Run the golden model of one MoE layer of a Hugging Face checkpoint (transformers' eager semantics).\n"
      "  moecheck golden --checkpoint DIR --layer L --hidden-states IN.h5 [--dataset hidden_states]\n"
      "                  --out OUT.h5 [--accumulate fp64|fp32] [--dtype auto|float32|bfloat16]\n"
      "DIR holds config.json and model.safetensors (or model.safetensors.index.json). IN.h5 holds float32\n"
      "hidden states [T, H]. OUT.h5 gets /output f32 [T, H], /topk_ids i32 [T, k], /topk_weights f32 [T, k],\n"
      "/router_logits f32 [T, E] and attributes model_type, layer, block, dtype, accumulate.");
  sub->add_option("--checkpoint", opts->checkpoint, "Checkpoint directory (config.json + safetensors)")->required();
  sub->add_option("--layer", opts->layer, "Decoder layer index; must be an MoE layer")->required();
  sub->add_option("--hidden-states", opts->hidden_states, "HDF5 file with the float32 [T, H] input")->required();
  sub->add_option("--dataset", opts->dataset, "Dataset in --hidden-states (default: hidden_states)");
  sub->add_option("--out", opts->out, "HDF5 file to write (atomically)")->required();
  sub->add_option("--accumulate", opts->accumulate,
                  "fp64: dot products in double, the reference (default); fp32: sequential fp32 sums in "
                  "ascending index order, order-preserving under zero padding");
  sub->add_option("--dtype", opts->dtype,
                  "Model dtype: auto (config.json's dtype, else the router weight's; default), float32, bfloat16");
  sub->callback([opts, &exit_code] {
    run_golden(*opts);
    exit_code = 0;
  });
}

}  // namespace moecheck::cli
