// splitmix64: a small, seedable generator whose stream is the same on every platform and where
// every seed gives a different stream. Used wherever the reference side needs reproducible
// noise (poison values, generated tensor values).
#pragma once

#include <cstdint>

namespace moecheck::reference {

struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

}  // namespace moecheck::reference
