// Tensor- and expert-parallel partition semantics (padding.md §1.5, §1.7, §4.2): the generic
// loader's I_pad-sized chunks (a rank may be all padding), the gpt-oss loader's 32-aligned
// chunks, the w2 bias on rank 0 only, EP, and an end-to-end check that sharding, padding, a
// rank-local MoE expert and the all-reduce give exactly the unpadded result.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/padding_test_util.h"

using namespace padding_test;

namespace {

std::vector<std::int64_t> real_rows(const pd::Partition& p) {
  std::vector<std::int64_t> out;
  for (const auto& r : p.ranks) out.push_back(r.real_rows());
  return out;
}

TEST(PaddingPartition, GptOssLoaderBlockAlignedChunks) {
  // §1.7 table: TP 1: 2880; 2: 1440 x2; 4: 736 x3, 672; 8: 384 x7, 192.
  const std::map<int, std::vector<std::int64_t>> expected = {
      {1, {2880}}, {2, {1440, 1440}}, {4, {736, 736, 736, 672}}, {8, {384, 384, 384, 384, 384, 384, 384, 192}}};
  for (const auto& [tp, rows] : expected) {
    const pd::Plan p = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss(), {.tp = tp});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(pd::default_loader(p), pd::Loader::kGptOssMxfp4);
    const pd::Partition part = pd::partition(p);
    ASSERT_TRUE(part.ok()) << part.error.value_or("");
    EXPECT_EQ(part.chunk, pd::cdiv(2880 / 32, tp) * 32);
    EXPECT_EQ(real_rows(part), rows) << "tp " << tp;
  }
}

TEST(PaddingPartition, GptOssTp4TritonPaddingRows) {
  // §1.7 example: TP4 on Triton (I_pad 768): ranks 0-2 have 736 real + 32 zero rows, rank 3 672 + 96.
  const pd::Plan p = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss(), {.tp = 4});
  const pd::Partition part = pd::partition(p);
  ASSERT_EQ(part.ranks.size(), 4u);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(part.ranks[r].padding_rows(), 32);
  EXPECT_EQ(part.ranks[3].real_rows(), 672);
  EXPECT_EQ(part.ranks[3].padding_rows(), 96);
  EXPECT_EQ(part.ranks[3].real_begin, 2208);
  EXPECT_EQ(part.ranks[3].real_end, 2880);
}

TEST(PaddingPartition, GenericLoaderChunksOfIpadAndAllPaddingRanks) {
  // Generic loader: chunks of I_pad. gpt-oss sizes without the gpt-oss loader (model unknown),
  // TRTLLM TP8: I_pad 512 -> ranks 0-4 hold 512, rank 5 holds 320, ranks 6-7 are all padding.
  const pd::Plan p = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", gpt_oss(false), {.tp = 8});
  EXPECT_EQ(pd::default_loader(p), pd::Loader::kGeneric);
  const pd::Partition part = pd::partition(p);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part.chunk, 512);
  EXPECT_EQ(real_rows(part), (std::vector<std::int64_t>{512, 512, 512, 512, 512, 320, 0, 0}));
  EXPECT_TRUE(part.ranks[6].all_padding());
  EXPECT_TRUE(part.ranks[7].all_padding());
  EXPECT_EQ(part.ranks[7].real_begin, 2880);
  EXPECT_FALSE(part.biases_loaded);  // the generic loader has no bias path (§1.7)
  EXPECT_EQ(part.summary(), "real rows per rank: 512 x5, 320, 0 x2 (2 all padding) (generic loader)");
}

TEST(PaddingPartition, GenericLoaderUsesTheAllocatedSizeNotThePostLoadOne) {
  // FP8 FlashInfer aligns after loading: the loader's shard is the allocated I (1416/2 = 708).
  const pd::Plan p = plan("vllm-38043", "fp8_per_tensor", "FLASHINFER_CUTLASS", "cuda:sm90", sizes(2048, 1416), {.tp = 2});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.intermediate_per_partition_padded, 720);
  const pd::Partition part = pd::partition(p);
  EXPECT_EQ(part.chunk, 708);
  EXPECT_EQ(real_rows(part), (std::vector<std::int64_t>{708, 708}));
  EXPECT_EQ(part.ranks[0].padded_rows, 720);
}

TEST(PaddingPartition, W2BiasOnRankZeroOnlyUnderTp) {
  const pd::Plan p = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss(), {.tp = 4});
  const pd::Partition part = pd::partition(p);
  ASSERT_TRUE(part.biases_loaded);
  for (const auto& r : part.ranks) EXPECT_EQ(r.holds_w2_bias, r.rank == 0) << r.rank;
  pd::Tensor<float> bias({2, 32}, 0.0f);
  std::iota(bias.data.begin(), bias.data.end(), 1.0f);
  pd::Problem small = sizes(32, 128, 2);
  small.model_type = "gpt_oss";
  const pd::Plan sp = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", small, {.tp = 2});
  const pd::Partition sp_part = pd::partition(sp);
  const auto b0 = pd::shard_w2_bias(sp_part, 0, bias);
  const auto b1 = pd::shard_w2_bias(sp_part, 1, bias);
  EXPECT_EQ(b0.data, bias.data);
  for (float x : b1.data) EXPECT_EQ(x, 0.0f);
}

TEST(PaddingPartition, ExpertParallelKeepsTheFullIntermediate) {
  pd::Problem p = gpt_oss();
  p.experts = 10;
  const pd::Plan ep = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", p, {.tp = 4, .ep = true});
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep.intermediate_per_partition, 2880);
  EXPECT_EQ(ep.intermediate_per_partition_padded, 2880);
  EXPECT_EQ(ep.local_experts, 3);
  const pd::Partition part = pd::partition(ep);
  ASSERT_EQ(part.ranks.size(), 4u);
  std::int64_t next = 0;
  for (const auto& r : part.ranks) {
    EXPECT_EQ(r.real_begin, 0);
    EXPECT_EQ(r.real_end, 2880);
    EXPECT_EQ(r.expert_begin, next);  // contiguous, every expert exactly once
    next = r.expert_end;
    EXPECT_TRUE(r.holds_w2_bias);  // each EP rank holds its own experts' biases
  }
  EXPECT_EQ(next, 10);
  EXPECT_EQ(part.ranks[0].experts(), 3);
  EXPECT_EQ(part.ranks[3].experts(), 2);
}

// FP8 128x128 scale grids follow the rank's rows by whole blocks: I = 256 over TP 2 gives each rank
// one grid row per half (gate grid row r, up grid row 2 + r of the checkpoint's per-half grid).
TEST(PaddingPartition, Fp8BlockGridShardsOnBlockBoundaries) {
  const pd::Plan p = plan("vllm-38043", "fp8_block", "DEFAULT", "cuda:sm90", sizes(384, 256, 2), {.tp = 2});
  ASSERT_TRUE(p.ok()) << *p.error;
  const pd::Partition part = pd::partition(p);
  EXPECT_EQ(pd::block_grid_misalignment(part, 128), "");
  pd::Tensor<float> w13({2, 4, 3}, 0.0f), w2({2, 3, 2}, 0.0f);
  for (std::size_t n = 0; n < w13.data.size(); ++n) w13.data[n] = float(n);
  for (std::size_t n = 0; n < w2.data.size(); ++n) w2.data[n] = float(n);
  const pd::Tensor<float> g13 = pd::shard_w13_block_grid(part, 1, w13, 128);
  EXPECT_EQ(g13.shape, (pd::Shape{2, 2, 3}));
  EXPECT_EQ(g13.at(0, 0, 0), w13.at(0, 1, 0));  // gate grid row 1
  EXPECT_EQ(g13.at(1, 1, 2), w13.at(1, 3, 2));  // up grid row 1 of expert 1
  const pd::Tensor<float> g2 = pd::shard_w2_block_grid(part, 1, w2, 128);
  EXPECT_EQ(g2.shape, (pd::Shape{2, 3, 1}));
  EXPECT_EQ(g2.at(1, 2, 0), w2.at(1, 2, 1));
  // I = 192 over TP 2: rank 1 starts at row 96, inside a block.
  const pd::Partition odd = pd::partition(plan("vllm-38043", "fp8_block", "DEFAULT", "cuda:sm90", sizes(384, 192, 2), {.tp = 2}));
  EXPECT_EQ(pd::block_grid_misalignment(odd, 128), "rank 1 starts at intermediate row 96, not on a 128-row scale block");
  EXPECT_THROW(pd::shard_w13_block_grid(odd, 0, pd::Tensor<float>({2, 4, 3}, 0.0f), 128), std::invalid_argument);
  // In global coordinates (vLLM PR #52915, bugs.md B16) rank 1's rows 96..191 touch checkpoint
  // blocks 0 and 1 of each half: it holds both, 96 rows into the first.
  pd::Tensor<float> odd13({2, 4, 3}, 0.0f), odd2({2, 3, 2}, 0.0f);
  for (std::size_t n = 0; n < odd13.data.size(); ++n) odd13.data[n] = float(n);
  for (std::size_t n = 0; n < odd2.data.size(); ++n) odd2.data[n] = float(n);
  EXPECT_EQ(pd::block_grid_offset(odd, 1, 128), 96);
  const pd::Tensor<float> o13 = pd::shard_w13_block_grid(odd, 1, odd13, 128, true);
  EXPECT_EQ(o13.shape, (pd::Shape{2, 4, 3}));
  EXPECT_EQ(o13.at(0, 1, 0), odd13.at(0, 1, 0));  // gate block 1
  EXPECT_EQ(o13.at(1, 2, 2), odd13.at(1, 2, 2));  // up block 0 of expert 1
  const pd::Tensor<float> o2 = pd::shard_w2_block_grid(odd, 1, odd2, 128, true);
  EXPECT_EQ(o2.shape, (pd::Shape{2, 3, 2}));
  EXPECT_EQ(o2.at(1, 2, 1), odd2.at(1, 2, 1));
}

TEST(PaddingPartition, QuarkEmulationLoaderDoesNotFitItsBuffer) {
  // §3.4 #35737/#43979: Quark emulation allocates the unrounded I (1440 at TP2: fits) while the
  // gpt-oss loader slices 32-aligned chunks: at TP4 it copies 736 rows into a buffer of 720. (The
  // TP4 plan itself is already invalid, 720 being 22.5 MX blocks; the TP2 plan, resized to TP4's
  // buffer, isolates the loader's side.)
  pd::Plan p = plan("vllm-2026-05", "quark_w_mxfp4", "EMULATION", "rocm:gfx950", gpt_oss(), {.tp = 2});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(pd::default_loader(p), pd::Loader::kGptOssQuark);
  EXPECT_TRUE(pd::partition(p).ok());
  p.intermediate_per_partition = p.intermediate_per_partition_allocated = p.intermediate_per_partition_padded = 720;
  p.parallel.tp_size = 4;
  const pd::Partition bad = pd::partition(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(*bad.error, "rank 0: the gpt_oss_quark loader copies 736 intermediate rows into a buffer of 720 (I_pad at allocation)");
}

TEST(PaddingPartition, QuarkNonMxfp4UsesPlainCeilChunks) {
  // §1.7: the gpt-oss Quark loader is 32-aligned for MXFP4 weights, cdiv(I_full, tp) otherwise.
  pd::Problem p = sizes(256, 320);
  p.model_type = "gpt_oss";
  for (const char* method : {"quark_w_mxfp6", "quark_w_mxfp4_a_fp8"}) {
    pd::Plan three = plan("vllm-2026-05", method, "EMULATION", "cpu", p);
    ASSERT_TRUE(three.ok()) << three.error.value_or("");
    three.parallel.tp_size = 3;  // 320 / 3 does not divide; only the chunking is under test here
    three.intermediate_per_partition = three.intermediate_per_partition_allocated = 128;
    three.intermediate_per_partition_padded = 128;
    const pd::Partition part = pd::partition(three);
    EXPECT_EQ(part.loader, pd::Loader::kGptOssQuark);
    EXPECT_EQ(part.chunk, std::string(method) == "quark_w_mxfp6" ? 107 : 128) << method;  // cdiv(320, 3) vs cdiv(10, 3)·32
  }
}

TEST(PaddingPartition, GenericLoaderRegressionWindowIsData) {
  // §3.4: a ruleset for 2026-03-31..04-14 records that the generic loader failed whenever I_pad > I.
  pd::Ruleset broken = ruleset("vllm-38043");
  broken.generic_loader.error_when_intermediate_padded = "generic loader: short last shard (#37010, fixed by #39688)";
  pd::ParallelConfig pc;
  pc.tp_size = 2;
  const pd::Plan padded = pd::make_plan(broken, gpt_oss(false), "mxfp4", "TRITON", platform("cuda:sm90"), pc,
                                        pd::ActDtype::kBf16);
  EXPECT_EQ(pd::partition(padded).error, "generic loader: short last shard (#37010, fixed by #39688)");
  pc.tp_size = 1;
  const pd::Plan unpadded = pd::make_plan(broken, gpt_oss(false), "mxfp4", "TRITON", platform("cuda:sm90"), pc,
                                          pd::ActDtype::kBf16);
  EXPECT_TRUE(pd::partition(unpadded).ok());
}

// ---- sharding + padding + all-reduce == unpadded (exact, small integers) -------------------------

// One token through one gated expert on one rank: y = W2 · (gate ⊙ up), gate/up = W13 · x, as
// float sums of small integers (exact), on whatever width the tensors have.
std::vector<float> expert(const pd::Tensor<float>& w13, const pd::Tensor<float>& w2, const std::vector<float>& x,
                          pd::W13Layout layout) {
  const std::int64_t half = w13.dim(1) / 2, k = w13.dim(2), h = w2.dim(1);
  std::vector<float> act(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    const std::int64_t g = layout == pd::W13Layout::kInterleaved ? 2 * i : i;
    const std::int64_t u = layout == pd::W13Layout::kInterleaved ? 2 * i + 1 : half + i;
    float gate = 0, up = 0;
    for (std::int64_t c = 0; c < k; ++c) gate += w13.at(0, g, c) * x[c], up += w13.at(0, u, c) * x[c];
    act[static_cast<std::size_t>(i)] = gate * up;
  }
  std::vector<float> y(static_cast<std::size_t>(h), 0.0f);
  for (std::int64_t r = 0; r < h; ++r)
    for (std::int64_t i = 0; i < half; ++i) y[r] += w2.at(0, r, i) * act[static_cast<std::size_t>(i)];
  return y;
}

void check_tp_exact(const char* rs, const char* method, const char* backend, const char* plat, pd::Problem problem,
                    int tp, pd::W13Layout layout) {
  const std::int64_t h = problem.hidden, i_full = problem.intermediate;
  pd::Tensor<float> w13({1, 2 * i_full, h}, 0.0f), w2({1, h, i_full}, 0.0f), b2({1, h}, 0.0f);
  for (std::size_t n = 0; n < w13.data.size(); ++n) w13.data[n] = float(int(n * 7 % 5) - 2);
  for (std::size_t n = 0; n < w2.data.size(); ++n) w2.data[n] = float(int(n * 3 % 7) - 3);
  for (std::size_t n = 0; n < b2.data.size(); ++n) b2.data[n] = float(n % 3);
  std::vector<float> x(static_cast<std::size_t>(h));
  for (std::int64_t c = 0; c < h; ++c) x[c] = float(c % 4 - 1);
  std::vector<float> reference = expert(w13, w2, x, layout);
  for (std::int64_t r = 0; r < h; ++r) reference[r] += b2.at(0, r);

  const pd::Plan p = plan(rs, method, backend, plat, problem, {.tp = tp});
  ASSERT_TRUE(p.ok()) << p.error.value_or("");
  const pd::Partition part = pd::partition(p);
  ASSERT_TRUE(part.ok()) << part.error.value_or("");
  pd::Tensor<float> xin({1, h}, 0.0f);
  xin.data = x;
  const pd::Tensor<float> xpad = pd::pad_activations(p, xin);
  std::vector<pd::Tensor<float>> outputs;
  std::int64_t covered = 0;
  for (const auto& rank : part.ranks) {
    covered += rank.real_rows();
    const auto pw13 = pd::pad_w13(p, pd::shard_w13(part, rank.rank, w13, layout), layout, pd::Role::kWeight, pd::kUnpacked);
    const auto pw2 = pd::pad_w2(p, pd::shard_w2(part, rank.rank, w2, pd::kUnpacked), pd::Role::kWeight, pd::kUnpacked);
    std::vector<float> y = expert(pw13, pw2, xpad.data, layout);
    // The w2 bias: the checkpoint's on the rank that holds it (gpt-oss loader), else none is loaded;
    // for the generic loader the test adds it on rank 0 as a model loader would.
    const auto bias = part.biases_loaded ? pd::shard_w2_bias(part, rank.rank, b2) : rank.rank == 0 ? b2 : pd::Tensor<float>({1, h}, 0.0f);
    const auto pbias = pd::pad_w2_bias(p, bias);
    for (std::int64_t r = 0; r < p.hidden_padded; ++r) y[r] += pbias.at(0, r);
    pd::Tensor<float> out({1, p.hidden_padded}, 0.0f);
    out.data = y;
    outputs.push_back(out);
  }
  EXPECT_EQ(covered, i_full);
  const pd::Tensor<float> result = pd::all_reduce_then_slice(p, outputs);
  ASSERT_EQ(result.shape, (pd::Shape{1, h}));
  EXPECT_EQ(result.data, reference) << rs << " " << method << " " << backend << " " << plat << " tp " << tp;
}

TEST(PaddingTensorParallelExact, GptOssLoaderInterleaved) {
  pd::Problem p = sizes(96, 320, 1);  // 320 = 10 MXFP4 blocks; TP4 -> 96 x3, 32
  p.model_type = "gpt_oss";
  for (int tp : {1, 2, 4, 8}) check_tp_exact("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", p, tp, pd::W13Layout::kInterleaved);
  for (int tp : {1, 2, 4}) check_tp_exact("vllm-38043", "mxfp4", "CK", "rocm:gfx950", p, tp, pd::W13Layout::kInterleaved);
}

TEST(PaddingTensorParallelExact, GenericLoaderConcatenatedWithAllPaddingRanks) {
  // I_full 2880/8 = 360 -> I_pad 512 (ROCm 256): ranks 6 and 7 hold no real rows.
  check_tp_exact("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", sizes(8, 120, 1), 4, pd::W13Layout::kConcatenated);
  check_tp_exact("vllm-38043", "mxfp4", "TRITON", "rocm:gfx942", sizes(8, 2880, 1), 8, pd::W13Layout::kConcatenated);
  check_tp_exact("vllm-38043", "mxfp4", "MARLIN", "cuda:sm90", sizes(40, 320, 1), 4, pd::W13Layout::kConcatenated);
}

}  // namespace

// A per-channel scale (FP8 channel weight_scale, one column over the whole of K): TP shards w2's K,
// and every rank keeps the one column of its H rows; w13's shard moves its rows as the weight's.
// Padding K leaves the column count at 1.
TEST(PaddingPartition, WholeAxisScalesKeepTheirColumnUnderTp) {
  const pd::Plan p = plan("vllm-2026-08", "fp8_per_channel", "TRITON", "cuda:sm120", sizes(256, 192, 2), {.tp = 2});
  ASSERT_TRUE(p.ok()) << *p.error;
  const pd::Partition part = pd::partition(p);
  pd::Tensor<float> w2({2, 256, 1}, 0.0f), w13({2, 2 * 192, 1}, 0.0f);
  for (std::size_t n = 0; n < w2.data.size(); ++n) w2.data[n] = float(n);
  for (std::size_t n = 0; n < w13.data.size(); ++n) w13.data[n] = float(n);
  for (int rank = 0; rank < 2; ++rank) {
    const pd::Tensor<float> s2 = pd::shard_w2(part, rank, w2, moecheck::reference::quant::kWholeAxis);
    EXPECT_EQ(s2.shape, (pd::Shape{2, 256, 1}));
    EXPECT_EQ(s2.data, w2.data);  // whole H rows, the one column
    const pd::Tensor<float> s13 = pd::shard_w13(part, rank, w13, pd::W13Layout::kConcatenated);
    ASSERT_EQ(s13.shape, (pd::Shape{2, 192, 1}));
    EXPECT_EQ(s13.at(1, 0, 0), w13.at(1, rank * 96, 0));         // gate row of the rank's first
    EXPECT_EQ(s13.at(1, 96, 0), w13.at(1, 192 + rank * 96, 0));  // up row of the rank's first
  }
  EXPECT_EQ(moecheck::reference::quant::kWholeAxis.storage(2880), 1);
  EXPECT_EQ(moecheck::reference::quant::kWholeAxis.storage(3072), 1);
}
