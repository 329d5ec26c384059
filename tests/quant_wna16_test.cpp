// Integer weight-only schemes (reference/quant/wna16.h; spec/numerics.md §3.11): vLLM's
// quantize_weights (symmetric and with zero points), the fused-MoE WNA16 dequantization, and the
// WNA16 / GPTQ v1 / AWQ packings with AWQ's interleave, by hand and by round trip.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "reference/formats.h"
#include "reference/quant.h"
#include "reference/quant/marlin.h"
#include "tests/quant_test_support.h"

namespace fmt = moecheck::reference::formats;
namespace q = moecheck::reference::quant;
using moecheck::test::expect_invalid;
using moecheck::test::expect_same;
using moecheck::test::random_int_weight;
using moecheck::test::random_matrix;
using q::RowMatrixXf;
using q::RowMatrixXu8;

TEST(Wna16, SymmetricQuantizeByHand) {
  // One row, two groups of 4. Group 0: max 1.75, min -2 -> s = max(1.75/7, 2/8) = 0.25;
  // q = 7, -8, 1, 3 (+8 stored). Group 1: max 0.375 -> s = 0.375/7... use exact ties instead:
  // max 3.5, min -1 -> s = max(0.5, 0.125) = 0.5; 0.25 / 0.5 = 0.5 ties to 0, 0.75 -> 1.5 -> 2.
  RowMatrixXf w(1, 8);
  w << 1.75f, -2.0f, 0.25f, 0.75f, 3.5f, -1.0f, 0.25f, 0.75f;
  const q::IntWeight r = q::quantize(w, q::Wna16Scheme{4, 4, false});
  EXPECT_FALSE(r.zeros.has_value());
  EXPECT_EQ(r.scales(0, 0), 0.25f);
  EXPECT_EQ(r.scales(0, 1), 0.5f);
  const std::uint8_t expected[8] = {15, 0, 9, 11, 15, 6, 8, 10};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r.codes(0, i), expected[i]) << i;
  const RowMatrixXf back = q::dequantize(r);  // (q - 8) · s
  const float values[8] = {1.75f, -2.0f, 0.25f, 0.75f, 3.5f, -1.0f, 0.0f, 1.0f};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(back(0, i), values[i]) << i;
}

// GPTQ act-order: the columns are grouped by decreasing mean square (the Hessian diagonal's
// stand-in), so group 0 holds the two largest columns wherever they are; the codes stay in place.
TEST(Wna16, ActOrderGroupsTheColumnsByImportance) {
  RowMatrixXf w(1, 4);
  w << 0.875f, -4.0f, 0.25f, 3.5f;  // by |w|: columns 1, 3 then 0, 2
  const q::IntWeight r = q::quantize(w, q::Wna16Scheme{4, 2, false, true});
  ASSERT_EQ(r.g_idx.size(), 4u);
  EXPECT_EQ(r.g_idx, (std::vector<std::int32_t>{1, 0, 1, 0}));
  EXPECT_EQ(r.scales(0, 0), 0.5f);    // group 0 = {-4, 3.5}: max(3.5/7, 4/8)
  EXPECT_EQ(r.scales(0, 1), 0.125f);  // group 1 = {0.875, 0.25}: max(0.875/7, 0.25/8)
  const RowMatrixXf back = q::dequantize(r);
  EXPECT_EQ(back(0, 1), -4.0f);
  EXPECT_EQ(back(0, 3), 3.5f);
  EXPECT_EQ(back(0, 0), 0.875f);
  EXPECT_EQ(back(0, 2), 0.25f);
  // In place, the same values group as {0.875, -4} and {0.25, 3.5}, both with scale 0.5: 0.25 is lost.
  const q::IntWeight plain = q::quantize(w, q::Wna16Scheme{4, 2, false, false});
  EXPECT_TRUE(plain.g_idx.empty());
  EXPECT_EQ(plain.scales(0, 1), 0.5f);
  EXPECT_EQ(q::dequantize(plain)(0, 2), 0.0f);
  // A g_idx that names a group the scales do not have is refused.
  q::IntWeight bad = r;
  bad.g_idx[2] = 2;
  EXPECT_THROW(q::dequantize(bad), std::invalid_argument);
}

TEST(Wna16, AsymmetricQuantizeByHand) {
  // min -0.25, max 3.5: s = 3.75 / 15 = 0.25, z = round(|-0.25 / 0.25|) = 1.
  RowMatrixXf w(1, 4);
  w << -0.25f, 3.5f, 0.0f, 1.125f;  // 1.125 / 0.25 = 4.5 ties to 4
  const q::IntWeight r = q::quantize(w, q::Wna16Scheme{4, 4, true});
  ASSERT_TRUE(r.zeros.has_value());
  EXPECT_EQ(r.scales(0, 0), 0.25f);
  EXPECT_EQ((*r.zeros)(0, 0), 1);
  const std::uint8_t expected[4] = {0, 15, 1, 5};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.codes(0, i), expected[i]) << i;
  EXPECT_EQ(q::dequantize(r)(0, 3), 1.0f);
  // A constant group: max - min = 0 is clamped to 1e-5 before the division.
  const q::IntWeight zero = q::quantize(RowMatrixXf::Zero(1, 4), q::Wna16Scheme{4, 4, true});
  EXPECT_EQ(zero.scales(0, 0), 1e-5f / 15.0f);
  EXPECT_EQ((*zero.zeros)(0, 0), 0);
  EXPECT_TRUE((zero.codes.array() == 0).all());
  // int8 channelwise (group_size -1): s = max(|max/127|, |min/-128|).
  RowMatrixXf w8(1, 3);
  w8 << 127.0f, -64.0f, 0.5f;
  const q::IntWeight r8 = q::quantize(w8, q::Wna16Scheme{8, -1, false});
  EXPECT_EQ(r8.group_size, 3);
  EXPECT_EQ(r8.scales(0, 0), 1.0f);
  EXPECT_EQ(r8.codes(0, 0), 255);
  EXPECT_EQ(r8.codes(0, 1), 64);
  EXPECT_EQ(r8.codes(0, 2), 128);  // 0.5 ties to 0
}

TEST(Wna16, AllZeroSymmetricGroup) {
  // s = 0, 0 / 0 = NaN, torch's NaN -> int32 is INT_MIN, clamped to -8: stored code 0.
  const q::IntWeight r = q::quantize(RowMatrixXf::Zero(2, 8), q::Wna16Scheme{4, 8, false});
  EXPECT_EQ(r.scales(0, 0), 0.0f);
  EXPECT_TRUE((r.codes.array() == 0).all());
  EXPECT_TRUE((q::dequantize(r).array() == 0.0f).all());
}

TEST(Wna16, DequantizeInFp32ThenCastToTheComputeDtype) {
  q::IntWeight w;
  w.rows = 1;
  w.cols = 2;
  w.bits = 4;
  w.group_size = 2;
  w.codes.resize(1, 2);
  w.codes << 11, 3;
  w.scales = RowMatrixXf::Constant(1, 1, 0.1f);
  const float fp32 = (11.0f - 8.0f) * 0.1f;
  EXPECT_EQ(q::dequantize(w)(0, 0), fp32);
  EXPECT_EQ(q::dequantize(w, q::Wna16Compute::kBf16)(0, 0), fmt::bf16_value(fmt::bf16_rne(fp32)));
  EXPECT_NE(q::dequantize(w, q::Wna16Compute::kBf16)(0, 0), fp32);
  EXPECT_EQ(q::dequantize(w, q::Wna16Compute::kFp16)(0, 1), fmt::decode(fmt::Format::kFp16, fmt::fp16_rne(-0.5f)));
  RowMatrixXu8 z(1, 1);
  z << 3;
  w.zeros = z;
  EXPECT_EQ(q::dequantize(w)(0, 1), 0.0f);
  EXPECT_EQ(q::dequantize(w)(0, 0), 8.0f * 0.1f);
}

TEST(Wna16, FusedMoeLayoutByHand) {
  q::IntWeight w;
  w.rows = 2;
  w.cols = 4;
  w.bits = 4;
  w.group_size = 4;
  w.codes.resize(2, 4);
  w.codes << 1, 2, 3, 4, 15, 0, 9, 8;
  w.scales = RowMatrixXf::Ones(2, 1);
  RowMatrixXu8 z(2, 1);
  z << 5, 10;
  w.zeros = z;
  const q::Wna16Packed p = q::pack_wna16(w);
  ASSERT_EQ(p.weight.cols(), 2);
  EXPECT_EQ(p.weight(0, 0), 0x21);  // low nibble = even k
  EXPECT_EQ(p.weight(0, 1), 0x43);
  EXPECT_EQ(p.weight(1, 0), 0x0F);
  EXPECT_EQ(p.weight(1, 1), 0x89);
  ASSERT_TRUE(p.zeros.has_value());
  ASSERT_EQ(p.zeros->rows(), 1);     // [N/2, K/g]
  EXPECT_EQ((*p.zeros)(0, 0), 0xA5);  // low nibble = even n
  expect_same(q::unpack_wna16(p), w);
}

TEST(Wna16, GptqV1PackingByHand) {
  // K = 8, N = 8, g = 8: qweight [1, 8]; word n holds codes (n, k = 0..7), nibble i = k.
  q::IntWeight w;
  w.rows = 8;
  w.cols = 8;
  w.bits = 4;
  w.group_size = 8;
  w.codes.resize(8, 8);
  for (int n = 0; n < 8; ++n)
    for (int k = 0; k < 8; ++k) w.codes(n, k) = std::uint8_t((n + k) & 15);
  w.scales = RowMatrixXf::Constant(8, 1, 0.5f);
  const q::GptqV1Checkpoint c = q::pack_gptq_v1(w);
  ASSERT_EQ(c.qweight.rows(), 1);
  ASSERT_EQ(c.qweight.cols(), 8);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(c.qweight(0, 0)), 0x76543210u);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(c.qweight(0, 9 - 8)), 0x87654321u);
  // No zero points: 8, stored as 8 - 1 = 7 in every nibble.
  EXPECT_EQ(std::bit_cast<std::uint32_t>(c.qzeros(0, 0)), 0x77777777u);
  EXPECT_EQ(c.scales.rows(), 1);
  EXPECT_EQ(c.g_idx.size(), 8);
  const q::IntWeight u = q::unpack_gptq_v1(c);
  ASSERT_TRUE(u.zeros.has_value());
  expect_same(u, w);
  // A zero point of 0 is stored as -1 & 0xF = 0xF and read back as 0.
  RowMatrixXu8 z = RowMatrixXu8::Constant(8, 1, 8);
  z(0, 0) = 0;
  z(1, 0) = 3;
  w.zeros = z;
  const q::GptqV1Checkpoint cz = q::pack_gptq_v1(w);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(cz.qzeros(0, 0)), 0x7777772Fu);
  expect_same(q::unpack_gptq_v1(cz), w);
}

TEST(Wna16, AwqInterleaveByHand) {
  // K = 1, N = 8: codes (n, 0) = n. Nibble p holds logical column [0,2,4,6,1,3,5,7][p].
  q::IntWeight w;
  w.rows = 8;
  w.cols = 1;
  w.bits = 4;
  w.group_size = 1;
  w.codes.resize(8, 1);
  for (int n = 0; n < 8; ++n) w.codes(n, 0) = std::uint8_t(n);
  w.scales = RowMatrixXf::Ones(8, 1);
  RowMatrixXu8 z(8, 1);
  for (int n = 0; n < 8; ++n) z(n, 0) = std::uint8_t(15 - n);
  w.zeros = z;
  const q::AwqCheckpoint c = q::pack_awq(w);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(c.qweight(0, 0)), 0x75316420u);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(c.qzeros(0, 0)), 0x8ACE9BDFu);
  expect_same(q::unpack_awq(c), w);
  // A plain column-order packing is not what AWQ does: unpacking it moves columns.
  q::AwqCheckpoint plain = c;
  plain.qweight(0, 0) = std::bit_cast<std::int32_t>(0x76543210u);
  EXPECT_EQ(q::unpack_awq(plain).codes(1, 0), 4);
  // No zero points: w = (q - z) · s with the default z = 8, written out.
  w.zeros.reset();
  EXPECT_EQ(std::bit_cast<std::uint32_t>(q::pack_awq(w).qzeros(0, 0)), 0x88888888u);
}

TEST(Wna16, RoundTripsOfEveryPacking) {
  for (int bits : {4, 8})
    for (bool zeros : {false, true}) {
      const q::IntWeight w = random_int_weight(16, 64, bits, 32, zeros, 61 + bits + zeros);
      const RowMatrixXf d = q::dequantize(w);
      expect_same(q::unpack_wna16(q::pack_wna16(w)), w);
      const q::IntWeight g = q::unpack_gptq_v1(q::pack_gptq_v1(w));
      EXPECT_EQ(q::dequantize(g), d) << bits << zeros;
      const q::IntWeight a = q::unpack_awq(q::pack_awq(w));
      EXPECT_EQ(q::dequantize(a), d) << bits << zeros;
      EXPECT_GT(d.norm(), 0.0f);
    }
}

TEST(Wna16, QuantizeRoundTrip) {
  const RowMatrixXf x = random_matrix(8, 128, 0.05f, 62);
  for (bool zeros : {false, true})
    for (int bits : {4, 8}) {
      const q::IntWeight a = q::quantize(x, q::Wna16Scheme{bits, 32, zeros});
      const RowMatrixXf d = q::dequantize(a);
      // Codes survive a second pass; the scale may move by an ulp (s' = fl(fl(7 s) / 7)).
      const q::IntWeight b = q::quantize(d, q::Wna16Scheme{bits, 32, zeros});
      EXPECT_EQ(b.codes, a.codes) << bits << zeros;
      for (Eigen::Index i = 0; i < a.scales.size(); ++i)
        EXPECT_NEAR(b.scales.data()[i], a.scales.data()[i], std::ldexp(a.scales.data()[i], -22));
      // Error: half a step (clamping cannot bite: the extremes map inside the code range).
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 128; ++c) ASSERT_LE(std::fabs(d(r, c) - x(r, c)), 0.5001f * a.scales(r, c / 32) + 1e-7f);
    }
}

TEST(Wna16, BadShapesNameTheField) {
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(2, 100), q::Wna16Scheme{4, 128, false}); },
                 {"group_size", "K = 100", "found 128"});
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(2, 8), q::Wna16Scheme{3, 8, false}); }, {"bits", "4 or 8", "found 3"});
  q::IntWeight w = random_int_weight(6, 16, 4, 8, true, 63);
  expect_invalid([&] { q::pack_awq(w); }, {"N", "multiple of 8", "found 6"});
  expect_invalid([&] { q::pack_wna16(random_int_weight(3, 16, 4, 8, true, 64)); }, {"even N", "found 3"});
  w.scales.resize(6, 3);
  expect_invalid([&] { q::dequantize(w); }, {"scales shape", "[6, 2]", "[6, 3]"});
  w = random_int_weight(8, 16, 4, 8, false, 65);
  w.codes(0, 0) = 16;
  expect_invalid([&] { q::dequantize(w); }, {"codes value", "<= 15", "found 16"});
  q::GptqV1Checkpoint c = q::pack_gptq_v1(random_int_weight(8, 16, 4, 8, false, 66));
  c.g_idx[3] = 1;
  expect_invalid([&] { q::unpack_gptq_v1(c); }, {"g_idx[3]", "act-order", "expected 0", "found 1"});
  c.g_idx.resize(0);
  c.qzeros.resize(1, 1);
  expect_invalid([&] { q::unpack_gptq_v1(c); }, {"qzeros shape", "[2, 1]", "[1, 1]"});
}

// The weight-scheme table's WNA16 rows: the checkpoint quantizer is quantize() stored by
// pack_wna16, and the golden's row dequantization gives dequantize()'s fp32 values for any row range.
TEST(Wna16, SchemeRowsQuantizeAndDequantizeAsTheCodec) {
  for (const q::WeightScheme scheme : {q::WeightScheme::kInt4G128W4A16, q::WeightScheme::kInt8G128W8A16}) {
    const q::SchemeSpec& s = q::spec(scheme);
    const q::Wna16Scheme w = q::wna16_scheme(s);
    EXPECT_EQ(w.bits, scheme == q::WeightScheme::kInt4G128W4A16 ? 4 : 8) << s.name;
    EXPECT_EQ(w.group_size, 128) << s.name;
    EXPECT_FALSE(w.zero_points) << s.name;
    const std::int64_t n = 6, k = 256;
    const RowMatrixXf x = random_matrix(n, k, 1.0f, 71 + w.bits);
    const q::SchemeStorage st = q::quantize_wna16_weight(s, x);
    const q::Wna16Packed p = q::pack_wna16(q::quantize(x, w));
    EXPECT_EQ(st.codes, std::vector<std::uint8_t>(p.weight.data(), p.weight.data() + p.weight.size())) << s.name;
    EXPECT_EQ(st.scales.size(), static_cast<std::size_t>(n * k / 128)) << s.name;
    EXPECT_TRUE(st.zero_points.empty()) << s.name;
    const RowMatrixXf expected = q::dequantize(q::unpack_wna16(p), q::Wna16Compute::kFp32);
    RowMatrixXf rows(3, k);
    s.dequantize_rows(s, st, n, k, 2, 5, rows.data());  // rows [2, 5)
    EXPECT_EQ(rows, expected.middleRows(2, 3)) << s.name;
    EXPECT_THROW(s.dequantize_rows(s, st, n, k, 4, 7, rows.data()), std::invalid_argument) << s.name;
  }
  EXPECT_THROW((void)q::wna16_scheme(q::spec(q::WeightScheme::kMxfp8W8A16)), std::logic_error);
}

// The zero-point rows of the table: zero points held one per byte, [N, K/g], int4 as int8 (the
// kernel layout packs int4 ones along N; scheme.cpp says why the rows need not).
TEST(Wna16, SchemeRowDequantizationReadsZeroPoints) {
  for (const q::WeightScheme id : {q::WeightScheme::kInt4G128ZpW4A16, q::WeightScheme::kInt8G128ZpW8A16}) {
    const q::SchemeSpec& s = q::spec(id);
    const q::Wna16Scheme w = q::wna16_scheme(s);
    ASSERT_TRUE(w.zero_points) << s.name;
    ASSERT_EQ(w.group_size, 128) << s.name;
    const std::int64_t n = 4, k = 256;
    const RowMatrixXf x = random_matrix(n, k, 1.0f, id == q::WeightScheme::kInt4G128ZpW4A16 ? 5 : 6);
    const q::SchemeStorage st = q::quantize_wna16_weight(s, x);
    EXPECT_EQ(st.zero_points.size(), static_cast<std::size_t>(n * k / 128)) << s.name;
    const q::IntWeight iw = q::quantize(x, w);
    RowMatrixXf all(n, k);
    q::wna16_dequantize_rows(s, st, n, k, 0, n, all.data());
    EXPECT_EQ(all, q::dequantize(iw, q::Wna16Compute::kFp32)) << s.name;
    RowMatrixXf odd(1, k);
    q::wna16_dequantize_rows(s, st, n, k, 3, 4, odd.data());
    EXPECT_EQ(odd, all.middleRows(3, 1)) << s.name;
  }
  EXPECT_EQ(q::wna16_scheme(q::spec(q::WeightScheme::kInt4G32W4A16)).group_size, 32);
  EXPECT_EQ(q::wna16_scheme(q::spec(q::WeightScheme::kInt4G64W4A16)).group_size, 64);
  EXPECT_EQ(q::wna16_scheme(q::spec(q::WeightScheme::kInt4G64W4A16Marlin)).group_size, 64);
  EXPECT_EQ(q::marlin_moe_shape_problem(128, 64), "");
  EXPECT_NE(q::marlin_moe_shape_problem(96, 64).find("H % 128"), std::string::npos);
  EXPECT_NE(q::marlin_moe_shape_problem(128, 32).find("I % 64"), std::string::npos);
}
