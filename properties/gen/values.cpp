#include "properties/gen/values.h"

#include <array>
#include <cmath>

#include "reference/formats/codecs.h"
#include "reference/quant/blocks.h"
#include "reference/splitmix64.h"

namespace moecheck::properties::gen {

namespace {
// splitmix64 (reference/splitmix64.h) plus a normal draw.
struct Rng : reference::SplitMix64 {
  // Box-Muller in double with std::log/cos/sqrt: correctly rounded enough that the bf16 rounding
  // afterwards makes the result platform-independent in practice.
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};
float bf16(double x) { return reference::formats::bf16_value(reference::formats::bf16_rne(static_cast<float>(x))); }
constexpr std::array<float, 8> kE2m1Magnitudes = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
constexpr std::int64_t kBlock = reference::quant::kMxBlock;  // all-zero blocks are MX blocks
}  // namespace

std::string_view name(Distribution d) {
  switch (d) {
    case Distribution::kNormal: return "normal";
    case Distribution::kOutliers: return "outliers";
    case Distribution::kGrid: return "grid";
    case Distribution::kZeroBlocks: return "zero_blocks";
    case Distribution::kSubnormals: return "subnormals";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const ValueSpec& v) {
  return os << name(v.distribution) << "(seed " << v.seed << ", scale " << v.scale << ")";
}

void fill(const ValueSpec& spec, std::span<float> out) {
  Rng rng{0x5eed0000ULL ^ (static_cast<std::uint64_t>(spec.distribution) << 32) ^ spec.seed};
  const double scale = spec.scale;
  switch (spec.distribution) {
    case Distribution::kNormal:
      for (float& x : out) x = bf16(scale * rng.normal());
      break;
    case Distribution::kOutliers:
      for (float& x : out) x = bf16(scale * rng.normal() * ((rng.next() % 32 == 0) ? 256.0 : 1.0));
      break;
    case Distribution::kGrid: {
      const float unit = std::ldexp(1.0f, static_cast<int>(std::floor(std::log2(scale))) - 2);
      for (float& x : out) {
        const std::uint64_t r = rng.next();
        x = kE2m1Magnitudes[r % 8] * unit * ((r >> 3) & 1 ? -1.0f : 1.0f);
      }
      break;
    }
    case Distribution::kZeroBlocks:
      for (std::size_t b = 0; b < out.size(); b += kBlock) {
        const bool zero = rng.next() % 2 == 0;
        for (std::size_t i = b; i < out.size() && i < b + kBlock; ++i) out[i] = zero ? 0.0f : bf16(scale * rng.normal());
      }
      break;
    case Distribution::kSubnormals:
      for (float& x : out) {
        const std::uint64_t r = rng.next();
        x = r % 8 == 0 ? std::ldexp(static_cast<float>(1 + (r >> 3) % 127), -133) * ((r >> 10) & 1 ? -1.0f : 1.0f)
                       : bf16(scale * rng.normal());
      }
      break;
  }
}

}  // namespace moecheck::properties::gen
