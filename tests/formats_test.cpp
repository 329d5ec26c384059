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
      std::uint32_t expected = c.code;
      // fnuz formats have no -0: there is no such code to start from.
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
      {Format::kE2m1, Rounding::kSatfinite},   {Format::kBf16, Rounding::kRne},
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
          if (c == 0 && (f == Format::kE4m3fnuz || f == Format::kE5m2fnuz)) return 0u;
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

// ---- names ----------------------------------------------------------------------------------

TEST(Names, ParseEveryNameAndRejectUnknown) {
  for (Format f : fmt::kAllFormats) EXPECT_EQ(fmt::parse_format(fmt::name(f)), f);
  for (Rounding r : fmt::kAllRoundings) EXPECT_EQ(fmt::parse_rounding(fmt::name(r)), r);
  EXPECT_FALSE(fmt::parse_format("e4m3"));
  EXPECT_FALSE(fmt::parse_rounding("nearest"));
  EXPECT_EQ(fmt::rounding_names(Format::kE8m0), "ceil, ceil_nosat, floor, even, torch");
  EXPECT_EQ(fmt::encoders().size(), 16u);
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
