// vLLM's `moe_align_block_size` (csrc/moe/moe_align_sum_kernels.cu): the (token, slot) pairs of a
// top-k routing sorted by expert, each expert's segment padded to a multiple of BLOCK_M with a
// sentinel, so that every BLOCK_M block of rows belongs to exactly one expert.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/padding/tensor.h"

namespace moecheck::device::sim {

struct AlignedBlocks {
  // Flat pair indices t·k + j, grouped by expert (experts ascending, pairs ascending inside an
  // expert), each expert's segment padded with `sentinel` to a multiple of block_m. Capacity
  // T·k + E·(block_m − 1), as vLLM allocates; the tail past num_tokens_post_padded is sentinel.
  std::vector<std::int32_t> sorted_token_ids;
  // One expert id per block; only the first num_tokens_post_padded / block_m are written, the
  // rest keep the poison they were allocated with (the kernel must never read them).
  std::vector<std::int32_t> expert_ids;
  std::int64_t num_tokens_post_padded = 0;
  std::int32_t sentinel = 0;  // T·k: an index past every real pair
  std::int64_t block_m = 0;
  std::vector<std::int64_t> tokens_per_expert;  // [E], pairs routed to each expert

  std::int64_t num_blocks() const { return num_tokens_post_padded / block_m; }
};

// `topk_ids` [T, k] with ids in [0, experts), or -1 for an expert of another EP rank: such a pair
// is in no expert's segment (the caller writes its rows as zeros, as vLLM's kernel does for
// expert id -1). std::invalid_argument for ids out of range or a block_m < 1. `poison_seed` seeds
// the poison of the allocated buffers.
//
// `first_duplicate_only` is fault B20 (FlashInfer's sort before PR #3011): of a token's slots that
// name the same expert (NaN router rows), only the first is scattered; the positions reserved for
// the others keep the allocator's poison instead of a pair index.
AlignedBlocks moe_align_block_size(const reference::padding::Tensor<std::int32_t>& topk_ids, std::int64_t experts,
                                   std::int64_t block_m, std::uint64_t poison_seed,
                                   bool first_duplicate_only = false);

}  // namespace moecheck::device::sim
