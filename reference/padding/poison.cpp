#include "reference/padding/poison.h"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/splitmix64.h"

namespace moecheck::reference::padding {
using reference::SplitMix64;  // the poison stream (reference/splitmix64.h)

void poison(std::span<float> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (float& x : out) {
    const std::uint64_t r = rng.next();
    const std::uint32_t sign = (r >> 63) ? 0x80000000u : 0u;
    switch (r & 3) {
      case 0:  // quiet NaN with a nonzero random payload
        x = std::bit_cast<float>(sign | 0x7FC00000u | (std::uint32_t(r >> 8) & 0x003FFFFFu) | 1u);
        break;
      case 1:
        x = std::bit_cast<float>(sign | 0x7F800000u);
        break;
      default: {  // finite garbage: exponent 2^0 .. 2^127, random mantissa
        const std::uint32_t exponent = 127u + std::uint32_t((r >> 16) % 128);
        x = std::bit_cast<float>(sign | (exponent << 23) | (std::uint32_t(r >> 24) & 0x007FFFFFu));
      }
    }
  }
}

void poison(std::span<std::uint8_t> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (auto& b : out) {
    const std::uint64_t r = rng.next();
    switch (r & 3) {
      case 0:
        b = 0xFF;  // E8M0 NaN, e4m3fn -NaN
        break;
      case 1:
        b = 0x7F;  // e4m3fn NaN, E8M0 2^0
        break;
      default:
        b = std::uint8_t(2 + (r >> 8) % 254);  // 0x02 .. 0xFF
    }
  }
}

void poison(std::span<std::uint16_t> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (auto& h : out) {
    const std::uint64_t r = rng.next();
    const std::uint16_t sign = (r >> 63) ? 0x8000 : 0;
    switch (r & 3) {
      case 0:  // bf16 quiet NaN with payload
        h = std::uint16_t(sign | 0x7FC0 | ((r >> 8) & 0x3F) | 1);
        break;
      case 1:  // bf16 ±Inf
        h = std::uint16_t(sign | 0x7F80);
        break;
      default:  // nonzero exponent: never ±0 or a subnormal in bf16 or fp16
        h = std::uint16_t(sign | (0x0400 + (r >> 8) % (0x7F80 - 0x0400)));
    }
  }
}

bool may_be_poison(float x) { return !std::isfinite(x) || std::fabs(x) >= 1.0f; }
bool may_be_poison(std::uint8_t x) { return x >= 2; }
bool may_be_poison(std::uint16_t x) { return (x & 0x7FFF) >= 0x0400; }

}  // namespace moecheck::reference::padding
