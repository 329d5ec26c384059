#include "properties/compare.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace moecheck::properties {

namespace {
// The fp32 bit pattern as a position on the ordered number line; +0 and -0 both map to 0.
std::int64_t ordered(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::int64_t magnitude = bits & 0x7fffffffu;
  return (bits & 0x80000000u) ? -magnitude : magnitude;
}
}  // namespace

std::uint64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return kNanDistance;
  const std::int64_t d = ordered(a) - ordered(b);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

std::size_t histogram_bucket(std::uint64_t distance) {
  if (distance == kNanDistance) return kHistogramBuckets - 1;
  if (distance == 0) return 0;
  return std::min<std::size_t>(static_cast<std::size_t>(std::bit_width(distance)), kHistogramBuckets - 2);
}

std::string bucket_label(std::size_t bucket) {
  if (bucket == 0) return "0";
  if (bucket == 1) return "1";
  if (bucket >= kHistogramBuckets - 1) return "NaN";
  std::ostringstream os;  // (not string concatenation: g++ 12 -Wrestrict false positive)
  os << "[" << (std::uint64_t{1} << (bucket - 1)) << "," << (std::uint64_t{1} << bucket) << ")";
  return os.str();
}

std::string Comparison::histogram_text() const {
  std::ostringstream os;
  bool first = true;
  for (std::size_t b = 0; b < histogram.size(); ++b) {
    if (histogram[b] == 0) continue;
    os << (first ? "" : " ") << bucket_label(b) << ":" << histogram[b];
    first = false;
  }
  return os.str();
}

std::string Comparison::summary() const {
  std::ostringstream os;
  os << rows << "x" << cols << ": " << mismatches << " mismatches > " << bound << " ulp, max ";
  if (max_ulp == kNanDistance)
    os << "NaN";
  else
    os << max_ulp;
  os << " ulp, " << signed_zero_pairs << " +0/-0 pairs counted equal, " << nonfinite_actual << " non-finite actual, "
     << nonfinite_expected << " non-finite expected";
  if (!worst.empty()) {
    const ElementDiff& w = worst.front();
    os << "; worst (token " << w.token << ", column " << w.column;
    if (!w.experts.empty()) {
      os << ", experts by slot [";
      for (std::size_t i = 0; i < w.experts.size(); ++i) os << (i ? "," : "") << w.experts[i];
      os << "]";
    }
    os << ") expected " << w.expected << " actual " << w.actual;
  }
  return os.str();
}

Comparison compare(std::span<const float> expected, std::span<const float> actual, std::int64_t rows,
                   std::int64_t cols, std::uint64_t bound, const reference::moe::Routing* routing,
                   std::size_t worst_n) {
  const auto n = static_cast<std::size_t>(rows * cols);
  if (rows < 0 || cols < 0 || expected.size() != n || actual.size() != n)
    throw std::invalid_argument("compare: expected " + std::to_string(rows) + "x" + std::to_string(cols) + " = " +
                                std::to_string(n) + " values on both sides, found " +
                                std::to_string(expected.size()) + " expected and " + std::to_string(actual.size()) +
                                " actual");
  if (routing && routing->ids.rows() != rows)
    throw std::invalid_argument("compare: routing has " + std::to_string(routing->ids.rows()) + " tokens, output " +
                                std::to_string(rows));
  Comparison c;
  c.rows = rows;
  c.cols = cols;
  c.bound = bound;
  std::vector<ElementDiff> diffs;
  for (std::int64_t t = 0; t < rows; ++t)
    for (std::int64_t j = 0; j < cols; ++j) {
      const auto i = static_cast<std::size_t>(t * cols + j);
      const float e = expected[i], a = actual[i];
      const std::uint64_t d = ulp_distance(e, a);
      ++c.histogram[histogram_bucket(d)];
      c.max_ulp = std::max(c.max_ulp, d);
      if (d > bound) ++c.mismatches;
      if (e == 0.0f && a == 0.0f && std::signbit(e) != std::signbit(a)) ++c.signed_zero_pairs;
      if (!std::isfinite(a)) ++c.nonfinite_actual;
      if (!std::isfinite(e)) ++c.nonfinite_expected;
      if (d > 0) diffs.push_back({t, j, e, a, d, {}});
    }
  const std::size_t keep = std::min(worst_n, diffs.size());
  std::partial_sort(diffs.begin(), diffs.begin() + static_cast<std::ptrdiff_t>(keep), diffs.end(),
                    [](const ElementDiff& x, const ElementDiff& y) {
                      return x.ulp != y.ulp ? x.ulp > y.ulp : (x.token != y.token ? x.token < y.token : x.column < y.column);
                    });
  diffs.resize(keep);
  if (routing)
    for (ElementDiff& d : diffs)
      for (Eigen::Index s = 0; s < routing->ids.cols(); ++s) d.experts.push_back(routing->ids(d.token, s));
  c.worst = std::move(diffs);
  return c;
}

}  // namespace moecheck::properties
