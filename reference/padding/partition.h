// Tensor- and expert-parallel partition semantics: which checkpoint rows each rank holds, which
// are padding, and who holds the w2 bias (padding.md §1.5, §1.7, §4.2).
//
// - Generic loader (FusedMoE.weight_loader), as the ruleset's generic_loader says: until #42595
//   (2026-05-29) the checkpoint intermediate dim is cut in chunks of the rank's *allocated* I_pad
//   (the shard size of the padded parameter), so rank r holds [r·I_pad, min((r+1)·I_pad, I_full))
//   and a rank that starts past I_full is all padding; from #42595 in chunks of I_full / tp. Until
//   #44120 (2026-07-21) it has no bias path; from then on the w13 bias is cut like w13 and the w2
//   bias copied in full on every TP rank (so a TP all-reduce adds it tp times: see README.md).
// - gpt-oss's other loader (_load_weights_other, every method but MXFP4 and Quark): cdiv(I_full, tp)
//   chunks, w2 bias on rank 0; it copies whole tensors, so it cannot fill a padded allocation.
// - gpt-oss MXFP4 loader (and the Quark one with MXFP4 weights): 32-aligned chunks
//   cdiv(I_full/32, tp)·32; the Quark loader otherwise uses cdiv(I_full, tp). w2_bias is loaded in
//   full and zeroed on every TP rank but 0, so the all-reduce adds it once.
// - EP: MoE tp = 1, every rank holds the full intermediate size of its own experts and their biases.
// Padded rows are the tail [real, I_pad) of each rank's block (of each gate/up half).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reference/padding/plan.h"
#include "reference/padding/tensor.h"

namespace moecheck::reference::padding {

enum class Loader : std::uint8_t { kGeneric, kGptOssMxfp4, kGptOssQuark, kGptOssOther };
std::string_view name(Loader loader);

// The loader vLLM uses: for model_type gpt_oss its MXFP4 loader (methods with gpt_oss_block_loader),
// its Quark loader, or _load_weights_other for every other method (vllm/model_executor/models/
// gpt_oss.py: load_weights dispatch, at every shipped state); else the generic FusedMoE.weight_loader.
Loader default_loader(const Plan& plan);

struct RankShard {
  int rank = 0;
  std::int64_t real_begin = 0, real_end = 0;  // checkpoint intermediate rows [begin, end)
  std::int64_t padded_rows = 0;               // I_pad: rows per half of the rank's padded w13
  std::int64_t expert_begin = 0, expert_end = 0;
  bool holds_w2_bias = false;  // its w2 bias is the checkpoint's (else zero)

  std::int64_t real_rows() const { return real_end - real_begin; }
  bool all_padding() const { return real_rows() == 0; }
  std::int64_t padding_rows() const { return padded_rows - real_rows(); }
  std::int64_t experts() const { return expert_end - expert_begin; }
};

struct Partition {
  Loader loader = Loader::kGeneric;
  bool expert_parallel = false;
  std::int64_t intermediate_full = 0;
  std::int64_t chunk = 0;       // intermediate rows per rank slot of the loader
  bool biases_loaded = false;   // false for the generic loader (§1.7)
  std::vector<RankShard> ranks;
  std::optional<std::string> error;  // the loader cannot load this (a real vLLM failure)

  bool ok() const { return !error.has_value(); }
  std::string summary() const;  // "real rows per rank: 736 x3, 672; 32/96 padding rows"
};

// std::invalid_argument if the plan itself is invalid.
Partition partition(const Plan& plan, Loader loader);
inline Partition partition(const Plan& plan) { return partition(plan, default_loader(plan)); }

// The rank's slice of a full checkpoint tensor, in the same layout (no padding yet).
// w13: [E, 2·I_full, C] -> [e, 2·real, C] (gate and up rows of [begin, end) in `layout`).
template <class T>
Tensor<T> shard_w13(const Partition& p, int rank, const Tensor<T>& full, W13Layout layout, bool gated = true);
// w2: [E, R, st(I_full)] -> [e, R, st(real)], st = `packing` along the intermediate axis.
template <class T>
Tensor<T> shard_w2(const Partition& p, int rank, const Tensor<T>& full, Packing packing);
// w13 bias [E, 2·I_full] -> [e, 2·real].
template <class T>
Tensor<T> shard_w13_bias(const Partition& p, int rank, const Tensor<T>& full, W13Layout layout, bool gated = true);
// w2 bias [E, H] -> [e, H]: the checkpoint's on ranks that hold it, zeros elsewhere (§1.7, §4.2).
template <class T>
Tensor<T> shard_w2_bias(const Partition& p, int rank, const Tensor<T>& full);

// Per-expert scalars [E, parts, 1] (NVFP4 weight_scale_2, quant::ComponentSpec::per_part) -> the
// rank's experts [e, parts, 1]: a TP rank keeps each expert's scalar whole (it scales every row and
// column of the expert), an EP rank takes those of its experts [expert_begin, expert_end), indexed by
// global id (spec/bugs.md B19).
Tensor<float> shard_expert_scalars(const Partition& p, int rank, const Tensor<float>& full);
// The rank's experts of [E, R, C], each whole: a component no TP cut touches (act-order's g_idx
// of w13, the w2 scales that vLLM's load_full_w2 keeps whole).
Tensor<float> shard_experts(const Partition& p, int rank, const Tensor<float>& full);

// FP8 128×128 block-scale grids (weight_scale_inv, padding.md §1.5) of one rank, for a
// concatenated gated w13 stored as per-half grids (gate rows first, as vLLM's w13_weight_scale_inv).
// On the grid (`global_grid` false), a rank's rows must start on a `block` boundary (vLLM rejects
// block-quantized shards that do not: intermediate_size_per_partition % block_n):
// block_grid_misalignment says which rank does not (empty: all do); the shard functions throw
// std::invalid_argument for it. With `global_grid` (vLLM PR #52915's loading, spec/bugs.md B16) any
// shard is cut: the rank holds every checkpoint block its rows touch, and its row r uses block
// (block_grid_offset + r) / b of them, so ranks that share a block each hold a copy.
// w13 grid [E, 2·cdiv(I_full, b), G] -> [e, 2·n, G]; w2 grid [E, R, cdiv(I_full, b)] -> [e, R, n];
// n = cdiv(offset + real, b) (offset 0 on the grid).
std::string block_grid_misalignment(const Partition& p, std::int64_t block);
std::int64_t block_grid_offset(const Partition& p, int rank, std::int64_t block);  // real_begin % block
Tensor<float> shard_w13_block_grid(const Partition& p, int rank, const Tensor<float>& full, std::int64_t block,
                                   bool global_grid = false);
Tensor<float> shard_w2_block_grid(const Partition& p, int rank, const Tensor<float>& full, std::int64_t block,
                                  bool global_grid = false);

#define MOECHECK_PADDING_SHARD_EXTERN(T)                                                                   \
  extern template Tensor<T> shard_w13<T>(const Partition&, int, const Tensor<T>&, W13Layout, bool);       \
  extern template Tensor<T> shard_w2<T>(const Partition&, int, const Tensor<T>&, Packing);                \
  extern template Tensor<T> shard_w13_bias<T>(const Partition&, int, const Tensor<T>&, W13Layout, bool);  \
  extern template Tensor<T> shard_w2_bias<T>(const Partition&, int, const Tensor<T>&);
MOECHECK_PADDING_SHARD_EXTERN(float)
MOECHECK_PADDING_SHARD_EXTERN(std::uint8_t)
MOECHECK_PADDING_SHARD_EXTERN(std::uint16_t)
#undef MOECHECK_PADDING_SHARD_EXTERN

}  // namespace moecheck::reference::padding
