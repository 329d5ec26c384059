// Value distributions for activations and weights. A tensor is described by a distribution and a
// seed (ValueSpec), not by its elements: generating thousands of floats through RapidCheck would be
// slow and would shrink element by element. The spec shrinks toward (kNormal, seed 0); the values
// themselves are durable in the HDF5 fixture of a counterexample (persist.h), not in the seed.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>

namespace moecheck::properties::gen {

enum class Distribution : std::uint8_t {
  kNormal,      // N(0, scale²), rounded to bf16 so bf16 and fp32 models see the same inputs
  kOutliers,    // kNormal with one element in 32 scaled by 2^8 (activation outliers)
  kGrid,        // e2m1 grid values times a power of two: exact in every format, so exact compares mean something
  kZeroBlocks,  // kNormal with about half the 32-element blocks all zero (zero MX/FP8 blocks: scale 0x00)
  kSubnormals,  // kNormal with one element in 8 an fp32 (and bf16) subnormal, m·2^-133
};
inline constexpr int kDistributionCount = 5;
std::string_view name(Distribution d);

struct ValueSpec {
  Distribution distribution = Distribution::kNormal;
  std::uint32_t seed = 0;
  float scale = 1.0f;  // standard deviation of kNormal; kGrid multiplies its grid by a power of two near it
};
std::ostream& operator<<(std::ostream& os, const ValueSpec& v);

// Deterministic: the same spec and size give the same values on every platform (own PRNG,
// no std::normal_distribution whose algorithm is implementation-defined).
void fill(const ValueSpec& spec, std::span<float> out);

inline rc::Gen<Distribution> distribution() {
  return rc::gen::weightedElement<Distribution>({{6, Distribution::kNormal},
                                                 {2, Distribution::kOutliers},
                                                 {3, Distribution::kGrid},
                                                 {2, Distribution::kZeroBlocks},
                                                 {1, Distribution::kSubnormals}});
}

inline rc::Gen<ValueSpec> value_spec(float scale) {
  return rc::gen::apply([scale](Distribution d, std::uint32_t seed) { return ValueSpec{d, seed, scale}; },
                        distribution(), rc::gen::inRange<std::uint32_t>(0, 1u << 20));
}

}  // namespace moecheck::properties::gen
