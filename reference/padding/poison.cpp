#include "reference/padding/poison.h"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/splitmix64.h"

namespace moecheck::reference::padding {
using reference::SplitMix64;  // the poison stream (reference/splitmix64.h)

// Each element takes one draw r: r & 3 picks NaN (0), Inf (1) or finite garbage (2, 3). The three
// candidates are computed and one is picked by index, not by a branch: the choice is random, so a
// branch would mispredict every other element (the pad functions poison every buffer they make).
void poison(std::span<float> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (float& x : out) {
    const std::uint64_t r = rng.next();
    const std::uint32_t sign = std::uint32_t(r >> 63) << 31;
    const std::uint32_t exponent = 127u + std::uint32_t((r >> 16) % 128);  // finite: 2^0 .. 2^127
    const std::uint32_t candidates[4] = {
        sign | 0x7FC00000u | (std::uint32_t(r >> 8) & 0x003FFFFFu) | 1u,  // quiet NaN, nonzero payload
        sign | 0x7F800000u,                                                // ±Inf
        sign | (exponent << 23) | (std::uint32_t(r >> 24) & 0x007FFFFFu),  // random mantissa
        sign | (exponent << 23) | (std::uint32_t(r >> 24) & 0x007FFFFFu),
    };
    x = std::bit_cast<float>(candidates[r & 3]);
  }
}

void poison(std::span<std::uint8_t> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (auto& b : out) {
    const std::uint64_t r = rng.next();
    const std::uint8_t garbage = std::uint8_t(2 + (r >> 8) % 254);  // 0x02 .. 0xFF
    // 0xFF: E8M0 NaN, e4m3fn -NaN; 0x7F: e4m3fn NaN, E8M0 2^0.
    const std::uint8_t candidates[4] = {0xFF, 0x7F, garbage, garbage};
    b = candidates[r & 3];
  }
}

void poison(std::span<std::uint16_t> out, std::uint64_t seed) {
  SplitMix64 rng{seed};
  for (auto& h : out) {
    const std::uint64_t r = rng.next();
    const std::uint16_t sign = (r >> 63) ? 0x8000 : 0;
    // bf16 quiet NaN with payload, bf16 ±Inf, or a nonzero exponent (never ±0 or a subnormal in
    // bf16 or fp16).
    const std::uint16_t finite = std::uint16_t(sign | (0x0400 + (r >> 8) % (0x7F80 - 0x0400)));
    const std::uint16_t candidates[4] = {std::uint16_t(sign | 0x7FC0 | ((r >> 8) & 0x3F) | 1),
                                         std::uint16_t(sign | 0x7F80), finite, finite};
    h = candidates[r & 3];
  }
}

bool may_be_poison(float x) { return !std::isfinite(x) || std::fabs(x) >= 1.0f; }
bool may_be_poison(std::uint8_t x) { return x >= 2; }
bool may_be_poison(std::uint16_t x) { return (x & 0x7FFF) >= 0x0400; }

}  // namespace moecheck::reference::padding
