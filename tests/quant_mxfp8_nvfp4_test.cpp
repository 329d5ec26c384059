// MXFP8 activations (reference/quant/mxfp8.h; spec §3.9, §5) and NVFP4 (reference/quant/nvfp4.h;
// spec §3.10): hand-computed blocks, the all-zero-block results of each path, the approximate
// reciprocal, the global-scale conventions, round trips and errors.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "reference/formats.h"
#include "reference/quant.h"
#include "tests/quant_test_support.h"

namespace fmt = moecheck::reference::formats;
namespace q = moecheck::reference::quant;
using moecheck::test::expect_invalid;
using moecheck::test::random_matrix;
using q::Mxfp8Quantizer;
using q::Nvfp4Quantizer;
using q::RowMatrixXf;

namespace {

std::uint8_t nibble(const q::Nvfp4Tensor& t, std::int64_t r, std::int64_t c) {
  const std::uint8_t b = t.packed(r, c / 2);
  return c % 2 == 0 ? (b & 0x0F) : (b >> 4);
}

}  // namespace

// ---- MXFP8 ------------------------------------------------------------------------------------

TEST(Mxfp8, AllZeroBlockPerPath) {
  const RowMatrixXf x = RowMatrixXf::Zero(2, 64);
  const q::Mxfp8Tensor fi = q::quantize(x, Mxfp8Quantizer::kFlashinfer);
  EXPECT_TRUE((fi.scales.array() == 0x00).all());
  EXPECT_TRUE((fi.codes.array() == 0x7E).all()) << "flashinfer: rcp(2^-127) = inf, 0 · inf = NaN, clamp -> 448";
  EXPECT_EQ(q::dequantize(fi)(0, 0), 448.0f * std::ldexp(1.0f, -127));  // not zero
  const q::Mxfp8Tensor nc = q::quantize(x, Mxfp8Quantizer::kFlashinferNoClamp);
  EXPECT_TRUE((nc.codes.array() == 0x7F).all());
  EXPECT_TRUE(std::isnan(q::dequantize(nc)(1, 63)));
  const q::Mxfp8Tensor tk = q::quantize(x, Mxfp8Quantizer::kTritonKernels);
  EXPECT_TRUE((tk.scales.array() == 0x00).all());
  EXPECT_TRUE((tk.codes.array() == 0x00).all());
  const q::Mxfp8Tensor vt = q::quantize(x, Mxfp8Quantizer::kVllmTorchFallback);
  EXPECT_TRUE((vt.scales.array() == 0x01).all()) << "amax clamped to FLT_MIN = 2^-126";
  EXPECT_TRUE((vt.codes.array() == 0x00).all());
}

TEST(Mxfp8, FlashinferAndTritonHandValues) {
  RowMatrixXf x = RowMatrixXf::Zero(2, 32);
  x(0, 0) = 448;
  x(0, 1) = -1.5f;
  x(1, 0) = 449;  // SF = 449 · rcp(448) > 1 -> scale 2; 449 / 2 = 224.5 -> 224
  x(1, 1) = 3;
  for (Mxfp8Quantizer qz : {Mxfp8Quantizer::kFlashinfer, Mxfp8Quantizer::kFlashinferNoClamp, Mxfp8Quantizer::kTritonKernels}) {
    const q::Mxfp8Tensor t = q::quantize(x, qz);
    EXPECT_EQ(t.scales(0, 0), 127) << int(qz);
    EXPECT_EQ(t.codes(0, 0), 0x7E);
    EXPECT_EQ(t.codes(0, 1), 0xBC);
    EXPECT_EQ(t.scales(1, 0), 128);
    EXPECT_EQ(t.codes(1, 0), 0x76);
    EXPECT_EQ(t.codes(1, 1), 0x3C);  // 1.5
    EXPECT_EQ(q::dequantize(t)(1, 1), 3.0f);
  }
}

TEST(Mxfp8, FlashinferAndTritonDifferBelowTheE8m0Range) {
  // amax = 2^-130: flashinfer's SF rounds up to e8m0 byte 0 (2^-127), whose rcp flushes to inf:
  // every code saturates to 0x7E. triton_kernels' bit ceiling turns the subnormal ds into 2^-126
  // (byte 1) and quantizes exactly: 2^-130 · 2^126 = 2^-4.
  RowMatrixXf x = RowMatrixXf::Zero(1, 32);
  x(0, 0) = std::ldexp(1.0f, -130);
  const q::Mxfp8Tensor fi = q::quantize(x, Mxfp8Quantizer::kFlashinfer);
  EXPECT_EQ(fi.scales(0, 0), 0x00);
  EXPECT_EQ(fi.codes(0, 0), 0x7E);
  EXPECT_EQ(fi.codes(0, 1), 0x7E);
  const q::Mxfp8Tensor tk = q::quantize(x, Mxfp8Quantizer::kTritonKernels);
  EXPECT_EQ(tk.scales(0, 0), 0x01);
  EXPECT_EQ(tk.codes(0, 0), 0x18);
  EXPECT_EQ(tk.codes(0, 1), 0x00);
  EXPECT_EQ(q::dequantize(tk)(0, 0), x(0, 0));
}

// Row `row` of t has scale byte `scale` and the codes given as (column, code).
void expect_block(const q::Mxfp8Tensor& t, int row, std::uint8_t scale,
                  std::initializer_list<std::pair<int, std::uint8_t>> codes) {
  EXPECT_EQ(t.scales(row, 0), scale) << "row " << row;
  for (const auto& [col, code] : codes) EXPECT_EQ(t.codes(row, col), code) << "row " << row << " column " << col;
}

TEST(Mxfp8, VllmTorchFallbackDoesNotSubtractEmax) {
  RowMatrixXf x = RowMatrixXf::Zero(2, 32);
  x(0, 0) = 3;       // floor(log2 3) = 1: byte 128, 3 / 2 = 1.5
  x(0, 1) = -1;      // -0.5
  x(1, 0) = 1000;    // floor(log2 1000) = 9: byte 136, 1000 / 512 = 1.953 -> 2
  x(1, 1) = -0.5f;   // -2^-10: a tie between 0 and the smallest subnormal 2^-9 -> -0
  const q::Mxfp8Tensor t = q::quantize(x, Mxfp8Quantizer::kVllmTorchFallback);
  expect_block(t, 0, 128, {{0, 0x3C}, {1, 0xB0}});
  expect_block(t, 1, 136, {{0, 0x40}, {1, 0x80}});
  // flashinfer would use 2^ceil(log2(1000/448)) = 4 for the same block.
  EXPECT_EQ(q::quantize(x, Mxfp8Quantizer::kFlashinfer).scales(1, 0), 129);
}

TEST(Mxfp8, VllmCeilPutsTheAmaxAtTheTopOfE4m3) {
  RowMatrixXf x = RowMatrixXf::Zero(3, 32);
  x(0, 0) = 1000;   // ceil(log2(1000/448)) = 2: byte 129, 1000 / 4 = 250 -> 256 (0x78)
  x(0, 1) = 0.001f;  // 0.00025 is below half the smallest subnormal 2^-9 -> +0
  x(1, 0) = 448;    // 448 / 448 = 1 exactly: log2 = 0, byte 127, the amax itself 448 (0x7E)
  x(1, 1) = -3;     // -1.5 · 2^1 (0xC4)
  // row 2 all zero: FLT_MIN / 448 -> ceil(log2) = -135, clamped: byte 0, codes 0
  const q::Mxfp8Tensor t = q::quantize(x, Mxfp8Quantizer::kVllmCeil);
  expect_block(t, 0, 129, {{0, 0x78}, {1, 0x00}});
  expect_block(t, 1, 127, {{0, 0x7E}, {1, 0xC4}});
  expect_block(t, 2, 0, {{0, 0x00}, {17, 0x00}, {31, 0x00}});
  // Just above 448: the next power of two, so that nothing saturates.
  x(1, 0) = std::nextafter(448.0f, 1000.0f);
  EXPECT_EQ(q::quantize(x, Mxfp8Quantizer::kVllmCeil).scales(1, 0), 128);
}

TEST(Mxfp8, FusedSwigluQuantizerLosesTheSmallElementsOfABlock) {
  // The same block under both of vLLM's gfx950 quantizers: GEMM1's input (kVllmCeil) keeps an
  // element 2^-12 of the amax; GEMM2's fused SwiGLU quantizer (amax in [1, 2)) sends it to zero.
  RowMatrixXf x = RowMatrixXf::Zero(2, 32);
  x(0, 0) = 1.5f;               // floor(log2 1.5) = 0: byte 127, 1.5 (0x3C)
  x(0, 1) = std::ldexp(1.5f, -12);  // 1.5 · 2^-12 < 2^-10: +0 under the fused rule
  x(0, 2) = std::ldexp(1.0f, -7);   // a subnormal under the fused rule
  // row 1 all zero: max(0, 1e-30) -> floor(log2) = -100, byte 27
  const q::Mxfp8Tensor f = q::quantize(x, Mxfp8Quantizer::kSwigluOaiFused);
  expect_block(f, 0, 127, {{0, 0x3C}, {1, 0x00}, {2, 0x04}});  // 2^-7 = 4 · 2^-9, the subnormal step
  expect_block(f, 1, 27, {});
  const q::Mxfp8Tensor c = q::quantize(x, Mxfp8Quantizer::kVllmCeil);
  EXPECT_EQ(c.scales(0, 0), 119);  // ceil(log2(1.5 / 448)) = -8
  EXPECT_EQ(q::dequantize(c)(0, 1), x(0, 1));  // 1.5 · 2^-4 after scaling: exact in e4m3
  EXPECT_EQ(q::dequantize(c)(0, 2), x(0, 2));
}

TEST(Mxfp8, RoundTripsAndBounds) {
  const RowMatrixXf x = random_matrix(8, 128, 4.0f, 51);
  for (Mxfp8Quantizer qz : {Mxfp8Quantizer::kFlashinfer, Mxfp8Quantizer::kFlashinferNoClamp,
                            Mxfp8Quantizer::kTritonKernels, Mxfp8Quantizer::kVllmTorchFallback,
                            Mxfp8Quantizer::kVllmCeil}) {
    const q::Mxfp8Tensor t = q::quantize(x, qz);
    const RowMatrixXf d = q::dequantize(t);
    // Values survive a second pass for the ROUND_UP paths (see below for the vLLM fallback).
    if (qz != Mxfp8Quantizer::kVllmTorchFallback) {
      EXPECT_TRUE(q::dequantize(q::quantize(d, qz)) == d) << int(qz);
    }
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 128; ++c) {
        const float s = fmt::e8m0_value(t.scales(r, c / 32));
        ASSERT_LE(std::fabs(d(r, c) - x(r, c)), std::max(std::fabs(x(r, c)) * 0.0625f, std::ldexp(s, -10)))
            << int(qz) << " " << r << " " << c;
      }
    EXPECT_GT(d.norm(), 0.0f);
  }
}

TEST(Mxfp8, VllmFallbackCanChangeValuesOnASecondPass) {
  // amax 1.99: byte 127, 1.99 rounds to 2.0; 0.01 -> 5 · 2^-9. Second pass: amax 2 -> byte 128,
  // 5 · 2^-10 is a tie between 2 and 3 subnormal steps -> 2 · 2^-9 · 2 = 2^-7.
  RowMatrixXf x = RowMatrixXf::Zero(1, 32);
  x(0, 0) = 1.99f;
  x(0, 1) = 0.01f;
  const q::Mxfp8Tensor a = q::quantize(x, Mxfp8Quantizer::kVllmTorchFallback);
  EXPECT_EQ(a.scales(0, 0), 127);
  EXPECT_EQ(a.codes(0, 0), 0x40);
  EXPECT_EQ(a.codes(0, 1), 0x05);
  const q::Mxfp8Tensor b = q::quantize(q::dequantize(a), Mxfp8Quantizer::kVllmTorchFallback);
  EXPECT_EQ(b.scales(0, 0), 128);
  EXPECT_EQ(b.codes(0, 1), 0x02);
  EXPECT_EQ(q::dequantize(b)(0, 1), std::ldexp(1.0f, -7));
}

TEST(Mxfp8, ApproximateAndIeeeScaleGiveTheSameByteNearEveryPowerOfTwo) {
  // flashinfer's SF = amax · rcp(448) and IEEE amax / 448 differ by at most an ulp; near 448 · 2^k
  // the spacing of amax is coarser than that, so the e8m0 ceiling always agrees.
  RowMatrixXf x = RowMatrixXf::Zero(221 * 129, 32);
  Eigen::Index n = 0;
  for (int k = -140; k <= 80; ++k) {
    float v = std::ldexp(448.0f, k);
    for (int i = 0; i < 64; ++i) v = std::nextafter(v, 0.0f);
    for (int i = 0; i < 129; ++i, v = std::nextafter(v, 1e38f)) x(n++, 0) = v;
  }
  const q::Mxfp8Tensor t = q::quantize(x, Mxfp8Quantizer::kFlashinfer);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    ASSERT_EQ(t.scales(r, 0), fmt::e8m0_ceil(x(r, 0) / 448.0f)) << x(r, 0);
}

TEST(Mxfp8, BadShapes) {
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(1, 48), Mxfp8Quantizer::kFlashinfer); }, {"multiple of 32", "K = 48"});
  q::Mxfp8Tensor t = q::quantize(RowMatrixXf::Ones(2, 64), Mxfp8Quantizer::kFlashinfer);
  t.scales.resize(2, 1);
  expect_invalid([&] { q::dequantize(t); }, {"scales shape", "[2, 2]", "[2, 1]"});
}

// ---- NVFP4 ------------------------------------------------------------------------------------

TEST(Nvfp4, GlobalScaleConventions) {
  const q::Nvfp4GlobalScale m = q::nvfp4_global_scale_modelopt(0.5f);
  EXPECT_EQ(m.quant, 2.0f);
  EXPECT_EQ(m.dequant, 0.5f);
  const q::Nvfp4GlobalScale c = q::nvfp4_global_scale_compressed_tensors(2.0f);
  EXPECT_EQ(c.quant, 2.0f);
  EXPECT_EQ(c.dequant, 0.5f);
  // 1 / (1 / x) need not be x: both numbers are kept.
  const float x = 3.0f / 7.0f;
  const q::Nvfp4GlobalScale r = q::nvfp4_global_scale_modelopt(x);
  EXPECT_EQ(r.dequant, x);
  EXPECT_EQ(r.quant, 1.0f / x);
}

TEST(Nvfp4, HandComputedBlocks) {
  RowMatrixXf x = RowMatrixXf::Zero(3, 16);
  const float b0[5] = {6, -3, 1.5f, 0.5f, 0.25f};
  for (int i = 0; i < 5; ++i) x(0, i) = b0[i];
  x(1, 0) = 12;  // SF = 12 · rcp(6) = 2 -> 0x40; out = rcp(2)
  x(1, 1) = -5;  // -2.5 -> -2
  x(2, 0) = 3;   // with gs = 2 (below): SF = 2 · (3 · rcp(6)) = 1, out = rcp(1 · rcp(2)) = 2
  for (Nvfp4Quantizer qz : {Nvfp4Quantizer::kVllmCuda, Nvfp4Quantizer::kFlashinfer, Nvfp4Quantizer::kFlashinferNoFastMath,
                            Nvfp4Quantizer::kReferenceEmulation}) {
    const q::Nvfp4Tensor t = q::quantize(x, qz, {1.0f, 1.0f});
    EXPECT_EQ(t.block_scales(0, 0), 0x38) << int(qz);
    EXPECT_EQ(t.packed(0, 0), 0xD7);  // 6 -> 7, -3 -> 0xD
    EXPECT_EQ(t.packed(0, 1), 0x13);  // 1.5 -> 3, 0.5 -> 1
    EXPECT_EQ(t.packed(0, 2), 0x00);  // 0.25 ties to 0
    EXPECT_EQ(t.block_scales(1, 0), 0x40);
    EXPECT_EQ(nibble(t, 1, 0), 7);
    EXPECT_EQ(nibble(t, 1, 1), 0xC);
    const q::Nvfp4Tensor g = q::quantize(x, qz, q::nvfp4_global_scale_modelopt(0.5f));
    EXPECT_EQ(g.block_scales(2, 0), 0x38);
    EXPECT_EQ(nibble(g, 2, 0), 7);
    EXPECT_EQ(q::dequantize(g)(2, 0), 3.0f);  // 6 · 1 · 0.5
    EXPECT_EQ(q::dequantize(g, q::Nvfp4Dequant::kReferenceEmulation)(2, 0), 3.0f);  // 6 · (1 / 2)
  }
}

TEST(Nvfp4, ZeroAndUnderflowingBlocks) {
  // Block 0: all zero. Block 1: amax 0.001 with gs = 1: SF = 1.7e-4 rounds to e4m3 0.
  RowMatrixXf x = RowMatrixXf::Zero(1, 32);
  x(0, 16) = 0.001f;
  x(0, 17) = -0.0005f;
  for (Nvfp4Quantizer qz : {Nvfp4Quantizer::kVllmCuda, Nvfp4Quantizer::kFlashinfer, Nvfp4Quantizer::kFlashinferNoFastMath,
                            Nvfp4Quantizer::kReferenceEmulation}) {
    const q::Nvfp4Tensor t = q::quantize(x, qz, {1.0f, 1.0f});
    EXPECT_EQ(t.block_scales(0, 0), 0x00) << int(qz);
    EXPECT_EQ(t.block_scales(0, 1), 0x00) << int(qz);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(t.packed(0, i), 0x00) << int(qz);
  }
  // vLLM tests sff != 0 -> out 0; flashinfer tests amax != 0 -> out = rcp(0) = inf: nonzero
  // elements saturate to ±6 and 0 · inf = NaN is taken as +6; the IEEE variant caps out at
  // FLT_MAX, so zeros stay zero; the torch reference guards 1/0 -> 0.
  const q::Nvfp4Tensor v = q::quantize(x, Nvfp4Quantizer::kVllmCuda, {1.0f, 1.0f});
  const q::Nvfp4Tensor f = q::quantize(x, Nvfp4Quantizer::kFlashinfer, {1.0f, 1.0f});
  const q::Nvfp4Tensor n = q::quantize(x, Nvfp4Quantizer::kFlashinferNoFastMath, {1.0f, 1.0f});
  const q::Nvfp4Tensor r = q::quantize(x, Nvfp4Quantizer::kReferenceEmulation, {1.0f, 1.0f});
  // -0.0005 · 0 = -0: the CUDA cvt keeps the sign (code 8); the torch reference's
  // cast_to_fp4 multiplies by torch.sign(-0.) = 0 and gives +0.
  EXPECT_EQ(v.packed(0, 8), 0x80);
  EXPECT_EQ(r.packed(0, 8), 0x00);
  EXPECT_EQ(f.packed(0, 8), 0xF7);
  EXPECT_EQ(f.packed(0, 9), 0x77);
  EXPECT_EQ(n.packed(0, 8), 0xF7);
  EXPECT_EQ(n.packed(0, 9), 0x00);
}

TEST(Nvfp4, BlockScaleSaturatesAt448) {
  RowMatrixXf x = RowMatrixXf::Zero(1, 16);
  x(0, 0) = 6;
  x(0, 1) = 1;
  for (Nvfp4Quantizer qz : {Nvfp4Quantizer::kVllmCuda, Nvfp4Quantizer::kReferenceEmulation}) {
    const q::Nvfp4Tensor t = q::quantize(x, qz, {1000.0f, 0.001f});
    EXPECT_EQ(t.block_scales(0, 0), 0x7E) << int(qz);
  }
}

TEST(Nvfp4, CudaPathAndTorchReferenceDifferInTheReciprocal) {
  // gs = 3.7: the CUDA path's rcp.approx(sff · rcp.approx(gs)) and the reference's IEEE
  // 1 / (sff · (1 / gs)) differ by an ulp for some block scales, which moves elements next to the
  // e2m1 ties. Each path is checked against its own formula; at least one code must differ.
  const float gs = 3.7f;
  RowMatrixXf x(64, 16 * 8);
  for (int r = 0; r < 64; ++r)
    for (int b = 0; b < 8; ++b) {
      const float amax = 0.3f + 0.071f * float(r * 8 + b);
      x(r, b * 16) = amax;
      const float ties[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
      for (int i = 1; i < 16; ++i) {
        const float sff = fmt::decode(fmt::Format::kE4m3fn, fmt::e4m3fn_satfinite(gs * (amax * fmt::rcp_approx_ftz(6.0f))));
        float v = ties[i % 7] * sff / gs;
        for (int k = 0; k < (i / 7) * 2; ++k) v = std::nextafter(v, (i % 2) ? 1e30f : -1e30f);
        x(r, b * 16 + i) = v;
      }
    }
  const q::Nvfp4Tensor a = q::quantize(x, Nvfp4Quantizer::kVllmCuda, {gs, 1.0f / gs});
  const q::Nvfp4Tensor b = q::quantize(x, Nvfp4Quantizer::kReferenceEmulation, {gs, 1.0f / gs});
  int differ = 0;
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < x.cols(); ++c) {
      const float sff = fmt::decode(fmt::Format::kE4m3fn, a.block_scales(r, c / 16));
      EXPECT_EQ(nibble(a, r, c), fmt::e2m1_satfinite(x(r, c) * fmt::rcp_approx_ftz(sff * fmt::rcp_approx_ftz(gs))));
      EXPECT_EQ(nibble(b, r, c), fmt::e2m1_satfinite(std::clamp(x(r, c) * (1.0f / (sff * (1.0f / gs))), -6.0f, 6.0f)));
      differ += nibble(a, r, c) != nibble(b, r, c);
    }
  EXPECT_GT(differ, 0);
}

TEST(Nvfp4, NoFastMathMultipliesAmaxLast) {
  // SF = amax · (gs · (1/6)) in the IEEE variant against gs · (amax · rcp(6)) in the fast one:
  // amax next to the values whose SF is an e4m3 tie.
  const float gs = 3.7f;
  RowMatrixXf x = RowMatrixXf::Zero(8 * 8 * 17, 16);
  Eigen::Index n = 0;
  for (int e = -3; e < 5; ++e)
    for (int j = 0; j < 8; ++j) {
      float v = (1.0f + float(2 * j + 1) / 16.0f) * std::ldexp(1.0f, e) * 6.0f / gs;
      for (int k = 0; k < 8; ++k) v = std::nextafter(v, 0.0f);
      for (int k = 0; k < 17; ++k, v = std::nextafter(v, 1e30f)) x(n++, 0) = v;
    }
  const q::Nvfp4Tensor a = q::quantize(x, Nvfp4Quantizer::kFlashinferNoFastMath, {gs, 1.0f / gs});
  int differ = 0;
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const float amax = x(r, 0);
    EXPECT_EQ(a.block_scales(r, 0), fmt::e4m3fn_satfinite(amax * (gs * (1.0f / 6.0f))));
    differ += a.block_scales(r, 0) != fmt::e4m3fn_satfinite(gs * (amax * (1.0f / 6.0f)));
  }
  EXPECT_GT(differ, 0);
}

TEST(Nvfp4, DequantOrdersDiffer) {
  // (e2m1 · sf) · RN(1/3) against e2m1 · RN(sf / 3).
  q::Nvfp4Tensor t;
  t.rows = 1;
  t.cols = 16 * 126;
  t.global_scale = {3.0f, 1.0f / 3.0f};
  t.packed.resize(1, t.cols / 2);
  t.block_scales.resize(1, t.cols / 16);
  for (int i = 0; i < t.cols / 2; ++i) t.packed(0, i) = std::uint8_t(0x10 * ((i + 1) % 8) + (i % 8));
  for (int b = 0; b < t.cols / 16; ++b) t.block_scales(0, b) = std::uint8_t(b + 1);
  const RowMatrixXf m = q::dequantize(t), r = q::dequantize(t, q::Nvfp4Dequant::kReferenceEmulation);
  int differ = 0;
  for (int c = 0; c < t.cols; ++c) {
    const float e = fmt::decode(fmt::Format::kE2m1, nibble(t, 0, c));
    const float sf = fmt::decode(fmt::Format::kE4m3fn, t.block_scales(0, c / 16));
    EXPECT_EQ(m(0, c), (e * sf) * (1.0f / 3.0f));
    EXPECT_EQ(r(0, c), e * (sf / 3.0f));
    differ += m(0, c) != r(0, c);
  }
  EXPECT_GT(differ, 0);
}

TEST(Nvfp4, RoundTripAndBadShapes) {
  const RowMatrixXf x = random_matrix(4, 64, 2.0f, 52);
  const q::Nvfp4GlobalScale gs = q::nvfp4_global_scale_modelopt(x.cwiseAbs().maxCoeff() / (6.0f * 448.0f));
  for (Nvfp4Quantizer qz : {Nvfp4Quantizer::kVllmCuda, Nvfp4Quantizer::kReferenceEmulation}) {
    const q::Nvfp4Tensor t = q::quantize(x, qz, gs);
    const RowMatrixXf d = q::dequantize(t);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 64; ++c) {
        const float unit = fmt::decode(fmt::Format::kE4m3fn, t.block_scales(r, c / 16)) * gs.dequant;
        ASSERT_LE(std::fabs(d(r, c) - x(r, c)), 1.0001f * unit + 1e-6f) << r << " " << c;
      }
    EXPECT_GT(d.norm(), 0.0f);
  }
  expect_invalid([&] { q::quantize(RowMatrixXf::Ones(1, 24), Nvfp4Quantizer::kVllmCuda, {}); }, {"multiple of 16", "K = 24"});
  q::Nvfp4Tensor t = q::quantize(x, Nvfp4Quantizer::kVllmCuda, gs);
  t.block_scales.resize(4, 3);
  expect_invalid([&] { q::dequantize(t); }, {"block_scales shape", "[4, 4]", "[4, 3]"});
}

// ---- the table-driven MX weights (mx.h) -------------------------------------------------------------

namespace {
namespace mq = moecheck::reference::quant;  // NOLINT(misc-unused-alias-decls)
}  // namespace

// MXFP6 checkpoints: amax 3.5 = 1.75·2^1 gives floor code 128, scale 128 - emax; elements are the
// Quark rounding of x / 2^(scale-127), packed four in three bytes; dequantization gives them back
// exactly, element by element.
TEST(MxWeights, Mxfp6QuantizerFollowsTheOcpFloorRule) {
  for (const mq::WeightScheme scheme : {mq::WeightScheme::kMxfp6E3m2W6A16, mq::WeightScheme::kMxfp6E2m3W6A16}) {
    const mq::SchemeSpec& spec = mq::spec(scheme);
    const bool e3m2 = scheme == mq::WeightScheme::kMxfp6E3m2W6A16;
    mq::RowMatrixXf x = mq::RowMatrixXf::Zero(2, 64);
    for (int k = 0; k < 64; ++k) x(0, k) = (k % 8 - 4) * 0.4375f;  // amax 1.75 in block 0 and 1
    x(0, 3) = 3.5f;
    // Row 1: an all-zero block (scale code 0, zero codes) and a tiny one below 2^(emax-127).
    x(1, 40) = 1e-38f;
    const mq::SchemeStorage s = spec.quantize(spec, x);
    ASSERT_EQ(s.codes.size(), 2u * 48u);
    ASSERT_EQ(s.scale_bytes.size(), 4u);
    const int emax = e3m2 ? 4 : 2;
    EXPECT_EQ(s.scale_bytes[0], 128 - emax);
    EXPECT_EQ(s.scale_bytes[1], 127 - emax);
    EXPECT_EQ(s.scale_bytes[2], 0);
    EXPECT_EQ(s.scale_bytes[3], 0);
    std::vector<float> out(2 * 64);
    mq::mx_dequantize_rows(spec, s, 2, 64, 0, 2, out.data());
    for (int k = 0; k < 64; ++k) {
      const float scale = std::ldexp(1.0f, s.scale_bytes[k / 32] - 127);
      const std::uint8_t code = e3m2 ? fmt::e3m2_quark(x(0, k) / scale) : fmt::e2m3_quark(x(0, k) / scale);
      EXPECT_EQ(out[static_cast<std::size_t>(k)], fmt::decode(*spec.elements().format, code) * scale) << k;
      EXPECT_EQ(mq::packed_code(s.codes.data(), k, mq::kFp6Bytes), code) << k;
    }
    for (int k = 0; k < 32; ++k) EXPECT_EQ(out[static_cast<std::size_t>(64 + k)], 0.0f);
    // The values the grid holds exactly come back exactly.
    EXPECT_EQ(out[3], 3.5f);
  }
}

// MXFP8 checkpoints are triton_kernels' downcast; the table's dequantization equals mxfp8.h's.
TEST(MxWeights, Mxfp8StorageDequantizesAsTheMxfp8Tensor) {
  const mq::SchemeSpec& spec = mq::spec(mq::WeightScheme::kMxfp8W8A16);
  mq::RowMatrixXf x(3, 96);
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 96; ++k) x(r, k) = static_cast<float>((r * 37 + k * 11) % 29 - 14) * 0.173f;
  const mq::SchemeStorage s = spec.quantize(spec, x);
  const mq::Mxfp8Tensor t = mq::quantize(x, mq::Mxfp8Quantizer::kTritonKernels);
  const mq::RowMatrixXf expected = mq::dequantize(t);
  std::vector<float> out(3 * 96);
  mq::mx_dequantize_rows(spec, s, 3, 96, 0, 3, out.data());
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 96; ++k) EXPECT_EQ(out[static_cast<std::size_t>(r * 96 + k)], expected(r, k)) << r << "," << k;
  EXPECT_THROW(mq::mx_dequantize_rows(spec, s, 3, 96, 2, 4, out.data()), std::invalid_argument);
}

// The table's NVFP4 row: its checkpoint quantizer is ref_nvfp4_quant with gs = 1 / weight_scale_2, and its
// dequantization is the emulation kernel's e2m1 · (ue4m3 · weight_scale_2), which differs from ModelOpt's
// (e2m1 · ue4m3) · weight_scale_2 at most by one rounding (one fp32 ulp of the element).
TEST(Nvfp4Weights, TableRowDequantizesInTheEmulationKernelsOrder) {
  const mq::SchemeSpec& spec = mq::spec(mq::WeightScheme::kNvfp4W4A16);
  mq::RowMatrixXf x(4, 64);
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 64; ++k) x(r, k) = static_cast<float>((r * 37 + k * 11) % 29 - 14) * 0.0173f;
  const mq::SchemeStorage s = spec.quantize(spec, x);
  ASSERT_EQ(s.scales.size(), 1u);
  float amax = 0.0f;
  for (int i = 0; i < x.size(); ++i) amax = std::fmax(amax, std::fabs(x.data()[i]));
  EXPECT_EQ(s.scales[0], amax / (6.0f * 448.0f));
  const mq::Nvfp4Tensor t =
      mq::quantize(x, mq::Nvfp4Quantizer::kReferenceEmulation, mq::nvfp4_global_scale_modelopt(s.scales[0]));
  ASSERT_EQ(s.codes.size(), static_cast<std::size_t>(t.packed.size()));
  EXPECT_TRUE(std::equal(s.codes.begin(), s.codes.end(), t.packed.data()));
  EXPECT_TRUE(std::equal(s.scale_bytes.begin(), s.scale_bytes.end(), t.block_scales.data()));
  std::vector<float> out(4 * 64);
  mq::nvfp4_dequantize_rows(spec, s, 4, 64, 0, 4, out.data());
  const float* e2m1 = fmt::decode_table(fmt::Format::kE2m1);
  const float* e4m3 = fmt::decode_table(fmt::Format::kE4m3fn);
  const mq::RowMatrixXf modelopt = mq::dequantize(t, mq::Nvfp4Dequant::kModelOpt);
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 64; ++k) {
      const std::uint8_t byte = t.packed(r, k / 2);
      const float code = e2m1[k % 2 == 0 ? byte & 0x0F : byte >> 4];
      const float expected = code * (e4m3[t.block_scales(r, k / 16)] * s.scales[0]);
      EXPECT_EQ(out[static_cast<std::size_t>(r * 64 + k)], expected) << r << "," << k;
      const float m = modelopt(r, k);
      EXPECT_LE(std::fabs(out[static_cast<std::size_t>(r * 64 + k)] - m), std::fabs(m) * 0x1p-23f) << r << "," << k;
    }
  mq::SchemeStorage two = s;
  two.scales.push_back(1.0f);
  EXPECT_THROW(mq::nvfp4_dequantize_rows(spec, two, 4, 64, 0, 4, out.data()), std::invalid_argument);
}

// The 128x4 swizzle (vLLM swizzle_blockscale: [M/128, 4, 32, K/4, 4] permuted to (0, 1, 4, 3, 2, 5)): a
// bijection of the padded extents, its inverse returns the plain scales, and a few offsets by hand.
TEST(SwizzledScales, Layout128x4IsVllmsPermutation) {
  EXPECT_EQ(mq::swizzled_extents(2880, 90).rows, 2944);  // bugs.md B14 (#35497): 2880 rows padded to 2944
  EXPECT_EQ(mq::swizzled_extents(2880, 90).cols, 92);    // #2898: 90 groups padded to 92
  EXPECT_EQ(mq::swizzled_offset(0, 0, 8), 0);
  EXPECT_EQ(mq::swizzled_offset(0, 1, 8), 1);
  EXPECT_EQ(mq::swizzled_offset(32, 0, 8), 4);    // (row / 32) % 4 = 1
  EXPECT_EQ(mq::swizzled_offset(1, 0, 8), 16);    // row % 32 = 1
  EXPECT_EQ(mq::swizzled_offset(0, 4, 8), 512);   // the next column tile
  EXPECT_EQ(mq::swizzled_offset(128, 0, 8), 1024);  // the next row tile, after both column tiles
  const std::int64_t rows = 150, cols = 6;
  const mq::SwizzledExtents x = mq::swizzled_extents(rows, cols);
  std::vector<bool> seen(static_cast<std::size_t>(x.size()), false);
  for (std::int64_t r = 0; r < x.rows; ++r)
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const std::int64_t o = mq::swizzled_offset(r, c, x.cols);
      ASSERT_GE(o, 0);
      ASSERT_LT(o, x.size());
      EXPECT_FALSE(seen[static_cast<std::size_t>(o)]) << r << "," << c;
      seen[static_cast<std::size_t>(o)] = true;
    }
  std::vector<std::uint8_t> plain(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(i * 7 + 3);
  std::vector<std::uint8_t> swizzled(static_cast<std::size_t>(x.size()), 0xAB);
  mq::swizzle_128x4(plain.data(), rows, cols, swizzled);
  EXPECT_EQ(mq::unswizzle_128x4(swizzled.data(), rows, cols), plain);
  // The tile padding keeps what the buffer held (the caller's poison).
  EXPECT_EQ(swizzled[static_cast<std::size_t>(mq::swizzled_offset(149, 7, x.cols))], 0xAB);
  EXPECT_EQ(swizzled[static_cast<std::size_t>(mq::swizzled_offset(200, 0, x.cols))], 0xAB);
}
