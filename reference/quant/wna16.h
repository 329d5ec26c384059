// Integer weight-only quantization (W4A16 / W8A16) with a group size along K and optional zero
// points (spec/numerics.md §3.11). IntWeight is the logical form; the pack/unpack functions convert
// it to and from the fused-MoE WNA16 kernel layout and the GPTQ v1 and AWQ checkpoint packings.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "reference/quant/common.h"
#include "reference/quant/scheme.h"

namespace moecheck::reference::quant {

struct IntWeight {
  std::int64_t rows = 0, cols = 0;  // N (out) x K (in)
  int bits = 4;                     // 4 or 8
  std::int64_t group_size = 128;    // along K; divides cols (a channelwise weight has group_size = cols)
  RowMatrixXu8 codes;               // [N, K] unsigned codes 0 .. 2^bits - 1
  RowMatrixXf scales;               // [N, K / group_size]
  std::optional<RowMatrixXu8> zeros;  // [N, K / group_size]; absent: 2^(bits-1) (8 or 128)
  // GPTQ act-order (desc_act): the group of each column k, [K], each group holding group_size
  // columns in any order; empty: column k is in group k / group_size.
  std::vector<std::int32_t> g_idx;
};

void validate(const IntWeight& w);
// The zero point of (row, group): zeros if present, else 8 / 128.
int zero_point(const IntWeight& w, std::int64_t row, std::int64_t group);

// `fused_moe_kernel_gptq_awq`: b = (fp32(q) - fp32(zp)) · scale in fp32, then cast to the compute
// dtype (bf16 / fp16, RNE) before the dot.
enum class Wna16Compute : std::uint8_t { kFp32, kBf16, kFp16 };
RowMatrixXf dequantize(const IntWeight& w, Wna16Compute compute = Wna16Compute::kFp32);

// vLLM `quantize_weights` (tests' quant_utils), per group of group_size along K, in fp32:
// symmetric (no zero points; the stored code is q + 2^(bits-1), i.e. uint4b8 / uint8b128):
//   s = max(|max / qmax|, |min / qmin|) with qmax = 2^(bits-1) - 1, qmin = -2^(bits-1);
//   q = clamp(round_half_even(w / s), qmin, qmax).
// asymmetric (zero points, uint4 / uint8): s = clamp(max - min, 1e-5) / (2^bits - 1);
//   z = clamp(round(|min / s|), 0, 2^bits - 1); q = clamp(round(w / s) + z, 0, 2^bits - 1).
// group_size = -1 means channelwise (one group of K). An all-zero symmetric group has s = 0, w / s
// = NaN, and torch's NaN -> int32 (INT_MIN on x86) clamps to qmin: stored code 0.
// act_order: GPTQ's desc_act, which quantizes the columns in the order of decreasing Hessian
// diagonal, so that group j holds the j-th group_size columns of that order (g_idx); the
// checkpoint keeps the columns in place. The stand-in for the Hessian diagonal here is the column's
// mean square over N (diag(XᵀX) needs the calibration inputs), ties in column order.
struct Wna16Scheme {
  int bits = 4;
  std::int64_t group_size = 128;
  bool zero_points = false;
  bool act_order = false;
};
IntWeight quantize(MatrixView w, const Wna16Scheme& scheme);  // w is [N, K]

// ---- fused-MoE WNA16 layout (`fused_moe_kernel_gptq_awq`, one expert) ------------------------
struct Wna16Packed {
  std::int64_t rows = 0, cols = 0;  // N, K
  int bits = 4;
  std::int64_t group_size = 128;
  RowMatrixXu8 weight;               // int4: [N, K/2], low nibble = even k; int8: [N, K]
  RowMatrixXf scales;                // [N, K/g]
  std::optional<RowMatrixXu8> zeros; // int4: [N/2, K/g], low nibble = even n; int8: [N, K/g]
};
Wna16Packed pack_wna16(const IntWeight& w);
IntWeight unpack_wna16(const Wna16Packed& p);

// ---- GPTQ v1 checkpoint (details unverified per the spec) -----------------------------------
// qweight int32 [K / (32/bits), N]: value i of word (r, n) (bits i·b .. i·b+b-1) is k = r·(32/bits) + i;
// qzeros int32 [K/g, N / (32/bits)], packed along N the same way, storing zero - 1 (v1 format,
// masked to the field width); scales [K/g, N]; g_idx [K] = k / g (act-order is not supported).
struct GptqV1Checkpoint {
  std::int64_t k = 0, n = 0;
  int bits = 4;
  std::int64_t group_size = 128;
  RowMatrixXi32 qweight;
  RowMatrixXi32 qzeros;
  RowMatrixXf scales;
  Eigen::VectorXi g_idx;
};
GptqV1Checkpoint pack_gptq_v1(const IntWeight& w);
IntWeight unpack_gptq_v1(const GptqV1Checkpoint& c);  // zeros = (stored + 1) & mask

// ---- AWQ checkpoint ---------------------------------------------------------------------------
// qweight int32 [K, N / (32/bits)] packed along N with the AWQ interleave: value p of a word holds
// logical column 8c + [0,2,4,6,1,3,5,7][p] (int4; int8: 4c + [0,2,1,3][p]); qzeros int32
// [K/g, N / (32/bits)] with the same interleave; scales [K/g, N]; w = (q - z) · s, no +1
// (vLLM `quant_utils.awq_pack`).
struct AwqCheckpoint {
  std::int64_t k = 0, n = 0;
  int bits = 4;
  std::int64_t group_size = 128;
  RowMatrixXi32 qweight;
  RowMatrixXi32 qzeros;
  RowMatrixXf scales;
};
AwqCheckpoint pack_awq(const IntWeight& w);
IntWeight unpack_awq(const AwqCheckpoint& c);

// ---- the weight-scheme table's WNA16 rows (scheme.h) ---------------------------------------------
// A row's codes are int4 (kFp4Bytes, two per byte along K) or int8 (kUnpacked); its kScales
// component's packing gives the group size; a kZeroPoints component, if any, the zero points.
// Whether a row (or the row whose storage it shares) is a WNA16 row.
bool is_wna16(const SchemeSpec& scheme);
Wna16Scheme wna16_scheme(const SchemeSpec& scheme);  // std::logic_error for a row that is not WNA16
// Rows [row_begin, row_end) of a [rows, cols] matrix stored as the row says, dequantized by
// dequantize(IntWeight, kFp32): (fp32(q) - fp32(zp)) · scale, one fp32 product per element.
void wna16_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                           std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out);
// Checkpoints of the row: quantize(values, wna16_scheme(scheme)) (vLLM quantize_weights), stored
// in the fused-MoE layout by pack_wna16.
SchemeStorage quantize_wna16_weight(const SchemeSpec& scheme, MatrixView values);

}  // namespace moecheck::reference::quant
