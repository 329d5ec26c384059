// Poison for every buffer padding creates: NaN (both signs, random payloads), ±Inf and finite
// garbage (|x| >= 1), never a value a correct fill writes (0, -0, the scale bytes 0x00 and 0x01).
// The pad functions allocate poisoned, then overwrite what they are meant to fill, so a forgotten
// fill shows as NaN/Inf/garbage instead of hiding behind a zeroing allocator (ARCHITECTURE.md;
// bugs.md B1, B3, B9 are that failure). Seeded and reproducible: every caller passes its seed
// (the property suite takes it from MOECHECK_POISON_SEED; nothing here reads the environment).
#pragma once

#include <cstdint>
#include <span>

#include "reference/padding/tensor.h"

namespace moecheck::reference::padding {

inline constexpr std::uint64_t kDefaultPoisonSeed = 0x6d6f65636865636bULL;  // "moecheck"

void poison(std::span<float> out, std::uint64_t seed);
void poison(std::span<std::uint8_t> out, std::uint64_t seed);   // codes and scale bytes
void poison(std::span<std::uint16_t> out, std::uint64_t seed);  // bf16 / fp16 bit patterns

// A tensor of `shape` filled with poison.
template <class T>
Tensor<T> poisoned(Shape shape, std::uint64_t seed) {
  Tensor<T> t(std::move(shape), T{});
  poison(std::span<T>(t.data), seed);
  return t;
}

// Whether a value can be poison: for bytes, anything but 0x00 and 0x01; for floats, NaN, Inf or
// |x| >= 1 (so exact zeros and small real values are never mistaken for it).
bool may_be_poison(float x);
bool may_be_poison(std::uint8_t x);
bool may_be_poison(std::uint16_t x);

}  // namespace moecheck::reference::padding
