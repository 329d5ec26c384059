// Size generators: hidden and intermediate sizes, token counts, experts and top-k. Composed from
// RapidCheck's primitives so that shrinking comes from the composition (ARCHITECTURE.md): a size
// shrinks toward 32, a token count toward 0, a boundary size toward its smallest k.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <vector>

#include "reference/padding/plan.h"
#include "reference/quant/blocks.h"

namespace moecheck::properties::gen {

// Generated hidden/intermediate sizes are multiples of this (the MX scale block, so MXFP4 plans
// accept them), except the real sizes below, of which 720 is only a multiple of 16.
inline constexpr std::int64_t kSizeQuantum = reference::quant::kMxBlock;
// Sizes up to this are "small": most default cases stay under it so the suite runs fast.
inline constexpr std::int64_t kSmallSizeLimit = 512;
// Real per-rank sizes of the spec's models (padding.md §2.4, models.md): gpt-oss 2880 and its TP
// shares 1440/720, Gemma-4 704, DeepSeek-V2-Lite 1408, Llama-4 / Qwen 2688.
inline const std::vector<std::int64_t> kRealSizes = {720, 704, 1408, 1440, 2688, 2880};

// One of `values`, uniformly at every size, shrinking toward the first (rc::gen::element picks
// without shrinking; a plain inRange would pick only the first at small sizes).
template <class T>
rc::Gen<T> shrinking_element(std::vector<T> values) {
  const std::size_t n = values.size();
  return rc::gen::map(rc::gen::resize(rc::kNominalSize, rc::gen::inRange<std::size_t>(0, n)),
                      [values = std::move(values)](std::size_t i) { return values[i]; });
}

// A multiple of 32 in [32, 32·max_blocks]; shrinks toward 32.
inline rc::Gen<std::int64_t> small_size(std::int64_t max_blocks = kSmallSizeLimit / kSizeQuantum) {
  return rc::gen::map(rc::gen::inRange<std::int64_t>(1, max_blocks + 1),
                      [](std::int64_t b) { return kSizeQuantum * b; });
}

// One step either side of an alignment boundary, where off-by-one tile and scale indexing bugs
// live (bugs.md B2, B3): 128·k ± 32 and 256·k ± 32 (and the boundary itself), k in [1, max_k].
inline rc::Gen<std::int64_t> boundary_size(std::int64_t max_k) {
  return rc::gen::apply(
      [](std::int64_t alignment, std::int64_t k, std::int64_t offset) {
        const std::int64_t s = alignment * k + offset * kSizeQuantum;
        return s < kSizeQuantum ? kSizeQuantum : s;
      },
      shrinking_element<std::int64_t>({128, 256}), rc::gen::inRange<std::int64_t>(1, max_k + 1),
      shrinking_element<std::int64_t>({0, -1, 1}));
}

// Hidden or intermediate size: mostly small, often at a boundary, sometimes a real model size.
// `allow_large` admits the real sizes (up to 2880); the default suite keeps them rare.
inline rc::Gen<std::int64_t> feature_size(bool allow_large = true) {
  if (!allow_large)
    return rc::gen::weightedOneOf<std::int64_t>({{6, small_size()}, {3, boundary_size(2)}});
  return rc::gen::weightedOneOf<std::int64_t>(
      {{12, small_size()}, {6, boundary_size(2)}, {1, boundary_size(12)}, {1, shrinking_element(kRealSizes)}});
}

// An offset off the 32-grid, added to a generated size where the scheme stores finer sizes (dense
// and the FP8 per-tensor and per-channel rows store any size, NVFP4 multiples of 16): K and N then
// reach every residue modulo the tiles (16, 32, 64, 128), the 128 x 4 swizzle tile and the FP8
// blocks, where partial-tile masks and edge blocks live. Mostly 0, so most cases stay on the grid;
// shrinks toward 0.
inline rc::Gen<std::int64_t> off_grid_offset() {
  return rc::gen::weightedOneOf<std::int64_t>(
      {{5, rc::gen::just<std::int64_t>(0)},
       {2, rc::gen::resize(rc::kNominalSize, rc::gen::inRange<std::int64_t>(1, kSizeQuantum))}});
}

// Token counts: 0 and 1 (the edge cases of every sort and reduction), primes (never a multiple of
// a tile), and anything up to `max_tokens`. With the default bound, also 43 and 65: T·k ≡ 1 modulo
// the larger sim's BLOCK_M of 64 needs at least 65 pairs (65 at top-1, 43 · 3 = 129 at top-3), one
// pair alone in the last block. Shrinks toward 0.
inline rc::Gen<std::int64_t> token_count(std::int64_t max_tokens = 24) {
  std::vector<std::int64_t> edges = {2, 3, 5, 7, 11, 13, 17, 19, 23};
  if (max_tokens >= 24) edges.insert(edges.end(), {43, 65});
  return rc::gen::weightedOneOf<std::int64_t>(
      {{1, rc::gen::just<std::int64_t>(0)},
       {2, rc::gen::just<std::int64_t>(1)},
       {3, shrinking_element<std::int64_t>(std::move(edges))},
       {4, rc::gen::inRange<std::int64_t>(0, max_tokens + 1)}});
}

// Token padding of a CUDA-graph or data-parallel batch (spec/bugs.md B20): a quarter of the cases
// pad their tokens to the next capture size with NaN, Inf or zero rows, which route as the
// engine's top-k routes them (NaN: every slot the same expert). Shrinks toward no padding.
struct TokenPadding {
  bool on = false;
  reference::padding::PadRowFill fill = reference::padding::PadRowFill::kNaN;
};
inline rc::Gen<TokenPadding> token_padding() {
  using reference::padding::PadRowFill;
  return shrinking_element<TokenPadding>({{}, {}, {}, {}, {}, {}, {true, PadRowFill::kNaN},
                                          {true, PadRowFill::kInf}, {true, PadRowFill::kZero}});
}
// vLLM's default CUDA-graph capture sizes 1, 2, 4, then multiples of 8: the smallest above T, so
// that a padded batch has at least one pad row.
inline std::int64_t graph_batch_rows(std::int64_t tokens) {
  for (const std::int64_t small : {1, 2, 4})
    if (small > tokens) return small;
  return (tokens / 8 + 1) * 8;
}

// Routed experts: few enough that a handful of tokens leaves some of them without any token
// (bugs.md B10), and the top-k drawn for it.
struct ExpertCount {
  std::int64_t experts = 1, top_k = 1;
};
inline rc::Gen<ExpertCount> experts_and_top_k(std::int64_t max_experts = 8) {
  return rc::gen::mapcat(rc::gen::inRange<std::int64_t>(1, max_experts + 1), [](std::int64_t e) {
    return rc::gen::map(rc::gen::inRange<std::int64_t>(1, std::min<std::int64_t>(e, 4) + 1),
                        [e](std::int64_t k) { return ExpertCount{e, k}; });
  });
}

}  // namespace moecheck::properties::gen
