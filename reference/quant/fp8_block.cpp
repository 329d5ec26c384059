#include "reference/quant/fp8_block.h"
#include "reference/quant/detail.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/formats/rcp_approx.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

namespace {

void fill_rows(const Fp8BlockWeight& w, std::int64_t row_begin, std::int64_t row_end, float* out) {
  const float* table = fmt::decode_table(w.format);
  const std::int64_t scale_cols = cdiv(w.cols, w.block_cols);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const std::uint8_t* codes = w.codes.data() + r * w.cols;
    const float* scales = w.scale_inv.data() + (r / w.block_rows) * scale_cols;
    float* dst = out + (r - row_begin) * w.cols;
    for (std::int64_t j = 0; j < scale_cols; ++j) {
      const float s = scales[j];
      const std::int64_t c1 = std::min(w.cols, (j + 1) * w.block_cols);
      for (std::int64_t c = j * w.block_cols; c < c1; ++c) dst[c] = table[codes[c]] * s;
    }
  }
}

}  // namespace

void validate(const Fp8BlockWeight& w) {
  if (w.format != fmt::Format::kE4m3fn && w.format != fmt::Format::kE4m3fnuz)
    detail::fail("Fp8BlockWeight.format", "e4m3fn or e4m3fnuz", fmt::name(w.format));
  if (w.rows < 0 || w.cols < 0) detail::fail("Fp8BlockWeight shape", "non-negative rows and cols", detail::shape_string({w.rows, w.cols}));
  if (w.block_rows <= 0) detail::fail("Fp8BlockWeight.block_rows", "> 0", w.block_rows);
  if (w.block_cols <= 0) detail::fail("Fp8BlockWeight.block_cols", "> 0", w.block_cols);
  if (std::int64_t(w.codes.size()) != w.rows * w.cols)
    detail::fail("Fp8BlockWeight.codes size", "rows * cols = " + std::to_string(w.rows * w.cols),
                 std::int64_t(w.codes.size()));
  const std::int64_t sr = cdiv(w.rows, w.block_rows), sc = cdiv(w.cols, w.block_cols);
  if (std::int64_t(w.scale_inv.size()) != sr * sc)
    detail::fail("Fp8BlockWeight.scale_inv size", "ceil(rows/block_rows) * ceil(cols/block_cols) = " + detail::shape_string({sr, sc}) +
                                                      " = " + std::to_string(sr * sc),
                 std::int64_t(w.scale_inv.size()));
}

Eigen::MatrixXf dequantize(const Fp8BlockWeight& w) {
  const RowMatrixXf rm = dequantize_row_major(w);
  return rm;
}

RowMatrixXf dequantize_row_major(const Fp8BlockWeight& w) {
  validate(w);
  RowMatrixXf out(w.rows, w.cols);
  fill_rows(w, 0, w.rows, out.data());
  return out;
}

void dequantize_rows(const Fp8BlockWeight& w, std::int64_t row_begin, std::int64_t row_end, float* out) {
  validate(w);
  detail::check_row_range("Fp8BlockWeight", row_begin, row_end, w.rows, out);
  fill_rows(w, row_begin, row_end, out);
}

Fp8BlockWeight fp8_block_expert(std::span<const std::uint8_t> codes, std::span<const float> scale_inv,
                                std::int64_t num_experts, std::int64_t rows, std::int64_t cols, std::int64_t expert) {
  if (num_experts <= 0 || rows < 0 || cols < 0)
    detail::fail("fp8_block_expert shape", "num_experts > 0, rows >= 0, cols >= 0",
                 detail::shape_string({num_experts, rows, cols}));
  if (expert < 0 || expert >= num_experts)
    detail::fail("fp8_block_expert expert", "0 <= expert < " + std::to_string(num_experts), expert);
  const std::int64_t per_codes = rows * cols;
  const std::int64_t sr = cdiv(rows, kFp8WeightBlock), sc = cdiv(cols, kFp8WeightBlock);
  if (std::int64_t(codes.size()) != num_experts * per_codes)
    detail::fail("fp8_block_expert weight size", "E * rows * cols = " + std::to_string(num_experts * per_codes),
                 std::int64_t(codes.size()));
  if (std::int64_t(scale_inv.size()) != num_experts * sr * sc)
    detail::fail("fp8_block_expert weight_scale_inv size",
                 "E * ceil(rows/128) * ceil(cols/128) = " + std::to_string(num_experts * sr * sc),
                 std::int64_t(scale_inv.size()));
  Fp8BlockWeight w;
  w.rows = rows;
  w.cols = cols;
  w.codes.assign(codes.begin() + expert * per_codes, codes.begin() + (expert + 1) * per_codes);
  w.scale_inv.assign(scale_inv.begin() + expert * sr * sc, scale_inv.begin() + (expert + 1) * sr * sc);
  return w;
}

Fp8BlockWeight quantize(MatrixView x, Fp8BlockQuantizer quantizer, std::int64_t block_rows, std::int64_t block_cols) {
  if (block_rows <= 0) detail::fail("Fp8Block quantize block_rows", "> 0", block_rows);
  if (block_cols <= 0) detail::fail("Fp8Block quantize block_cols", "> 0", block_cols);
  Fp8BlockWeight w;
  w.rows = x.rows();
  w.cols = x.cols();
  w.block_rows = block_rows;
  w.block_cols = block_cols;
  w.codes.assign(std::size_t(w.rows * w.cols), 0);
  const std::int64_t sr = cdiv(w.rows, block_rows), sc = cdiv(w.cols, block_cols);
  w.scale_inv.assign(std::size_t(sr * sc), 0.0f);
  for (std::int64_t bi = 0; bi < sr; ++bi)
    for (std::int64_t bj = 0; bj < sc; ++bj) {
      const std::int64_t r0 = bi * block_rows, r1 = std::min(w.rows, r0 + block_rows);
      const std::int64_t c0 = bj * block_cols, c1 = std::min(w.cols, c0 + block_cols);
      float amax = 0.0f;  // real elements only; the zero padding cannot raise it
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(x(r, c)));
      float s = 0.0f;
      auto store = [&](auto&& code_of) {
        for (std::int64_t r = r0; r < r1; ++r)
          for (std::int64_t c = c0; c < c1; ++c) w.codes[std::size_t(r * w.cols + c)] = code_of(x(r, c));
      };
      switch (quantizer) {
        case Fp8BlockQuantizer::kDeepSeekWeightQuant:
          s = fmt::div_full(amax, 448.0f);
          store([&](float v) { return fmt::e4m3fn_satfinite(fmt::div_full(v, s)); });
          break;
        case Fp8BlockQuantizer::kPerBlockCast:
        case Fp8BlockQuantizer::kPerBlockCastUe8m0:
        case Fp8BlockQuantizer::kDeepGemmPerBlockCastUe8m0Bump: {
          s = std::max(amax, 1e-4f) / 448.0f;
          if (quantizer == Fp8BlockQuantizer::kPerBlockCastUe8m0) {
            const float c = std::ceil(detail::log2_fp32(s));  // torch.pow(2, ceil(log2(s)))
            s = std::isfinite(c) ? std::ldexp(1.0f, int(c)) : std::exp2(c);
          }
          if (quantizer == Fp8BlockQuantizer::kDeepGemmPerBlockCastUe8m0Bump) {
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(s);
            const std::uint32_t e = ((bits >> 23) & 0xFFu) + ((bits & 0x7FFFFFu) != 0 ? 1u : 0u);
            s = std::bit_cast<float>(std::clamp(e, 1u, 254u) << 23);
          }
          const float inv = 1.0f / s;
          store([&](float v) { return fmt::e4m3fn_torch(v * inv); });
          break;
        }
        case Fp8BlockQuantizer::kDeepGemmPerBlockCast: {
          const float clamped = std::max(amax, 1e-4f);
          const float mul = 448.0f / clamped;
          s = clamped / 448.0f;
          store([&](float v) { return fmt::e4m3fn_torch(v * mul); });
          break;
        }
      }
      w.scale_inv[std::size_t(bi * sc + bj)] = s;
    }
  return w;
}

Fp8BlockWeight requant_weight_ue8m0(const Fp8BlockWeight& w) {
  if (w.format != fmt::Format::kE4m3fn) detail::fail("requant_weight_ue8m0 format", "e4m3fn", fmt::name(w.format));
  const RowMatrixXf dq = dequantize_row_major(w);
  return quantize(dq, Fp8BlockQuantizer::kPerBlockCastUe8m0, w.block_rows, w.block_cols);
}

}  // namespace moecheck::reference::quant
