// Comparison of two fp32 outputs element by element: ULP distance, a log2 histogram of it, the
// worst elements located by (token, column) and, where the routing is known, the token's experts
// by top-k slot; and a one-line summary for failure messages (anchors.md A4, A8: stats, worst-N).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "reference/moe/routing.h"

namespace moecheck::properties {

// Distance used when either side is NaN: NaN never equals anything, itself included.
inline constexpr std::uint64_t kNanDistance = std::numeric_limits<std::uint64_t>::max();

// Number of representable fp32 values between a and b along the ordered number line. +0 and -0
// are the same point (distance 0); ±Inf are the values after ±FLT_MAX; NaN on either side gives
// kNanDistance.
std::uint64_t ulp_distance(float a, float b);

// Bucket 0 holds distance 0, bucket i (1..32) holds [2^(i-1), 2^i), the last bucket NaN.
inline constexpr std::size_t kHistogramBuckets = 34;
std::size_t histogram_bucket(std::uint64_t distance);
std::string bucket_label(std::size_t bucket);  // "0", "1", "[2,4)", ..., "NaN"

struct ElementDiff {
  std::int64_t token = 0, column = 0;
  float expected = 0, actual = 0;
  std::uint64_t ulp = 0;
  // The token's experts, best first (slot i = experts[i]); empty when the routing is unknown.
  std::vector<std::int32_t> experts;
};

struct Comparison {
  std::int64_t rows = 0, cols = 0;
  std::uint64_t bound = 0;              // allowed ULP distance (0: bitwise, ±0 aside)
  std::uint64_t max_ulp = 0;
  std::int64_t mismatches = 0;          // elements with distance > bound
  std::int64_t signed_zero_pairs = 0;   // +0 vs -0, counted as equal
  std::int64_t nonfinite_actual = 0;    // NaN or Inf in `actual`
  std::int64_t nonfinite_expected = 0;
  std::array<std::int64_t, kHistogramBuckets> histogram{};
  std::vector<ElementDiff> worst;       // largest distance first, only elements with distance > 0

  bool ok() const { return mismatches == 0; }
  // "72x64: 3 mismatches > 0 ulp, max 17 ulp, 2 +0/-0 pairs equal, 0 non-finite; worst (t5,c3 e[1,0]) 1.5 vs 1.25"
  std::string summary() const;
  // Non-empty buckets, "0:4600 1:3 [2,4):1".
  std::string histogram_text() const;
};

// expected and actual are row-major [rows, cols]. `routing`, if given, has `rows` tokens.
// std::invalid_argument if the sizes disagree.
Comparison compare(std::span<const float> expected, std::span<const float> actual, std::int64_t rows,
                   std::int64_t cols, std::uint64_t bound, const reference::moe::Routing* routing = nullptr,
                   std::size_t worst_n = 8);

}  // namespace moecheck::properties
