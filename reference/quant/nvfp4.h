// NVFP4: e2m1 elements in blocks of 16 along K, one ue4m3 (e4m3fn, sign 0) block scale per block
// and one fp32 global scale per tensor (spec/numerics.md §3.10, §4).
//
// Two conventions store the global scale (§3.10):
// - ModelOpt: `weight_scale_2` / `input_scale` are dequantization multipliers
//   (nominally amax / (6 · 448)); the quantizer multiplies by gs = 1 / input_scale.
// - compressed-tensors: `weight_global_scale` / `input_global_scale` are the reciprocals
//   (quantization multipliers); vLLM turns them into weight_scale_2 = 1 / weight_global_scale.
// Nvfp4GlobalScale keeps both numbers, because 1 / (1 / x) need not be x in fp32.
#pragma once

#include <cstdint>

#include "reference/quant/blocks.h"  // kNvfp4Block
#include "reference/quant/common.h"

namespace moecheck::reference::quant {

struct Nvfp4GlobalScale {
  float quant = 1.0f;    // gs: what the quantizer multiplies amax / 6 by (1 / input_scale)
  float dequant = 1.0f;  // what dequantization multiplies by (weight_scale_2, input_scale)
};
// From a ModelOpt checkpoint scalar (`weight_scale_2` or `input_scale`): quant = 1.0f / s (fp32
// IEEE, as vLLM computes gs), dequant = s.
Nvfp4GlobalScale nvfp4_global_scale_modelopt(float dequant_scale);
// From a compressed-tensors checkpoint scalar (`weight_global_scale`, `input_global_scale`):
// quant = g, dequant = 1.0f / g (vLLM `weight_scale_2 = 1 / weight_global_scale`).
Nvfp4GlobalScale nvfp4_global_scale_compressed_tensors(float global_scale);

struct Nvfp4Tensor {
  std::int64_t rows = 0, cols = 0;  // cols % 16 == 0
  RowMatrixXu8 packed;              // [rows, cols/2] e2m1, low nibble = even element (`weight`)
  RowMatrixXu8 block_scales;        // [rows, cols/16] ue4m3 codes (`weight_scale`)
  Nvfp4GlobalScale global_scale;
};

enum class Nvfp4Dequant : std::uint8_t {
  // ModelOpt / vLLM: W = e2m1 · fp32(ue4m3) · dequant, left to right (the first product is exact).
  kModelOpt,
  // vLLM `nvfp4_emulation_utils` reference: W = e2m1 · (fp32(ue4m3) / quant), the ratio rounded first.
  kReferenceEmulation,
  // vLLM `_nvfp4_quant_dequant_kernel` (Triton; ref_nvfp4_quant_dequant on CUDA and ROCm, the
  // W4A4 emulation's activation quant-dequant): scale = fp8e4nv(clamp(gs · (amax · RN(1/6)), ±448))
  // (cvt.rn.satfinite); out = scale == 0 ? 0 : gs / scale with Triton's `/` (div.full);
  // q = e2m1 RNE of clamp(x · out, ±6), a ±0 input giving +0. Its dequantization multiplies by
  // scale / gs, div.full again (nvfp4_qdq_block_scale).
  kTritonQdq,
};

RowMatrixXf dequantize(const Nvfp4Tensor& q, Nvfp4Dequant order = Nvfp4Dequant::kModelOpt);
void validate(const Nvfp4Tensor& q);

enum class Nvfp4Quantizer : std::uint8_t {
  // vLLM `scaled_fp4_quant` (csrc/quantization/fp4/nvfp4_utils.cuh): SF = gs · (amax · rcp(6));
  // sfq = e4m3 satfinite(SF); out = sff != 0 ? rcp(sff · rcp(gs)) : 0; q = e2m1(x · out);
  // rcp = rcp.approx.ftz.
  kVllmCuda,
  // flashinfer `cvt_warp_fp16_to_fp4`: the same, but the zero test is on amax, not on sff. When
  // amax != 0 and sff underflows to 0, out = rcp(0) = inf; e2m1 of 0 · inf (NaN) is taken as +6
  // (CUDA's documented NaN rule; the hardware's is unverified).
  kFlashinfer,
  // flashinfer with DISABLE_FP4_QUANT_FAST_MATH: SF = amax · (gs · (1/6)); out =
  // fminf(1 / (sff · (1 / gs)), FLT_MAX), IEEE divisions, no zero test.
  kFlashinferNoFastMath,
  // vLLM `ref_nvfp4_quant`: scale = fp8(clamp(gs · (amax · (1/6)), ±448)) (torch cast);
  // out = 1 / (scale · (1 / gs)) with 1/0 -> 0 (IEEE); q = cast_to_fp4(clamp(x · out, ±6)),
  // whose thresholds are RNE and whose torch.sign makes ±0 into +0 (code 0, never 8).
  kReferenceEmulation,
  // vLLM `_nvfp4_quant_dequant_kernel` (Triton; ref_nvfp4_quant_dequant on CUDA and ROCm, the
  // W4A4 emulation's activation quant-dequant): scale = fp8e4nv(clamp(gs · (amax · RN(1/6)), ±448))
  // (cvt.rn.satfinite); out = scale == 0 ? 0 : gs / scale with Triton's `/` (div.full);
  // q = e2m1 RNE of clamp(x · out, ±6), a ±0 input giving +0. Its dequantization multiplies by
  // scale / gs, div.full again (nvfp4_qdq_block_scale).
  kTritonQdq,
};

Nvfp4Tensor quantize(MatrixView x, Nvfp4Quantizer quantizer, Nvfp4GlobalScale global_scale);
// The multiplier kTritonQdq dequantizes a block with: div.full(fp32(ue4m3 block scale), gs).
float nvfp4_qdq_block_scale(std::uint8_t block_scale, float gs);

// ---- the weight-scheme table's NVFP4 rows (scheme.h nvfp4_w4a16) -----------------------------------
struct SchemeSpec;
struct SchemeStorage;
// W[n, k] = e2m1(code) · (fp32(ue4m3 scale of (n, k/16)) · weight_scale_2), the order of vLLM's
// Triton emulation kernel (the scale product rounded first; Nvfp4Dequant::kModelOpt rounds
// e2m1 · scale first, which can differ in the last bit), for rows [row_begin, row_end).
void nvfp4_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                           std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out);
// A ModelOpt-style checkpoint of one part: weight_scale_2 = amax / (6 · 448) in fp32 (1 for an
// all-zero part), elements and block scales by vLLM's ref_nvfp4_quant with gs = 1 / weight_scale_2
// (Nvfp4Quantizer::kReferenceEmulation). Each part gets its own global scale, so the experts of a
// generated block differ in it (what B19 needs).
SchemeStorage quantize_nvfp4_weight(const SchemeSpec& scheme, MatrixView values);
// The same checkpoint with a static input scale per projection (ModelOpt `input_scale`, a
// dequantization multiplier, nominally amax_x / (6 · 448)): a calibration stand-in with four
// significant bits, 2^-8 · (8 + j) / 8 (j: the low three bits of the first block-scale byte).
SchemeStorage quantize_nvfp4_w4a4_weight(const SchemeSpec& scheme, MatrixView values);

}  // namespace moecheck::reference::quant
