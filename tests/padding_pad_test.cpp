// The pad/slice operations of reference/padding/pad.h: w13 in both layouts (concatenated halves:
// real rows then zeros in each half; interleaved: padding at the tail), w2, biases, block scales
// (0x00 MXFP4, 0x01 Quark), activations (zero-padded; TRTLLM MXFP8 pads in the kernel), routing
// on the logical slice, the all-reduce then slice; the post-load end padding of bugs.md B12; and
// that every created buffer starts poisoned, so a forgotten fill shows.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "tests/padding_test_util.h"

using namespace padding_test;

namespace {

// A logical tensor whose every element is distinct and nonzero (and never poison-like for floats).
pd::Tensor<float> iota3(std::int64_t e, std::int64_t r, std::int64_t c) {
  pd::Tensor<float> t({e, r, c}, 0.0f);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = 0.001f * float(i + 1);
  return t;
}

pd::Tensor<std::uint8_t> bytes3(std::int64_t e, std::int64_t r, std::int64_t c) {
  pd::Tensor<std::uint8_t> t({e, r, c}, 0);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = std::uint8_t(0x10 + i % 0xE0);
  return t;
}

bool is_pos_zero(float x) { return std::bit_cast<std::uint32_t>(x) == 0u; }

// A plan with small sizes: gated, I = 10 -> 16 (Triton CUDA, I to 64 would be too big: use the
// unquantized method under an all-to-all for H, and a fp8 FlashInfer post-load for I).
pd::Plan mxfp4_plan(std::int64_t hidden, std::int64_t intermediate, const char* backend = "FLASHINFER_CUTLASS_MXFP4_BF16",
                    const char* plat = "cuda:sm90", const char* rs = "vllm-38043", const char* method = "mxfp4") {
  const pd::Plan p = plan(rs, method, backend, plat, sizes(hidden, intermediate, 2));
  EXPECT_TRUE(p.ok()) << p.error.value_or("");
  return p;
}

TEST(PaddingPoison, FillsNeverLookLikeAFill) {
  std::vector<float> f(4096);
  pd::poison(f, 7);
  int nan = 0, inf = 0, finite = 0;
  for (float x : f) {
    EXPECT_TRUE(pd::may_be_poison(x));
    EXPECT_FALSE(x == 0.0f);
    nan += std::isnan(x);
    inf += std::isinf(x);
    finite += std::isfinite(x);
  }
  EXPECT_GT(nan, 500);
  EXPECT_GT(inf, 500);
  EXPECT_GT(finite, 1000);
  std::vector<std::uint8_t> b(4096);
  pd::poison(b, 7);
  for (auto x : b) EXPECT_GE(x, 2);  // never 0x00 (MXFP4 fill) or 0x01 (Quark fill)
  std::vector<std::uint16_t> h(4096);
  pd::poison(h, 7);
  for (auto x : h) EXPECT_NE(x & 0x7FFF, 0);
}

TEST(PaddingPoison, SeededAndReproducible) {
  std::vector<float> a(64), b(64), c(64);
  pd::poison(a, 1);
  pd::poison(b, 1);
  pd::poison(c, 2);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
}

TEST(PaddingPadW13, ConcatenatedHalvesRealRowsThenZerosInEachHalf) {
  // CUTLASS 128/128: H 96 -> 128, I 80 -> 128. Rank holds all 80 rows.
  const pd::Plan p = mxfp4_plan(96, 80);
  ASSERT_EQ(p.hidden_padded, 128);
  ASSERT_EQ(p.intermediate_per_partition_padded, 128);
  const auto w = iota3(2, 160, 96);
  const auto out = pd::pad_w13(p, w, pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked);
  ASSERT_EQ(out.shape, (pd::Shape{2, 256, 128}));
  for (std::int64_t e = 0; e < 2; ++e)
    for (std::int64_t r = 0; r < 256; ++r)
      for (std::int64_t c = 0; c < 128; ++c) {
        const bool gate = r < 80, up = r >= 128 && r < 208;
        const float v = out.at(e, r, c);
        if ((gate || up) && c < 96) {
          EXPECT_EQ(v, w.at(e, gate ? r : r - 128 + 80, c)) << e << "," << r << "," << c;  // gate j -> j; up j -> I_pad + j
        } else {
          EXPECT_TRUE(is_pos_zero(v)) << "padding at " << e << "," << r << "," << c << " = " << v;
        }
      }
}

TEST(PaddingPadW13, InterleavedPaddingAtTheTail) {
  const pd::Plan p = mxfp4_plan(96, 80);
  const auto w = iota3(1, 160, 96);
  const auto out = pd::pad_w13(p, w, pd::W13Layout::kInterleaved, pd::Role::kWeight, pd::kUnpacked);
  ASSERT_EQ(out.shape, (pd::Shape{1, 256, 128}));
  for (std::int64_t r = 0; r < 256; ++r)
    for (std::int64_t c = 0; c < 128; ++c) {
      if (r < 160 && c < 96)
        EXPECT_EQ(out.at(0, r, c), w.at(0, r, c));  // (g_i, u_i) pairs unchanged at the top
      else
        EXPECT_TRUE(is_pos_zero(out.at(0, r, c))) << r << "," << c;
    }
}

TEST(PaddingPadW13, RankWithFewerRealRowsAndAnAllPaddingRank) {
  const pd::Plan p = mxfp4_plan(96, 80);
  const auto few = pd::pad_w13(p, iota3(1, 2 * 17, 96), pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked);
  EXPECT_EQ(few.at(0, 16, 0), 0.001f * float(16 * 96 + 1));
  EXPECT_TRUE(is_pos_zero(few.at(0, 17, 0)));
  EXPECT_EQ(few.at(0, 128 + 16, 0), 0.001f * float(33 * 96 + 1));  // up row 16 is source row 17 + 16
  const auto none = pd::pad_w13(p, pd::Tensor<float>({1, 0, 96}, 0.0f), pd::W13Layout::kConcatenated,
                                pd::Role::kWeight, pd::kUnpacked);
  for (float v : none.data) EXPECT_TRUE(is_pos_zero(v));
  EXPECT_THROW(pd::pad_w13(p, iota3(1, 2 * 129, 96), pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked),
               std::invalid_argument);  // more rows than I_pad: the #43979 copy failure
  EXPECT_THROW(pd::pad_w13(p, iota3(1, 160, 95), pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked),
               std::invalid_argument);  // wrong hidden width
}

TEST(PaddingPadScales, Mxfp4ZeroByteQuarkOneByte) {
  // CUTLASS 128/128: H 96 -> 128 (3 -> 4 scale columns), I 64 -> 128 (2 -> 4).
  const pd::Plan mx = mxfp4_plan(96, 64);
  const pd::Plan quark = mxfp4_plan(96, 64, "FLASHINFER_CUTLASS_MXFP4_BF16", "cuda:sm90", "vllm-38043", "quark_w_mxfp4");
  for (const auto& [p, fill] : {std::pair{mx, std::uint8_t{0x00}}, std::pair{quark, std::uint8_t{0x01}}}) {
    const auto s = bytes3(1, 128, 3);
    const auto out = pd::pad_w13(p, s, pd::W13Layout::kInterleaved, pd::Role::kScale, pd::kMxScaleBytes);
    ASSERT_EQ(out.shape, (pd::Shape{1, 256, 4}));
    for (std::int64_t r = 0; r < 256; ++r)
      for (std::int64_t c = 0; c < 4; ++c)
        EXPECT_EQ(out.at(0, r, c), (r < 128 && c < 3) ? s.at(0, r, c) : fill) << r << "," << c;
    const auto s2 = bytes3(1, 96, 2);
    const auto w2s = pd::pad_w2(p, s2, pd::Role::kScale, pd::kMxScaleBytes);
    ASSERT_EQ(w2s.shape, (pd::Shape{1, 128, 4}));
    for (std::int64_t r = 0; r < 128; ++r)
      for (std::int64_t c = 0; c < 4; ++c)
        EXPECT_EQ(w2s.at(0, r, c), (r < 96 && c < 2) ? s2.at(0, r, c) : fill) << r << "," << c;
    EXPECT_EQ(pd::padded_shapes(p).w2_scale, (pd::Shape{2, 128, 4}));
  }
}

TEST(PaddingPadWeights, PackedFp4BytesAndW2) {
  const pd::Plan p = mxfp4_plan(96, 80);
  const auto w13 = pd::pad_w13(p, bytes3(1, 160, 48), pd::W13Layout::kInterleaved, pd::Role::kWeight, pd::kFp4Bytes);
  EXPECT_EQ(w13.shape, (pd::Shape{1, 256, 64}));  // [E, 2·I_pad, H_pad/2]
  EXPECT_EQ(w13.at(0, 0, 63), 0x00);               // two FP4 +0
  const auto w2 = pd::pad_w2(p, bytes3(1, 96, 40), pd::Role::kWeight, pd::kFp4Bytes);
  ASSERT_EQ(w2.shape, (pd::Shape{1, 128, 64}));  // [E, H_pad, I_pad/2]
  const auto src = bytes3(1, 96, 40);
  for (std::int64_t r = 0; r < 128; ++r)
    for (std::int64_t c = 0; c < 64; ++c) EXPECT_EQ(w2.at(0, r, c), (r < 96 && c < 40) ? src.at(0, r, c) : 0) << r << "," << c;
  EXPECT_EQ(pd::padded_shapes(p).w2, (pd::Shape{2, 128, 64}));
}

TEST(PaddingPadBiases, ZeroedAndLaidOutLikeW13) {
  const pd::Plan p = mxfp4_plan(96, 80);
  pd::Tensor<float> b13({1, 160}, 0.0f), b2({1, 96}, 0.0f);
  std::iota(b13.data.begin(), b13.data.end(), 1.0f);
  std::iota(b2.data.begin(), b2.data.end(), 1.0f);
  const auto c = pd::pad_w13_bias(p, b13, pd::W13Layout::kConcatenated);
  ASSERT_EQ(c.shape, (pd::Shape{1, 256}));
  EXPECT_EQ(c.at(0, 79), 80.0f);
  EXPECT_TRUE(is_pos_zero(c.at(0, 80)));
  EXPECT_EQ(c.at(0, 128), 81.0f);  // up half starts at I_pad
  EXPECT_TRUE(is_pos_zero(c.at(0, 255)));
  const auto i = pd::pad_w13_bias(p, b13, pd::W13Layout::kInterleaved);
  EXPECT_EQ(i.at(0, 159), 160.0f);
  EXPECT_TRUE(is_pos_zero(i.at(0, 160)));
  const auto d = pd::pad_w2_bias(p, b2);
  ASSERT_EQ(d.shape, (pd::Shape{1, 128}));
  EXPECT_EQ(d.at(0, 95), 96.0f);
  EXPECT_TRUE(is_pos_zero(d.at(0, 96)));
}

TEST(PaddingPadFill, UninitializedRegionsKeepThePoison) {
  // Unquantized weights are torch.empty (§1.5): padded columns from DeepEP HT keep the poison, so
  // a kernel that reads them shows it (bugs.md B9); biases are zeroed.
  const pd::Plan p = plan("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", sizes(200, 64, 1),
                          {.ep = true, .all2all = pd::All2All::kDeepepHt});
  ASSERT_EQ(p.hidden_padded, 256);
  const auto w = pd::pad_w13(p, iota3(1, 128, 200), pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked);
  for (std::int64_t r = 0; r < 128; ++r)
    for (std::int64_t c = 200; c < 256; ++c) EXPECT_TRUE(pd::may_be_poison(w.at(0, r, c))) << r << "," << c;
  const auto b = pd::pad_w2_bias(p, pd::Tensor<float>({1, 200}, 1.0f));
  for (std::int64_t c = 200; c < 256; ++c) EXPECT_TRUE(is_pos_zero(b.at(0, c)));
  // No scale tensor to pad for unquantized; a byte fill needs byte storage.
  EXPECT_THROW(pd::pad_w13(p, iota3(1, 128, 200), pd::W13Layout::kConcatenated, pd::Role::kScale, pd::kUnpacked),
               std::invalid_argument);
  const pd::Plan mx = mxfp4_plan(96, 80);
  EXPECT_THROW(pd::pad_w13(mx, iota3(1, 160, 3), pd::W13Layout::kConcatenated, pd::Role::kScale, pd::kMxScaleBytes),
               std::invalid_argument);
}

TEST(PaddingPadPostLoad, EndPaddingBreaksTheGateUpSplit) {
  // bugs.md B12: FlashInfer FP8 alignment copies the whole [gate(I); up(I)] block to the top.
  const pd::Plan p = plan("vllm-38043", "fp8_per_tensor", "FLASHINFER_CUTLASS", "cuda:sm90", sizes(8, 10, 1));
  ASSERT_EQ(p.intermediate_per_partition_allocated, 10);
  ASSERT_EQ(p.intermediate_per_partition_padded, 16);
  ASSERT_EQ(p.post_load_w13_padding, pd::W13Padding::kEnd);
  const auto w = iota3(1, 20, 8);
  const auto out = pd::pad_w13(p, w, pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked);
  ASSERT_EQ(out.shape, (pd::Shape{1, 32, 8}));
  for (std::int64_t r = 0; r < 20; ++r) EXPECT_EQ(out.at(0, r, 0), w.at(0, r, 0));  // up rows 0..5 sit in the gate half
  for (std::int64_t r = 20; r < 32; ++r) EXPECT_TRUE(is_pos_zero(out.at(0, r, 0)));
  EXPECT_NE(out.at(0, 16, 0), w.at(0, 10, 0));  // row I_pad is not up[0]: the split is broken
  // The same plan with per-half post-load padding keeps each half: what kernels expect.
  pd::Plan fixed = p;
  fixed.post_load_w13_padding = pd::W13Padding::kPerHalf;
  const auto good = pd::pad_w13(fixed, w, pd::W13Layout::kConcatenated, pd::Role::kWeight, pd::kUnpacked);
  for (std::int64_t j = 0; j < 10; ++j) {
    EXPECT_EQ(good.at(0, j, 0), w.at(0, j, 0));
    EXPECT_EQ(good.at(0, 16 + j, 0), w.at(0, 10 + j, 0));
  }
  for (std::int64_t j = 10; j < 16; ++j) EXPECT_TRUE(is_pos_zero(good.at(0, j, 0)) && is_pos_zero(good.at(0, 16 + j, 0)));
}

TEST(PaddingPadActivations, ZeroPaddedOnTheRightAndSlicedBack) {
  const pd::Plan p = mxfp4_plan(96, 80);
  pd::Tensor<float> x({3, 96}, 0.0f);
  std::iota(x.data.begin(), x.data.end(), 1.0f);
  const auto xp = pd::pad_activations(p, x);
  ASSERT_EQ(xp.shape, (pd::Shape{3, 128}));
  for (std::int64_t m = 0; m < 3; ++m)
    for (std::int64_t c = 0; c < 128; ++c)
      if (c < 96)
        EXPECT_EQ(xp.at(m, c), x.at(m, c));
      else
        EXPECT_TRUE(is_pos_zero(xp.at(m, c)));
  EXPECT_EQ(pd::pad_activations(p, xp).data, xp.data);  // already H_pad wide: passes as is
  EXPECT_EQ(pd::routing_input(p, xp).data, x.data);     // the router sees the logical slice
  EXPECT_EQ(pd::slice_output(p, xp).data, x.data);
  EXPECT_THROW(pd::pad_activations(p, pd::Tensor<float>({3, 100}, 0.0f)), std::invalid_argument);
}

TEST(PaddingPadActivations, TrtllmMxfp8SkipsForwardPaddingAndPadsInTheKernel) {
  const pd::Plan p = mxfp4_plan(2880, 2880, "FLASHINFER_TRTLLM_MXFP4_MXFP8", "cuda:sm100");
  pd::Tensor<float> x({2, 2880}, 1.0f);
  EXPECT_EQ(pd::pad_activations(p, x).shape, (pd::Shape{2, 2880}));
  const auto k = pd::kernel_activations(p, x);
  ASSERT_EQ(k.shape, (pd::Shape{2, 3072}));
  EXPECT_EQ(k.at(1, 2879), 1.0f);
  EXPECT_TRUE(is_pos_zero(k.at(1, 2880)));
}

TEST(PaddingPadActivations, AllReduceOnThePaddedWidthThenSlice) {
  const pd::Plan p = mxfp4_plan(96, 80);
  pd::Tensor<float> a({2, 128}, 1.0f), b({2, 128}, 2.0f);
  const auto y = pd::all_reduce_then_slice(p, {a, b});
  ASSERT_EQ(y.shape, (pd::Shape{2, 96}));
  for (float v : y.data) EXPECT_EQ(v, 3.0f);
  EXPECT_THROW(pd::all_reduce_then_slice(p, {a, pd::Tensor<float>({2, 96}, 0.0f)}), std::invalid_argument);
}

TEST(PaddingPadErrors, InvalidPlanIsRefused) {
  const pd::Plan bad = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm90", gpt_oss());
  ASSERT_FALSE(bad.ok());
  EXPECT_THROW(pd::pad_activations(bad, pd::Tensor<float>({1, 2880}, 0.0f)), std::invalid_argument);
  EXPECT_THROW(pd::partition(bad), std::invalid_argument);
}

}  // namespace
