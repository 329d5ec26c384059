// MXFP4: e2m1 elements in blocks of 32 along K (the input / last dimension), one e8m0 scale byte
// per block (spec/numerics.md §3.7, §3.8, §5). The type holds exactly the gpt-oss checkpoint
// layout, so a checkpoint tensor is used as it is, without repacking.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "reference/quant/blocks.h"  // kMxBlock
#include "reference/quant/common.h"

namespace moecheck::reference::quant {

inline constexpr std::int64_t kMxfp4BytesPerBlock = 16;  // 32 e2m1 codes, two per byte

struct Mxfp4Weight {              // one 2-D weight [rows = N out, cols = K in], K % 32 == 0
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint8_t> blocks;  // [rows, cols/32, 16] packed e2m1, low nibble = even element
  std::vector<std::uint8_t> scales;  // [rows, cols/32] e8m0 bytes
};

// Dequantization is exact: value = e2m1(code) · 2^(scale - 127), one fp32 product; scale byte
// 0x00 is 2^-127, 0xFF gives NaN for the whole block. (A product above FLT_MAX, possible only for
// scale bytes >= 0xFD, is inf here; triton_kernels' upcast clamps it to the destination's max.)
// Every entry point validates the sizes first (std::invalid_argument naming the field).
Eigen::MatrixXf dequantize(const Mxfp4Weight& w);                       // [rows, cols], exact
void dequantize_rows(const Mxfp4Weight& w, std::int64_t row_begin, std::int64_t row_end, float* out); // row-major [row_end-row_begin, cols]
RowMatrixXf dequantize_row_major(const Mxfp4Weight& w);

// Throws std::invalid_argument unless cols % 32 == 0 and blocks/scales have the sizes above.
void validate(const Mxfp4Weight& w);

// The e2m1 code (0..15) of element (row, col), from its nibble.
std::uint8_t code_at(const Mxfp4Weight& w, std::int64_t row, std::int64_t col);

// One expert of a fused checkpoint tensor: blocks [E, rows, cols/32, 16], scales [E, rows, cols/32]
// (gpt-oss `*_proj_blocks` / `*_proj_scales`). Copies that expert's bytes; checks every size.
Mxfp4Weight mxfp4_expert(std::span<const std::uint8_t> blocks, std::span<const std::uint8_t> scales,
                         std::int64_t num_experts, std::int64_t rows, std::int64_t cols,
                         std::int64_t expert);

// The scale rounding of each quantizer, named after the code it emulates. Elements are always
// e2m1 RNE with saturation at ±6 (formats::e2m1_satfinite) except the OCP emulator's default.
enum class Mxfp4Rounding : std::uint8_t {
  // triton_kernels `downcast_to_mxfp` ROUND_UP (default), the Triton kernel: ds = amax / 6 with
  // Triton's `/` (div.full), power-of-two ceiling of ds by bits, qs = 1/ds_rounded (0 if 0).
  kTritonRoundUp,
  // The same rule as triton_kernels' torch reference `downcast_to_mxfp_torch`: IEEE amax / 6.
  // It gives the kernel's bytes for every fp32 amax (the two quotients differ by at most an ulp,
  // and near 6 · 2^k the spacing of amax is coarser than that); tests sweep it.
  kTritonRoundUpTorchRef,
  // triton_kernels ROUND_DOWN, current: ds = amax / 4, exponent by truncation (= OCP floor rule).
  kTritonRoundDown,
  // triton_kernels ROUND_DOWN, older versions: ds = amax / 6, exponent by truncation.
  kTritonRoundDownAmax6,
  // Quark / AITER "even" (`_mxfp4_quant_op`, vLLM `qdq_mxfp4_torch`): formats::e8m0_even(amax),
  // then minus emax = 2, clamped to [-127, 127]; q = e2m1(x · 2^-e).
  kQuarkEven,
  // microxcaling (OCP MX reference emulation) `_quantize_mx`, round="nearest" (its default):
  // shared_exp = floor(log2(amax)) - 2 in fp32, elements rounded half away from zero.
  kOcpReferenceNearest,
  // microxcaling with round="even": the same scale, elements RNE.
  kOcpReferenceEven,
};

// Quantizes a [rows, cols] tensor (weights: N x K; activations: T x K) along its rows; cols must
// be a multiple of 32 (triton_kernels asserts this; pad first, see padding/). A block of zeros
// gives scale 0x00 and codes 0 under every rounding.
Mxfp4Weight quantize(MatrixView x, Mxfp4Rounding rounding);

}  // namespace moecheck::reference::quant
