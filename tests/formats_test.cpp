// Unit tests of the bit-exact codecs: every code, every tie between adjacent codes, the special
// values, and the measured reference vectors of spec/numerics.md Appendix A.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "reference/formats.h"

namespace fmt = moecheck::reference::formats;
using fmt::Format;
using fmt::Rounding;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::bit_cast<float>(0x7FC00000u);
const float kNegNan = std::bit_cast<float>(0xFFC00000u);

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }
float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }
float next_up(float x) { return std::nextafter(x, kInf); }
float next_down(float x) { return std::nextafter(x, -kInf); }

// Codes of a format that are finite values, and their values.
struct Code {
  std::uint32_t code;
  float value;
};
std::vector<Code> finite_codes(Format f) {
  std::vector<Code> out;
  const std::uint32_t n = 1u << fmt::code_bits(f);
  for (std::uint32_t c = 0; c < n; ++c) {
    const float v = fmt::decode(f, c);
    if (std::isfinite(v)) out.push_back({c, v});
  }
  return out;
}

// Encoders whose zero has no sign: fnuz formats (no -0 code) and Quark's fp6 (returns +0.0).
bool zero_is_unsigned(Format f, Rounding r) {
  return f == Format::kE4m3fnuz || f == Format::kE5m2fnuz || r == Rounding::kQuark;
}

// The non-negative finite codes in increasing value (one code per value: +0 for zero).
std::vector<Code> ladder(Format f) {
  std::vector<Code> out;
  for (const Code& c : finite_codes(f)) {
    if (std::signbit(c.value)) continue;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const Code& a, const Code& b) { return a.value < b.value; });
  return out;
}

}  // namespace

// ---- decode -----------------------------------------------------------------------------------

TEST(Decode, E2m1AllCodes) {
  const float expected[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0f, -0.5, -1, -1.5, -2, -3, -4, -6};
  for (std::uint32_t c = 0; c < 16; ++c) {
    EXPECT_EQ(bits(fmt::decode(Format::kE2m1, c)), bits(expected[c])) << "code " << c;
  }
  EXPECT_THROW(fmt::decode(Format::kE2m1, 16), std::out_of_range);
}

// OCP Microscaling Formats v1.0 §5.3.2 (FP6 E3M2: bias 3, max 28; FP6 E2M3: bias 1, max 7.5;
// no inf or NaN). The magnitudes of codes 0x00..0x1F, written out from the spec's value formula;
// codes 0x20..0x3F are the same values negated (bit 5 is the sign, 0x20 is -0).
TEST(Decode, E3m2OcpTable) {
  const float magnitude[32] = {0,  0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375, 0.4375,  // E=0 subnormal, E=1
                               0.5, 0.625, 0.75,  0.875,  1,    1.25,   1.5,   1.75,    // E=2, E=3
                               2,  2.5,    3,     3.5,    4,    5,      6,     7,       // E=4, E=5
                               8,  10,     12,    14,     16,   20,     24,    28};     // E=6, E=7
  for (std::uint32_t c = 0; c < 32; ++c) {
    EXPECT_EQ(bits(fmt::decode(Format::kE3m2, c)), bits(magnitude[c])) << "code 0x" << std::hex << c;
    EXPECT_EQ(bits(fmt::decode(Format::kE3m2, c | 0x20)), bits(-magnitude[c])) << "code 0x" << std::hex << (c | 0x20);
  }
  EXPECT_EQ(fmt::decode(Format::kE3m2, 0x1F), 28.0f);    // max: E=7, M=3: 2^4 * 1.75
  EXPECT_EQ(fmt::decode(Format::kE3m2, 0x3F), -28.0f);
  EXPECT_EQ(fmt::decode(Format::kE3m2, 0x04), 0.25f);    // min normal: 2^(1-3)
  EXPECT_EQ(fmt::decode(Format::kE3m2, 0x01), 0.0625f);  // min subnormal: 2^(1-3) * 1/4
  EXPECT_EQ(bits(fmt::decode(Format::kE3m2, 0x00)), 0x00000000u);
  EXPECT_EQ(bits(fmt::decode(Format::kE3m2, 0x20)), 0x80000000u);  // -0
  EXPECT_EQ(fmt::decode(Format::kE3m2, 0x0C), 1.0f);     // E=3 = bias
  EXPECT_EQ(finite_codes(Format::kE3m2).size(), 64u);
  EXPECT_THROW(fmt::decode(Format::kE3m2, 0x40), std::out_of_range);
}

TEST(Decode, E2m3OcpTable) {
  const float magnitude[32] = {0, 0.125, 0.25,  0.375, 0.5,  0.625, 0.75, 0.875,  // E=0 subnormal
                               1, 1.125, 1.25,  1.375, 1.5,  1.625, 1.75, 1.875,  // E=1
                               2, 2.25,  2.5,   2.75,  3,    3.25,  3.5,  3.75,   // E=2
                               4, 4.5,   5,     5.5,   6,    6.5,   7,    7.5};   // E=3
  for (std::uint32_t c = 0; c < 32; ++c) {
    EXPECT_EQ(bits(fmt::decode(Format::kE2m3, c)), bits(magnitude[c])) << "code 0x" << std::hex << c;
    EXPECT_EQ(bits(fmt::decode(Format::kE2m3, c | 0x20)), bits(-magnitude[c])) << "code 0x" << std::hex << (c | 0x20);
  }
  EXPECT_EQ(fmt::decode(Format::kE2m3, 0x1F), 7.5f);    // max: E=3, M=7: 2^2 * 1.875
  EXPECT_EQ(fmt::decode(Format::kE2m3, 0x3F), -7.5f);
  EXPECT_EQ(fmt::decode(Format::kE2m3, 0x08), 1.0f);    // min normal: 2^(1-1)
  EXPECT_EQ(fmt::decode(Format::kE2m3, 0x01), 0.125f);  // min subnormal: 2^0 * 1/8
  EXPECT_EQ(bits(fmt::decode(Format::kE2m3, 0x00)), 0x00000000u);
  EXPECT_EQ(bits(fmt::decode(Format::kE2m3, 0x20)), 0x80000000u);  // -0
  EXPECT_EQ(finite_codes(Format::kE2m3).size(), 64u);
  EXPECT_THROW(fmt::decode(Format::kE2m3, 0x40), std::out_of_range);
}

TEST(Decode, E4m3fnSpecialCodes) {
  EXPECT_EQ(fmt::decode(Format::kE4m3fn, 0x7E), 448.0f);
  EXPECT_EQ(fmt::decode(Format::kE4m3fn, 0xFE), -448.0f);
  EXPECT_TRUE(std::isnan(fmt::decode(Format::kE4m3fn, 0x7F)));
  EXPECT_TRUE(std::isnan(fmt::decode(Format::kE4m3fn, 0xFF)));
  EXPECT_EQ(bits(fmt::decode(Format::kE4m3fn, 0x80)), bits(-0.0f));
  EXPECT_EQ(fmt::decode(Format::kE4m3fn, 0x08), std::ldexp(1.0f, -6));  // min normal
  EXPECT_EQ(fmt::decode(Format::kE4m3fn, 0x01), std::ldexp(1.0f, -9));  // min subnormal
  EXPECT_EQ(fmt::decode(Format::kE4m3fn, 0x38), 1.0f);
  EXPECT_EQ(finite_codes(Format::kE4m3fn).size(), 254u);
}

TEST(Decode, E4m3fnuzSpecialCodes) {
  EXPECT_EQ(fmt::decode(Format::kE4m3fnuz, 0x7F), 240.0f);
  EXPECT_EQ(fmt::decode(Format::kE4m3fnuz, 0xFF), -240.0f);
  EXPECT_TRUE(std::isnan(fmt::decode(Format::kE4m3fnuz, 0x80)));
  EXPECT_EQ(fmt::decode(Format::kE4m3fnuz, 0x08), std::ldexp(1.0f, -7));
  EXPECT_EQ(fmt::decode(Format::kE4m3fnuz, 0x01), std::ldexp(1.0f, -10));
  EXPECT_EQ(fmt::decode(Format::kE4m3fnuz, 0x40), 1.0f);
  EXPECT_EQ(finite_codes(Format::kE4m3fnuz).size(), 255u);
}

TEST(Decode, E5m2SpecialCodes) {
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0x7B), 57344.0f);
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0x7C), kInf);
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0xFC), -kInf);
  for (std::uint32_t c : {0x7Du, 0x7Eu, 0x7Fu, 0xFDu, 0xFEu, 0xFFu})
    EXPECT_TRUE(std::isnan(fmt::decode(Format::kE5m2, c))) << c;
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0x04), std::ldexp(1.0f, -14));
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(fmt::decode(Format::kE5m2, 0x3C), 1.0f);
}

TEST(Decode, E5m2fnuzSpecialCodes) {
  EXPECT_EQ(fmt::decode(Format::kE5m2fnuz, 0x7F), 57344.0f);
  EXPECT_TRUE(std::isnan(fmt::decode(Format::kE5m2fnuz, 0x80)));
  EXPECT_EQ(fmt::decode(Format::kE5m2fnuz, 0x04), std::ldexp(1.0f, -15));
  EXPECT_EQ(fmt::decode(Format::kE5m2fnuz, 0x01), std::ldexp(1.0f, -17));
  EXPECT_EQ(fmt::decode(Format::kE5m2fnuz, 0x40), 1.0f);
}

TEST(Decode, E8m0AllCodes) {
  EXPECT_EQ(bits(fmt::decode(Format::kE8m0, 0x00)), 0x00400000u);  // 2^-127, an fp32 subnormal
  for (std::uint32_t b = 1; b < 0xFF; ++b)
    EXPECT_EQ(fmt::decode(Format::kE8m0, b), std::ldexp(1.0f, int(b) - 127)) << b;
  EXPECT_TRUE(std::isnan(fmt::decode(Format::kE8m0, 0xFF)));
  EXPECT_EQ(fmt::decode(Format::kE8m0, 0x7E), 0.5f);
  EXPECT_EQ(fmt::decode(Format::kE8m0, 0xFE), std::ldexp(1.0f, 127));
}

TEST(Decode, Ue4m3IsE4m3fnBytes) {
  for (std::uint32_t c = 0; c <= 0x7E; ++c)
    EXPECT_EQ(bits(fmt::decode(Format::kUe4m3, c)), bits(fmt::decode(Format::kE4m3fn, c)));
}

TEST(Decode, Bf16AndFp16AllCodes) {
  for (std::uint32_t c = 0; c < 65536; ++c) {
    const float b = fmt::decode(Format::kBf16, c);
    EXPECT_EQ(bits(b), c << 16);
    // fp16 by a second construction: sign, exponent and mantissa with ldexp.
    const std::uint32_t e = (c >> 10) & 31, m = c & 1023;
    const float h = fmt::decode(Format::kFp16, c);
    const bool neg = c & 0x8000;
    if (e == 31) {
      EXPECT_TRUE(m ? std::isnan(h) : std::isinf(h)) << c;
    } else {
      const float v = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(1024 + m), int(e) - 25);
      EXPECT_EQ(bits(h), bits(neg ? -v : v)) << c;
    }
  }
  EXPECT_EQ(fmt::decode(Format::kFp16, 0x7BFF), 65504.0f);
  EXPECT_THROW(fmt::decode(Format::kFp16, 0x10000), std::out_of_range);
}

// ---- every code re-encodes to itself ------------------------------------------------------

TEST(RoundTrip, EveryFiniteCodeOfEveryEncoder) {
  for (const fmt::EncoderInfo& e : fmt::encoders()) {
    int checked = 0;
    for (const Code& c : finite_codes(e.format)) {
      // fnuz formats have no -0 code to start from; Quark's fp6 turns -0 into +0.
      const std::uint32_t expected = c.value == 0 && zero_is_unsigned(e.format, e.rounding) ? 0u : c.code;
      EXPECT_EQ(fmt::encode(e.format, e.rounding, c.value), expected)
          << fmt::name(e.format) << "/" << fmt::name(e.rounding) << " code 0x" << std::hex << c.code;
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

// ---- ties: the midpoint of two adjacent values rounds to the even code ------------------

TEST(Ties, MidpointsRoundToEvenAndNeighboursToNearest) {
  const std::pair<Format, Rounding> nearest[] = {
      {Format::kE4m3fn, Rounding::kSatfinite}, {Format::kE4m3fn, Rounding::kNosat},
      {Format::kE4m3fn, Rounding::kTorch},     {Format::kE4m3fnuz, Rounding::kTorch},
      {Format::kE5m2, Rounding::kSatfinite},   {Format::kE5m2, Rounding::kNosat},
      {Format::kE5m2, Rounding::kTorch},       {Format::kE5m2fnuz, Rounding::kTorch},
      {Format::kE2m1, Rounding::kSatfinite},   {Format::kE3m2, Rounding::kSatfinite},
      {Format::kE3m2, Rounding::kQuark},       {Format::kE2m3, Rounding::kSatfinite},
      {Format::kE2m3, Rounding::kQuark},       {Format::kBf16, Rounding::kRne},
      {Format::kFp16, Rounding::kRne}};
  for (auto [f, r] : nearest) {
    const std::vector<Code> up = ladder(f);
    int ties = 0;
    for (std::size_t i = 0; i + 1 < up.size(); ++i) {
      const Code lo = up[i], hi = up[i + 1];
      const float mid = lo.value + (hi.value - lo.value) / 2;  // exact: one more mantissa bit
      ASSERT_EQ(double(mid) * 2, double(lo.value) + double(hi.value));
      const std::uint32_t even = (lo.code & 1u) == 0 ? lo.code : hi.code;
      ASSERT_NE(lo.code & 1u, hi.code & 1u) << "adjacent codes differ in their last bit";
      for (float sign : {1.0f, -1.0f}) {
        const std::uint32_t sbit = sign < 0 ? (1u << (fmt::code_bits(f) - 1)) : 0u;
        auto with_sign = [&](std::uint32_t c) {
          if (c == 0 && zero_is_unsigned(f, r)) return 0u;
          return c | sbit;
        };
        EXPECT_EQ(fmt::encode(f, r, sign * mid), with_sign(even))
            << fmt::name(f) << " tie between " << lo.value << " and " << hi.value;
        EXPECT_EQ(fmt::encode(f, r, sign * next_down(mid)), with_sign(lo.code)) << fmt::name(f) << " below " << mid;
        EXPECT_EQ(fmt::encode(f, r, sign * next_up(mid)), with_sign(hi.code)) << fmt::name(f) << " above " << mid;
      }
      ++ties;
    }
    EXPECT_GT(ties, 6) << fmt::name(f);
  }
}

TEST(Ties, E2m1TableOfTheSpec) {
  // spec/numerics.md §2.8: ties go to the even code.
  const std::pair<float, float> cases[] = {{0.25f, 0.0f}, {0.75f, 1.0f}, {1.25f, 1.0f}, {1.75f, 2.0f},
                                           {2.5f, 2.0f},  {3.5f, 4.0f},  {5.0f, 4.0f},  {5.0001f, 6.0f},
                                           {0.2500001f, 0.5f}, {100.0f, 6.0f}, {kInf, 6.0f}};
  for (auto [x, v] : cases) {
    EXPECT_EQ(fmt::decode(Format::kE2m1, fmt::e2m1_satfinite(x)), v) << x;
    EXPECT_EQ(fmt::decode(Format::kE2m1, fmt::e2m1_satfinite(-x)), -v) << -x;
  }
  EXPECT_EQ(fmt::e2m1_satfinite(-0.0f), 0x8);  // the sign of zero is kept
  EXPECT_EQ(fmt::e2m1_satfinite(-0.1f), 0x8);
  EXPECT_EQ(fmt::e2m1_satfinite(kNan), 0x7);  // CUDA: NaN -> +6 whatever its sign
  EXPECT_EQ(fmt::e2m1_satfinite(kNegNan), 0x7);
}

// ---- fp6 (e3m2, e2m3): CUDA __nv_cvt_float_to_fp6 and Quark's fake_quantize_element -------------

TEST(Fp6, HandWorkedRoundingAndTies) {
  // Worked from the value tables above; ties go to the even code. Both encoders round finite
  // values the same way, and keep the sign of a nonzero result.
  struct Row {
    float x;
    std::uint8_t e3m2, e2m3;
  };
  const Row rows[] = {
      {1.0f, 0x0C, 0x08},
      {0.3f, 0x05, 0x02},      // e3m2: above 0.28125 (mid 0.25/0.3125); e2m3: below 0.3125 (mid 0.25/0.375)
      {0.0625f, 0x01, 0x00},   // e2m3: tie 0 / 0.125 -> 0x00
      {0.09375f, 0x02, 0x01},  // e3m2: tie 0.0625 (0x01) / 0.125 (0x02) -> 0x02
      {0.1875f, 0x03, 0x02},   // e2m3: tie 0.125 (0x01) / 0.25 (0x02) -> 0x02
      {0.21875f, 0x04, 0x02},  // e3m2: tie 0.1875 (0x03) / min normal 0.25 (0x04) -> 0x04
      {0.9375f, 0x0C, 0x08},   // tie 0.875 / 1.0 in both: 0x0B|0x0C -> 0x0C, 0x07|0x08 -> 0x08
      {1.125f, 0x0C, 0x09},    // e3m2: tie 1.0 (0x0C) / 1.25 (0x0D) -> 0x0C
      {7.25f, 0x17, 0x1E},     // e2m3: tie 7 (0x1E) / 7.5 (0x1F) -> 0x1E; e3m2: below 7.5 -> 7
      {7.5f, 0x18, 0x1F},      // e3m2: tie 7 (0x17) / 8 (0x18) -> 0x18; e2m3: max
      {18.0f, 0x1C, 0x1F},     // e3m2: tie 16 (0x1C) / 20 (0x1D) -> 0x1C
      {22.0f, 0x1E, 0x1F},     // e3m2: tie 20 (0x1D) / 24 (0x1E) -> 0x1E
      {26.0f, 0x1E, 0x1F},     // e3m2: tie 24 (0x1E) / 28 (0x1F) -> 0x1E
      {28.0f, 0x1F, 0x1F},     // e3m2: max
  };
  for (const Row& r : rows) {
    for (float sign : {1.0f, -1.0f}) {
      const std::uint8_t s = sign < 0 ? 0x20 : 0x00;
      const auto quark = [s](std::uint8_t c) { return c == 0 ? 0 : c | s; };  // Quark's zero is +0
      EXPECT_EQ(fmt::e3m2_satfinite(sign * r.x), r.e3m2 | s) << sign * r.x;
      EXPECT_EQ(fmt::e3m2_quark(sign * r.x), quark(r.e3m2)) << sign * r.x;
      EXPECT_EQ(fmt::e2m3_satfinite(sign * r.x), r.e2m3 | s) << sign * r.x;
      EXPECT_EQ(fmt::e2m3_quark(sign * r.x), quark(r.e2m3)) << sign * r.x;
    }
  }
  EXPECT_EQ(fmt::e3m2_satfinite(next_up(0.03125f)), 0x01);  // just above half the smallest subnormal
  EXPECT_EQ(fmt::e2m3_satfinite(next_down(0.0625f)), 0x00);
}

TEST(Fp6, CudaSaturatesAndKeepsTheSignOfZero) {
  // cuda_fp6.h: out-of-range values saturate to MAXNORM of their sign; NaN gives +MAXNORM.
  const float flt_max = std::numeric_limits<float>::max();
  const float denorm = std::numeric_limits<float>::denorm_min();
  const std::pair<float, std::uint8_t> e3m2[] = {
      {30.0f, 0x1F},   {-30.0f, 0x3F},  {29.999998f, 0x1F}, {1e30f, 0x1F},  {flt_max, 0x1F},
      {-flt_max, 0x3F}, {kInf, 0x1F},   {-kInf, 0x3F},      {kNan, 0x1F},   {kNegNan, 0x1F},
      {from_bits(0x7F800001u), 0x1F},   {from_bits(0xFFFFFFFFu), 0x1F},
      {0.0f, 0x00},    {-0.0f, 0x20},   {-0.01f, 0x20},     {-0.03125f, 0x20}, {denorm, 0x00}, {-denorm, 0x20}};
  for (auto [x, c] : e3m2) EXPECT_EQ(fmt::e3m2_satfinite(x), c) << "x bits 0x" << std::hex << bits(x);
  const std::pair<float, std::uint8_t> e2m3[] = {
      {7.75f, 0x1F},  {8.0f, 0x1F},    {-8.0f, 0x3F},  {1e30f, 0x1F},  {-flt_max, 0x3F}, {kInf, 0x1F},
      {-kInf, 0x3F},  {kNan, 0x1F},    {kNegNan, 0x1F}, {-0.0f, 0x20}, {-0.0625f, 0x20}, {-denorm, 0x20}};
  for (auto [x, c] : e2m3) EXPECT_EQ(fmt::e2m3_satfinite(x), c) << "x bits 0x" << std::hex << bits(x);
}

TEST(Fp6, QuarkZeroIsPositiveAndNonFiniteIsReadOffTheBits) {
  const float flt_max = std::numeric_limits<float>::max();
  const float denorm = std::numeric_limits<float>::denorm_min();
  // fake_quantize_element returns +0.0 for every result of magnitude 0.
  for (float x : {0.0f, -0.0f, -0.01f, -0.03125f, -denorm}) {
    EXPECT_EQ(fmt::e3m2_quark(x), 0x00) << x;
    EXPECT_EQ(fmt::e2m3_quark(x), 0x00) << x;
  }
  EXPECT_EQ(fmt::e3m2_quark(-0.05f), 0x21);  // nonzero results keep their sign
  EXPECT_EQ(fmt::e2m3_quark(-0.07f), 0x21);
  // Finite overflow is clamped to quant_max, like CUDA.
  EXPECT_EQ(fmt::e3m2_quark(30.0f), 0x1F);
  EXPECT_EQ(fmt::e3m2_quark(-flt_max), 0x3F);
  EXPECT_EQ(fmt::e2m3_quark(7.75f), 0x1F);
  EXPECT_EQ(fmt::e2m3_quark(flt_max), 0x1F);
  // inf passes fake_quantize_element unchanged; Pack_fp6 reads inf / 2^(127 - bias) = inf, bits
  // 0x7F800000: e3m2 takes bits 21..25 (0b11100), e2m3 bits 20..24 (0b11000). Not the max.
  EXPECT_EQ(fmt::e3m2_quark(kInf), 0x1C);
  EXPECT_EQ(fmt::e3m2_quark(-kInf), 0x3C);
  EXPECT_EQ(fmt::decode(Format::kE3m2, fmt::e3m2_quark(kInf)), 16.0f);
  EXPECT_EQ(fmt::e2m3_quark(kInf), 0x18);
  EXPECT_EQ(fmt::e2m3_quark(-kInf), 0x38);
  EXPECT_EQ(fmt::decode(Format::kE2m3, fmt::e2m3_quark(kInf)), 4.0f);
  // NaN: the division returns it quietened (bit 22 set), payload and sign kept.
  EXPECT_EQ(fmt::e3m2_quark(kNan), 0x1E);                      // 0x7FC00000 >> 21 = 0x3FE
  EXPECT_EQ(fmt::e3m2_quark(kNegNan), 0x3E);
  EXPECT_EQ(fmt::e3m2_quark(from_bits(0x7F800001u)), 0x1E);    // signalling: quietened to 0x7FC00001
  EXPECT_EQ(fmt::e3m2_quark(from_bits(0x7FA00000u)), 0x1F);    // quietened to 0x7FE00000
  EXPECT_EQ(fmt::e3m2_quark(from_bits(0x7FFFFFFFu)), 0x1F);
  EXPECT_EQ(fmt::e2m3_quark(kNan), 0x1C);                      // 0x7FC00000 >> 20 = 0x7FC
  EXPECT_EQ(fmt::e2m3_quark(kNegNan), 0x3C);
  EXPECT_EQ(fmt::e2m3_quark(from_bits(0x7F800001u)), 0x1C);
  EXPECT_EQ(fmt::e2m3_quark(from_bits(0x7FFFFFFFu)), 0x1F);
}

// ---- Appendix A.1: CUDA __nv_cvt_float_to_fp8 ---------------------------------------------

TEST(AppendixA1, CudaFp8Conversions) {
  struct Row {
    float x;
    std::uint8_t e4_sat, e4_nosat, e5_sat, e5_nosat;
  };
  const Row rows[] = {
      {0.0f, 0x00, 0x00, 0x00, 0x00},          {-0.0f, 0x80, 0x80, 0x80, 0x80},
      {448.0f, 0x7e, 0x7e, 0x5f, 0x5f},        {449.0f, 0x7e, 0x7e, 0x5f, 0x5f},
      {464.0f, 0x7e, 0x7e, 0x5f, 0x5f},        {464.0001f, 0x7e, 0x7f, 0x5f, 0x5f},
      {480.0f, 0x7e, 0x7f, 0x60, 0x60},        {1e30f, 0x7e, 0x7f, 0x7b, 0x7c},
      {kInf, 0x7e, 0x7f, 0x7b, 0x7c},          {-kInf, 0xfe, 0xff, 0xfb, 0xfc},
      {kNan, 0x7f, 0x7f, 0x7f, 0x7f},          {kNegNan, 0x7f, 0x7f, 0x7f, 0x7f},
      {57344.0f, 0x7e, 0x7f, 0x7b, 0x7b},      {61440.0f, 0x7e, 0x7f, 0x7b, 0x7c},
      {61441.0f, 0x7e, 0x7f, 0x7b, 0x7c},      {0.0009765625f, 0x00, 0x00, 0x14, 0x14},
      {0.00048828125f, 0x00, 0x00, 0x10, 0x10}, {0.0007f, 0x00, 0x00, 0x12, 0x12},
  };
  EXPECT_EQ(bits(464.0001f), bits(464.0f + 3 * std::ldexp(1.0f, -15)));
  for (const Row& r : rows) {
    EXPECT_EQ(fmt::e4m3fn_satfinite(r.x), r.e4_sat) << r.x;
    EXPECT_EQ(fmt::e4m3fn_nosat(r.x), r.e4_nosat) << r.x;
    EXPECT_EQ(fmt::e5m2_satfinite(r.x), r.e5_sat) << r.x;
    EXPECT_EQ(fmt::e5m2_nosat(r.x), r.e5_nosat) << r.x;
  }
}

// ---- Appendix A.2: CUDA __nv_cvt_float_to_e8m0 ---------------------------------------------

TEST(AppendixA2, CudaE8m0Conversions) {
  struct Row {
    float x;
    std::uint8_t ceil_sat, ceil_nosat, floor_sat;
  };
  const float flt_max = std::numeric_limits<float>::max();
  const Row rows[] = {
      {0.0f, 0x00, 0x00, 0x00},   {-0.0f, 0x00, 0x00, 0x00},  {1.0f, 0x7f, 0x7f, 0x7f},
      {1.5f, 0x80, 0x80, 0x7f},   {3.0f, 0x81, 0x81, 0x80},   {0.75f, 0x7f, 0x7f, 0x7e},
      {-1.0f, 0x7f, 0x7f, 0x7f},  {-3.0f, 0x81, 0x81, 0x80},  {std::ldexp(1.0f, -126), 0x01, 0x01, 0x01},
      {std::ldexp(1.0f, -127), 0x00, 0x00, 0x00},             {7e-39f, 0x01, 0x01, 0x00},
      {1.4e-45f, 0x00, 0x00, 0x00},                           {std::ldexp(1.0f, 127), 0xfe, 0xfe, 0xfe},
      {flt_max, 0xfe, 0xff, 0xfe}, {kInf, 0xfe, 0xff, 0xfe},  {kNan, 0xff, 0xff, 0xff},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(fmt::e8m0_ceil(r.x), r.ceil_sat) << r.x;
    EXPECT_EQ(fmt::e8m0_ceil_nosat(r.x), r.ceil_nosat) << r.x;
    EXPECT_EQ(fmt::e8m0_floor(r.x), r.floor_sat) << r.x;
  }
  EXPECT_EQ(bits(fmt::e8m0_value(fmt::e8m0_ceil(0.0f))), 0x00400000u);  // decode of ceil(0) = 2^-127
  EXPECT_EQ(fmt::e8m0_value(fmt::e8m0_ceil(7e-39f)), std::ldexp(1.0f, -126));
}

// ---- Appendix A.3: torch casts ----------------------------------------------------------

TEST(AppendixA3, TorchFp8Casts) {
  struct Row {
    float x;
    std::uint8_t e4m3fn, e5m2, e4m3fnuz, e5m2fnuz;
  };
  const Row rows[] = {
      {0.0f, 0x00, 0x00, 0x00, 0x00},      {-0.0f, 0x80, 0x80, 0x00, 0x00},
      {1.0f, 0x38, 0x3c, 0x40, 0x40},      {240.0f, 0x77, 0x5c, 0x7f, 0x60},
      {247.9f, 0x77, 0x5c, 0x7f, 0x60},    {248.0f, 0x78, 0x5c, 0x80, 0x60},
      {255.0f, 0x78, 0x5c, 0x80, 0x60},    {256.0f, 0x78, 0x5c, 0x80, 0x60},
      {448.0f, 0x7e, 0x5f, 0x80, 0x63},    {449.0f, 0x7e, 0x5f, 0x80, 0x63},
      {463.9f, 0x7e, 0x5f, 0x80, 0x63},    {464.0f, 0x7e, 0x5f, 0x80, 0x63},
      {464.1f, 0x7f, 0x5f, 0x80, 0x63},    {470.0f, 0x7f, 0x5f, 0x80, 0x63},
      {479.0f, 0x7f, 0x5f, 0x80, 0x63},    {480.0f, 0x7f, 0x60, 0x80, 0x64},
      {500.0f, 0x7f, 0x60, 0x80, 0x64},    {1e6f, 0x7f, 0x7c, 0x80, 0x80},
      {kInf, 0x7f, 0x7c, 0x80, 0x80},      {-kInf, 0xff, 0xfc, 0x80, 0x80},
      {kNan, 0x7f, 0x7f, 0x80, 0x80},      {-470.0f, 0xff, 0xdf, 0x80, 0xe3},
      {57344.0f, 0x7f, 0x7b, 0x80, 0x7f},  {61439.0f, 0x7f, 0x7b, 0x80, 0x7f},
      {61440.0f, 0x7f, 0x7c, 0x80, 0x80},  {61441.0f, 0x7f, 0x7c, 0x80, 0x80},
      {0.001953125f, 0x01, 0x18, 0x02, 0x1c},    {0.0009765625f, 0x00, 0x14, 0x01, 0x18},
      {0.00146484375f, 0x01, 0x16, 0x02, 0x1a},  {1.52587890625e-05f, 0x00, 0x01, 0x00, 0x02},
      {7.62939453125e-06f, 0x00, 0x00, 0x00, 0x01},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(fmt::e4m3fn_torch(r.x), r.e4m3fn) << r.x;
    EXPECT_EQ(fmt::e5m2_torch(r.x), r.e5m2) << r.x;
    EXPECT_EQ(fmt::e4m3fnuz_torch(r.x), r.e4m3fnuz) << r.x;
    EXPECT_EQ(fmt::e5m2fnuz_torch(r.x), r.e5m2fnuz) << r.x;
  }
  // Triton's saturating cast equals torch's cast of clamp(x, +-448) (spec §2.5).
  for (float x = -600.0f; x <= 600.0f; x += 0.37f) {
    const float clamped = std::fmin(std::fmax(x, -448.0f), 448.0f);
    EXPECT_EQ(fmt::e4m3fn_satfinite(x), fmt::e4m3fn_torch(clamped)) << x;
  }
}

// ---- Appendix A.4: torch e8m0 cast and decode -----------------------------------------------

TEST(AppendixA4, TorchE8m0Cast) {
  const std::pair<float, std::uint8_t> rows[] = {
      {0.0f, 0x00},    {-0.0f, 0x00}, {1.0f, 0x7f},  {1.25f, 0x7f}, {1.4999f, 0x7f},
      {1.5f, 0x80},    {1.5001f, 0x80}, {1.75f, 0x80}, {3.0f, 0x81}, {0.75f, 0x7f},
      {-1.0f, 0x7f},   {-3.0f, 0x81}, {std::ldexp(1.0f, -127), 0x00}, {std::ldexp(1.0f, -126), 0x01},
      {1e-45f, 0x00},  {3e38f, 0xff}, {kInf, 0xff}, {kNan, 0xff}};
  for (auto [x, b] : rows) EXPECT_EQ(fmt::e8m0_torch(x), b) << x;
  EXPECT_EQ(fmt::e8m0_value(0x7E), 0.5f);
  EXPECT_EQ(fmt::e8m0_value(0x7F), 1.0f);
  EXPECT_EQ(fmt::e8m0_value(0x80), 2.0f);
}

TEST(E8m0, EvenRoundsAtOneMantissaBit) {
  // Quark/AITER: the exponent goes up when the mantissa is >= 0.75 (spec §3.8).
  EXPECT_EQ(fmt::e8m0_even(1.0f), 0x7F);
  EXPECT_EQ(fmt::e8m0_even(1.7499999f), 0x7F);
  EXPECT_EQ(fmt::e8m0_even(1.75f), 0x80);
  EXPECT_EQ(fmt::e8m0_even(6.0f), 0x81);  // 6 = 1.5 * 4 -> 4
  EXPECT_EQ(fmt::e8m0_even(7.0f), 0x82);  // 7 = 1.75 * 4 -> 8
  EXPECT_EQ(fmt::e8m0_even(0.0f), 0x00);
  EXPECT_EQ(fmt::e8m0_even(std::ldexp(1.75f, -127)), 0x01);
  EXPECT_EQ(fmt::e8m0_even(std::ldexp(1.0f, 127)), 0xFE);
  EXPECT_EQ(fmt::e8m0_even(std::numeric_limits<float>::max()), 0xFE);
  EXPECT_EQ(fmt::e8m0_even(kInf), 0xFE);
  EXPECT_EQ(fmt::e8m0_even(kNan), 0xFE);                        // 0x7FC00000 + 0x200000 -> inf
  EXPECT_EQ(fmt::e8m0_even(from_bits(0x7FE00000u)), 0x00);      // carries into the sign bit
  EXPECT_EQ(fmt::e8m0_even(-3.0f), fmt::e8m0_even(3.0f));
}

TEST(E8m0, RoundingsAgreeOnPowersOfTwoAndOrderElsewhere) {
  for (int k = -127; k <= 127; ++k) {
    const float p = std::ldexp(1.0f, k);
    const std::uint8_t b = std::uint8_t(k + 127);
    EXPECT_EQ(fmt::e8m0_ceil(p), b) << k;
    EXPECT_EQ(fmt::e8m0_floor(p), b) << k;
    EXPECT_EQ(fmt::e8m0_torch(p), b) << k;
    EXPECT_EQ(fmt::e8m0_even(p), b) << k;
    if (k > -126 && k < 127) {
      const float x = p * 1.3f;  // strictly between powers of two
      EXPECT_EQ(fmt::e8m0_ceil(x), b + 1);
      EXPECT_EQ(fmt::e8m0_floor(x), b);
      EXPECT_EQ(fmt::e8m0_torch(x), b);
      EXPECT_EQ(fmt::e8m0_even(x), b);
    }
  }
}

// ---- bf16 / fp16 -------------------------------------------------------------------------

TEST(Half, Bf16AndFp16SpecialValues) {
  EXPECT_EQ(fmt::bf16_rne(1.0f), 0x3F80);
  EXPECT_EQ(fmt::bf16_rne(from_bits(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(fmt::bf16_rne(from_bits(0x3F818000u)), 0x3F82);  // tie, odd goes up
  EXPECT_EQ(fmt::bf16_rne(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(fmt::bf16_rne(-kInf), 0xFF80);
  EXPECT_EQ(fmt::bf16_rne(kNan), 0x7FFF);
  EXPECT_EQ(fmt::bf16_rne(from_bits(0x00000001u)), 0x0000);  // below half the smallest bf16 subnormal
  EXPECT_EQ(fmt::bf16_rne(from_bits(0x00008000u)), 0x0000);  // tie, even
  EXPECT_EQ(fmt::bf16_rne(from_bits(0x00018000u)), 0x0002);  // tie, odd goes up
  EXPECT_EQ(fmt::fp16_rne(65504.0f), 0x7BFF);
  EXPECT_EQ(fmt::fp16_rne(65519.996f), 0x7BFF);
  EXPECT_EQ(fmt::fp16_rne(65520.0f), 0x7C00);  // tie with 65536 -> even -> inf
  EXPECT_EQ(fmt::fp16_rne(-kInf), 0xFC00);
  EXPECT_EQ(fmt::fp16_rne(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(fmt::fp16_rne(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0 -> even
  EXPECT_EQ(fmt::fp16_rne(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(fmt::fp16_rne(-0.0f), 0x8000);
  EXPECT_EQ(fmt::fp16_rne(kNan), 0x7FFF);
}

// ---- fn -> fnuz normalisation -----------------------------------------------------------

TEST(Fnuz, NormalizationKeepsEveryValue) {
  for (std::uint32_t c = 0; c < 256; ++c) {
    const float fn = fmt::decode(Format::kE4m3fn, c);
    if (std::isnan(fn)) continue;
    const std::uint8_t z = fmt::e4m3fn_to_fnuz_code(std::uint8_t(c));
    const float fnuz = fmt::decode(Format::kE4m3fnuz, z);
    // scale * fn == (2 * scale) * fnuz, for every finite fn code (0x80 = -0 becomes +0).
    EXPECT_EQ(fn, fnuz * fmt::kFnToFnuzScaleFactor) << "code 0x" << std::hex << c;
  }
  EXPECT_EQ(fmt::e4m3fn_to_fnuz_code(0x80), 0x00);
}

// ---- bulk interfaces and packing ----------------------------------------------------------

TEST(Bulk, MatchesScalarAndChecksWidths) {
  std::vector<float> xs;
  for (int i = -2000; i <= 2000; ++i) xs.push_back(float(i) * 0.37f);
  xs.push_back(kNan);
  for (const fmt::EncoderInfo& e : fmt::encoders()) {
    if (fmt::code_bits(e.format) == 16) {
      std::vector<std::uint16_t> out(xs.size());
      fmt::encode(e.format, e.rounding, xs, out);
      for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(out[i], fmt::encode(e.format, e.rounding, xs[i]));
      std::vector<float> back(xs.size());
      fmt::decode(e.format, out, back);
      for (std::size_t i = 0; i < xs.size(); ++i)
        ASSERT_EQ(bits(back[i]), bits(fmt::decode(e.format, out[i])));
      std::vector<std::uint8_t> wrong(xs.size());
      EXPECT_THROW(fmt::encode(e.format, e.rounding, xs, wrong), std::invalid_argument);
    } else {
      std::vector<std::uint8_t> out(xs.size());
      fmt::encode(e.format, e.rounding, xs, out);
      for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(out[i], fmt::encode(e.format, e.rounding, xs[i]));
      std::vector<float> back(xs.size());
      fmt::decode(e.format, out, back);
      for (std::size_t i = 0; i < xs.size(); ++i)
        ASSERT_EQ(bits(back[i]), bits(fmt::decode(e.format, out[i])));
    }
  }
  std::vector<std::uint8_t> short_out(3);
  EXPECT_THROW(fmt::encode(Format::kE4m3fn, Rounding::kSatfinite, xs, short_out), std::invalid_argument);
  EXPECT_THROW(fmt::encode(Format::kE4m3fn, Rounding::kCeil, 1.0f), std::invalid_argument);
  EXPECT_THROW(fmt::encode(Format::kUe4m3, Rounding::kSatfinite, 1.0f), std::invalid_argument);
  const std::uint8_t bad[] = {0x10};
  std::vector<float> one(1);
  EXPECT_THROW(fmt::decode(Format::kE2m1, bad, one), std::out_of_range);
  // fp6: the low 6 bits carry the code; bit 6 or 7 set anywhere is an error, not a value.
  for (Format f : {Format::kE3m2, Format::kE2m3}) {
    const std::uint8_t good[] = {0x00, 0x1F, 0x20, 0x3F};
    std::vector<float> four(4);
    fmt::decode(f, good, four);
    EXPECT_EQ(four[1], fmt::decode(f, 0x1F));
    EXPECT_EQ(four[3], -fmt::decode(f, 0x1F));
    for (std::uint8_t stray : {std::uint8_t(0x40), std::uint8_t(0x80), std::uint8_t(0x5F)}) {
      const std::uint8_t codes[] = {0x01, stray, 0x02};
      std::vector<float> three(3);
      EXPECT_THROW(fmt::decode(f, codes, three), std::out_of_range) << fmt::name(f) << " 0x" << std::hex << int(stray);
    }
  }
}

TEST(Pack, E2m1LowNibbleIsTheEvenElement) {
  const std::uint8_t codes[] = {0x1, 0x2, 0x3, 0xF, 0x8};
  const auto packed = fmt::pack_e2m1(codes);
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(packed[0], 0x21);
  EXPECT_EQ(packed[1], 0xF3);
  EXPECT_EQ(packed[2], 0x08);
  EXPECT_EQ(fmt::unpack_e2m1(packed, 5), std::vector<std::uint8_t>(std::begin(codes), std::end(codes)));
  EXPECT_THROW(fmt::unpack_e2m1(packed, 7), std::invalid_argument);
}

TEST(Pack, Fp6FourCodesInThreeLittleEndianBytes) {
  // Worked by hand. Codes 0x2A = 101010, 0x15 = 010101, 0x3C = 111100, 0x07 = 000111 form the word
  // c0 | c1 << 6 | c2 << 12 | c3 << 18 = 0x00002A | 0x000540 | 0x03C000 | 0x1C0000 = 0x1FC56A:
  //   byte 0 = 0x6A = 01|101010    (low 2 bits of c1 | c0)
  //   byte 1 = 0xC5 = 1100|0101    (low 4 bits of c2 | high 4 bits of c1)
  //   byte 2 = 0x1F = 000111|11    (c3 | high 2 bits of c2)
  // Read back as Quark's Pack_fp6.unpack does: c0 = b0 & 63, c1 = (b1 & 15) << 2 | b0 >> 6,
  // c2 = (b2 & 3) << 4 | b1 >> 4, c3 = b2 >> 2.
  const std::uint8_t codes[] = {0x2A, 0x15, 0x3C, 0x07, 0x3F, 0x00, 0x20, 0x01};
  const auto packed = fmt::pack_fp6(codes);
  ASSERT_EQ(packed.size(), 6u);
  EXPECT_EQ(packed[0], 0x6A);
  EXPECT_EQ(packed[1], 0xC5);
  EXPECT_EQ(packed[2], 0x1F);
  // 0x3F | 0x00 << 6 | 0x20 << 12 | 0x01 << 18 = 0x04003F.
  EXPECT_EQ(packed[3], 0x3F);
  EXPECT_EQ(packed[4], 0x00);
  EXPECT_EQ(packed[5], 0x06);
  EXPECT_EQ(packed[0] & 0x3F, codes[0]);
  EXPECT_EQ((packed[1] & 0x0F) << 2 | packed[0] >> 6, codes[1]);
  EXPECT_EQ((packed[2] & 0x03) << 4 | packed[1] >> 4, codes[2]);
  EXPECT_EQ(packed[2] >> 2, codes[3]);
  EXPECT_EQ(fmt::unpack_fp6(packed, 8), std::vector<std::uint8_t>(std::begin(codes), std::end(codes)));
  EXPECT_TRUE(fmt::pack_fp6({}).empty());
  EXPECT_TRUE(fmt::unpack_fp6({}, 0).empty());
}

TEST(Pack, Fp6RoundTripsEveryCodeInEveryPosition) {
  std::vector<std::uint8_t> codes;
  for (std::uint32_t a = 0; a < 64; ++a)
    for (std::uint32_t b = 0; b < 64; b += 7)
      for (std::uint32_t pos = 0; pos < 4; ++pos)
        for (std::uint32_t k = 0; k < 4; ++k) codes.push_back(std::uint8_t(k == pos ? a : (b + 13 * k) & 0x3F));
  const auto packed = fmt::pack_fp6(codes);
  ASSERT_EQ(packed.size(), codes.size() / 4 * 3);
  EXPECT_EQ(fmt::unpack_fp6(packed, codes.size()), codes);
  // Every packed byte of all-ones codes is 0xFF, of all-zero codes 0x00: no bit is dropped or doubled.
  const std::vector<std::uint8_t> ones(8, 0x3F);
  for (std::uint8_t byte : fmt::pack_fp6(ones)) EXPECT_EQ(byte, 0xFF);
  for (std::uint8_t byte : fmt::pack_fp6(std::vector<std::uint8_t>(8, 0))) EXPECT_EQ(byte, 0x00);
}

TEST(Pack, Fp6RejectsPartialWordsAndWideCodes) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no exception)");
  };
  const std::uint8_t five[] = {1, 2, 3, 4, 5};
  EXPECT_THROW(fmt::pack_fp6(five), std::invalid_argument);
  EXPECT_EQ(message([&] { fmt::pack_fp6(five); }),
            "pack_fp6: expected a multiple of 4 codes (four 6-bit codes fill three bytes), found 5");
  const std::uint8_t wide[] = {1, 2, 3, 4, 5, 0x40, 7, 8};
  EXPECT_THROW(fmt::pack_fp6(wide), std::out_of_range);
  EXPECT_EQ(message([&] { fmt::pack_fp6(wide); }), "pack_fp6: code 5: expected a 6-bit code (0x00..0x3F), found 0x40");
  const std::uint8_t six[6] = {};
  EXPECT_THROW(fmt::unpack_fp6(six, 6), std::invalid_argument);
  EXPECT_EQ(message([&] { fmt::unpack_fp6(six, 6); }),
            "unpack_fp6: expected a count that is a multiple of 4 (four codes per three bytes), found 6");
  EXPECT_THROW(fmt::unpack_fp6(six, 4), std::invalid_argument);
  EXPECT_EQ(message([&] { fmt::unpack_fp6(six, 4); }), "unpack_fp6: 4 codes need 3 packed bytes, found 6");
  EXPECT_THROW(fmt::unpack_fp6(six, 12), std::invalid_argument);
}

// ---- names ----------------------------------------------------------------------------------

TEST(Names, ParseEveryNameAndRejectUnknown) {
  for (Format f : fmt::kAllFormats) EXPECT_EQ(fmt::parse_format(fmt::name(f)), f);
  for (Rounding r : fmt::kAllRoundings) EXPECT_EQ(fmt::parse_rounding(fmt::name(r)), r);
  EXPECT_FALSE(fmt::parse_format("e4m3"));
  EXPECT_FALSE(fmt::parse_rounding("nearest"));
  EXPECT_EQ(fmt::rounding_names(Format::kE8m0), "ceil, ceil_nosat, floor, even, torch");
  EXPECT_EQ(fmt::rounding_names(Format::kE3m2), "satfinite, quark");
  EXPECT_EQ(fmt::rounding_names(Format::kE2m3), "satfinite, quark");
  EXPECT_EQ(fmt::parse_format("e3m2"), Format::kE3m2);
  EXPECT_EQ(fmt::parse_format("e2m3"), Format::kE2m3);
  EXPECT_EQ(fmt::code_bits(Format::kE3m2), 6);
  EXPECT_EQ(fmt::code_bits(Format::kE2m3), 6);
  EXPECT_EQ(fmt::encoders().size(), 20u);
}

// ---- rcp.approx.ftz and div.full ----------------------------------------------------------

TEST(Rcp, TableHasTheMeasuredCounts) {
  ASSERT_EQ(fmt::rcp_delta_table().size(), fmt::kRcpDeltaTableBytes);
  std::size_t counts[4] = {0, 0, 0, 0};
  for (std::uint32_t i = 0; i < (1u << 23); ++i) {
    const int d = fmt::rcp_delta(i);
    ++counts[d == 0 ? 0 : d == 1 ? 1 : 2];
  }
  EXPECT_EQ(counts[0], 7280086u);
  EXPECT_EQ(counts[1], 733799u);
  EXPECT_EQ(counts[2], 374723u);
  EXPECT_EQ(fmt::rcp_delta(0), 0);
}

TEST(Rcp, MeasuredSpecialValues) {
  auto rcp = [](float x) { return bits(fmt::rcp_approx_ftz(x)); };
  EXPECT_EQ(rcp(0.0f), 0x7F800000u);
  EXPECT_EQ(rcp(-0.0f), 0xFF800000u);
  EXPECT_EQ(rcp(std::ldexp(1.0f, -127)), 0x7F800000u);
  EXPECT_EQ(rcp(-std::numeric_limits<float>::denorm_min()), 0xFF800000u);
  EXPECT_EQ(fmt::rcp_approx_ftz(std::ldexp(1.0f, -126)), std::ldexp(1.0f, 126));
  EXPECT_EQ(fmt::rcp_approx_ftz(std::ldexp(1.0f, 126)), std::ldexp(1.0f, -126));
  EXPECT_EQ(rcp(std::ldexp(1.5f, 126)), 0u);
  EXPECT_EQ(rcp(std::ldexp(1.0f, 127)), 0u);
  EXPECT_EQ(rcp(-std::ldexp(1.0f, 127)), 0x80000000u);
  EXPECT_EQ(rcp(3e38f), 0u);
  EXPECT_EQ(rcp(kInf), 0u);
  EXPECT_EQ(rcp(-kInf), 0x80000000u);
  for (std::uint32_t nan : {0x7FC00000u, 0xFFC00000u, 0x7F800001u}) EXPECT_EQ(fmt::rcp_approx_ftz_bits(nan), 0x7FFFFFFFu);
  EXPECT_EQ(rcp(6.0f), 0x3E2AAAABu);
  EXPECT_EQ(rcp(448.0f), 0x3B124925u);
  EXPECT_EQ(rcp(240.0f), 0x3B888889u);
  EXPECT_EQ(rcp(-6.0f), 0xBE2AAAABu);
  EXPECT_EQ(rcp(-448.0f), 0xBB124925u);
  EXPECT_EQ(rcp(-1.0f), 0xBF800000u);
  for (int j = -4; j <= 3; ++j) {
    EXPECT_EQ(std::ldexp(448.0f, j) * fmt::rcp_approx_ftz(448.0f), std::ldexp(1.0f, j));
    EXPECT_EQ(std::ldexp(6.0f, j) * fmt::rcp_approx_ftz(6.0f), std::ldexp(1.0f, j));
  }
  for (int k = -126; k <= 126; ++k) EXPECT_EQ(fmt::rcp_approx_ftz(std::ldexp(1.0f, k)), std::ldexp(1.0f, -k));
}

TEST(Rcp, BinadeInvariantAndWithinOneUlp) {
  for (std::uint32_t i = 0; i < (1u << 23); i += 997) {
    const float x = from_bits(0x3F800000u | i);
    const std::uint32_t r = bits(fmt::rcp_approx_ftz(x));
    const std::uint32_t ieee = bits(1.0f / x);
    EXPECT_LE(r > ieee ? r - ieee : ieee - r, 1u);
    for (int k : {-100, -20, -8, 5, 40, 100}) {
      EXPECT_EQ(fmt::rcp_approx_ftz(std::ldexp(x, k)), std::ldexp(fmt::rcp_approx_ftz(x), -k)) << i << " " << k;
    }
  }
}

TEST(DivFull, IsMultiplyByApproximateReciprocal) {
  EXPECT_EQ(fmt::div_full(1.0f, std::ldexp(1.0f, -126)), std::ldexp(1.0f, 126));
  EXPECT_EQ(fmt::div_full(1.0f, std::ldexp(1.0f, 126)), std::ldexp(1.0f, -126));
  EXPECT_EQ(fmt::div_full(1.0f, std::ldexp(1.0f, 127)), std::ldexp(1.0f, -127));   // measured
  EXPECT_EQ(fmt::div_full(1.0f, std::ldexp(1.0f, -127)), std::ldexp(1.0f, 127));   // measured
  EXPECT_EQ(fmt::div_full(3.0f, 6.0f), 3.0f * fmt::rcp_approx_ftz(6.0f));
  EXPECT_EQ(fmt::div_full(100.0f, 448.0f), 100.0f * from_bits(0x3B124925u));
}
