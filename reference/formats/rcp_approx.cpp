#include "reference/formats/rcp_approx.h"

#include <bit>

extern "C" const std::uint8_t moecheck_rcp_delta_table[];
extern "C" const std::uint8_t moecheck_rcp_delta_table_end[];

namespace moecheck::reference::formats {

std::span<const std::uint8_t> rcp_delta_table() {
  return {moecheck_rcp_delta_table, std::size_t(moecheck_rcp_delta_table_end - moecheck_rcp_delta_table)};
}

int rcp_delta(std::uint32_t mantissa) {
  const unsigned code = (moecheck_rcp_delta_table[mantissa >> 2] >> (2 * (mantissa & 3u))) & 3u;
  // 0 -> 0, 1 -> +1 ulp, 2 -> -1 ulp (3 never occurs in the measured table).
  return code == 1 ? 1 : code == 2 ? -1 : 0;
}

std::uint32_t rcp_approx_ftz_bits(std::uint32_t u) {
  const std::uint32_t s = u & 0x80000000u;
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7FFFFFFFu;          // canonical NaN, sign and payload dropped
  if (a == 0x7F800000u) return s;                   // ±inf -> ±0
  if ((a >> 23) == 0) return s | 0x7F800000u;       // ±0 and subnormals are flushed -> ±inf
  const int k = int(a >> 23) - 127;
  const std::uint32_t mantissa = a & 0x7FFFFFu;
  // The hardware result is binade-invariant: reciprocal of 1.m (IEEE), corrected by the table,
  // then moved by -k binades.
  const float m = std::bit_cast<float>(0x3F800000u | mantissa);
  const std::uint32_t r = std::bit_cast<std::uint32_t>(1.0f / m) + std::uint32_t(rcp_delta(mantissa));
  const int field = int(r >> 23) - k;
  if (field <= 0) return s;  // would be subnormal: flushed to ±0
  return s | (r - (std::uint32_t(k) << 23));
}

float rcp_approx_ftz(float x) { return std::bit_cast<float>(rcp_approx_ftz_bits(std::bit_cast<std::uint32_t>(x))); }

namespace {
// NVIDIA arithmetic returns the canonical NaN 0x7FFFFFFF; x86 would give 0xFFC00000.
float canonical_nan_if_nan(float r) { return r != r ? std::bit_cast<float>(0x7FFFFFFFu) : r; }
}  // namespace

float div_full(float a, float b) { return canonical_nan_if_nan(div_full_raw(a, b)); }

float div_full_raw(float a, float b) {
  const std::uint32_t b_abs = std::bit_cast<std::uint32_t>(b) & 0x7FFFFFFFu;
  constexpr std::uint32_t kTwoPow126 = 253u << 23;
  if (b_abs > kTwoPow126 && b_abs < 0x7F800000u) {
    constexpr float kDown = 0.25f;
    return (a * kDown) * rcp_approx_ftz(b * kDown);
  }
  if (b_abs != 0 && b_abs < 0x00800000u) {
    constexpr float kUp = 16777216.0f;  // 2^24 brings every subnormal into the normal range
    return (a * kUp) * rcp_approx_ftz(b * kUp);
  }
  return a * rcp_approx_ftz(b);
}

}  // namespace moecheck::reference::formats
