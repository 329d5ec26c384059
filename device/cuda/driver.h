// The `cuda` backend's pipeline driver, written once for two executors: the GPU's (cuda_backend.cu:
// device buffers, one kernel launch per stage) and the host's (host_pipeline.cpp: vectors, the
// same per-thread functions of pipeline.h looped over the grid). An executor provides
//   T* buffer<T>(count, what)            a buffer filled with 0xFF bytes (fp32 NaN, int32 -1)
//   const T* upload<T>(vector, what)     the vector's copy (nullptr when empty)
//   align(...), weight_input(...), gemm(args, blocks, what), activation(...), sum(...)
//   download(dst, src, count)
// and names the failing stage in its errors.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "device/backend.h"
#include "device/cuda/pipeline.h"

namespace moecheck::device::cuda {

template <class Exec>
void run_pipeline(Exec& x, const PaddedCase& input, std::span<float> output) {
  namespace pl = pipeline;
  const std::int64_t tokens = input.tokens, k = input.top_k, experts = input.experts;
  const std::int64_t hp = input.plan.hidden_padded, ip = input.plan.intermediate_per_partition_padded;
  if (static_cast<std::int64_t>(output.size()) != tokens * hp)
    throw std::invalid_argument("backend cuda: output holds " + std::to_string(output.size()) +
                                " floats, expected [T, H_pad] = " + std::to_string(tokens * hp));
  if (tokens == 0) return;
  const bool bf16 = input.dtype == reference::moe::Dtype::kBf16;
  const bool mxfp4 = input.scheme == WeightScheme::kMxfp4W4A16;
  const std::int64_t pairs = tokens * k, n1 = 2 * ip;
  const std::int64_t capacity = pairs + experts * (pl::kBlockM - 1);
  const std::int64_t max_blocks = (capacity + pl::kBlockM - 1) / pl::kBlockM;

  const std::int32_t* ids = x.upload(input.topk_ids.data, "topk_ids");
  const float* weights = x.upload(input.topk_weights.data, "topk_weights");
  const float* hidden = x.upload(input.hidden_states_padded.data, "hidden_states");
  const float* w13 = x.upload(input.w13.values.data, "w13");
  const float* w2 = x.upload(input.w2.values.data, "w2");
  const std::uint8_t* w13_codes = x.upload(input.w13.codes.data, "w13 codes");
  const std::uint8_t* w2_codes = x.upload(input.w2.codes.data, "w2 codes");
  const std::uint8_t* w13_scales = x.upload(input.w13.scale_bytes.data, "w13 scale bytes");
  const std::uint8_t* w2_scales = x.upload(input.w2.scale_bytes.data, "w2 scale bytes");
  const float* b13 = x.upload(input.w13_bias.data, "w13_bias");
  const float* b2 = x.upload(input.w2_bias.data, "w2_bias");
  std::int32_t* sorted = x.template buffer<std::int32_t>(max_blocks * pl::kBlockM, "sorted_token_ids");
  std::int32_t* expert_ids = x.template buffer<std::int32_t>(max_blocks, "expert_ids");
  std::int32_t* num_post = x.template buffer<std::int32_t>(1, "num_tokens_post_padded");
  float* a1 = input.weights_on_input ? x.template buffer<float>(pairs * hp, "a1") : nullptr;
  float* cache1 = x.template buffer<float>(pairs * n1, "intermediate_cache1");
  float* cache2 = x.template buffer<float>(pairs * ip, "intermediate_cache2");
  float* cache3 = x.template buffer<float>(pairs * hp, "intermediate_cache3");
  float* out = x.template buffer<float>(tokens * hp, "output");

  x.align(ids, pairs, experts, sorted, max_blocks * pl::kBlockM, expert_ids, num_post);
  if (a1) x.weight_input(hidden, weights, k, hp, bf16, a1, pairs * hp);
  const pl::GemmArgs g1{a1 ? a1 : hidden, a1 ? 1 : k, mxfp4 ? nullptr : w13, w13_codes, w13_scales, b13, nullptr,
                        cache1, n1, hp, pairs, sorted, expert_ids, num_post, bf16};
  x.gemm(g1, max_blocks, "fused_moe GEMM1 (w13)");
  x.activation(cache1, ip, static_cast<int>(input.activation),
               input.layout == reference::moe::GateUpLayout::kInterleaved, bf16, cache2, pairs * ip);
  const pl::GemmArgs g2{cache2, 1, mxfp4 ? nullptr : w2, w2_codes, w2_scales, b2, a1 ? nullptr : weights,
                        cache3, hp, ip, pairs, sorted, expert_ids, num_post, bf16};
  x.gemm(g2, max_blocks, "fused_moe GEMM2 (w2)");
  x.sum(cache3, ids, k, hp, bf16, out, tokens * hp);
  x.download(output.data(), out, tokens * hp);
}

}  // namespace moecheck::device::cuda
