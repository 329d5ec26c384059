// FP8 schemes with per-tensor / per-column / per-token / per-token-group scales, the MoE w13
// requantization and the ROCm fnuz normalization (reference/quant/fp8.h, fnuz.h;
// spec/numerics.md §3.1–§3.4, §3.6, §3.12). Expectations are hand-computed on exactly
// representable inputs; every claim about an operation kind (division vs reciprocal-multiply,
// IEEE vs div.full, log2 vs exponent bump, clamp order) is paired with a check that the
// alternative would have given a different answer on the same input.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "reference/formats.h"
#include "reference/quant.h"
#include "tests/quant_test_support.h"

namespace fmt = moecheck::reference::formats;
namespace q = moecheck::reference::quant;
using moecheck::test::expect_invalid;
using moecheck::test::random_matrix;
inline std::mt19937 rng(std::uint32_t salt) { return moecheck::test::seeded_rng(salt); }
using fmt::Format;
using q::RowMatrixXf;
using q::RowMatrixXu8;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }
float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }

RowMatrixXf row(std::initializer_list<float> v) {
  RowMatrixXf m(1, Eigen::Index(v.size()));
  Eigen::Index i = 0;
  for (float x : v) m(0, i++) = x;
  return m;
}

// Expects std::invalid_argument whose message contains every fragment.


// ---- §3.1 static per-tensor -------------------------------------------------------------------

TEST(Fp8Static, PerTensorExactValues) {
  const RowMatrixXf x = row({1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -0.0f});
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorStatic{0.5f});
  // x · (1/0.5) = 2, -4, 1, 6, 0, -0.
  const std::uint8_t expected[] = {0x40, 0xC8, 0x38, 0x4C, 0x00, 0x80};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.codes(0, i), expected[i]) << i;
  EXPECT_EQ(r.layout, q::Fp8ScaleLayout::kPerTensor);
  EXPECT_EQ(r.scales(0, 0), 0.5f);
  const RowMatrixXf back = q::dequantize(r);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits(back(0, i)), bits(x(0, i))) << i;
}

TEST(Fp8Static, SaturatesAt448AndNanBecomes448) {
  const RowMatrixXf x = row({448, 449, 464, 465, -1000, kInf, -kInf, kNan});
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorStatic{1.0f});
  // fmaxf(-448, fminf(v, 448)): NaN -> fminf gives 448.
  const std::uint8_t expected[] = {0x7E, 0x7E, 0x7E, 0x7E, 0xFE, 0x7E, 0xFE, 0x7E};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r.codes(0, i), expected[i]) << i;
}

TEST(Fp8Static, MultipliesByTheReciprocalNotDivides) {
  // scale = 3: find an input where x · RN(1/3) and x / 3 fall on different fp8 codes.
  const float s = 3.0f, inv = 1.0f / s;
  int discriminating = 0;
  RowMatrixXf x(1, 4096);
  for (int i = 0; i < 4096; ++i) {
    // Values next to the ties of the fp8 grid between 1 and 2 (ties at 1 + (2j+1)/16), times 3.
    const float tie = 1.0f + float(2 * (i % 8) + 1) / 16.0f;
    x(0, i) = std::nextafter(tie * s, (i / 8) % 2 ? kInf : -kInf);
    for (int k = 0; k < (i / 16) % 4; ++k) x(0, i) = std::nextafter(x(0, i), (i / 8) % 2 ? kInf : -kInf);
  }
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorStatic{s});
  for (int i = 0; i < 4096; ++i) {
    EXPECT_EQ(r.codes(0, i), fmt::e4m3fn_satfinite(x(0, i) * inv)) << i;
    discriminating += fmt::e4m3fn_satfinite(x(0, i) * inv) != fmt::e4m3fn_satfinite(x(0, i) / s);
  }
  EXPECT_GT(discriminating, 0) << "the inputs do not tell x*(1/s) from x/s";
}

TEST(Fp8Static, PerColumnScales) {
  RowMatrixXf x(2, 3);
  x << 2, 2, 2, -8, 1, 448;
  Eigen::RowVectorXf s(3);
  s << 1.0f, 0.25f, 2.0f;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerColumnStatic{s});
  EXPECT_EQ(r.layout, q::Fp8ScaleLayout::kPerColumn);
  // column 0: x / 1; column 1: x · 4; column 2: x · 0.5.
  EXPECT_EQ(r.codes(0, 0), 0x40);  // 2
  EXPECT_EQ(r.codes(0, 1), 0x50);  // 8
  EXPECT_EQ(r.codes(0, 2), 0x38);  // 1
  EXPECT_EQ(r.codes(1, 0), 0xD0);  // -8
  EXPECT_EQ(r.codes(1, 1), 0x48);  // 4
  EXPECT_EQ(r.codes(1, 2), 0x76);  // 224
  EXPECT_EQ(q::dequantize(r), x);
  expect_invalid([&] { q::quantize(x, q::Fp8PerColumnStatic{Eigen::RowVectorXf::Ones(2)}); },
                 {"scales size", "cols = 3", "found 2"});
}

// ---- §3.2 dynamic per-tensor ------------------------------------------------------------------

TEST(Fp8Dynamic, ScaleIsAmaxOver448) {
  RowMatrixXf x(2, 4);
  x << 1, -896, 3, 0.5, 448, 2, -1, 0;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorDynamic{});
  EXPECT_EQ(r.scales(0, 0), 2.0f);
  EXPECT_EQ(r.codes(0, 1), 0xFE);  // -448
  EXPECT_EQ(r.codes(1, 0), 0x76);  // 224
  EXPECT_EQ(r.codes(0, 3), 0x28);  // 0.25
  EXPECT_EQ(q::dequantize(r), x);
}

TEST(Fp8Dynamic, AllZeroTensorGives0x7EEverywhere) {
  const RowMatrixXf x = RowMatrixXf::Zero(3, 5);
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorDynamic{});
  EXPECT_EQ(r.scales(0, 0), 0.0f);
  EXPECT_TRUE((r.codes.array() == 0x7E).all()) << r.codes.cast<int>();
  // 448 · 0 = 0: harmless after dequantization.
  EXPECT_TRUE((q::dequantize(r).array() == 0.0f).all());
}

TEST(Fp8Dynamic, FnuzClampsAt224) {
  RowMatrixXf x = row({896, -896, 448, -0.0f, 1.0f});
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTensorDynamic{Format::kE4m3fnuz});
  EXPECT_EQ(r.format, Format::kE4m3fnuz);
  EXPECT_EQ(r.scales(0, 0), 4.0f);  // 896 / 224
  EXPECT_EQ(r.codes(0, 0), 0x7E);   // 224 in fnuz
  EXPECT_EQ(r.codes(0, 1), 0xFE);
  EXPECT_EQ(r.codes(0, 2), 0x76);   // 112
  EXPECT_EQ(r.codes(0, 3), 0x00);   // fnuz has no -0
  EXPECT_EQ(r.codes(0, 4), 0x30);   // 0.25 in fnuz (bias 8)
  const RowMatrixXf back = q::dequantize(r);
  EXPECT_EQ(back(0, 0), 896.0f);
  EXPECT_EQ(back(0, 4), 1.0f);
}

// ---- §3.3 per-token ---------------------------------------------------------------------------

TEST(Fp8PerToken, ScaleFloorAndUpperBound) {
  RowMatrixXf x(3, 4);
  x << 3, -1.5f, 0.75f, 0,   //
      0, 0, 0, 0,              //
      1000, 2.5f, -448, 1;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerToken{448.0f});
  EXPECT_EQ(r.layout, q::Fp8ScaleLayout::kPerRow);
  EXPECT_EQ(r.scales.rows(), 3);
  EXPECT_EQ(bits(r.scales(0, 0)), bits(3.0f / 448.0f));
  EXPECT_EQ(bits(r.scales(1, 0)), bits(1.0f / 229376.0f));  // 1 / (448 · 512)
  EXPECT_EQ(r.scales(2, 0), 1.0f);                         // min(1000, ub = 448) / 448
  EXPECT_TRUE((r.codes.row(1).array() == 0).all());
  EXPECT_EQ(r.codes(2, 0), 0x7E);  // 1000 saturates
  EXPECT_EQ(r.codes(2, 1), 0x42);  // 2.5
  EXPECT_EQ(r.codes(2, 2), 0xFE);
  EXPECT_EQ(r.codes(0, 0), 0x7E);  // 3 / (3/448) rounds to 448
  // Without the bound the last row's scale is 1000/448.
  EXPECT_EQ(bits(q::quantize(x, q::Fp8PerToken{}).scales(2, 0)), bits(1000.0f / 448.0f));
}

TEST(Fp8PerToken, DividesByTheScale) {
  // Row amaxes chosen so that s = amax/448 is not a power of two; inputs within a few ulp of the
  // fp8 ties (1 + (2j+1)/16) · 2^e scaled by s, where x / s and x · RN(1/s) can round apart.
  int discriminating = 0;
  for (int a = 0; a < 32; ++a) {
    const float amax = 300.0f + float(a) * 4.37f;
    const float s = amax / 448.0f;
    RowMatrixXf x(1, 8 * 4 * 9 + 1);
    x(0, 0) = amax;
    Eigen::Index n = 1;
    for (int j = 0; j < 8; ++j)
      for (int e = 0; e < 4; ++e) {
        float v = (1.0f + float(2 * j + 1) / 16.0f) * float(1 << e) * s;
        for (int k = 0; k < 4; ++k) v = std::nextafter(v, -kInf);
        for (int k = 0; k < 9; ++k, v = std::nextafter(v, kInf)) x(0, n++) = v;
      }
    const q::Fp8Quantized r = q::quantize(x, q::Fp8PerToken{});
    ASSERT_EQ(bits(r.scales(0, 0)), bits(s));
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      EXPECT_EQ(r.codes(0, i), fmt::e4m3fn_satfinite(std::fmin(x(0, i) / s, 448.0f))) << a << " " << i;
      discriminating += fmt::e4m3fn_satfinite(x(0, i) / s) != fmt::e4m3fn_satfinite(x(0, i) * (1.0f / s));
    }
  }
  EXPECT_GT(discriminating, 0);
}

// ---- §3.4 per-token-group ---------------------------------------------------------------------

TEST(Fp8PerTokenGroup, CudaFp32ScalesPerGroup) {
  RowMatrixXf x = RowMatrixXf::Zero(2, 256);
  x(0, 0) = 896;      // group (0,0): amax 896 -> scale 2
  x(0, 5) = -3;       // -> -1.5
  x(0, 200) = 448;    // group (0,1): scale 1
  x(1, 130) = 0.25f;  // group (1,1): scale 0.25/448
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTokenGroup{});
  EXPECT_EQ(r.layout, q::Fp8ScaleLayout::kPerRowGroup);
  ASSERT_EQ(r.scales.rows(), 2);
  ASSERT_EQ(r.scales.cols(), 2);
  EXPECT_EQ(r.scales(0, 0), 2.0f);
  EXPECT_EQ(r.scales(0, 1), 1.0f);
  EXPECT_EQ(bits(r.scales(1, 0)), bits(1e-10f / 448.0f));  // an all-zero group: amax = eps
  EXPECT_EQ(bits(r.scales(1, 1)), bits(0.25f / 448.0f));
  EXPECT_EQ(r.codes(0, 0), 0x7E);
  EXPECT_EQ(r.codes(0, 5), 0xBC);  // -1.5
  EXPECT_EQ(r.codes(0, 200), 0x7E);
  EXPECT_TRUE((r.codes.row(1).head(128).array() == 0).all());
  const RowMatrixXf back = q::dequantize(r);
  EXPECT_EQ(back(0, 0), 896.0f);
  EXPECT_EQ(back(0, 5), -3.0f);
}

TEST(Fp8PerTokenGroup, CudaClampSendsNanToMinus448) {
  // fminf(fmaxf(x / y_s, -448), 448): NaN -> -448 (the other clamp order would give +448).
  RowMatrixXf x = RowMatrixXf::Ones(1, 128);
  x(0, 3) = kNan;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTokenGroup{});
  EXPECT_EQ(bits(r.scales(0, 0)), bits(1.0f / 448.0f));  // fmaxf skips the NaN in amax
  EXPECT_EQ(r.codes(0, 3), 0xFE);
  EXPECT_EQ(r.codes(0, 0), 0x7E);
}

TEST(Fp8PerTokenGroup, Ue8m0Log2AndBumpDifferJustAboveAPowerOfTwo) {
  // amax = 7·2^-14 + 1 ulp: amax / 448 rounds to 2^-20 · (1 + 2^-23), whose fp32 log2 rounds to
  // exactly -20 (so the log2 form keeps 2^-20) while the exponent bump gives 2^-19.
  const float amax = from_bits(0x39E00001u);
  ASSERT_EQ(bits(amax / 448.0f), bits(std::ldexp(1.0f + std::ldexp(1.0f, -23), -20)));
  RowMatrixXf x = RowMatrixXf::Zero(1, 128);
  x(0, 0) = amax;
  x(0, 1) = -amax;
  const q::Fp8Quantized log2 = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Log2});
  const q::Fp8Quantized bump = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Bump});
  EXPECT_EQ(log2.scales(0, 0), std::ldexp(1.0f, -20));
  EXPECT_EQ(bump.scales(0, 0), std::ldexp(1.0f, -19));
  EXPECT_EQ(log2.codes(0, 0), 0x7E);  // 448.0000x clamps to 448
  EXPECT_EQ(log2.codes(0, 1), 0xFE);
  EXPECT_EQ(bump.codes(0, 0), 0x76);  // 224
  EXPECT_EQ(bump.codes(0, 1), 0xF6);
  // A power of two itself: both forms agree (2^-20 exactly).
  x(0, 0) = 7.0f * std::ldexp(1.0f, -14);
  x(0, 1) = 0;
  EXPECT_EQ(q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Log2}).scales(0, 0),
            q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Bump}).scales(0, 0));
}

TEST(Fp8PerTokenGroup, Ue8m0FormsAgreeOnEveryBf16Amax) {
  // Spec §3.4: for 16-bit inputs y_s = amax/448 is a power of two or >= 0.05 % away from one.
  RowMatrixXf x = RowMatrixXf::Zero(1, 128);
  int checked = 0;
  for (std::uint32_t b = 0x0080; b < 0x7F80; b += 3) {  // positive normal bf16 values
    x(0, 0) = fmt::bf16_value(std::uint16_t(b));
    const float a = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Log2}).scales(0, 0);
    const float c = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCudaUe8m0Bump}).scales(0, 0);
    ASSERT_EQ(bits(a), bits(c)) << std::hex << b;
    ++checked;
  }
  EXPECT_GT(checked, 10000);
}

TEST(Fp8PerTokenGroup, TritonUsesDivFull) {
  // y_s = div.full(amax, 448) and x / y_s through div.full. Groups of 512 probes: element 0 is the
  // group amax, the others lie within 8 ulp of fp8 ties scaled by amax / 448, where div.full and
  // the CUDA kernel's IEEE division round to different codes.
  RowMatrixXf x(32, 512);
  for (int r = 0; r < 32; ++r) {
    const float amax = 300.0f + 4.37f * float(r), s = amax / 448.0f;
    x(r, 0) = amax;
    Eigen::Index n = 1;
    for (int j = 0; j < 8 && n < 512; ++j)
      for (int e = 0; e < 4 && n < 512; ++e) {
        float v = (1.0f + float(2 * j + 1) / 16.0f) * float(1 << e) * s;
        for (int k = 0; k < 8; ++k) v = std::nextafter(v, -kInf);
        for (int k = 0; k < 16 && n < 512; ++k, v = std::nextafter(v, kInf)) x(r, n++) = v;
      }
  }
  const q::Fp8Quantized tri = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kTriton, 512});
  int code_diffs = 0;
  for (int r = 0; r < 32; ++r) {
    const float ys = fmt::div_full(x(r, 0), 448.0f);
    EXPECT_EQ(bits(tri.scales(r, 0)), bits(ys));
    for (int i = 0; i < 512; ++i) {
      EXPECT_EQ(tri.codes(r, i), fmt::e4m3fn_satfinite(fmt::div_full(x(r, i), ys)));
      code_diffs += tri.codes(r, i) != fmt::e4m3fn_satfinite(std::fmin(x(r, i) / ys, 448.0f));
    }
  }
  EXPECT_GT(code_diffs, 0) << "div.full and IEEE division agree on every probe";
  // The scale itself: div.full(amax, 448) differs from amax / 448 for some amax.
  int scale_diffs = 0;
  for (int i = 0; i < 1000; ++i) {
    const float amax = 1.0f + 0.001237f * float(i);
    scale_diffs += bits(fmt::div_full(amax, 448.0f)) != bits(amax / 448.0f);
  }
  EXPECT_GT(scale_diffs, 0);
}

TEST(Fp8PerTokenGroup, FnuzGroupsClampAt224) {
  RowMatrixXf x = RowMatrixXf::Zero(1, 128);
  x(0, 0) = 224;
  x(0, 1) = -224;
  x(0, 2) = 112;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCuda, 128, Format::kE4m3fnuz});
  EXPECT_EQ(r.scales(0, 0), 1.0f);
  EXPECT_EQ(r.codes(0, 0), 0x7E);
  EXPECT_EQ(r.codes(0, 1), 0xFE);
  EXPECT_EQ(r.codes(0, 2), 0x76);
}

TEST(Fp8PerTokenGroup, DeepSeekActQuantZeroGroupGivesNanCodes) {
  RowMatrixXf x = RowMatrixXf::Zero(1, 256);
  x(0, 128) = 448;
  x(0, 129) = -1;
  const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kDeepSeekActQuant});
  EXPECT_EQ(r.scales(0, 0), 0.0f);  // no eps
  EXPECT_TRUE((r.codes.row(0).head(128).array() == 0x7F).all());  // 0 · rcp(0) = NaN
  EXPECT_EQ(r.scales(0, 1), 1.0f);  // 448 · rcp(448) == 1
  EXPECT_EQ(r.codes(0, 128), 0x7E);
  EXPECT_EQ(r.codes(0, 129), 0xB8);
}

TEST(Fp8PerTokenGroup, BadShapes) {
  const RowMatrixXf x = RowMatrixXf::Ones(2, 100);
  expect_invalid([&] { q::quantize(x, q::Fp8PerTokenGroup{}); }, {"group_size = 128", "K = 100"});
  expect_invalid([&] { q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCuda, 0}); }, {"group_size = 0"});
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(1, 128), q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kDeepSeekActQuant, 128, Format::kE4m3fnuz}); },
                 {"format", "e4m3fn", "e4m3fnuz"});
  expect_invalid([&] { q::quantize(x, q::Fp8PerTensorDynamic{Format::kE5m2}); }, {"fp8 format", "e5m2"});
}

TEST(Fp8Quantized, ValidateNamesTheScaleShape) {
  q::Fp8Quantized r = q::quantize(RowMatrixXf::Ones(2, 256), q::Fp8PerTokenGroup{});
  r.scales.resize(2, 3);
  expect_invalid([&] { q::dequantize(r); }, {"scales shape", "expected [2, 2]", "found [2, 3]"});
  r.scales.resize(2, 2);
  r.group_size = 100;
  expect_invalid([&] { q::dequantize(r); }, {"group_size", "cols = 256", "found 100"});
}

// ---- round trips ------------------------------------------------------------------------------

TEST(Fp8RoundTrip, RequantizingTheDequantizedTensorGivesTheSameCodes) {
  const RowMatrixXf x = random_matrix(8, 256, 5.0f, 21);
  auto check = [&](auto scheme, const char* name) {
    const q::Fp8Quantized a = q::quantize(x, scheme);
    const q::Fp8Quantized b = q::quantize(q::dequantize(a), scheme);
    EXPECT_EQ(a.codes, b.codes) << name;
  };
  check(q::Fp8PerTensorDynamic{}, "per-tensor");
  check(q::Fp8PerToken{}, "per-token");
  check(q::Fp8PerTokenGroup{}, "group cuda");
  check(q::Fp8PerTensorDynamic{Format::kE4m3fnuz}, "per-tensor fnuz");
}

TEST(Fp8RoundTrip, Ue8m0GroupsKeepTheValuesButNotAlwaysTheCodes) {
  // A group whose largest element rounds down to 224 · 2^k requantizes with scale 2^(k-1): the
  // codes double, the values stay.
  RowMatrixXf x = RowMatrixXf::Zero(1, 128);
  x(0, 0) = 228;  // y_s = 228/448 -> 1; 228 -> fp8 224
  x(0, 1) = 3;
  for (auto qz : {q::Fp8GroupQuantizer::kCudaUe8m0Log2, q::Fp8GroupQuantizer::kCudaUe8m0Bump}) {
    const q::Fp8Quantized a = q::quantize(x, q::Fp8PerTokenGroup{qz});
    EXPECT_EQ(a.scales(0, 0), 1.0f);
    EXPECT_EQ(a.codes(0, 0), 0x76);
    const q::Fp8Quantized b = q::quantize(q::dequantize(a), q::Fp8PerTokenGroup{qz});
    EXPECT_EQ(b.scales(0, 0), 0.5f);
    EXPECT_EQ(b.codes(0, 0), 0x7E);
    EXPECT_EQ(q::dequantize(b), q::dequantize(a));
  }
  const RowMatrixXf y = random_matrix(8, 256, 5.0f, 23);
  for (auto qz : {q::Fp8GroupQuantizer::kCudaUe8m0Log2, q::Fp8GroupQuantizer::kCudaUe8m0Bump}) {
    const RowMatrixXf once = q::dequantize(q::quantize(y, q::Fp8PerTokenGroup{qz}));
    EXPECT_EQ(q::dequantize(q::quantize(once, q::Fp8PerTokenGroup{qz})), once);
  }
}

TEST(Fp8RoundTrip, ErrorIsWithinHalfAnFp8UlpOfTheScale) {
  const RowMatrixXf x = random_matrix(8, 256, 5.0f, 22);
  for (auto qz : {q::Fp8GroupQuantizer::kCuda, q::Fp8GroupQuantizer::kCudaUe8m0Log2, q::Fp8GroupQuantizer::kTriton}) {
    const q::Fp8Quantized r = q::quantize(x, q::Fp8PerTokenGroup{qz});
    const RowMatrixXf back = q::dequantize(r);
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 256; ++j) {
        const float s = r.scales(i, j / 128), v = std::fabs(x(i, j));
        // Relative half-ulp 2^-4 in the normal range, absolute half of 2^-9 · s below it (plus fp32 slack).
        const float bound = std::max(v * 0.0625f, std::ldexp(s, -10)) * 1.0001f;
        EXPECT_LE(std::fabs(back(i, j) - x(i, j)), bound) << i << " " << j;
      }
    EXPECT_GT(back.norm(), 0.0f);
  }
}

// ---- §3.6 w13 requantization ------------------------------------------------------------------

TEST(Fp8W13Requant, BothHalvesGoToTheLargerScale) {
  RowMatrixXu8 c1(1, 3), c3(1, 3);
  c1 << 0x40, 0x38, 0xC8;  // 2, 1, -4
  c3 << 0x38, 0x30, 0x7E;  // 1, 0.5, 448
  q::Fp8Quantized w1{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c1, RowMatrixXf::Constant(1, 1, 2.0f)};
  q::Fp8Quantized w3{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c3, RowMatrixXf::Constant(1, 1, 0.5f)};
  const q::Fp8Quantized r = q::requantize_w13_to_max_scale(w1, w3);
  ASSERT_EQ(r.codes.rows(), 2);
  EXPECT_EQ(r.scales(0, 0), 2.0f);
  EXPECT_EQ(r.codes(0, 0), 0x40);
  EXPECT_EQ(r.codes(0, 1), 0x38);
  EXPECT_EQ(r.codes(0, 2), 0xC8);
  EXPECT_EQ(r.codes(1, 0), 0x28);  // 1 · 0.5 / 2 = 0.25
  EXPECT_EQ(r.codes(1, 1), 0x20);  // 0.125
  EXPECT_EQ(r.codes(1, 2), 0x6E);  // 112
}

TEST(Fp8W13Requant, TheDequantizedProductIsFp16) {
  // s1 = 1.0625 · (1 + 2^-14), s3 = 2 (the max). w1 code 2.0: 2 · s1 = 2.125 · (1 + 2^-14) rounds
  // to 2.125 in fp16; 2.125 / 2 = 1.0625 is a tie between fp8 1.0 and 1.125 and goes to even 1.0.
  // In fp32 the product stays above the tie and would give 1.125.
  const float s1 = 1.0625f + std::ldexp(1.0625f, -14);
  RowMatrixXu8 c1(1, 1), c3(1, 1);
  c1 << 0x40;
  c3 << 0x38;
  q::Fp8Quantized w1{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c1, RowMatrixXf::Constant(1, 1, s1)};
  q::Fp8Quantized w3{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c3, RowMatrixXf::Constant(1, 1, 2.0f)};
  const q::Fp8Quantized r = q::requantize_w13_to_max_scale(w1, w3);
  EXPECT_EQ(r.codes(0, 0), 0x38);
  ASSERT_EQ(fmt::e4m3fn_satfinite(2.0f * s1 * 0.5f), 0x39) << "an fp32 product would round up";
  EXPECT_EQ(r.codes(1, 0), 0x38);
  EXPECT_EQ(q::requantize_w13_to_max_scale(w1, w3, q::W13DequantProduct::kFp16ScaleThenProduct).codes(0, 0), 0x38);
}

TEST(Fp8W13Requant, TheTwoFp16ReadingsDifferWhereTheScaleIsNotFp16) {
  // Search codes c and scales s1 < s3 = 1 for which rounding s1 to fp16 first changes the code.
  int found = 0;
  for (int k = 0; k < 4000 && found == 0; ++k) {
    const float s1 = 0.5f + float(k) * 1.2345e-4f;
    for (std::uint32_t c = 0x20; c < 0x7E; ++c) {
      RowMatrixXu8 c1(1, 1), c3(1, 1);
      c1 << std::uint8_t(c);
      c3 << 0x38;
      q::Fp8Quantized w1{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c1, RowMatrixXf::Constant(1, 1, s1)};
      q::Fp8Quantized w3{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, c3, RowMatrixXf::Constant(1, 1, 1.0f)};
      const auto a = q::requantize_w13_to_max_scale(w1, w3, q::W13DequantProduct::kFp16Product).codes(0, 0);
      const auto b = q::requantize_w13_to_max_scale(w1, w3, q::W13DequantProduct::kFp16ScaleThenProduct).codes(0, 0);
      const float v = fmt::decode(Format::kE4m3fn, c);
      EXPECT_EQ(a, fmt::e4m3fn_satfinite(fmt::decode(Format::kFp16, fmt::fp16_rne(v * s1))));
      EXPECT_EQ(b, fmt::e4m3fn_satfinite(
                       fmt::decode(Format::kFp16, fmt::fp16_rne(v * fmt::decode(Format::kFp16, fmt::fp16_rne(s1))))));
      found += a != b;
    }
  }
  EXPECT_GT(found, 0);
}

TEST(Fp8W13Requant, BadInputs) {
  q::Fp8Quantized w1 = q::quantize(RowMatrixXf::Ones(2, 4), q::Fp8PerTensorDynamic{});
  q::Fp8Quantized w3 = q::quantize(RowMatrixXf::Ones(2, 5), q::Fp8PerTensorDynamic{});
  expect_invalid([&] { q::requantize_w13_to_max_scale(w1, w3); }, {"w3 cols", "expected 4", "found 5"});
  w3 = q::quantize(RowMatrixXf::Ones(2, 4), q::Fp8PerToken{});
  expect_invalid([&] { q::requantize_w13_to_max_scale(w1, w3); }, {"w3 layout", "per-tensor"});
}

// ---- §3.12 fnuz -------------------------------------------------------------------------------

TEST(Fnuz, NormalizationKeepsEveryFiniteValue) {
  RowMatrixXu8 codes(16, 16);
  for (int i = 0; i < 256; ++i) codes.data()[i] = std::uint8_t(i);
  q::Fp8Quantized fn{Format::kE4m3fn, q::Fp8ScaleLayout::kPerTensor, 0, codes, RowMatrixXf::Constant(1, 1, 0.75f)};
  const q::Fp8Quantized fnuz = q::normalize_e4m3fn_to_e4m3fnuz(fn);
  EXPECT_EQ(fnuz.format, Format::kE4m3fnuz);
  EXPECT_EQ(fnuz.scales(0, 0), 1.5f);
  EXPECT_EQ(fnuz.codes.data()[0x80], 0x00);  // -0 in fn is NaN in fnuz
  const RowMatrixXf a = q::dequantize(fn), b = q::dequantize(fnuz);
  for (int i = 0; i < 256; ++i) {
    if (i == 0x7F || i == 0xFF) continue;  // fn NaN codes carried over as bytes (fnuz ±240)
    EXPECT_EQ(a.data()[i], b.data()[i]) << i;
    if (i != 0x80) {
      EXPECT_EQ(fnuz.codes.data()[i], i);
    }
  }
  EXPECT_EQ(q::normalize_input_scale_to_fnuz(0.25f), 0.5f);
  expect_invalid([&] { q::normalize_e4m3fn_to_e4m3fnuz(fnuz); }, {"format", "e4m3fn", "e4m3fnuz"});
}

TEST(Fnuz, BlockWeightNormalization) {
  q::Fp8BlockWeight w;
  w.rows = 2;
  w.cols = 3;
  w.codes = {0x80, 0x38, 0xC8, 0x7E, 0x01, 0x00};
  w.scale_inv = {0.5f};
  const q::Fp8BlockWeight n = q::normalize_e4m3fn_to_e4m3fnuz(w);
  EXPECT_EQ(n.format, Format::kE4m3fnuz);
  EXPECT_EQ(n.codes[0], 0x00);
  EXPECT_EQ(n.scale_inv[0], 1.0f);
  EXPECT_EQ(q::dequantize(n), q::dequantize(w));
}

// Why the ROCm fnuz paths need no rows of their own: with the clamp at 224 = 448 / 2 and every
// scale doubled, each fnuz quantizer picks the same code bytes as its fn twin (a fnuz code is
// worth half the fn one; -0 becomes +0) and dequantizes to the same fp32 values, bit for bit —
// amax / 224 = 2 · (amax / 448) and x / (2s) = (x / s) / 2 exactly in IEEE arithmetic, and the fnuz
// grid is the fn grid halved down to the subnormals. With the weights' normalization above, the
// W8A8 kernels' products and scale epilogues (powers of two apart) are the same too.
TEST(Fnuz, ActivationQuantizersDequantizeAsTheirFnTwins) {
  RowMatrixXf x = random_matrix(8, 256, 5.0f, 31);
  for (int j = 0; j < 256; ++j) x(1, j) = std::ldexp(x(1, j), -12);  // a row in the fp8 subnormals
  x(2, 0) = -0.0f;
  x(3, 5) = 1e6f;  // saturates on both
  x(4, 7) = std::numeric_limits<float>::quiet_NaN();
  const auto same = [](const q::Fp8Quantized& fn, const q::Fp8Quantized& fnuz, const char* what) {
    ASSERT_EQ(fn.codes.size(), fnuz.codes.size()) << what;
    for (Eigen::Index i = 0; i < fn.codes.size(); ++i) {
      const std::uint8_t c = fn.codes.data()[i];
      EXPECT_EQ(fnuz.codes.data()[i], c == 0x80 ? 0x00 : c) << what << " element " << i;
    }
    for (Eigen::Index i = 0; i < fn.scales.size(); ++i)
      EXPECT_EQ(fnuz.scales.data()[i], 2.0f * fn.scales.data()[i]) << what << " scale " << i;
    const RowMatrixXf a = q::dequantize(fn), b = q::dequantize(fnuz);
    for (Eigen::Index i = 0; i < a.size(); ++i)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(std::fabs(a.data()[i]) == 0 ? 0.0f : a.data()[i]),
                std::bit_cast<std::uint32_t>(std::fabs(b.data()[i]) == 0 ? 0.0f : b.data()[i]))
          << what << " element " << i;
  };
  same(q::quantize(x, q::Fp8PerTensorStatic{0.03f}), q::quantize(x, q::Fp8PerTensorStatic{0.06f, Format::kE4m3fnuz}),
       "static per tensor");
  RowMatrixXf finite = x;
  finite(4, 7) = 1.0f;  // an amax of NaN rows is not compared here
  same(q::quantize(finite, q::Fp8PerTensorDynamic{}), q::quantize(finite, q::Fp8PerTensorDynamic{Format::kE4m3fnuz}),
       "dynamic per tensor");
  same(q::quantize(finite, q::Fp8PerToken{}), q::quantize(finite, q::Fp8PerToken{std::nullopt, Format::kE4m3fnuz}),
       "per token");
  same(q::quantize(x, q::Fp8PerTokenGroup{}),
       q::quantize(x, q::Fp8PerTokenGroup{q::Fp8GroupQuantizer::kCuda, 128, Format::kE4m3fnuz}), "per token group");
}

// ---- the per-tensor weight row (scheme.h fp8_per_tensor_w8a16) ------------------------------------

// A generated part's scale is the bf16 value at or just above amax / 448 (so Marlin's cast of it to
// a 16-bit model dtype is exact and no element saturates), its codes are static_scaled_fp8_quant's
// with that scale, and the row's dequantization is code · scale in fp32.
TEST(Fp8PerTensorWeight, BfloatScaleAtOrAboveAmaxOver448AndExactDequantization) {
  const q::SchemeSpec& row = q::spec(q::WeightScheme::kFp8PerTensorW8A16);
  for (const float magnitude : {1e-3f, 0.37f, 3.0f, 900.0f}) {
    SCOPED_TRACE(magnitude);
    const RowMatrixXf x = random_matrix(7, 48, magnitude, 11);
    const q::SchemeStorage s = row.quantize(row, x);
    ASSERT_EQ(s.scales.size(), 1u);
    ASSERT_EQ(s.codes.size(), 7u * 48u);
    const float scale = s.scales[0], amax = x.cwiseAbs().maxCoeff();
    EXPECT_EQ(std::bit_cast<std::uint32_t>(scale) & 0xFFFFu, 0u) << scale;  // a bf16 value
    EXPECT_GE(scale, amax / 448.0f);
    EXPECT_LT(fmt::bf16_value(static_cast<std::uint16_t>((std::bit_cast<std::uint32_t>(scale) >> 16) - 1)),
              amax / 448.0f);  // the smallest such bf16
    const q::Fp8Quantized expected = q::quantize(x, q::Fp8PerTensorStatic{scale, Format::kE4m3fn});
    EXPECT_EQ(std::vector<std::uint8_t>(expected.codes.data(), expected.codes.data() + expected.codes.size()), s.codes);
    std::vector<float> rows(static_cast<std::size_t>(3 * 48));
    row.dequantize_rows(row, s, 7, 48, 2, 5, rows.data());
    const float* e4m3 = fmt::decode_table(Format::kE4m3fn);
    for (std::int64_t r = 2; r < 5; ++r)
      for (std::int64_t c = 0; c < 48; ++c) {
        const float v = rows[static_cast<std::size_t>((r - 2) * 48 + c)];
        EXPECT_EQ(v, e4m3[s.codes[static_cast<std::size_t>(r * 48 + c)]] * scale);
        EXPECT_LE(std::fabs(v), 448.0f * scale);
        EXPECT_NEAR(v, x(r, c), std::fabs(x(r, c)) / 16 + 448.0f * scale * 0x1p-9f) << r << " " << c;
      }
  }
  const q::SchemeStorage zero = row.quantize(row, RowMatrixXf::Zero(2, 32));
  EXPECT_EQ(zero.scales, std::vector<float>{1.0f});
  EXPECT_EQ(zero.codes, std::vector<std::uint8_t>(64, 0));
  q::SchemeStorage two = zero;
  two.scales.push_back(2.0f);
  std::vector<float> out(64);
  expect_invalid([&] { row.dequantize_rows(row, two, 2, 32, 0, 2, out.data()); }, {"fp8_per_tensor_w8a16", "weight_scale", "1 value per projection", "found 2"});
  expect_invalid([&] { row.dequantize_rows(row, zero, 2, 32, 1, 3, out.data()); }, {"fp8_per_tensor_w8a16 dequantize_rows range", "rows = 2", "[1, 3)"});
}

}  // namespace
