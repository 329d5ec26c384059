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
    } else if (const auto* fp8 = std::get_if<quant::Fp8BlockWeight>(&part)) {
      quant::validate(*fp8);
    } else {
      const SchemeWeight& t = std::get<SchemeWeight>(part);
      (void)weight_from_storage(t.scheme, t.rows, t.cols, t.storage);  // checks every component's size
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
    } else if (const auto* fp8 = std::get_if<quant::Fp8BlockWeight>(&part)) {
      quant::dequantize_rows(*fp8, 0, r, dst);
    } else {
      const SchemeWeight& t = std::get<SchemeWeight>(part);
      const quant::SchemeSpec& spec = quant::spec(t.scheme);
      spec.dequantize_rows(spec, t.storage, t.rows, t.cols, 0, r, dst);
    }
    // e2m1 · 2^k is exact in bf16 (numerics.md §3.7), so MXFP4 parts skip the rounding pass.
    if (dtype != Dtype::kF32 && !std::holds_alternative<quant::Mxfp4Weight>(part))
      for (float& v : values) v = round_to(dtype, v);
    dst += r * c;
  }
}

quant::WeightScheme scheme_of(const Weight& part) {
  if (std::holds_alternative<DenseWeight>(part)) return quant::WeightScheme::kDense;
  if (std::holds_alternative<quant::Mxfp4Weight>(part)) return quant::WeightScheme::kMxfp4W4A16;
  if (std::holds_alternative<quant::Fp8BlockWeight>(part)) return quant::WeightScheme::kFp8Block128W8A16;
  return std::get<SchemeWeight>(part).scheme;
}

std::span<const float> float_component(const Weight& part, quant::Component c) {
  if (const auto* d = std::get_if<DenseWeight>(&part)) return c == quant::Component::kValues ? d->values : std::span<const float>();
  if (const auto* q = std::get_if<quant::Fp8BlockWeight>(&part)) return c == quant::Component::kScales ? q->scale_inv : std::span<const float>();
  if (const auto* t = std::get_if<SchemeWeight>(&part)) return t->storage.floats(c);
  return {};
}

std::span<const std::uint8_t> byte_component(const Weight& part, quant::Component c) {
  if (const auto* mx = std::get_if<quant::Mxfp4Weight>(&part))
    return c == quant::Component::kCodes ? mx->blocks : c == quant::Component::kScaleBytes ? mx->scales : std::span<const std::uint8_t>();
  if (const auto* q = std::get_if<quant::Fp8BlockWeight>(&part)) return c == quant::Component::kCodes ? q->codes : std::span<const std::uint8_t>();
  if (const auto* t = std::get_if<SchemeWeight>(&part)) return t->storage.bytes(c);
  return {};
}

WeightStorage storage_of(const Weight& part) {
  WeightStorage s;
  for (const quant::Component c : quant::kAllComponents) {
    if (quant::holds_floats(c)) {
      const auto v = float_component(part, c);
      s.floats(c).assign(v.begin(), v.end());
    } else {
      const auto v = byte_component(part, c);
      s.bytes(c).assign(v.begin(), v.end());
    }
  }
  return s;
}

Weight weight_from_storage(quant::WeightScheme scheme, std::int64_t rows, std::int64_t cols, WeightStorage s) {
  const quant::SchemeSpec& spec = quant::spec(scheme);
  if (spec.shares_storage_with) return weight_from_storage(*spec.shares_storage_with, rows, cols, std::move(s));
  for (const quant::ComponentSpec& c : spec.components) {
    const std::size_t expected = static_cast<std::size_t>(c.stored_rows(rows) * c.stored_cols(cols));
    const std::size_t found = quant::holds_floats(c.component) ? s.floats(c.component).size() : s.bytes(c.component).size();
    if (found != expected)
      fail(std::string(spec.name) + " " + std::string(quant::name(c.component)) + " of " + shape(rows, cols),
           std::to_string(expected) + " elements", std::to_string(found));
  }
  switch (scheme) {
    case quant::WeightScheme::kDense: return DenseWeight{rows, cols, std::move(s.values)};
    case quant::WeightScheme::kMxfp4W4A16: return quant::Mxfp4Weight{rows, cols, std::move(s.codes), std::move(s.scale_bytes)};
    case quant::WeightScheme::kFp8Block128W8A16: {
      quant::Fp8BlockWeight q;
      q.rows = rows;
      q.cols = cols;
      q.codes = std::move(s.codes);
      q.scale_inv = std::move(s.scales);
      return q;
    }
    default:
      if (!spec.dequantize_rows) break;
      return SchemeWeight{scheme, rows, cols, std::move(s)};
  }
  throw std::logic_error("weight_from_storage: scheme " + std::string(spec.name) + " without a Weight alternative");
}

Weight quantize_weight(quant::WeightScheme scheme, quant::MatrixView values) {
  // DeepGEMM's UE8M0 path requantizes the weights' block scales to powers of two at load
  // (requant_weight_ue8m0_inplace); its checkpoints are generated so directly.
  if (scheme == quant::WeightScheme::kFp8Block128W8A8Ue8m0)
    return quant::quantize(values, quant::Fp8BlockQuantizer::kPerBlockCastUe8m0);
  scheme = quant::storage_scheme(scheme);
  switch (scheme) {
    case quant::WeightScheme::kDense: {
      DenseWeight d{values.rows(), values.cols(), std::vector<float>(static_cast<std::size_t>(values.size()))};
      Eigen::Map<quant::RowMatrixXf>(d.values.data(), values.rows(), values.cols()) = values;
      return d;
    }
    case quant::WeightScheme::kMxfp4W4A16: return quant::quantize(values, quant::Mxfp4Rounding::kTritonRoundUpTorchRef);
    case quant::WeightScheme::kFp8Block128W8A16: return quant::quantize(values, quant::Fp8BlockQuantizer::kPerBlockCast);
    default: {
      const quant::SchemeSpec& spec = quant::spec(scheme);
      if (!spec.quantize) break;
      return weight_from_storage(scheme, values.rows(), values.cols(), spec.quantize(spec, values));
    }
  }
  throw std::logic_error("quantize_weight: scheme " + std::string(quant::name(scheme)) + " without a quantizer");
}

}  // namespace moecheck::reference::moe
