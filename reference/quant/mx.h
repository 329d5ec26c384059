// OCP MX weights other than gpt-oss MXFP4 (which has its own type, mxfp4.h): element codes of one
// format, packed along K as the scheme row says (MXFP8 one per byte, MXFP6 four in three bytes),
// and one E8M0 scale byte per 32 elements along K (OCP Microscaling Formats v1.0 §5; numerics.md
// §3.9). These are the table-driven schemes' dequantization and quantizers (scheme.h).
#pragma once

#include <cstdint>

#include "reference/quant/scheme.h"

namespace moecheck::reference::quant {

// W[n, k] = decode(code[n, k]) · 2^(scale[n, k/32] - 127), one fp32 product (0xFF scale: NaN), for
// rows [row_begin, row_end) of a [rows, cols] matrix; the codes unpacked by packed_code.
void mx_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows, std::int64_t cols,
                        std::int64_t row_begin, std::int64_t row_end, float* out);

// MXFP8 weight checkpoints: triton_kernels' `downcast_to_mxfp` for e4m3 (mxfp8.h kTritonKernels;
// an all-zero block gets scale 0x00 and zero codes).
SchemeStorage quantize_mxfp8_weight(const SchemeSpec& scheme, MatrixView values);

// MXFP6 weight checkpoints as Quark writes them: the OCP MX v1.0 §6.3 scale rule, shared exponent
// floor(log2(amax)) - emax (emax 4 for e3m2, 2 for e2m3; the E8M0 floor code of amax, lowered by
// emax and held at 0 below), elements by the Quark rounding (formats::e3m2_quark / e2m3_quark: RNE,
// clamped to the format's max) of x / 2^shared, packed by formats::pack_fp6.
SchemeStorage quantize_mxfp6_weight(const SchemeSpec& scheme, MatrixView values);

// Quark w_mxfp4_a_fp8 checkpoints: MXFP4 weights as the gpt-oss rows quantize them (mxfp4.h
// kTritonRoundUpTorchRef; [N, K/2] codes, low nibble = even k, and [N, K/32] E8M0 bytes), plus the
// static FP8 input scale of the projection, a calibration stand-in with four significant bits,
// 2^-7 · (8 + j) / 8 (j: the low three bits of the first scale byte).
SchemeStorage quantize_mxfp4_w4a8_weight(const SchemeSpec& scheme, MatrixView values);

}  // namespace moecheck::reference::quant
