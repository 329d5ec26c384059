// Helpers shared by the quant_*_test.cpp files (one executable, quant_test).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>

#include "reference/quant.h"

namespace moecheck::test {

// f() must throw std::invalid_argument whose message contains every fragment.
template <typename F>
void expect_invalid(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const auto& frag : fragments) EXPECT_NE(what.find(frag), std::string::npos) << "'" << frag << "' not in: " << what;
  }
}

// A generator seeded from MOECHECK_SEED (default 20240611) and a per-test salt.
inline std::mt19937 seeded_rng(std::uint32_t salt) {
  const char* env = std::getenv("MOECHECK_SEED");
  const std::uint32_t seed = env ? std::uint32_t(std::strtoul(env, nullptr, 10)) : 20240611u;
  return std::mt19937(seed ^ salt);
}

// r x c normal values with standard deviation `scale`.
inline reference::quant::RowMatrixXf random_matrix(std::int64_t r, std::int64_t c, float scale, std::uint32_t salt) {
  std::mt19937 g = seeded_rng(salt);
  std::normal_distribution<float> d(0.0f, scale);
  reference::quant::RowMatrixXf m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = d(g);
  return m;
}

// Two IntWeights hold the same matrix: sizes, codes, scales, and the zero point of every group (an
// implicit 8 / 128 equals an explicit one: packings such as GPTQ v1 always store them).
inline void expect_same(const reference::quant::IntWeight& a, const reference::quant::IntWeight& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.group_size, b.group_size);
  EXPECT_TRUE(a.codes == b.codes);
  EXPECT_TRUE(a.scales == b.scales);
  for (std::int64_t r = 0; r < a.rows; ++r)
    for (std::int64_t g = 0; g < a.cols / a.group_size; ++g)
      EXPECT_EQ(reference::quant::zero_point(a, r, g), reference::quant::zero_point(b, r, g));
}

// An IntWeight [n, k] of `bits` with random codes (and zero points if `zeros`), group `group`
// along K (-1: channelwise, one group of K); distinct scales, so that any misplaced one is seen.
inline reference::quant::IntWeight random_int_weight(std::int64_t n, std::int64_t k, int bits, std::int64_t group, bool zeros, std::uint32_t salt) {
  auto gen = seeded_rng(salt);
  const std::int64_t g = group == -1 ? k : group;
  std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
  reference::quant::IntWeight w;
  w.rows = n;
  w.cols = k;
  w.bits = bits;
  w.group_size = g;
  w.codes.resize(n, k);
  for (Eigen::Index i = 0; i < w.codes.size(); ++i) w.codes.data()[i] = std::uint8_t(code(gen));
  // Distinct scales, so that any misplaced one is seen.
  w.scales.resize(n, k / g);
  for (Eigen::Index i = 0; i < w.scales.size(); ++i) w.scales.data()[i] = 0.001f * float(i + 1);
  if (zeros) {
    reference::quant::RowMatrixXu8 z(n, k / g);
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = std::uint8_t(code(gen));
    w.zeros = z;
  }
  return w;
}

}  // namespace moecheck::test
