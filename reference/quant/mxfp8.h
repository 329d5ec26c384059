// MXFP8 activations: e4m3fn elements in blocks of 32 along K, one e8m0 scale byte per block
// (spec/numerics.md §3.9, §5). Each quantizer copies its path's operation kinds: the approximate
// reciprocal of flashinfer, Triton's div.full in triton_kernels, torch's log2 in vLLM's fallback.
#pragma once

#include <cstdint>

#include "reference/quant/common.h"
#include "reference/quant/mxfp4.h"  // kMxBlock

namespace moecheck::reference::quant {

struct Mxfp8Tensor {
  std::int64_t rows = 0, cols = 0;  // cols % 32 == 0
  RowMatrixXu8 codes;               // [rows, cols] e4m3fn
  RowMatrixXu8 scales;              // [rows, cols/32] e8m0
};

// x = fp32(e4m3fn(code)) · 2^(scale - 127), one fp32 product; scale 0xFF gives NaN.
RowMatrixXf dequantize(const Mxfp8Tensor& q);
void validate(const Mxfp8Tensor& q);

enum class Mxfp8Quantizer : std::uint8_t {
  // flashinfer `mxfp8_quantize` (`cvt_warp_fp16_to_mxfp8`, commit fb28d72 as the spec read it):
  // SF = amax · rcp.approx.ftz(448); b = e8m0 ceil (satfinite) of SF; sf = 2^(b-127);
  // out = sf != 0 ? rcp.approx.ftz(sf) : 0; q = cvt(fmaxf(-448, fminf(x · out, 448))).
  // An all-zero block: b = 0, sf = 2^-127 (not 0), rcp flushes it to +inf, 0 · inf = NaN, the
  // clamp gives 448: codes 0x7E with scale 0x00.
  kFlashinfer,
  // The same without the explicit clamp (the version of quantization_utils.cuh read at commit
  // 014327a, and older ones per the spec): the all-zero block gives NaN codes 0x7F.
  kFlashinferNoClamp,
  // triton_kernels `_quantize_mxfp8_fn` (ROUND_UP, e4m3): ds = div.full(amax, 448), power-of-two
  // ceiling by bits, qs = ds_rounded == 0 ? 0 : div.full(1, ds_rounded), saturating cast.
  // An all-zero block gives scale 0x00 and codes 0.
  kTritonKernels,
  // vLLM `_mxfp8_e4m3_quantize_torch` (mxfp8_utils.py at commit 0013442): b = clamp(
  // floor(log2(max(amax, FLT_MIN))) + 127, 0, 254) — no "- emax", so elements sit in [0, 2);
  // q = (x / 2^(b-127)).to(float8_e4m3fn). Newer vLLM uses ceil(log2(amax / 448)) instead.
  kVllmTorchFallback,
  // vLLM `mxfp8_e4m3_quantize` off SM100 (mxfp8_utils.py @ HollowMan6/vllm 2026-08-22: the ROCm
  // Triton kernel `_mxfp8_e4m3_quantize_triton` and the torch fallback compute the same):
  // b = clamp(ceil(log2(max(amax, FLT_MIN) / 448)) + 127, 0, 254), an IEEE division and log2 taken
  // as correctly rounded (tl.log2 on gfx950 unverified); q = (x / 2^(b-127)).to(e4m3fn). The block's
  // amax lands at the top of the e4m3 range. An all-zero block gives scale 0x00, codes 0.
  kVllmCeil,
  // The GEMM2 input of vLLM's native MXFP8 MoE on gfx950: `_swiglu_oai_quant_kernel`
  // (models/minimax_m3/amd/ops/swiglu_oai.py @ HollowMan6/vllm 2026-08-22), fused with the SwiGLU
  // and reading it in fp32: b = clamp(floor(log2(max(amax, 1e-30))) + 127, 0, 254), q = (x /
  // 2^(b-127)).to(e4m3fn). Unlike kVllmCeil the amax lands in [1, 2), so an element below
  // 2^-6 · amax of its block is an e4m3 subnormal and one below 2^-10 · amax is zero (its
  // docstring calls it identical to mxfp8_e4m3_quantize of the SwiGLU, which it is not). An all-zero
  // block gives scale 27 (log2(1e-30) = -99.7), codes 0.
  kSwigluOaiFused,
};

Mxfp8Tensor quantize(MatrixView x, Mxfp8Quantizer quantizer);

}  // namespace moecheck::reference::quant
