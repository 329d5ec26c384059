// vLLM's Marlin weight preparation for WNA16 MoE (int4 / int8 weights, bf16 / fp16 activations):
// the tile repack of the codes, the scale and zero-point permutations, the act-order sort of
// `g_idx`, and the MoE tile padding of the intermediate size; each with its inverse, so that a
// Marlin-layout weight can be checked against the logical IntWeight it came from.
//
// Upstream (vllm-project/vllm main at 7ca49fbe4bab019e55d57cdc4b7fd3d55c67c1a6, read from the
// mirror HollowMan6/vllm; line numbers at that commit). Abbreviations used in the comments here:
//   R  = csrc/libtorch_stable/quantization/marlin/gptq_marlin_repack.cu
//   RA = csrc/libtorch_stable/quantization/marlin/awq_marlin_repack.cu
//   MC = csrc/libtorch_stable/quantization/marlin/marlin.cuh
//   MU = vllm/model_executor/layers/quantization/utils/marlin_utils.py
//   QU = vllm/model_executor/layers/quantization/utils/quant_utils.py
//   OW = vllm/model_executor/layers/fused_moe/oracle/int_wna16.py
//   OP = csrc/libtorch_stable/moe/marlin_moe_wna16/ops.cu
// (The brief's csrc/quantization/gptq_marlin/ no longer exists at this commit: the sources moved to
// csrc/libtorch_stable/.) Only the W4A16 / W8A16 variants are modelled: the `is_a_8bit` branches
// (int8 / fp8 activations, R:22-23, 170-190, 211-220) and the fp8 preprocessing with scales ×512
// (OW:590-601) are not, nor `marlin_permute_bias` (MU:483-487).
//
// Checked bit for bit on an NVIDIA H200 (nvcc 13, torch 2.11.0+cu130), by a scratch harness kept
// out of the repo: R's and RA's kernels compiled unchanged against MC, for int4 and int8, GPTQ with
// and without a permutation and AWQ, K × N ∈ {16 × 64, 256 × 512, 4096 × 256, 2048 × 192}; MU's
// Python marlin_permute_scales (both branches, channelwise), marlin_zero_points and
// awq_to_marlin_zero_points, scales [K/g, N] ∈ {32 × 256, 1 × 256, 4 × 128, 2 × 192} and zero points
// ∈ {4 × 128, 1 × 64, 32 × 256}: every output equal to this file's.
//
// Orientation: IntWeight is [N, K] (out × in). Marlin works on the GEMM's K × N matrix, as GPTQ
// stores it: scales and zero points are [K/g, N] here, the transpose of IntWeight's [N, K/g].
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reference/quant/common.h"
#include "reference/quant/wna16.h"

namespace moecheck::reference::quant {

// One repacked tile covers 16 rows of K by 64 columns of N (MC:30, 38-39: tile_size 16,
// tile_k_size = 16, tile_n_size = 4 · 16); the repack requires K % 16 == 0 and N % 64 == 0 (R:290-293).
inline constexpr std::int64_t kMarlinTileK = 16;
inline constexpr std::int64_t kMarlinTileN = 64;

// ---- weight codes: the tile repack (gptq_marlin_repack / awq_marlin_repack) ------------------
// Output int32 [K/16, N·16/(32/bits)] = [K/16, N·bits/2] (R:324-326; _custom_ops.py:1158-1160).
// Row t holds K tile t; its columns are the 64-wide N tiles in order, 128 (int4) or 256 (int8)
// words each (R:194-196). Inside a tile, `marlin_tile_source` gives the code each bit field holds.
// Both repack kernels extract the logical code (k, n) before packing (GPTQ: word k/pf, field k%pf,
// R:90-96, 150-155, 179-185; AWQ: the interleave undone, RA:104-138), so the result depends on the
// logical codes only, not on which checkpoint packing they came from.
struct MarlinTileSource {
  int k = 0;  // row inside the 16-row tile
  int n = 0;  // column inside the 64-column tile
};
// word: 0 .. 127 (int4) or 0 .. 255 (int8); field: 0 .. 7 (int4 nibble) or 0 .. 3 (int8 byte),
// bits field·bits .. field·bits + bits - 1.
MarlinTileSource marlin_tile_source(int word, int field, int bits);

// codes: [N, K] unsigned codes (IntWeight orientation). sort_indices: empty, or [K] — then row k
// of the repacked matrix is checkpoint row sort_indices[k] (R:82-97, 146-162: the act-order gather).
RowMatrixXi32 marlin_repack_codes(const RowMatrixXu8& codes, int bits, const Eigen::VectorXi& sort_indices = {});
// The inverse: [N, K] codes in checkpoint K order.
RowMatrixXu8 marlin_unpack_codes(const RowMatrixXi32& qweight, std::int64_t size_k, std::int64_t size_n, int bits,
                                 const Eigen::VectorXi& sort_indices = {});

// ---- scales: marlin_permute_scales (MU:460-480) ------------------------------------------------
// Two permutations of the row-major [K/g, N] scales, applied to consecutive chunks:
//   kGrouped     chunks of 64, out[p] = in[p/8 + 8·(p%8)] — an 8×8 transpose (MU:462-463);
//   kSingleGroup chunks of 32, out[8i + t] = in[2i + (t%2) + 8·(t/2)], i < 4 (MU:465-466).
// Upstream picks kGrouped iff `group_size < size_k and group_size != -1` (MU:474); the MoE kernel
// reads grouped scales iff b_scales has more than one row (OP:765-774: num_groups > 1 gives
// group_size = size_k / num_groups, else -1). The two agree only when size_k is the GEMM's real K:
// bugs.md B17. That the kernel's grouped read undoes exactly kGrouped is inferred from this
// pairing, not read in marlin_template.h (unverified).
enum class MarlinScaleLayout : std::uint8_t { kGrouped, kSingleGroup };
// Upstream's branch; group_size -1 is channelwise.
MarlinScaleLayout marlin_scale_layout(std::int64_t size_k, std::int64_t group_size);
// The layout the kernel reads for a scale table of `num_groups` rows.
MarlinScaleLayout marlin_kernel_scale_layout(std::int64_t num_groups);
// s: [K/g, N] with N % 64 == 0. The first overload is upstream's signature, size_k and all.
RowMatrixXf marlin_permute_scales(const RowMatrixXf& s, std::int64_t size_k, std::int64_t size_n, std::int64_t group_size);
RowMatrixXf marlin_permute_scales(const RowMatrixXf& s, MarlinScaleLayout layout);
RowMatrixXf marlin_unpermute_scales(const RowMatrixXf& s, MarlinScaleLayout layout);

// ---- zero points: marlin_zero_points (MU:512-533) ----------------------------------------------
// z: [K/g, N] unsigned zero points (N % 64 == 0). Always the kGrouped chunk permutation (even for
// one group: MU:515-518), then within each run of 32/bits values the interleave [0,2,4,6,1,3,5,7]
// (int4) or [0,2,1,3] (int8) (MU:521-529), then packed along N with no interleave: field i of word c
// is column (32/bits)·c + i (QU:888-911 pack_cols). Result int32 [K/g, N·bits/32]. AWQ and
// compressed-tensors checkpoints reach it after undoing their own packing (MU:536-561, 596-617).
RowMatrixXi32 marlin_pack_zero_points(const RowMatrixXu8& z, int bits);
RowMatrixXu8 marlin_unpack_zero_points(const RowMatrixXi32& packed, std::int64_t size_n, int bits);

// ---- act-order: marlin_sort_g_idx (MU:455-457; OW:627-639 per expert) --------------------------
// sort_indices = argsort(g_idx) as int32, g_idx = g_idx[sort_indices]. torch.argsort is called
// without stable=True; this sort is stable (equal groups keep checkpoint order). On the H200 above,
// torch.argsort of a CUDA g_idx gave this stable order for K = 512, 4096 and 14336 (shuffled, equal
// groups), while the CPU argsort did not; other sizes and versions are unverified. The math does not
// depend on the tie order (activations are gathered with the same indices); the repacked bits do.
struct MarlinSortedGIdx {
  Eigen::VectorXi g_idx;         // sorted, [K]
  Eigen::VectorXi sort_indices;  // [K]
};
// g_idx: [K], each in 0 .. num_groups - 1.
MarlinSortedGIdx marlin_sort_g_idx(const Eigen::VectorXi& g_idx, std::int64_t num_groups);

// ---- one expert's projection in Marlin layout ---------------------------------------------------
// With act-order the IntWeight is in checkpoint K order and the scale of (n, k) is
// scales(n, g_idx[k]) (IntWeight's group_size only counts the groups, K / num_groups).
struct MarlinWeight {
  std::int64_t size_k = 0, size_n = 0;  // the GEMM's K (in) and N (out)
  int bits = 4;
  std::int64_t group_size = 128;        // along K; size_k for channelwise (IntWeight's convention)
  RowMatrixXi32 qweight;                // [K/16, N·bits/2]
  RowMatrixXf scales;                   // [K/g, N], permuted as marlin_kernel_scale_layout(K/g)
  std::optional<RowMatrixXi32> zeros;   // [K/g, N·bits/32]; absent: uint4b8 / uint8b128 (8 / 128)
  Eigen::VectorXi g_idx;                // act-order: sorted [K]; else empty (OW:640-658)
  Eigen::VectorXi sort_indices;         // act-order: [K]; else empty
};
// The correct preparation: size_k is the IntWeight's K (contrast OW:679-685 and 848-854, which
// pass the intermediate size for w13: B17).
MarlinWeight marlin_repack(const IntWeight& w, const std::optional<Eigen::VectorXi>& g_idx = std::nullopt);
// What the kernel sees, back in checkpoint order: scales un-permuted by the layout the kernel reads.
IntWeight marlin_unpack(const MarlinWeight& m);
// The checkpoint's g_idx: g_idx_checkpoint[sort_indices[i]] = g_idx_sorted[i]. Empty without act-order.
Eigen::VectorXi marlin_checkpoint_g_idx(const MarlinWeight& m);

// ---- MoE tile padding of the intermediate size (OW:603-624 GPTQ layout, 803-820 AWQ layout) -------
// Marlin MoE needs w13's N = 2·I % 128 and w2's K = I % 64, i.e. I % 64 == 0 (MU:337-338), with I
// a whole number of groups; vLLM pads I to round_up(I, lcm(64, group)) after loading (MU:334-352;
// the size itself is the padding ruleset's: vllm-2026-08.json, MARLIN rows). The layer must have
// H % 128 == 0 and, unpadded, I % group == 0 (MU:376-379); act-order is never padded (OW:608-611).
// Every padded element is 0 (torch.nn.functional.pad's default, OW:505-530): codes 0, scales 0,
// zero points 0. A padded w13 row then contributes (q − zp)·0 = 0; a padded w2 column meets an
// activation that is 0, and for a grouped w2 also a scale of 0. A channelwise w2 keeps its one
// scale row unpadded (OW:615-616, 621-622: `if group_size > 0`), so its padded columns decode to
// (0 − 8)·s, not 0: only the zero activation cancels them.
enum class MarlinMoeShard : std::uint8_t {
  kW13Half,  // gate or up of one expert: [I, H], rows padded (each half separately, OW:505-513)
  kW2,       // down of one expert: [H, I], columns (K) padded
};
// Marlin MoE's hidden-size rule: H a multiple of this (MU:376-379).
inline constexpr std::int64_t kMarlinMoeHiddenMultiple = 128;
// Why Marlin MoE cannot run a layer of hidden size H and (tile-padded) intermediate size I_pad per
// partition: H % 128 != 0 or I_pad % 64 != 0 (MU:337-338, 376-379); empty if it can. vLLM then
// selects another backend, so no Marlin case of that shape exists.
std::string marlin_moe_shape_problem(std::int64_t hidden, std::int64_t intermediate_padded);
// group_size: the checkpoint's, -1 channelwise (channelwise and a single group of K differ for w2).
IntWeight marlin_moe_pad_intermediate(const IntWeight& shard, MarlinMoeShard which, std::int64_t group_size,
                                      std::int64_t intermediate_padded);

}  // namespace moecheck::reference::quant
