// Block-quantized FP8 weights (DeepSeek-V3 128x128, reference/quant/fp8_block.h; spec/numerics.md
// §3.5, §4, §5): the three quantizers, partial blocks by ceil-division with scales from the real
// elements only, dequantization (whole, by rows, per expert of a fused tensor) and the errors.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/formats.h"
#include "reference/quant.h"
#include "tests/quant_test_support.h"

namespace fmt = moecheck::reference::formats;
namespace q = moecheck::reference::quant;
using moecheck::test::expect_invalid;
using moecheck::test::random_matrix;
using q::RowMatrixXf;

namespace {

// Rows of probes for operation-order claims: element 0 is the row's amax (300 + 4.37 r), the others
// lie within 8 ulp of the fp8 ties (1 + (2j+1)/16) · 2^e scaled by amax / 448, where one rounding
// of the multiplier or of the quotient moves the code.
RowMatrixXf tie_probes(int rows) {
  RowMatrixXf y(rows, 1 + 8 * 4 * 17);
  for (int r = 0; r < rows; ++r) {
    const float amax = 300.0f + float(r) * 4.37f, s = amax / 448.0f;
    y(r, 0) = amax;
    Eigen::Index n = 1;
    for (int j = 0; j < 8; ++j)
      for (int e = 0; e < 4; ++e) {
        float v = (1.0f + float(2 * j + 1) / 16.0f) * float(1 << e) * s;
        for (int k = 0; k < 8; ++k) v = std::nextafter(v, -1e30f);
        for (int k = 0; k < 17; ++k, v = std::nextafter(v, 1e30f)) y(r, n++) = v;
      }
  }
  return y;
}

std::uint8_t code(const q::Fp8BlockWeight& w, std::int64_t r, std::int64_t c) { return w.codes[std::size_t(r * w.cols + c)]; }

}  // namespace

TEST(Fp8Block, DeepSeekWeightQuantPartialBlocks) {
  // 130 x 260: scale grid ceil(130/128) x ceil(260/128) = 2 x 3; the last row and column of
  // blocks hold 2 rows and 4 columns.
  RowMatrixXf x = RowMatrixXf::Zero(130, 260);
  x(0, 0) = 448;    // block (0,0): s = 448 · rcp(448) = 1
  x(5, 7) = -3.5f;
  x(129, 259) = 7;  // block (1,2): real elements only, s = 7 · rcp(448) = 2^-6
  x(128, 256) = -0.5f;
  x(10, 200) = 896; // block (0,1): s = 2
  x(11, 201) = 1;
  x(120, 130) = 0.75f;
  const q::Fp8BlockWeight w = q::quantize(x, q::Fp8BlockQuantizer::kDeepSeekWeightQuant);
  ASSERT_EQ(w.scale_inv.size(), 6u);
  EXPECT_EQ(w.scale_inv[0], 1.0f);
  EXPECT_EQ(w.scale_inv[1], 2.0f);
  EXPECT_EQ(w.scale_inv[5], std::ldexp(1.0f, -6));
  EXPECT_EQ(code(w, 0, 0), 0x7E);
  EXPECT_EQ(code(w, 5, 7), 0xC6);      // -3.5
  EXPECT_EQ(code(w, 129, 259), 0x7E);  // 7 / 2^-6 = 448
  EXPECT_EQ(code(w, 128, 256), 0xE0);  // -32
  EXPECT_EQ(code(w, 10, 200), 0x7E);
  EXPECT_EQ(code(w, 11, 201), 0x30);   // 0.5
  EXPECT_EQ(code(w, 120, 130), 0x2C);  // 0.375
  // Blocks (1,0) and (1,1) hold only zeros: s = 0 and 0 · rcp(0) = NaN codes, as the kernel gives.
  EXPECT_EQ(w.scale_inv[3], 0.0f);
  EXPECT_EQ(w.scale_inv[4], 0.0f);
  EXPECT_EQ(code(w, 129, 0), 0x7F);
  EXPECT_EQ(code(w, 128, 255), 0x7F);
  const RowMatrixXf back = q::dequantize_row_major(w);
  EXPECT_EQ(back(5, 7), -3.5f);
  EXPECT_EQ(back(129, 259), 7.0f);
  EXPECT_EQ(back(120, 130), 0.75f);
  EXPECT_TRUE(std::isnan(back(129, 0)));
}

TEST(Fp8Block, DeepSeekUsesDivFull) {
  const RowMatrixXf y = tie_probes(64);
  const q::Fp8BlockWeight w = q::quantize(y, q::Fp8BlockQuantizer::kDeepSeekWeightQuant, 1, y.cols());
  int ieee_differs = 0;
  for (int r = 0; r < y.rows(); ++r) {
    const float s = fmt::div_full(y(r, 0), 448.0f);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(w.scale_inv[r]), std::bit_cast<std::uint32_t>(s));
    for (int c = 0; c < y.cols(); ++c) {
      EXPECT_EQ(code(w, r, c), fmt::e4m3fn_satfinite(fmt::div_full(y(r, c), s)));
      ieee_differs += code(w, r, c) != fmt::e4m3fn_satfinite(y(r, c) / s);
    }
  }
  EXPECT_GT(ieee_differs, 0);
}

TEST(Fp8Block, PerBlockCastClampsAmaxAndMultipliesByTheReciprocal) {
  RowMatrixXf x = RowMatrixXf::Zero(3, 130);
  x(0, 0) = 448;
  x(1, 1) = -1;
  x(2, 129) = 0.25f;
  const q::Fp8BlockWeight w = q::quantize(x, q::Fp8BlockQuantizer::kPerBlockCast);
  EXPECT_EQ(w.scale_inv[0], 1.0f);
  EXPECT_EQ(w.scale_inv[1], 0.25f / 448.0f);
  EXPECT_EQ(code(w, 0, 0), 0x7E);
  EXPECT_EQ(code(w, 1, 1), 0xB8);
  // 0.25 · RN(1/(0.25/448)) = 448.00003 -> torch's cast rounds it to 448, no NaN.
  EXPECT_EQ(code(w, 2, 129), 0x7E);
  // An all-zero block: amax clamped to 1e-4, codes 0.
  const q::Fp8BlockWeight z = q::quantize(RowMatrixXf::Zero(2, 2), q::Fp8BlockQuantizer::kPerBlockCast);
  EXPECT_EQ(z.scale_inv[0], 1e-4f / 448.0f);
  EXPECT_EQ(z.codes, std::vector<std::uint8_t>(4, 0));
}

TEST(Fp8Block, VllmAndOlderDeepGemmCastsDifferInTheMultiplier) {
  // vLLM multiplies by RN(1 / RN(amax / 448)), the older DeepGEMM helper by RN(448 / amax).
  // One block per row of probes.
  const RowMatrixXf y = tie_probes(64);
  const q::Fp8BlockWeight a = q::quantize(y, q::Fp8BlockQuantizer::kPerBlockCast, 1, y.cols());
  const q::Fp8BlockWeight b = q::quantize(y, q::Fp8BlockQuantizer::kDeepGemmPerBlockCast, 1, y.cols());
  const std::int64_t n = y.cols();
  int differ = 0;
  for (int r = 0; r < 64; ++r) {
    const float amax = y(r, 0);
    EXPECT_EQ(a.scale_inv[r], amax / 448.0f);
    EXPECT_EQ(a.scale_inv[r], b.scale_inv[r]);
    for (std::int64_t c = 0; c < n; ++c) {
      EXPECT_EQ(a.codes[r * n + c], fmt::e4m3fn_torch(y(r, c) * (1.0f / (amax / 448.0f))));
      EXPECT_EQ(b.codes[r * n + c], fmt::e4m3fn_torch(y(r, c) * (448.0f / amax)));
      differ += a.codes[r * n + c] != b.codes[r * n + c];
    }
  }
  EXPECT_GT(differ, 0);
}

TEST(Fp8Block, Ue8m0PowerOfTwoScales) {
  RowMatrixXf x = RowMatrixXf::Zero(2, 2);
  x(0, 0) = 300;  // 300/448 -> 1
  x(1, 1) = -7;
  const q::Fp8BlockWeight w = q::quantize(x, q::Fp8BlockQuantizer::kPerBlockCastUe8m0);
  EXPECT_EQ(w.scale_inv[0], 1.0f);
  EXPECT_EQ(code(w, 0, 0), 0x79);  // 288
  EXPECT_EQ(code(w, 1, 1), 0xCE);  // -7
  x(0, 0) = 449;  // 449/448 -> 2
  EXPECT_EQ(q::quantize(x, q::Fp8BlockQuantizer::kPerBlockCastUe8m0).scale_inv[0], 2.0f);
}

TEST(Fp8Block, VllmLog2AndDeepGemmBumpUe8m0Differ) {
  // amax = 7·2^-14 + 1 ulp: amax / 448 = 2^-20 · (1 + 2^-23); torch's log2 rounds to -20 (s = 2^-20),
  // DeepGEMM's ceil_to_ue8m0 bumps the exponent (s = 2^-19).
  RowMatrixXf x = RowMatrixXf::Zero(1, 2);
  x(0, 0) = std::bit_cast<float>(0x39E00001u);
  x(0, 1) = -x(0, 0);
  const q::Fp8BlockWeight a = q::quantize(x, q::Fp8BlockQuantizer::kPerBlockCastUe8m0);
  const q::Fp8BlockWeight b = q::quantize(x, q::Fp8BlockQuantizer::kDeepGemmPerBlockCastUe8m0Bump);
  EXPECT_EQ(a.scale_inv[0], std::ldexp(1.0f, -20));
  EXPECT_EQ(b.scale_inv[0], std::ldexp(1.0f, -19));
  EXPECT_EQ(a.codes[0], 0x7E);  // 448.0000x rounds to 448 in torch's cast
  EXPECT_EQ(a.codes[1], 0xFE);
  EXPECT_EQ(b.codes[0], 0x76);  // 224
  // An all-zero block: amax 1e-4 -> 1e-4/448 = 2.2e-7 -> 2^-22 by both forms.
  const RowMatrixXf z = RowMatrixXf::Zero(1, 1);
  EXPECT_EQ(q::quantize(z, q::Fp8BlockQuantizer::kPerBlockCastUe8m0).scale_inv[0], std::ldexp(1.0f, -22));
  EXPECT_EQ(q::quantize(z, q::Fp8BlockQuantizer::kDeepGemmPerBlockCastUe8m0Bump).scale_inv[0], std::ldexp(1.0f, -22));
}

TEST(Fp8Block, RequantToUe8m0) {
  // Codes 448 and 1 with s = 3: W_dq = 1344, 3; amax/448 = 3 -> 4; 1344/4 = 336 is a tie between
  // 320 and 352 and goes to even 320; 3/4 = 0.75.
  q::Fp8BlockWeight w;
  w.rows = 1;
  w.cols = 2;
  w.codes = {0x7E, 0x38};
  w.scale_inv = {3.0f};
  const q::Fp8BlockWeight r = q::requant_weight_ue8m0(w);
  EXPECT_EQ(r.scale_inv[0], 4.0f);
  EXPECT_EQ(r.codes[0], 0x7A);
  EXPECT_EQ(r.codes[1], 0x34);
  EXPECT_EQ(q::quantize(q::dequantize_row_major(r), q::Fp8BlockQuantizer::kPerBlockCastUe8m0).codes, r.codes);
}

TEST(Fp8Block, DequantizeWholeAndByRows) {
  // Non-square 1 x 2 blocks, so that a swapped block index shows: scale grid [3, 2].
  q::Fp8BlockWeight w;
  w.rows = 3;
  w.cols = 3;
  w.block_rows = 1;
  w.block_cols = 2;
  w.codes = {0x38, 0x40, 0x30,   //  1,  2, 0.5
             0xB8, 0x00, 0x7E,   // -1,  0, 448
             0x38, 0x38, 0x38};  //  1,  1, 1
  w.scale_inv = {1.0f, 2.0f, 0.5f, 4.0f, 3.0f, 0.25f};
  RowMatrixXf expected(3, 3);
  expected << 1, 2, 1, -0.5f, 0, 1792, 3, 3, 0.25f;
  EXPECT_EQ(q::dequantize_row_major(w), expected);
  const Eigen::MatrixXf col_major = q::dequantize(w);
  EXPECT_EQ(RowMatrixXf(col_major), expected);
  std::vector<float> rows(2 * 3, -1.0f);
  q::dequantize_rows(w, 1, 3, rows.data());
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rows[r * 3 + c], expected(r + 1, c));
  q::dequantize_rows(w, 2, 2, nullptr);  // an empty range writes nothing
  expect_invalid([&] { q::dequantize_rows(w, 2, 4, rows.data()); }, {"range", "rows = 3", "[2, 4)"});
  expect_invalid([&] { q::dequantize_rows(w, 0, 1, nullptr); }, {"out", "nullptr"});
}

TEST(Fp8Block, ExpertSlicesOfAFusedTensor) {
  // E = 2, rows = 130, cols = 3: scale_inv [2, 2, 1].
  std::vector<std::uint8_t> codes(2 * 130 * 3);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = std::uint8_t(0x30 + (i % 16));
  const std::vector<float> scales = {1, 2, 4, 8};
  const q::Fp8BlockWeight e1 = q::fp8_block_expert(codes, scales, 2, 130, 3, 1);
  EXPECT_EQ(e1.rows, 130);
  EXPECT_EQ(e1.codes[0], codes[130 * 3]);
  EXPECT_EQ(e1.scale_inv, (std::vector<float>{4, 8}));
  EXPECT_EQ(q::dequantize_row_major(e1)(129, 2), fmt::decode(fmt::Format::kE4m3fn, codes.back()) * 8.0f);
  expect_invalid([&] { q::fp8_block_expert(codes, scales, 2, 130, 3, 2); }, {"expert", "< 2", "found 2"});
  expect_invalid([&] { q::fp8_block_expert(codes, {scales.data(), 3}, 2, 130, 3, 0); },
                 {"weight_scale_inv size", "= 4", "found 3"});
  expect_invalid([&] { q::fp8_block_expert({codes.data(), 10}, scales, 2, 130, 3, 0); },
                 {"weight size", "= 780", "found 10"});
}

TEST(Fp8Block, ValidateNamesTheField) {
  q::Fp8BlockWeight w;
  w.rows = 129;
  w.cols = 4;
  w.codes.assign(129 * 4, 0);
  w.scale_inv.assign(1, 1.0f);
  expect_invalid([&] { q::dequantize(w); }, {"scale_inv size", "[2, 1] = 2", "found 1"});
  w.scale_inv.assign(2, 1.0f);
  w.codes.pop_back();
  expect_invalid([&] { q::dequantize(w); }, {"codes size", "= 516", "found 515"});
  w.codes.push_back(0);
  w.block_cols = 0;
  expect_invalid([&] { q::dequantize(w); }, {"block_cols", "> 0", "found 0"});
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(2, 2), q::Fp8BlockQuantizer::kPerBlockCast, 0, 128); },
                 {"block_rows", "found 0"});
}

TEST(Fp8Block, RoundTripErrorBound) {
  const RowMatrixXf x = random_matrix(200, 300, 0.02f, 33);
  for (auto qz : {q::Fp8BlockQuantizer::kDeepSeekWeightQuant, q::Fp8BlockQuantizer::kPerBlockCast,
                  q::Fp8BlockQuantizer::kPerBlockCastUe8m0, q::Fp8BlockQuantizer::kDeepGemmPerBlockCastUe8m0Bump,
                  q::Fp8BlockQuantizer::kDeepGemmPerBlockCast}) {
    const q::Fp8BlockWeight w = q::quantize(x, qz);
    const RowMatrixXf back = q::dequantize_row_major(w);
    for (int r = 0; r < 200; ++r)
      for (int c = 0; c < 300; ++c) {
        const float s = w.scale_inv[std::size_t((r / 128) * 3 + c / 128)];
        const float bound = std::max(std::fabs(x(r, c)) * 0.0625f, std::ldexp(s, -10)) * 1.0001f;
        ASSERT_LE(std::fabs(back(r, c) - x(r, c)), bound) << int(qz) << " " << r << " " << c;
      }
    EXPECT_GT(back.norm(), 0.0f);
  }
}
