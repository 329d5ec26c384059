// A row-major tensor with an explicit shape, and how a packed storage axis maps logical elements
// to storage units. Padding works on storage: an MXFP4 w13 row of H_pad elements is H_pad/2 bytes
// and H_pad/32 scale bytes (padding.md §1.5).
#pragma once

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "reference/quant/blocks.h"

namespace moecheck::reference::padding {

using Shape = std::vector<std::int64_t>;
std::string to_string(const Shape& shape);  // "[2, 64, 32]"

template <class T>
struct Tensor {
  Shape shape;
  std::vector<T> data;

  Tensor() = default;
  Tensor(Shape s, T value) : shape(std::move(s)), data(static_cast<std::size_t>(numel(shape)), value) {}

  static std::int64_t numel(const Shape& s) {
    return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>());
  }
  std::int64_t numel() const { return numel(shape); }
  std::int64_t dim(std::size_t i) const { return shape.at(i); }
  // Element (e, r, c) of a rank-3 tensor; (r, c) of a rank-2 one.
  T& at(std::int64_t e, std::int64_t r, std::int64_t c) { return data[index3(e, r, c)]; }
  const T& at(std::int64_t e, std::int64_t r, std::int64_t c) const { return data[index3(e, r, c)]; }
  T& at(std::int64_t r, std::int64_t c) { return data[static_cast<std::size_t>(r * shape[1] + c)]; }
  const T& at(std::int64_t r, std::int64_t c) const { return data[static_cast<std::size_t>(r * shape[1] + c)]; }

 private:
  std::size_t index3(std::int64_t e, std::int64_t r, std::int64_t c) const {
    return static_cast<std::size_t>((e * shape[1] + r) * shape[2] + c);
  }
};

// How a packed storage axis maps elements to units: reference/quant/blocks.h, the one source.
using quant::Packing;
using quant::kFp4Bytes;
using quant::kFp6Bytes;
using quant::kMxScaleBytes;
using quant::kNvfp4ScaleBytes;
using quant::kUnpacked;

// Row order of a gated w13 [E, 2·I, H] (models.md §2.1, padding.md §1.5, §4.1).
enum class W13Layout : std::uint8_t {
  kConcatenated,  // [gate; up]: rows [0, I) gate, [I, 2·I) up (vLLM's generic loader, Mixtral, ...)
  kInterleaved,   // gpt-oss: row 2i = gate_i, row 2i+1 = up_i
};

}  // namespace moecheck::reference::padding
