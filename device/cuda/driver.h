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
#include <vector>

#include "device/backend.h"
#include "device/cuda/pipeline.h"
#include "reference/formats/format.h"
#include "reference/quant/scheme.h"
#include "reference/quant/wna16.h"

namespace moecheck::device::cuda {

// The rows the kernels run, each with how its B operand is read (pipeline::WeightKind).
struct PipelineScheme {
  WeightScheme scheme;
  pipeline::WeightKind kind;
};
inline constexpr PipelineScheme kPipelineSchemes[] = {
    {WeightScheme::kDense, pipeline::kDenseValues},       {WeightScheme::kMxfp4W4A16, pipeline::kMxfp4Codes},
    {WeightScheme::kFp8Block128W8A16, pipeline::kFp8Block}, {WeightScheme::kInt4G128W4A16, pipeline::kWna16},
    {WeightScheme::kInt8G128W8A16, pipeline::kWna16},     {WeightScheme::kInt4G128ZpW4A16, pipeline::kWna16},
    {WeightScheme::kInt8G128ZpW8A16, pipeline::kWna16},   {WeightScheme::kInt4G32W4A16, pipeline::kWna16},
    {WeightScheme::kInt4G64W4A16, pipeline::kWna16},     {WeightScheme::kMxfp8W8A16, pipeline::kMxfp8Codes},
    {WeightScheme::kNvfp4W4A16, pipeline::kNvfp4Codes},   {WeightScheme::kFp8PerTensorW8A16, pipeline::kFp8Tensor},
};

// One projection's components uploaded, and the reference the kernels read them through: the
// component layout from the scheme table (packing, blocks, grids), the pointers from the executor.
// `half_rows`: w13's I_pad (its 2-D grid is per half), 0 for w2.
// The kernel faults the pipeline injects (FaultSwitches members; kernel_faults() describes each).
inline constexpr bool FaultSwitches::*kPipelineFaults[] = {
    &FaultSwitches::read_padded_scales,       &FaultSwitches::e8m0_scale_misindex,
    &FaultSwitches::skip_last_output_tile,    &FaultSwitches::nan_for_empty_experts,
    &FaultSwitches::scale_tile_rank_local,    &FaultSwitches::unwritten_slots_reduced,
};

template <class Exec>
pipeline::WeightRef upload_weight(Exec& x, const PaddedWeight& w, const reference::quant::SchemeSpec& scheme,
                                  pipeline::WeightKind kind, std::int64_t rows, std::int64_t cols,
                                  std::int64_t half_rows, const char* what) {
  namespace rq = reference::quant;
  pipeline::WeightRef r;
  r.kind = kind;
  r.rows = rows;
  r.cols = cols;
  r.half_rows = half_rows;
  r.values = x.upload(w.values.data, what);
  r.codes = x.upload(w.codes.data, what);
  r.scale_bytes = x.upload(w.scale_bytes.data, what);
  r.scales = x.upload(w.scales.data, what);
  r.zero_points = x.upload(w.zero_points.data, what);
  for (const rq::ComponentSpec& c : scheme.components) {
    if (c.component == rq::Component::kCodes) {
      r.code_stride = w.codes.dim(2);
      r.codes_per_byte = c.packing.elements / c.packing.units;
    }
    if (c.per_part) {  // one fp32 per part of each expert: [E, parts, 1]
      r.part_scales = r.scales;
      r.part_count = w.scales.dim(1);
      r.part_half_rows = r.part_count == 2 ? half_rows : 0;
      continue;
    }
    if (c.component == rq::Component::kScales || c.component == rq::Component::kScaleBytes) {
      const auto& shape = c.component == rq::Component::kScales ? w.scales.shape : w.scale_bytes.shape;
      r.scale_stride = shape[2];
      r.scales_per_expert = shape[1] * shape[2];
      r.scale_k_block = c.packing.elements;
      r.scale_row_block = c.row_block;
      if (c.row_block > 1 && half_rows > 0) {
        r.half_blocks = shape[1] / 2;
        r.row_offset = w.scale_grid_offset;
      } else if (c.row_block > 1) {
        r.k_offset = w.scale_grid_offset;
      }
    }
    if (c.component == rq::Component::kZeroPoints) r.zp_per_expert = w.zero_points.dim(1) * w.zero_points.dim(2);
  }
  if (kind == pipeline::kWna16) r.zp_default = 1 << (rq::wna16_scheme(scheme).bits - 1);
  return r;
}

// The kind of `scheme`'s B operand; std::invalid_argument for a row the kernels do not run.
inline pipeline::WeightKind pipeline_kind(WeightScheme scheme) {
  for (const PipelineScheme& s : kPipelineSchemes)
    if (s.scheme == scheme) return s.kind;
  throw std::invalid_argument("backend cuda: no kernel reads " + std::string(device::name(scheme)));
}

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
  const reference::quant::SchemeSpec& scheme = reference::quant::spec(input.scheme);
  const pipeline::WeightKind kind = pipeline_kind(input.scheme);
  const std::int64_t pairs = tokens * k, n1 = 2 * ip;
  const std::int64_t capacity = pairs + experts * (pl::kBlockM - 1);
  const std::int64_t max_blocks = (capacity + pl::kBlockM - 1) / pl::kBlockM;

  const std::int32_t* ids = x.upload(input.topk_ids.data, "topk_ids");
  const float* weights = x.upload(input.topk_weights.data, "topk_weights");
  const float* hidden = x.upload(input.hidden_states_padded.data, "hidden_states");
  const FaultSwitches& f = input.faults;
  const std::int64_t i = input.plan.intermediate_per_partition;
  pipeline::WeightRef w13 = upload_weight(x, input.w13, scheme, kind, n1, hp, ip, "w13");
  pipeline::WeightRef w2 = upload_weight(x, input.w2, scheme, kind, hp, ip, 0, "w2");
  w13.interleaved = input.layout == reference::moe::GateUpLayout::kInterleaved;
  if (f.read_padded_scales && ip > i) {  // B1: the last real row of each half reads its half's last padded row's scales
    w13.b1_row = i - 1;
    w13.b1_source = ip - 1;
  }
  if (f.scale_tile_rank_local) w13.row_offset = w2.k_offset = 0;  // B16: a shard's grid indexed rank-locally
  // B2: w2's E8M0 scales read with the stride of a 256-aligned I.
  if (const auto* sb = scheme.find(reference::quant::Component::kScaleBytes);
      f.e8m0_scale_misindex && sb && sb->format == reference::formats::Format::kE8m0 && ip % 256 != 0)
    w2.scale_stride = (ip + 255) / 256 * 256 / sb->packing.elements;
  pipeline::SumFaults sum_faults{f.unwritten_slots_reduced, f.nan_for_empty_experts, 0};
  if (f.nan_for_empty_experts) {  // B10: the experts with no token keep their NaN scale
    std::vector<bool> routed(static_cast<std::size_t>(experts), false);
    for (const std::int32_t id : input.topk_ids.data)
      if (id >= 0) routed[static_cast<std::size_t>(id)] = true;
    for (const bool r : routed) sum_faults.empty_experts += !r;
  }
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
  const pl::GemmArgs g1{a1 ? a1 : hidden, a1 ? 1 : k, w13, b13, nullptr, cache1, n1, hp, pairs,
                        sorted, expert_ids, num_post, bf16};
  // B3: GEMM1's grid sized from the logical intermediate size.
  x.gemm(g1, max_blocks, ((f.skip_last_output_tile ? 2 * i : n1) + pl::kBlockN - 1) / pl::kBlockN,
         "fused_moe GEMM1 (w13)");
  x.activation(cache1, ip, static_cast<int>(input.activation),
               input.layout == reference::moe::GateUpLayout::kInterleaved, bf16, cache2, pairs * ip);
  const pl::GemmArgs g2{cache2, 1, w2, b2, a1 ? nullptr : weights, cache3, hp, ip, pairs,
                        sorted, expert_ids, num_post, bf16};
  x.gemm(g2, max_blocks, (hp + pl::kBlockN - 1) / pl::kBlockN, "fused_moe GEMM2 (w2)");
  x.sum(cache3, ids, k, hp, bf16, out, tokens * hp, sum_faults);
  x.download(output.data(), out, tokens * hp);
}

}  // namespace moecheck::device::cuda
