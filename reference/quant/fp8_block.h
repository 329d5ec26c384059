// Block-quantized FP8 weights, DeepSeek-V3 style: e4m3fn codes and one fp32 scale per
// block_rows x block_cols block (128 x 128), partial edge blocks by ceil-division
// (spec/numerics.md §3.5, §4, §5). `scale_inv` is the checkpoint's `weight_scale_inv`, which
// despite its name is the dequantization multiplier.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "reference/formats/format.h"
#include "reference/quant/blocks.h"  // kFp8WeightBlock
#include "reference/quant/common.h"

namespace moecheck::reference::quant {

struct Fp8BlockWeight {           // DeepSeek-V3 block FP8: weight [rows, cols] e4m3fn codes, scale_inv [ceil(rows/128), ceil(cols/128)] fp32 multipliers
  std::int64_t rows = 0, cols = 0, block_rows = 128, block_cols = 128;
  std::vector<std::uint8_t> codes;       // row-major [rows, cols]
  std::vector<float> scale_inv;          // row-major [ceil(rows/block_rows), ceil(cols/block_cols)]
  // The code format: e4m3fn as in checkpoints, e4m3fnuz after normalize_e4m3fn_to_e4m3fnuz (fnuz.h).
  formats::Format format = formats::Format::kE4m3fn;
};

// W[n, k] = fp32(code[n, k]) · scale_inv[n / block_rows, k / block_cols], one fp32 product.
// Every entry point validates the sizes first (std::invalid_argument naming the field).
Eigen::MatrixXf dequantize(const Fp8BlockWeight& w);
void dequantize_rows(const Fp8BlockWeight& w, std::int64_t row_begin, std::int64_t row_end, float* out);
RowMatrixXf dequantize_row_major(const Fp8BlockWeight& w);

void validate(const Fp8BlockWeight& w);

// One expert of a fused tensor: codes [E, rows, cols], scale_inv [E, ceil(rows/128), ceil(cols/128)]
// (vLLM `w13_weight` / `w13_weight_scale_inv`). Copies that expert; checks every size.
Fp8BlockWeight fp8_block_expert(std::span<const std::uint8_t> codes, std::span<const float> scale_inv,
                                std::int64_t num_experts, std::int64_t rows, std::int64_t cols,
                                std::int64_t expert);

// Who made the blocks. amax is over the real elements of a block only (partial blocks included:
// the torch paths zero-pad, the Triton kernel masks).
enum class Fp8BlockQuantizer : std::uint8_t {
  // DeepSeek-V3 `inference/kernel.py` `weight_quant` (Triton): s = amax / 448 and q = x / s with
  // Triton's `/` (div.full), then the saturating cast; no eps, so an all-zero block gives s = 0
  // and NaN codes (0x7F), as that kernel would.
  kDeepSeekWeightQuant,
  // vLLM `vllm/utils/deep_gemm.py` `per_block_cast_to_fp8(x, use_ue8m0=False)` (torch, IEEE):
  // amax clamped to >= 1e-4; s = amax / 448; q = (x · (1.0 / s)).to(float8_e4m3fn), torch's
  // non-saturating cast (x · RN(1/s) can exceed 448 by rounding; up to 464 it rounds to 448).
  kPerBlockCast,
  // The same with use_ue8m0=True: s = 2^ceil(log2(amax / 448)) (torch log2, so a quotient a few
  // ulp above 2^k can keep 2^k; see fp8.h kCudaUe8m0Log2).
  kPerBlockCastUe8m0,
  // DeepGEMM's own `deep_gemm/utils/math.py` `per_block_cast_to_fp8(use_ue8m0=True)`: the same but
  // `ceil_to_ue8m0` is the exponent bump, exponent field clamped to [1, 254].
  kDeepGemmPerBlockCastUe8m0Bump,
  // An older form of that helper, as vendored in several repositories (not read in DeepGEMM's own
  // history): q = (x · (448 / amax)).to(float8_e4m3fn), s = amax / 448, amax clamped to >= 1e-4.
  kDeepGemmPerBlockCast,
};

Fp8BlockWeight quantize(MatrixView w, Fp8BlockQuantizer quantizer, std::int64_t block_rows = kFp8WeightBlock,
                        std::int64_t block_cols = kFp8WeightBlock);

// vLLM `requant_weight_ue8m0_inplace` (Blackwell DeepGEMM): dequantize, then kPerBlockCastUe8m0
// with the same block shape.
Fp8BlockWeight requant_weight_ue8m0(const Fp8BlockWeight& w);

}  // namespace moecheck::reference::quant
