#include "device/sim/align.h"

#include <span>
#include <stdexcept>
#include <string>

#include "reference/padding/poison.h"

namespace moecheck::device::sim {

namespace {
// int32 buffers have no poison overload: poison their bytes (garbage ids, mostly out of range).
void poison_ints(std::vector<std::int32_t>& v, std::uint64_t seed) {
  std::vector<std::uint8_t> bytes(v.size() * sizeof(std::int32_t));
  reference::padding::poison(std::span<std::uint8_t>(bytes), seed);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<std::int32_t>(std::uint32_t{bytes[4 * i]} | std::uint32_t{bytes[4 * i + 1]} << 8 |
                                     std::uint32_t{bytes[4 * i + 2]} << 16 | std::uint32_t{bytes[4 * i + 3]} << 24);
}
}  // namespace

AlignedBlocks moe_align_block_size(const reference::padding::Tensor<std::int32_t>& topk_ids, std::int64_t experts,
                                   std::int64_t block_m, std::uint64_t poison_seed, bool first_duplicate_only) {
  if (block_m < 1) throw std::invalid_argument("moe_align_block_size: block_m must be >= 1, found " + std::to_string(block_m));
  if (experts < 1) throw std::invalid_argument("moe_align_block_size: experts must be >= 1, found " + std::to_string(experts));
  const std::int64_t pairs = topk_ids.numel();
  AlignedBlocks out;
  out.block_m = block_m;
  out.sentinel = static_cast<std::int32_t>(pairs);
  out.tokens_per_expert.assign(static_cast<std::size_t>(experts), 0);
  for (std::int64_t p = 0; p < pairs; ++p) {
    const std::int32_t e = topk_ids.data[static_cast<std::size_t>(p)];
    if (e == -1) continue;
    if (e < 0 || e >= experts)
      throw std::invalid_argument("moe_align_block_size: topk_ids element " + std::to_string(p) + " is " +
                                  std::to_string(e) + ", expected an expert id in [0, " + std::to_string(experts) + ")");
    ++out.tokens_per_expert[static_cast<std::size_t>(e)];
  }
  const std::int64_t capacity = pairs + experts * (block_m - 1);
  out.sorted_token_ids.resize(static_cast<std::size_t>(capacity));
  out.expert_ids.resize(static_cast<std::size_t>((capacity + block_m - 1) / block_m));
  poison_ints(out.sorted_token_ids, poison_seed);
  poison_ints(out.expert_ids, poison_seed ^ 0x5a5a5a5aULL);
  const std::vector<std::int32_t> allocated = out.sorted_token_ids;  // the poison, for fault B20
  // vLLM fills sorted_token_ids with the sentinel before scattering.
  for (auto& v : out.sorted_token_ids) v = out.sentinel;

  std::vector<std::int64_t> cursor(static_cast<std::size_t>(experts));
  std::int64_t offset = 0;
  for (std::int64_t e = 0; e < experts; ++e) {
    cursor[static_cast<std::size_t>(e)] = offset;
    const std::int64_t n = out.tokens_per_expert[static_cast<std::size_t>(e)];
    const std::int64_t padded = (n + block_m - 1) / block_m * block_m;  // zero tokens: zero blocks
    for (std::int64_t b = offset / block_m; b < (offset + padded) / block_m; ++b)
      out.expert_ids[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(e);
    offset += padded;
  }
  out.num_tokens_post_padded = offset;
  const std::int64_t k = topk_ids.shape.size() == 2 ? topk_ids.shape[1] : 1;
  for (std::int64_t p = 0; p < pairs; ++p) {
    const std::int32_t id = topk_ids.data[static_cast<std::size_t>(p)];
    if (id == -1) continue;
    const auto slot = static_cast<std::size_t>(cursor[static_cast<std::size_t>(id)]++);
    bool repeat = false;  // an earlier slot of the same token names the same expert
    for (std::int64_t q = p - p % k; q < p && first_duplicate_only; ++q)
      repeat = repeat || topk_ids.data[static_cast<std::size_t>(q)] == id;
    out.sorted_token_ids[slot] = repeat ? allocated[slot] : static_cast<std::int32_t>(p);
  }
  return out;
}

}  // namespace moecheck::device::sim
