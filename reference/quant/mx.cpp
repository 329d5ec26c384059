#include "reference/quant/mx.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/quant/mxfp4.h"
#include "reference/quant/mxfp8.h"

namespace moecheck::reference::quant {

namespace {

const ComponentSpec& component(const SchemeSpec& scheme, Component c) {
  const ComponentSpec* x = scheme.find(c);
  if (!x) throw std::logic_error(std::string(scheme.name) + " has no " + std::string(name(c)) + " component");
  return *x;
}

}  // namespace

void mx_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows, std::int64_t cols,
                        std::int64_t row_begin, std::int64_t row_end, float* out) {
  const ComponentSpec& codes = component(scheme, Component::kCodes);
  const ComponentSpec& scales = component(scheme, Component::kScaleBytes);
  if (row_begin < 0 || row_end > rows || row_begin > row_end)
    throw std::invalid_argument(std::string(scheme.name) + ": rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") outside [0, " + std::to_string(rows) + ")");
  const std::int64_t code_cols = codes.stored_cols(cols), scale_cols = scales.stored_cols(cols);
  const float* decode = formats::decode_table(*codes.format);
  for (std::int64_t n = row_begin; n < row_end; ++n) {
    const std::uint8_t* row = storage.codes.data() + n * code_cols;
    const std::uint8_t* s = storage.scale_bytes.data() + n * scale_cols;
    for (std::int64_t k = 0; k < cols; ++k)
      *out++ = decode[packed_code(row, k, codes.packing)] * formats::e8m0_value(s[k / scales.packing.elements]);
  }
}

SchemeStorage quantize_mxfp8_weight(const SchemeSpec&, MatrixView values) {
  const Mxfp8Tensor q = quantize(values, Mxfp8Quantizer::kTritonKernels);
  SchemeStorage s;
  s.codes.assign(q.codes.data(), q.codes.data() + q.codes.size());
  s.scale_bytes.assign(q.scales.data(), q.scales.data() + q.scales.size());
  return s;
}

SchemeStorage quantize_mxfp6_weight(const SchemeSpec& scheme, MatrixView values) {
  const ComponentSpec& codes = component(scheme, Component::kCodes);
  const bool e3m2 = *codes.format == formats::Format::kE3m2;
  const int emax = e3m2 ? 4 : 2;
  const std::int64_t rows = values.rows(), cols = values.cols();
  if (cols % kMxBlock != 0)
    throw std::invalid_argument(std::string(scheme.name) + ": K = " + std::to_string(cols) + " is not whole " +
                                std::to_string(kMxBlock) + "-element blocks");
  SchemeStorage s;
  std::vector<std::uint8_t> row_codes(static_cast<std::size_t>(cols));
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t b = 0; b < cols / kMxBlock; ++b) {
      float amax = 0.0f;
      for (std::int64_t j = 0; j < kMxBlock; ++j) amax = std::fmax(amax, std::fabs(values(n, b * kMxBlock + j)));
      const int floor_code = formats::e8m0_floor(amax);
      const std::uint8_t scale = static_cast<std::uint8_t>(floor_code >= emax ? floor_code - emax : 0);
      s.scale_bytes.push_back(scale);
      // x / 2^(scale - 127), exact: a power of two within the fp32 range either way.
      const float inverse = std::ldexp(1.0f, 127 - scale);
      for (std::int64_t j = 0; j < kMxBlock; ++j) {
        const float x = values(n, b * kMxBlock + j) * inverse;
        row_codes[static_cast<std::size_t>(b * kMxBlock + j)] = e3m2 ? formats::e3m2_quark(x) : formats::e2m3_quark(x);
      }
    }
    const std::vector<std::uint8_t> packed = formats::pack_fp6(row_codes);
    s.codes.insert(s.codes.end(), packed.begin(), packed.end());
  }
  return s;
}

SchemeStorage quantize_mxfp4_w4a8_weight(const SchemeSpec&, MatrixView values) {
  Mxfp4Weight q = quantize(values, Mxfp4Rounding::kTritonRoundUpTorchRef);
  SchemeStorage s;
  s.codes = std::move(q.blocks);
  s.scale_bytes = std::move(q.scales);
  const unsigned j = s.scale_bytes.empty() ? 0u : s.scale_bytes.front() & 7u;
  s.input_scales = {std::ldexp(static_cast<float>(8 + j) / 8.0f, -7)};
  return s;
}

}  // namespace moecheck::reference::quant
