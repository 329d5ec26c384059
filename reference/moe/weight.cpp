#include "reference/moe/weight.h"

#include <stdexcept>
#include <string>

namespace moecheck::reference::moe {
namespace {

[[noreturn]] void fail(std::string_view what, const std::string& expected, const std::string& found) {
  throw std::invalid_argument(std::string(what) + ": expected " + expected + ", found " + found);
}

std::string shape(std::int64_t rows, std::int64_t cols) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...).
  std::string text = "[";
  text += std::to_string(rows);
  text += ", ";
  text += std::to_string(cols);
  text += "]";
  return text;
}

}  // namespace

std::int64_t rows(const Weight& weight) {
  return std::visit([](const auto& w) { return w.rows; }, weight);
}

std::int64_t cols(const Weight& weight) {
  return std::visit([](const auto& w) { return w.cols; }, weight);
}

std::int64_t StackedWeight::rows() const {
  std::int64_t sum = 0;
  for (const Weight& part : parts) sum += moe::rows(part);
  return sum;
}

std::int64_t StackedWeight::cols() const {
  if (parts.empty()) return 0;
  const std::int64_t c = moe::cols(parts.front());
  for (const Weight& part : parts)
    if (moe::cols(part) != c) fail("stacked weight", "parts with equal cols " + std::to_string(c), std::to_string(moe::cols(part)));
  return c;
}

void validate(const StackedWeight& weight, std::int64_t rows, std::int64_t cols, std::string_view what) {
  if (weight.parts.empty()) fail(what, "at least one part", "none");
  if (weight.rows() != rows || weight.cols() != cols)
    fail(what, "shape " + shape(rows, cols), shape(weight.rows(), weight.cols()));
  for (const Weight& part : weight.parts) {
    if (const auto* dense = std::get_if<DenseWeight>(&part)) {
      if (dense->rows < 0 || dense->cols < 0 ||
          dense->values.size() != static_cast<std::size_t>(dense->rows * dense->cols))
        fail(what, std::to_string(dense->rows * dense->cols) + " values for " + shape(dense->rows, dense->cols),
             std::to_string(dense->values.size()));
    } else if (const auto* mx = std::get_if<quant::Mxfp4Weight>(&part)) {
      quant::validate(*mx);
    } else {
      quant::validate(std::get<quant::Fp8BlockWeight>(part));
    }
  }
}

void materialize(const StackedWeight& weight, Dtype dtype, std::span<float> out) {
  const std::int64_t c = weight.cols();
  if (out.size() != static_cast<std::size_t>(weight.rows() * c))
    fail("materialize: output", std::to_string(weight.rows() * c) + " floats", std::to_string(out.size()));
  float* dst = out.data();
  for (const Weight& part : weight.parts) {
    const std::int64_t r = rows(part);
    const std::span<float> values(dst, static_cast<std::size_t>(r * c));
    if (const auto* dense = std::get_if<DenseWeight>(&part)) {
      std::copy(dense->values.begin(), dense->values.end(), dst);
    } else if (const auto* mx = std::get_if<quant::Mxfp4Weight>(&part)) {
      quant::dequantize_rows(*mx, 0, r, dst);
    } else {
      quant::dequantize_rows(std::get<quant::Fp8BlockWeight>(part), 0, r, dst);
    }
    // e2m1 · 2^k is exact in bf16 (numerics.md §3.7), so MXFP4 parts skip the rounding pass.
    if (dtype != Dtype::kF32 && !std::holds_alternative<quant::Mxfp4Weight>(part))
      for (float& v : values) v = round_to(dtype, v);
    dst += r * c;
  }
}

}  // namespace moecheck::reference::moe
