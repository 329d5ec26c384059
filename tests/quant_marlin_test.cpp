// vLLM's Marlin weight preparation for WNA16 MoE (reference/quant/marlin.h): the tile repack, the
// scale and zero-point permutations, the act-order sort, the MoE tile padding. Hand-worked words and
// positions first (an index map that is wrong fails there, even if its inverse mirrors it), then round
// trips over int4 / int8, GPTQ / AWQ, groups 32 / 64 / 128 / channelwise and act-order, then bugs.md
// B17 and the tile padding of real models.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reference/quant/marlin.h"
#include "reference/quant/wna16.h"
#include "tests/quant_test_support.h"

namespace q = moecheck::reference::quant;
using moecheck::test::expect_invalid;
using moecheck::test::expect_same;
using moecheck::test::random_int_weight;
using q::RowMatrixXf;
using q::RowMatrixXi32;
using q::RowMatrixXu8;

namespace {

std::mt19937 rng(std::uint32_t salt) { return moecheck::test::seeded_rng(salt); }

void expect_same(const q::MarlinWeight& a, const q::MarlinWeight& b) {
  EXPECT_EQ(a.size_k, b.size_k);
  EXPECT_EQ(a.size_n, b.size_n);
  EXPECT_TRUE(a.qweight == b.qweight);
  EXPECT_TRUE(a.scales == b.scales);
  ASSERT_EQ(a.zeros.has_value(), b.zeros.has_value());
  if (a.zeros) {
    EXPECT_TRUE(*a.zeros == *b.zeros);
  }
  EXPECT_TRUE(a.g_idx == b.g_idx);
  EXPECT_TRUE(a.sort_indices == b.sort_indices);
}

std::uint32_t word_at(const RowMatrixXi32& m, std::int64_t r, std::int64_t c) { return std::bit_cast<std::uint32_t>(m(r, c)); }

// A random act-order g_idx: each group holds group_size rows of K, in shuffled order (GPTQ desc_act).
Eigen::VectorXi random_g_idx(std::int64_t k, std::int64_t group, std::uint32_t salt) {
  auto v = std::vector<int>(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) v[std::size_t(i)] = int(i / group);
  auto gen = rng(salt);
  std::shuffle(v.begin(), v.end(), gen);
  Eigen::VectorXi g(k);
  for (std::int64_t i = 0; i < k; ++i) g[i] = v[std::size_t(i)];
  return g;
}

using KN = std::pair<int, int>;  // (k, n) inside a 16 x 64 tile

}  // namespace

// ---- the tile map, by hand (gptq_marlin_repack.cu:129-134, 179-191, 200-235) -----------------
// Thread th of warp w: k0 = 2·(th%4), n0 = 16w + th/4; vals[j] = (k0 + {0,1,8,9}[j%4], n0 + 8·(j/4)).
// int4 word th·4 + w, nibble i = vals[{0,2,4,6,1,3,5,7}[i]].

TEST(Marlin, TileSourceInt4ByHand) {
  const std::vector<std::pair<int, std::vector<KN>>> words = {
      {0, {{0, 0}, {8, 0}, {0, 8}, {8, 8}, {1, 0}, {9, 0}, {1, 8}, {9, 8}}},            // th 0, warp 0
      {1, {{0, 16}, {8, 16}, {0, 24}, {8, 24}, {1, 16}, {9, 16}, {1, 24}, {9, 24}}},    // th 0, warp 1
      {4, {{2, 0}, {10, 0}, {2, 8}, {10, 8}, {3, 0}, {11, 0}, {3, 8}, {11, 8}}},        // th 1: k0 = 2
      {16, {{0, 1}, {8, 1}, {0, 9}, {8, 9}, {1, 1}, {9, 1}, {1, 9}, {9, 9}}},           // th 4: n0 = 1
      {127, {{6, 55}, {14, 55}, {6, 63}, {14, 63}, {7, 55}, {15, 55}, {7, 63}, {15, 63}}}};  // th 31, warp 3
  for (const auto& [word, fields] : words)
    for (int f = 0; f < 8; ++f) {
      const q::MarlinTileSource s = q::marlin_tile_source(word, f, 4);
      EXPECT_EQ(KN(s.k, s.n), fields[std::size_t(f)]) << "word " << word << " nibble " << f;
    }
}

// int8: words th·8 + 2w + h (h = 1: column n0 + 8), byte i = vals[4h + {0,2,1,3}[i]].
TEST(Marlin, TileSourceInt8ByHand) {
  const std::vector<std::pair<int, std::vector<KN>>> words = {
      {0, {{0, 0}, {8, 0}, {1, 0}, {9, 0}}},        // th 0, warp 0, h 0
      {1, {{0, 8}, {8, 8}, {1, 8}, {9, 8}}},        // h 1
      {2, {{0, 16}, {8, 16}, {1, 16}, {9, 16}}},    // warp 1
      {9, {{2, 8}, {10, 8}, {3, 8}, {11, 8}}},      // th 1, warp 0, h 1
      {255, {{6, 63}, {14, 63}, {7, 63}, {15, 63}}}};  // th 31, warp 3, h 1
  for (const auto& [word, fields] : words)
    for (int f = 0; f < 4; ++f) {
      const q::MarlinTileSource s = q::marlin_tile_source(word, f, 8);
      EXPECT_EQ(KN(s.k, s.n), fields[std::size_t(f)]) << "word " << word << " byte " << f;
    }
}

TEST(Marlin, TileMapCoversEachCodeOnce) {
  for (int bits : {4, 8}) {
    std::set<KN> seen;
    const int words = 16 * 64 * bits / 32, fields = 32 / bits;
    for (int w = 0; w < words; ++w)
      for (int f = 0; f < fields; ++f) {
        const q::MarlinTileSource s = q::marlin_tile_source(w, f, bits);
        ASSERT_TRUE(s.k >= 0 && s.k < 16 && s.n >= 0 && s.n < 64);
        seen.insert({s.k, s.n});
      }
    EXPECT_EQ(seen.size(), 16u * 64u) << bits << " bits";
  }
  expect_invalid([] { q::marlin_tile_source(128, 0, 4); }, {"marlin_tile_source word", "0 .. 127", "found 128"});
  expect_invalid([] { q::marlin_tile_source(0, 4, 8); }, {"marlin_tile_source field", "0 .. 3", "found 4"});
}

// Whole words of a repacked matrix, from the hand tables above: K = 32, N = 128 is 2 x 2 tiles.
TEST(Marlin, RepackWordsByHand) {
  RowMatrixXu8 c4(128, 32), c8(128, 32);  // [N, K]
  for (int n = 0; n < 128; ++n)
    for (int k = 0; k < 32; ++k) {
      c4(n, k) = std::uint8_t((7 * k + 3 * n + k * n) & 0xF);
      c8(n, k) = std::uint8_t((5 * k + 11 * n + k * n) & 0xFF);
    }
  const RowMatrixXi32 r4 = q::marlin_repack_codes(c4, 4);
  ASSERT_EQ(r4.rows(), 2);
  ASSERT_EQ(r4.cols(), 128 * 4 / 2);
  const std::vector<KN> word0 = {{0, 0}, {8, 0}, {0, 8}, {8, 8}, {1, 0}, {9, 0}, {1, 8}, {9, 8}};
  auto int4_word = [&](const RowMatrixXu8& c, int k_base, int n_base, const Eigen::VectorXi& perm) {
    std::uint32_t w = 0;
    for (int i = 0; i < 8; ++i) {
      const int k = k_base + word0[std::size_t(i)].first, n = n_base + word0[std::size_t(i)].second;
      w |= std::uint32_t(c(n, perm.size() ? perm[k] : k)) << (4 * i);
    }
    return w;
  };
  EXPECT_EQ(word_at(r4, 0, 0), int4_word(c4, 0, 0, {}));
  // K tile 1 is row 1; N tile 1 starts at column 128 (128 words per int4 tile).
  EXPECT_EQ(word_at(r4, 1, 128), int4_word(c4, 16, 64, {}));

  const RowMatrixXi32 r8 = q::marlin_repack_codes(c8, 8);
  ASSERT_EQ(r8.cols(), 128 * 8 / 2);
  auto int8_word = [&](int k_base, int n_base) {
    const int dk[4] = {0, 8, 1, 9};
    std::uint32_t w = 0;
    for (int i = 0; i < 4; ++i) w |= std::uint32_t(c8(n_base, k_base + dk[i])) << (8 * i);
    return w;
  };
  EXPECT_EQ(word_at(r8, 0, 0), int8_word(0, 0));
  EXPECT_EQ(word_at(r8, 0, 1), int8_word(0, 8));
  EXPECT_EQ(word_at(r8, 1, 256 + 1), int8_word(16, 64 + 8));  // 256 words per int8 tile

  // Act-order: repacked row k holds checkpoint row sort_indices[k] (gptq_marlin_repack.cu:90-96).
  Eigen::VectorXi perm(32);
  for (int k = 0; k < 32; ++k) perm[k] = 31 - k;
  const RowMatrixXi32 p4 = q::marlin_repack_codes(c4, 4, perm);
  EXPECT_EQ(word_at(p4, 0, 0), int4_word(c4, 0, 0, perm));
  EXPECT_EQ(word_at(p4, 1, 128), int4_word(c4, 16, 64, perm));
  EXPECT_NE(word_at(p4, 0, 0), word_at(r4, 0, 0));
}

// ---- scales (marlin_utils.py:460-480), by hand --------------------------------------------------
TEST(Marlin, ScalePermutationsByHand) {
  RowMatrixXf s(2, 128);  // [K/g, N]
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 128; ++c) s(r, c) = float(1000 * r + c);
  const RowMatrixXf g = q::marlin_permute_scales(s, q::MarlinScaleLayout::kGrouped);
  // Each 64-chunk transposed as 8 x 8: position 8i + j takes i + 8j.
  const float g_expect[10] = {0, 8, 16, 24, 32, 40, 48, 56, 1, 9};
  for (int p = 0; p < 10; ++p) EXPECT_EQ(g(0, p), g_expect[p]) << p;
  EXPECT_EQ(g(0, 63), 63.0f);
  EXPECT_EQ(g(0, 64 + 1), 72.0f);     // the second chunk of row 0
  EXPECT_EQ(g(1, 2), 1016.0f);       // row 1 is chunks 2 and 3
  const RowMatrixXf one = q::marlin_permute_scales(s, q::MarlinScaleLayout::kSingleGroup);
  // 32-chunks: position 8i + t takes 2i + [0, 1, 8, 9, 16, 17, 24, 25][t].
  const float s_expect[16] = {0, 1, 8, 9, 16, 17, 24, 25, 2, 3, 10, 11, 18, 19, 26, 27};
  for (int p = 0; p < 16; ++p) EXPECT_EQ(one(0, p), s_expect[p]) << p;
  const float s_tail[8] = {6, 7, 14, 15, 22, 23, 30, 31};
  for (int t = 0; t < 8; ++t) EXPECT_EQ(one(0, 24 + t), s_tail[t]) << t;
  EXPECT_EQ(one(0, 32), 32.0f);
  EXPECT_EQ(one(0, 34), 40.0f);
  for (auto layout : {q::MarlinScaleLayout::kGrouped, q::MarlinScaleLayout::kSingleGroup})
    EXPECT_TRUE(q::marlin_unpermute_scales(q::marlin_permute_scales(s, layout), layout) == s);
}

// Upstream's branch `group_size < size_k and group_size != -1` (marlin_utils.py:474), and the
// kernel's `num_groups > 1` (marlin_moe_wna16/ops.cu:765-774).
TEST(Marlin, ScaleBranch) {
  using L = q::MarlinScaleLayout;
  EXPECT_EQ(q::marlin_scale_layout(4096, 128), L::kGrouped);
  EXPECT_EQ(q::marlin_scale_layout(256, 128), L::kGrouped);
  EXPECT_EQ(q::marlin_scale_layout(128, 128), L::kSingleGroup);  // one group
  EXPECT_EQ(q::marlin_scale_layout(4096, -1), L::kSingleGroup);  // channelwise
  EXPECT_EQ(q::marlin_scale_layout(64, 128), L::kSingleGroup);
  EXPECT_EQ(q::marlin_kernel_scale_layout(32), L::kGrouped);
  EXPECT_EQ(q::marlin_kernel_scale_layout(1), L::kSingleGroup);
  RowMatrixXf s = RowMatrixXf::Zero(1, 96);
  expect_invalid([&] { q::marlin_permute_scales(s, 128, 96, 128); }, {"marlin_permute_scales: N", "multiple of 64", "found 96"});
  expect_invalid([&] { q::marlin_permute_scales(RowMatrixXf::Zero(1, 64), 128, 128, 128); },
                 {"size_n", "expected 128", "found 64"});
}

// ---- zero points (marlin_utils.py:512-533), by hand ---------------------------------------------
// Field i of word (0, c) is z[grouped_source(8c + interleave[i])]: word 0 reads z[0, 16, 32, 48, 8,
// 24, 40, 56], word 1 reads z[1, 17, 33, 49, 9, 25, 41, 57] (int4).
TEST(Marlin, ZeroPointsByHand) {
  RowMatrixXu8 a(1, 64), b(1, 64), c(1, 64);
  for (int n = 0; n < 64; ++n) {
    a(0, n) = std::uint8_t(n / 4);
    b(0, n) = std::uint8_t(n % 16);
    c(0, n) = std::uint8_t(3 * n);
  }
  const RowMatrixXi32 pa = q::marlin_pack_zero_points(a, 4), pb = q::marlin_pack_zero_points(b, 4);
  ASSERT_EQ(pa.cols(), 8);
  EXPECT_EQ(word_at(pa, 0, 0), 0xEA62C840u);  // nibbles 0, 4, 8, 12, 2, 6, 10, 14 from the low end
  EXPECT_EQ(word_at(pa, 0, 1), 0xEA62C840u);
  EXPECT_EQ(word_at(pb, 0, 0), 0x88880000u);  // 0, 0, 0, 0, 8, 8, 8, 8
  EXPECT_EQ(word_at(pb, 0, 1), 0x99991111u);  // 1, 1, 1, 1, 9, 9, 9, 9
  // int8: interleave [0, 2, 1, 3]; word 0 reads z[0, 16, 8, 24], word 1 reads z[32, 48, 40, 56].
  const RowMatrixXi32 pc = q::marlin_pack_zero_points(c, 8);
  ASSERT_EQ(pc.cols(), 16);
  EXPECT_EQ(word_at(pc, 0, 0), (72u << 24) | (24u << 16) | (48u << 8) | 0u);
  EXPECT_EQ(word_at(pc, 0, 1), (168u << 24) | (120u << 16) | (144u << 8) | 96u);
  EXPECT_TRUE(q::marlin_unpack_zero_points(pa, 64, 4) == a);
  EXPECT_TRUE(q::marlin_unpack_zero_points(pc, 64, 8) == c);
}

// ---- act-order sort (marlin_utils.py:455-457) -------------------------------------------------
TEST(Marlin, SortGIdxByHand) {
  Eigen::VectorXi g(6);
  g << 2, 0, 1, 0, 2, 1;
  const q::MarlinSortedGIdx s = q::marlin_sort_g_idx(g, 3);
  Eigen::VectorXi idx(6), sorted(6);
  idx << 1, 3, 2, 5, 0, 4;  // ties keep checkpoint order (stable; CUDA torch.argsort agreed, marlin.h)
  sorted << 0, 0, 1, 1, 2, 2;
  EXPECT_TRUE(s.sort_indices == idx);
  EXPECT_TRUE(s.g_idx == sorted);
  expect_invalid([&] { q::marlin_sort_g_idx(g, 2); }, {"g_idx[0]", "0 .. 1", "found 2"});
}

// ---- round trips --------------------------------------------------------------------------------
struct RoundTripCase {
  int bits;
  bool awq;  // zero points (AWQ) or symmetric (GPTQ uint4b8 / uint8b128)
  std::int64_t group;
  bool act_order;
};

class MarlinRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(MarlinRoundTrip, RepackUnpack) {
  const RoundTripCase c = GetParam();
  const std::int64_t n = 128, k = 512;
  const q::IntWeight w = random_int_weight(n, k, c.bits, c.group, c.awq, std::uint32_t(c.bits * 1000 + c.group + 7 * c.awq));
  std::optional<Eigen::VectorXi> g_idx;
  if (c.act_order) g_idx = random_g_idx(k, w.group_size, 99);
  const q::MarlinWeight m = q::marlin_repack(w, g_idx);
  EXPECT_EQ(m.qweight.rows(), k / 16);
  EXPECT_EQ(m.qweight.cols(), n * c.bits / 2);
  EXPECT_EQ(m.scales.rows(), k / w.group_size);
  expect_same(q::marlin_unpack(m), w);
  if (c.act_order) {
    EXPECT_TRUE(q::marlin_checkpoint_g_idx(m) == *g_idx);
    // Balanced groups: the sorted g_idx is k / g, and row k of the Marlin matrix is checkpoint row
    // sort_indices[k].
    for (std::int64_t i = 0; i < k; ++i) ASSERT_EQ(m.g_idx[i], i / w.group_size);
    const q::MarlinTileSource s = q::marlin_tile_source(0, 1, c.bits);  // (8, 0)
    EXPECT_EQ((word_at(m.qweight, 0, 0) >> c.bits) & ((1u << c.bits) - 1), w.codes(s.n, m.sort_indices[s.k]));
  } else {
    EXPECT_EQ(m.g_idx.size(), 0);
    EXPECT_EQ(q::marlin_checkpoint_g_idx(m).size(), 0);
  }
  // The scales the kernel reads are the checkpoint's, un-permuted by its own rule (B17's property).
  EXPECT_TRUE(q::marlin_unpermute_scales(m.scales, q::marlin_kernel_scale_layout(k / w.group_size)) ==
              RowMatrixXf(w.scales.transpose()));
  if (c.act_order) return;
  // The same Marlin weight from the checkpoint packing vLLM reads (both repack kernels extract the
  // logical code before packing): AWQ with its interleave, GPTQ v1 (whose zero points 8 / 128 are
  // the uint4b8 / uint8b128 bias Marlin applies itself, so they are dropped).
  if (c.awq) {
    expect_same(q::marlin_repack(q::unpack_awq(q::pack_awq(w))), m);
  } else {
    q::IntWeight from_gptq = q::unpack_gptq_v1(q::pack_gptq_v1(w));
    ASSERT_TRUE(from_gptq.zeros.has_value());
    EXPECT_TRUE((from_gptq.zeros->array() == std::uint8_t(1 << (c.bits - 1))).all());
    from_gptq.zeros.reset();
    expect_same(q::marlin_repack(from_gptq), m);
  }
}

std::vector<RoundTripCase> round_trip_cases() {
  std::vector<RoundTripCase> out;
  for (int bits : {4, 8})
    for (bool awq : {false, true})
      for (std::int64_t g : {32, 64, 128, -1})
        for (bool act : {false, true})
          if (!(act && (awq || g == -1))) out.push_back({bits, awq, g, act});  // AWQ and channelwise have no act-order
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, MarlinRoundTrip, ::testing::ValuesIn(round_trip_cases()),
                         [](const ::testing::TestParamInfo<RoundTripCase>& i) {
                           const RoundTripCase& c = i.param;
                           return std::string(c.bits == 4 ? "Int4" : "Int8") + (c.awq ? "_Awq" : "_Gptq") +
                                  (c.group == -1 ? std::string("_Channelwise") : "_G" + std::to_string(c.group)) +
                                  (c.act_order ? "_ActOrder" : "");
                         });

// Upstream repacks w13 as one [K, 2I] matrix; with I % 64 == 0 no 64-column tile, scale chunk or
// zero-point run straddles gate and up, so the fused result is the halves side by side.
TEST(Marlin, FusedW13IsHalvesSideBySide) {
  const q::IntWeight gate = random_int_weight(64, 256, 4, 64, true, 11), up = random_int_weight(64, 256, 4, 64, true, 12);
  q::IntWeight fused = gate;
  fused.rows = 128;
  fused.codes.resize(128, 256);
  fused.codes << gate.codes, up.codes;
  fused.scales.resize(128, 4);
  fused.scales << gate.scales, up.scales;
  RowMatrixXu8 z(128, 4);
  z << *gate.zeros, *up.zeros;
  fused.zeros = z;
  const q::MarlinWeight f = q::marlin_repack(fused), g = q::marlin_repack(gate), u = q::marlin_repack(up);
  RowMatrixXi32 qw(f.qweight.rows(), f.qweight.cols()), zz(f.zeros->rows(), f.zeros->cols());
  qw << g.qweight, u.qweight;
  zz << *g.zeros, *u.zeros;
  RowMatrixXf ss(f.scales.rows(), f.scales.cols());
  ss << g.scales, u.scales;
  EXPECT_TRUE(f.qweight == qw);
  EXPECT_TRUE(f.scales == ss);
  EXPECT_TRUE(*f.zeros == zz);
}

TEST(Marlin, RejectsBadShapes) {
  expect_invalid([] { q::marlin_repack_codes(RowMatrixXu8::Zero(96, 64), 4); },
                 {"marlin_repack_codes: N", "multiple of 64", "gptq_marlin_repack.cu:292", "found 96"});
  expect_invalid([] { q::marlin_repack_codes(RowMatrixXu8::Zero(64, 40), 4); }, {"marlin_repack_codes: K", "multiple of 16", "found 40"});
  expect_invalid([] { q::marlin_repack_codes(RowMatrixXu8::Zero(64, 32), 5); }, {"bits", "4 or 8", "found 5"});
  Eigen::VectorXi dup = Eigen::VectorXi::Zero(32);
  expect_invalid([&] { q::marlin_repack_codes(RowMatrixXu8::Zero(64, 32), 4, dup); },
                 {"sort_indices[1]", "a permutation of 0 .. 31", "found 0"});
  q::MarlinWeight m = q::marlin_repack(random_int_weight(64, 64, 4, 32, false, 3));
  m.qweight.conservativeResize(m.qweight.rows(), m.qweight.cols() - 1);
  expect_invalid([&] { q::marlin_unpack(m); }, {"qweight shape", "expected [4, 128]", "found [4, 127]"});
  const q::IntWeight w = random_int_weight(64, 64, 4, 32, false, 4);
  expect_invalid([&] { q::marlin_repack(w, Eigen::VectorXi::Zero(63)); }, {"g_idx size", "K = 64", "found 63"});
}

// ---- bugs.md B17: the w13 scale permutation keyed on the intermediate size ------------------------
// At 7ca49fbe int_wna16.py:679-685 (GPTQ) and 848-854 (AWQ) pass size_k =
// intermediate_size_per_partition for w13, whose K is the hidden size (vllm PR #50196, open).
// Qwen-style w13 at TP 8: I/tp = 128 (fused N = 256), H = 4096, group 128 — 32 groups along K.
TEST(Marlin, B17_W13ScalesKeyedOnIntermediate_N128_K4096_G128) {
  const std::int64_t intermediate = 128, hidden = 4096, group = 128;
  const q::IntWeight w13 = random_int_weight(2 * intermediate, hidden, 4, group, false, 17);
  const RowMatrixXf s = w13.scales.transpose();  // [32, 256], distinct values
  const RowMatrixXf right = q::marlin_permute_scales(s, hidden, 2 * intermediate, group);
  const RowMatrixXf wrong = q::marlin_permute_scales(s, intermediate, 2 * intermediate, group);
  EXPECT_EQ(q::marlin_scale_layout(intermediate, group), q::MarlinScaleLayout::kSingleGroup);  // 128 < 128 fails
  EXPECT_EQ(q::marlin_scale_layout(hidden, group), q::MarlinScaleLayout::kGrouped);
  // The kernel sees 32 rows of scales and reads them as grouped.
  const auto kernel = q::marlin_kernel_scale_layout(s.rows());
  ASSERT_EQ(kernel, q::MarlinScaleLayout::kGrouped);
  EXPECT_TRUE(q::marlin_unpermute_scales(right, kernel) == s);
  const RowMatrixXf seen = q::marlin_unpermute_scales(wrong, kernel);
  // By hand: the kernel's slot for column 8 (grouped position 1) holds what the single-group
  // permutation put at position 1, column 1's scale; slot 4 gets column 32's.
  EXPECT_EQ(seen(0, 8), s(0, 1));
  EXPECT_EQ(seen(0, 4), s(0, 32));
  EXPECT_EQ(seen(0, 0), s(0, 0));  // 0 and 63 are fixed points of both
  // 62 of every 64 scales land in the wrong column.
  EXPECT_EQ((seen.array() != s.array()).count(), 62 * s.size() / 64);
  // Through the whole preparation: a MarlinWeight carrying the wrong scales unpacks to misplaced ones.
  q::MarlinWeight m = q::marlin_repack(w13);
  EXPECT_TRUE(m.scales == right);
  expect_same(q::marlin_unpack(m), w13);
  m.scales = wrong;
  EXPECT_FALSE(q::marlin_unpack(m).scales == w13.scales);
  // Invisible while I/tp > group: at I/tp = 256 the wrong size_k still takes the grouped branch.
  const q::IntWeight wide = random_int_weight(2 * 256, hidden, 4, group, false, 18);
  const RowMatrixXf ws = wide.scales.transpose();
  EXPECT_TRUE(q::marlin_permute_scales(ws, 256, 512, group) == q::marlin_permute_scales(ws, hidden, 512, group));
}

// The same key on the AWQ w2 path once the tile padding has run (inferred from the source, not run
// in vLLM): int_wna16.py:860-866 passes size_k = the unpadded intermediate size, while 816-818 have
// already padded w2's scale rows. At I/tp = group = 32 (padded to 64, two groups) upstream takes the
// single-group branch and the kernel reads two groups as grouped.
TEST(Marlin, B17_AwqW2AfterTilePadding_I32_G32) {
  const q::IntWeight w2 = random_int_weight(256, 32, 4, 32, true, 19);
  const q::IntWeight padded = q::marlin_moe_pad_intermediate(w2, q::MarlinMoeShard::kW2, 32, 64);
  const RowMatrixXf s = padded.scales.transpose();  // [2, 256]
  EXPECT_EQ(q::marlin_scale_layout(32, 32), q::MarlinScaleLayout::kSingleGroup);   // upstream's size_k
  EXPECT_EQ(q::marlin_scale_layout(64, 32), q::MarlinScaleLayout::kGrouped);       // the padded K
  const auto kernel = q::marlin_kernel_scale_layout(s.rows());
  EXPECT_EQ(kernel, q::MarlinScaleLayout::kGrouped);
  const RowMatrixXf seen = q::marlin_unpermute_scales(q::marlin_permute_scales(s, 32, 256, 32), kernel);
  EXPECT_EQ(seen(0, 8), s(0, 1));
  EXPECT_FALSE(seen == s);
  EXPECT_TRUE(q::marlin_unpermute_scales(q::marlin_repack(padded).scales, kernel) == s);
}

// ---- MoE tile padding (int_wna16.py:603-624, 803-820; marlin_utils.py:334-386) ----------------
// The padded sizes here are round_up(I, lcm(64, group)) (marlin_utils.py:344-345; the project's
// rule: reference/padding/rulesets/vllm-2026-08.json, MARLIN rows), written out per model.

// Qwen3-30B-A3B (fixtures/data/configs/qwen3-30b-a3b.json: hidden 2048, moe_intermediate 768) at
// TP 8: I = 96. Group 32: lcm(64, 32) = 64, 96 -> 128. Channelwise: 96 -> 128. Group 64 or 128: 96 is
// not a whole number of groups, so vLLM refuses Marlin (marlin_utils.py:377-378) — not 128.
TEST(Marlin, MoeTilePadding_Qwen3_30B_A3B_Tp8) {
  const std::int64_t hidden = 2048, intermediate = 768 / 8;
  ASSERT_EQ(intermediate, 96);
  // Unpadded, the w13 half is not a whole Marlin tile along N.
  const q::IntWeight gate = random_int_weight(intermediate, hidden, 4, 32, false, 30);
  expect_invalid([&] { q::marlin_repack(gate); }, {"N", "multiple of 64", "found 96"});
  const q::IntWeight gate_p = q::marlin_moe_pad_intermediate(gate, q::MarlinMoeShard::kW13Half, 32, 128);
  ASSERT_EQ(gate_p.rows, 128);
  EXPECT_TRUE(gate_p.codes.topRows(96) == gate.codes);
  EXPECT_TRUE(gate_p.scales.topRows(96) == gate.scales);
  EXPECT_TRUE((gate_p.codes.bottomRows(32).array() == 0).all());
  EXPECT_TRUE((gate_p.scales.bottomRows(32).array() == 0.0f).all());
  EXPECT_TRUE((q::dequantize(gate_p).bottomRows(32).array() == 0.0f).all());  // (0 - 8)·0
  expect_same(q::marlin_unpack(q::marlin_repack(gate_p)), gate_p);

  // w2 [H, I], AWQ-style zero points: K padded, a fourth group of scale 0 and zero point 0.
  const q::IntWeight down = random_int_weight(hidden, intermediate, 4, 32, true, 31);
  const q::IntWeight down_p = q::marlin_moe_pad_intermediate(down, q::MarlinMoeShard::kW2, 32, 128);
  ASSERT_EQ(down_p.cols, 128);
  ASSERT_EQ(down_p.scales.cols(), 4);
  EXPECT_TRUE(down_p.codes.leftCols(96) == down.codes);
  EXPECT_TRUE(down_p.scales.leftCols(3) == down.scales);
  EXPECT_TRUE((down_p.scales.col(3).array() == 0.0f).all());
  EXPECT_TRUE((down_p.zeros->col(3).array() == 0).all());
  EXPECT_TRUE((down_p.codes.rightCols(32).array() == 0).all());
  expect_same(q::marlin_unpack(q::marlin_repack(down_p)), down_p);

  // Channelwise w2: the one scale row is not padded, so padded columns decode to (0 - 8)·s.
  const q::IntWeight down_cw = random_int_weight(hidden, intermediate, 4, -1, false, 32);
  const q::IntWeight down_cw_p = q::marlin_moe_pad_intermediate(down_cw, q::MarlinMoeShard::kW2, -1, 128);
  EXPECT_EQ(down_cw_p.group_size, 128);
  EXPECT_TRUE(down_cw_p.scales == down_cw.scales);
  EXPECT_EQ(q::dequantize(down_cw_p)(0, 100), -8.0f * down_cw.scales(0, 0));

  // Group 128: not whole groups, whatever the padded size.
  const q::IntWeight gate128 = random_int_weight(intermediate, hidden, 4, 128, false, 33);
  expect_invalid([&] { q::marlin_moe_pad_intermediate(gate128, q::MarlinMoeShard::kW13Half, 128, 128); },
                 {"w13 half", ": I", "multiple of the group size 128", "found 96"});
  // A padded size that is not a whole 64-wide tile.
  expect_invalid([&] { q::marlin_moe_pad_intermediate(gate, q::MarlinMoeShard::kW13Half, 32, 96); },
                 {"padded I", "multiple of 64", "found 96"});
  expect_invalid([&] { q::marlin_moe_pad_intermediate(gate, q::MarlinMoeShard::kW13Half, 32, 64); },
                 {"padded I", ">= I = 96", "found 64"});
  // The checkpoint's group size must be the shard's.
  expect_invalid([&] { q::marlin_moe_pad_intermediate(gate, q::MarlinMoeShard::kW13Half, 64, 128); },
                 {"IntWeight.group_size", "expected 64", "found 32"});
}

// DeepSeek-V2-Lite (tests/padding_configs/deepseek-v2-lite.json: hidden 2048, moe_intermediate 1408)
// at TP 4: I = 352. Group 32: 352 -> 384; group 64 or 128 refused (352 % 64 = 32). Qwen3-235B-A22B
// (hidden 4096, moe_intermediate 1536) at TP 8: I = 192 is already a multiple of 64 (groups 32, 64:
// no padding) and refused at group 128 (192 % 128 = 64). gpt-oss (hidden 2880) fails H % 128.
TEST(Marlin, MoeTilePadding_DeepSeekV2Lite_Tp4_And_Others) {
  const q::IntWeight down = random_int_weight(2048, 1408 / 4, 8, 32, false, 40);
  ASSERT_EQ(down.cols, 352);
  const q::IntWeight down_p = q::marlin_moe_pad_intermediate(down, q::MarlinMoeShard::kW2, 32, 384);
  EXPECT_EQ(down_p.cols, 384);
  EXPECT_EQ(down_p.scales.cols(), 12);
  EXPECT_TRUE((down_p.scales.rightCols(1).array() == 0.0f).all());
  expect_same(q::marlin_unpack(q::marlin_repack(down_p)), down_p);
  const q::IntWeight up64 = random_int_weight(352, 2048, 4, 64, false, 41);
  expect_invalid([&] { q::marlin_moe_pad_intermediate(up64, q::MarlinMoeShard::kW13Half, 64, 384); },
                 {"multiple of the group size 64", "found 352"});

  const q::IntWeight q235 = random_int_weight(1536 / 8, 4096, 4, 64, false, 42);
  const q::IntWeight q235_p = q::marlin_moe_pad_intermediate(q235, q::MarlinMoeShard::kW13Half, 64, 192);
  expect_same(q235_p, q235);  // nothing to pad
  const q::IntWeight q235_128 = random_int_weight(192, 4096, 4, 128, false, 43);
  expect_invalid([&] { q::marlin_moe_pad_intermediate(q235_128, q::MarlinMoeShard::kW13Half, 128, 256); },
                 {"multiple of the group size 128", "found 192"});

  const q::IntWeight gpt_oss = random_int_weight(2880, 32 * 23, 4, 32, false, 44);  // w2 [H, I]
  expect_invalid([&] { q::marlin_moe_pad_intermediate(gpt_oss, q::MarlinMoeShard::kW2, 32, 768); },
                 {"w2", ": H", "multiple of 128", "found 2880"});
}
