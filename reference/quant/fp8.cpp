#include "reference/quant/fp8.h"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/formats/rcp_approx.h"
#include "reference/quant/detail.h"
#include "reference/quant/scheme.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

float fp8_clamp_limit(fmt::Format format) {
  switch (format) {
    case fmt::Format::kE4m3fn: return 448.0f;
    case fmt::Format::kE4m3fnuz: return 224.0f;
    default: break;
  }
  detail::fail("fp8 format", "e4m3fn or e4m3fnuz", fmt::name(format));
}

namespace {

using detail::encode_fp8;

// max |x| of a range with CUDA's fmaxf, starting from `init`: NaN elements are skipped, as
// `fmaxf(acc, fabsf(x))` does on the GPU.
template <typename Row>
float amax_fmax(const Row& row, float init) {
  float m = init;
  for (Eigen::Index i = 0; i < row.size(); ++i) m = std::fmax(m, std::fabs(row[i]));
  return m;
}

Fp8Quantized make(std::int64_t rows, std::int64_t cols, fmt::Format format, Fp8ScaleLayout layout,
                  std::int64_t scale_rows, std::int64_t scale_cols, std::int64_t group_size = 0) {
  Fp8Quantized q;
  q.format = format;
  q.layout = layout;
  q.group_size = group_size;
  q.codes.resize(rows, cols);
  q.scales.resize(scale_rows, scale_cols);
  return q;
}

// §3.1: x · inv with inv = 1.0f / scale, clamp with fminf first (NaN -> +M), cvt.
void static_quant_row(const float* x, std::uint8_t* out, std::int64_t n, float inv, float limit,
                      fmt::Format format) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = encode_fp8(detail::clamp_fmin_first(x[i] * inv, limit), format);
}

}  // namespace

void validate(const Fp8Quantized& q) {
  fp8_clamp_limit(q.format);  // throws for a non-fp8 format
  const std::int64_t rows = q.codes.rows(), cols = q.codes.cols();
  std::int64_t sr = 1, sc = 1;
  switch (q.layout) {
    case Fp8ScaleLayout::kPerTensor: break;
    case Fp8ScaleLayout::kPerColumn: sc = cols; break;
    case Fp8ScaleLayout::kPerRow: sr = rows; break;
    case Fp8ScaleLayout::kPerRowGroup:
      if (q.group_size <= 0 || cols % q.group_size != 0)
        detail::fail("Fp8Quantized.group_size", "a positive divisor of cols = " + std::to_string(cols),
                     q.group_size);
      sr = rows;
      sc = cols / q.group_size;
      break;
  }
  if (q.scales.rows() != sr || q.scales.cols() != sc)
    detail::fail("Fp8Quantized.scales shape", detail::shape_string({sr, sc}), detail::shape_string({q.scales.rows(), q.scales.cols()}));
}

RowMatrixXf dequantize(const Fp8Quantized& q) {
  validate(q);
  const float* table = fmt::decode_table(q.format);
  const std::int64_t rows = q.codes.rows(), cols = q.codes.cols();
  RowMatrixXf out(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      float s = 0;
      switch (q.layout) {
        case Fp8ScaleLayout::kPerTensor: s = q.scales(0, 0); break;
        case Fp8ScaleLayout::kPerColumn: s = q.scales(0, c); break;
        case Fp8ScaleLayout::kPerRow: s = q.scales(r, 0); break;
        case Fp8ScaleLayout::kPerRowGroup: s = q.scales(r, c / q.group_size); break;
      }
      out(r, c) = table[q.codes(r, c)] * s;
    }
  return out;
}

Fp8Quantized quantize(MatrixView x, const Fp8PerTensorStatic& scheme) {
  const float limit = fp8_clamp_limit(scheme.format);
  Fp8Quantized q = make(x.rows(), x.cols(), scheme.format, Fp8ScaleLayout::kPerTensor, 1, 1);
  q.scales(0, 0) = scheme.scale;
  const float inv = 1.0f / scheme.scale;
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    static_quant_row(x.row(r).data(), q.codes.row(r).data(), x.cols(), inv, limit, scheme.format);
  return q;
}

Fp8Quantized quantize(MatrixView x, const Fp8PerColumnStatic& scheme) {
  const float limit = fp8_clamp_limit(scheme.format);
  if (scheme.scales.size() != x.cols())
    detail::fail("Fp8PerColumnStatic.scales size", "cols = " + std::to_string(x.cols()),
                 std::int64_t(scheme.scales.size()));
  Fp8Quantized q = make(x.rows(), x.cols(), scheme.format, Fp8ScaleLayout::kPerColumn, 1, x.cols());
  q.scales.row(0) = scheme.scales;
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      const float inv = 1.0f / scheme.scales[c];  // per element, as the per-channel kernel does
      q.codes(r, c) = encode_fp8(detail::clamp_fmin_first(x(r, c) * inv, limit), scheme.format);
    }
  return q;
}

float dynamic_tensor_scale(MatrixView x, formats::Format format) {
  const float limit = fp8_clamp_limit(format);
  // atomicMax over (row amax / M), starting from 0 (the scale tensor is memset to 0).
  float scale = 0.0f;
  for (Eigen::Index r = 0; r < x.rows(); ++r) scale = std::fmax(scale, amax_fmax(x.row(r), 0.0f) / limit);
  return scale;
}

Fp8Quantized quantize(MatrixView x, const Fp8PerTensorDynamic& scheme) {
  return quantize(x, Fp8PerTensorStatic{dynamic_tensor_scale(x, scheme.format), scheme.format});
}

Fp8Quantized quantize(MatrixView x, const Fp8PerToken& scheme) {
  const float limit = fp8_clamp_limit(scheme.format);
  const float floor_scale = 1.0f / (limit * 512.0f);  // min_scaling_factor
  Fp8Quantized q = make(x.rows(), x.cols(), scheme.format, Fp8ScaleLayout::kPerRow, x.rows(), 1);
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    float m = amax_fmax(x.row(r), 0.0f);
    if (scheme.scale_ub) m = std::fmin(m, *scheme.scale_ub);
    const float s = std::fmax(m / limit, floor_scale);
    q.scales(r, 0) = s;
    for (Eigen::Index c = 0; c < x.cols(); ++c)
      q.codes(r, c) = encode_fp8(detail::clamp_fmin_first(x(r, c) / s, limit), scheme.format);
  }
  return q;
}

namespace {

float ue8m0_log2_form(float y) {  // exp2f(ceilf(log2f(fmaxf(fabsf(y), 1e-10f))))
  const float c = std::ceil(detail::log2_fp32(std::fmax(std::fabs(y), 1e-10f)));
  return std::isfinite(c) ? std::ldexp(1.0f, int(c)) : std::exp2(c);
}

float ue8m0_bump_form(float y) {  // exponent + (mantissa != 0), mantissa cleared
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(std::fmax(std::fabs(y), 1e-10f));
  const std::uint32_t exp_bits = (bits >> 23) & 0xFFu, mant = bits & 0x7FFFFFu;
  return std::bit_cast<float>((exp_bits + (mant != 0 ? 1u : 0u)) << 23);
}

}  // namespace

Fp8Quantized quantize(MatrixView x, const Fp8PerTokenGroup& scheme) {
  const float limit = fp8_clamp_limit(scheme.format);
  const std::int64_t g = scheme.group_size;
  if (g <= 0 || x.cols() % g != 0)
    detail::fail("Fp8PerTokenGroup: cols (K) must be a multiple of group_size = " + std::to_string(g),
                 "K % group_size == 0", "K = " + std::to_string(x.cols()));
  if (scheme.quantizer == Fp8GroupQuantizer::kDeepSeekActQuant && scheme.format != fmt::Format::kE4m3fn)
    detail::fail("Fp8PerTokenGroup: kDeepSeekActQuant format", "e4m3fn", fmt::name(scheme.format));
  const std::int64_t groups = x.cols() / g;
  Fp8Quantized q = make(x.rows(), x.cols(), scheme.format, Fp8ScaleLayout::kPerRowGroup, x.rows(), groups, g);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (std::int64_t j = 0; j < groups; ++j) {
      const auto group = x.row(r).segment(j * g, g);
      std::uint8_t* out = q.codes.row(r).data() + j * g;
      float y_s = 0;
      switch (scheme.quantizer) {
        case Fp8GroupQuantizer::kCuda:
        case Fp8GroupQuantizer::kCudaUe8m0Log2:
        case Fp8GroupQuantizer::kCudaUe8m0Bump: {
          y_s = amax_fmax(group, scheme.eps) / limit;
          if (scheme.quantizer == Fp8GroupQuantizer::kCudaUe8m0Log2) y_s = ue8m0_log2_form(y_s);
          if (scheme.quantizer == Fp8GroupQuantizer::kCudaUe8m0Bump) {
            y_s = ue8m0_bump_form(y_s);
            const float inv_y = 1.0f / y_s;
            for (std::int64_t i = 0; i < g; ++i)
              out[i] = encode_fp8(detail::clamp_fmax_first(group[i] * inv_y, limit), scheme.format);
          } else {
            for (std::int64_t i = 0; i < g; ++i)
              out[i] = encode_fp8(detail::clamp_fmax_first(group[i] / y_s, limit), scheme.format);
          }
          break;
        }
        case Fp8GroupQuantizer::kTriton:
        case Fp8GroupQuantizer::kTritonUe8m0: {
          // tl.maximum(tl.max(tl.abs(y)), eps); masked lanes load 0 and cannot raise it.
          float m = 0.0f;
          for (std::int64_t i = 0; i < g; ++i) m = std::fmax(m, std::fabs(group[i]));
          y_s = fmt::div_full(std::fmax(m, scheme.eps), limit);
          if (scheme.quantizer == Fp8GroupQuantizer::kTritonUe8m0) {
            const float c = std::ceil(detail::log2_fp32(y_s));
            y_s = std::isfinite(c) ? std::ldexp(1.0f, int(c)) : std::exp2(c);
          }
          for (std::int64_t i = 0; i < g; ++i)
            out[i] = encode_fp8(detail::clamp_fmax_first(fmt::div_full(group[i], y_s), limit), scheme.format);
          break;
        }
        case Fp8GroupQuantizer::kDeepSeekActQuant: {
          float m = 0.0f;
          for (std::int64_t i = 0; i < g; ++i) m = std::fmax(m, std::fabs(group[i]));
          y_s = fmt::div_full(m, 448.0f);
          for (std::int64_t i = 0; i < g; ++i) out[i] = fmt::e4m3fn_satfinite(fmt::div_full(group[i], y_s));
          break;
        }
      }
      q.scales(r, j) = y_s;
    }
  return q;
}

Fp8Quantized requantize_w13_to_max_scale(const Fp8Quantized& w1, const Fp8Quantized& w3,
                                         W13DequantProduct product) {
  validate(w1);
  validate(w3);
  if (w1.layout != Fp8ScaleLayout::kPerTensor) detail::fail("requantize_w13: w1 layout", "per-tensor", "another layout");
  if (w3.layout != Fp8ScaleLayout::kPerTensor) detail::fail("requantize_w13: w3 layout", "per-tensor", "another layout");
  if (w1.format != w3.format) detail::fail("requantize_w13: w3 format", fmt::name(w1.format), fmt::name(w3.format));
  if (w1.codes.cols() != w3.codes.cols())
    detail::fail("requantize_w13: w3 cols", std::to_string(w1.codes.cols()), w3.codes.cols());
  const float limit = fp8_clamp_limit(w1.format);
  const float s_max = std::fmax(w1.scales(0, 0), w3.scales(0, 0));
  const float inv = 1.0f / s_max;
  const float* table = fmt::decode_table(w1.format);
  Fp8Quantized out = make(w1.codes.rows() + w3.codes.rows(), w1.codes.cols(), w1.format,
                          Fp8ScaleLayout::kPerTensor, 1, 1);
  out.scales(0, 0) = s_max;
  std::int64_t row0 = 0;
  for (const Fp8Quantized* w : {&w1, &w3}) {
    float s = w->scales(0, 0);
    if (product == W13DequantProduct::kFp16ScaleThenProduct) s = fmt::decode(fmt::Format::kFp16, fmt::fp16_rne(s));
    for (Eigen::Index r = 0; r < w->codes.rows(); ++r)
      for (Eigen::Index c = 0; c < w->codes.cols(); ++c) {
        const float dq = fmt::decode(fmt::Format::kFp16, fmt::fp16_rne(table[w->codes(r, c)] * s));
        out.codes(row0 + r, c) = encode_fp8(detail::clamp_fmin_first(dq * inv, limit), w1.format);
      }
    row0 += w->codes.rows();
  }
  return out;
}

void fp8_tensor_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                                std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out) {
  detail::check_row_range(std::string(scheme.name), row_begin, row_end, rows, out);
  if (storage.scales.size() != 1)
    throw std::invalid_argument(std::string(scheme.name) + ": weight_scale: expected 1 value per projection, found " +
                                std::to_string(storage.scales.size()));
  if (storage.codes.size() != static_cast<std::size_t>(rows * cols))
    throw std::invalid_argument(std::string(scheme.name) + ": codes: expected " + std::to_string(rows * cols) +
                                " bytes, found " + std::to_string(storage.codes.size()));
  const float scale = storage.scales.front();
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  for (std::int64_t i = row_begin * cols; i < row_end * cols; ++i) *out++ = e4m3[storage.codes[static_cast<std::size_t>(i)]] * scale;
}

namespace {
// The generators' weight scale for a tensor of amax `amax`: amax / 448, then up to the next bf16
// value, so that the largest element still maps inside ±448; 1 for an all-zero tensor.
float bf16_weight_scale(float amax) {
  if (!(amax > 0.0f)) return 1.0f;
  const float s = amax / 448.0f;
  const std::uint16_t b = fmt::bf16_rne(s);
  return fmt::bf16_value(b) >= s ? fmt::bf16_value(b) : fmt::bf16_value(static_cast<std::uint16_t>(b + 1));
}
}  // namespace

SchemeStorage quantize_fp8_tensor_weight(const SchemeSpec&, MatrixView values) {
  float amax = 0.0f;
  for (Eigen::Index r = 0; r < values.rows(); ++r)
    for (Eigen::Index c = 0; c < values.cols(); ++c) amax = std::fmax(amax, std::fabs(values(r, c)));
  const float scale = bf16_weight_scale(amax);
  const Fp8Quantized q = quantize(values, Fp8PerTensorStatic{scale, fmt::Format::kE4m3fn});
  SchemeStorage out;
  out.codes.assign(q.codes.data(), q.codes.data() + q.codes.size());
  out.scales = {scale};
  return out;
}

SchemeStorage quantize_fp8_tensor_static_weight(const SchemeSpec& scheme, MatrixView values) {
  SchemeStorage out = quantize_fp8_tensor_weight(scheme, values);
  const unsigned j = (std::bit_cast<std::uint32_t>(out.scales.front()) >> 16) & 7u;
  out.input_scales = {std::ldexp(static_cast<float>(8 + j) / 8.0f, -7)};
  return out;
}

void fp8_channel_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                                 std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out) {
  detail::check_row_range(std::string(scheme.name), row_begin, row_end, rows, out);
  if (storage.scales.size() != static_cast<std::size_t>(rows))
    throw std::invalid_argument(std::string(scheme.name) + ": weight_scale: expected " + std::to_string(rows) +
                                " values (one per output channel), found " + std::to_string(storage.scales.size()));
  if (storage.codes.size() != static_cast<std::size_t>(rows * cols))
    throw std::invalid_argument(std::string(scheme.name) + ": codes: expected " + std::to_string(rows * cols) +
                                " bytes, found " + std::to_string(storage.codes.size()));
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const float scale = storage.scales[static_cast<std::size_t>(r)];
    for (std::int64_t k = 0; k < cols; ++k) *out++ = e4m3[storage.codes[static_cast<std::size_t>(r * cols + k)]] * scale;
  }
}

SchemeStorage quantize_fp8_channel_weight(const SchemeSpec&, MatrixView values) {
  SchemeStorage out;
  out.codes.reserve(static_cast<std::size_t>(values.size()));
  out.scales.reserve(static_cast<std::size_t>(values.rows()));
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    float amax = 0.0f;
    for (Eigen::Index c = 0; c < values.cols(); ++c) amax = std::fmax(amax, std::fabs(values(r, c)));
    const float scale = bf16_weight_scale(amax);
    const Fp8Quantized q = quantize(values.middleRows(r, 1), Fp8PerTensorStatic{scale, fmt::Format::kE4m3fn});
    out.codes.insert(out.codes.end(), q.codes.data(), q.codes.data() + q.codes.size());
    out.scales.push_back(scale);
  }
  return out;
}

}  // namespace moecheck::reference::quant
