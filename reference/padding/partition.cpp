#include "reference/padding/partition.h"

#include <algorithm>
#include <stdexcept>

#include "reference/padding/poison.h"

namespace moecheck::reference::padding {
namespace {

// The gpt-oss checkpoint stores MXFP4 in 32-element blocks: its loaders cut on block boundaries.
constexpr std::int64_t kGptOssBlock = quant::kMxBlock;

void fill_experts(Partition& p, const Plan& plan) {
  const std::int64_t experts = plan.problem.experts;
  const int n = static_cast<int>(p.ranks.size());
  if (!p.expert_parallel) {
    for (auto& r : p.ranks) r.expert_begin = 0, r.expert_end = experts;
    return;
  }
  // Contiguous, balanced: the first E % ep ranks get one more (the spec says only "slice experts
  // [ep_rank_start, ep_rank_end)"; the split of a remainder is not in it).
  const std::int64_t base = experts / n, extra = experts % n;
  for (auto& r : p.ranks) {
    r.expert_begin = r.rank * base + std::min<std::int64_t>(r.rank, extra);
    r.expert_end = r.expert_begin + base + (r.rank < extra ? 1 : 0);
  }
}

const RankShard& shard_of(const Partition& p, int rank) {
  if (rank < 0 || rank >= static_cast<int>(p.ranks.size()))
    throw std::invalid_argument("rank " + std::to_string(rank) + " is not in the partition of " +
                                std::to_string(p.ranks.size()) + " ranks");
  if (!p.ok()) throw std::invalid_argument("the partition is invalid: " + *p.error);
  return p.ranks[static_cast<std::size_t>(rank)];
}

// Source rows (of a [E, 2·I_full, ...] tensor) that make up rank r's [2·real] rows, in order.
std::vector<std::int64_t> w13_source_rows(const Partition& p, const RankShard& r, W13Layout layout, bool gated) {
  std::vector<std::int64_t> rows;
  if (!gated) {
    for (std::int64_t i = r.real_begin; i < r.real_end; ++i) rows.push_back(i);
  } else if (layout == W13Layout::kInterleaved) {
    for (std::int64_t i = 2 * r.real_begin; i < 2 * r.real_end; ++i) rows.push_back(i);
  } else {
    for (std::int64_t i = r.real_begin; i < r.real_end; ++i) rows.push_back(i);
    for (std::int64_t i = r.real_begin; i < r.real_end; ++i) rows.push_back(p.intermediate_full + i);
  }
  return rows;
}

}  // namespace

std::string_view name(Loader loader) {
  switch (loader) {
    case Loader::kGeneric:
      return "generic";
    case Loader::kGptOssMxfp4:
      return "gpt_oss_mxfp4";
    case Loader::kGptOssQuark:
      return "gpt_oss_quark";
    case Loader::kGptOssOther:
      return "gpt_oss_other";
  }
  return "?";
}

Loader default_loader(const Plan& plan) {
  if (plan.problem.model_type != "gpt_oss") return Loader::kGeneric;
  const MethodInfo* m = find_method_info(plan.method);
  if (m && m->gpt_oss_block_loader) return Loader::kGptOssMxfp4;
  if (m && m->gpt_oss_quark_loader) return Loader::kGptOssQuark;
  return Loader::kGptOssOther;
}

Partition partition(const Plan& plan, Loader loader) {
  if (!plan.ok()) throw std::invalid_argument("partition of an invalid plan: " + *plan.error);
  Partition p;
  p.loader = loader;
  p.expert_parallel = plan.parallel.enable_ep;
  p.intermediate_full = plan.intermediate_full;
  const int tp = plan.parallel.moe_tp_size();
  const int n = p.expert_parallel ? plan.parallel.ep_size() : tp;
  const std::int64_t full = plan.intermediate_full;
  const std::int64_t allocated = plan.intermediate_per_partition_allocated;

  const bool block_aligned = loader == Loader::kGptOssMxfp4 ||
                             (loader == Loader::kGptOssQuark && plan.method_info().weight_bits == 4);
  const GenericLoader& generic = plan.generic_loader;
  if (loader == Loader::kGeneric) {
    // §1.5: shard_size from the padded parameter; from #42595 the unpadded per-rank size.
    p.chunk = generic.shard == GenericLoader::Shard::kAllocated ? allocated : full / tp;
  } else if (block_aligned) {
    if (full % kGptOssBlock != 0) {
      p.error = "the gpt-oss loader needs I_full a multiple of " + std::to_string(kGptOssBlock) + " (MXFP4 blocks), found " + std::to_string(full);
      return p;
    }
    p.chunk = cdiv(full / kGptOssBlock, tp) * kGptOssBlock;
  } else {
    p.chunk = cdiv(full, tp);
  }
  p.biases_loaded = loader != Loader::kGeneric || generic.biases == GenericLoader::Biases::kEveryRank;
  // Model loaders zero the w2 bias on every TP rank but 0; the generic loader (#44120) does not.
  const bool w2_bias_on_every_rank = loader == Loader::kGeneric;

  for (int r = 0; r < n; ++r) {
    RankShard s;
    s.rank = r;
    s.padded_rows = plan.intermediate_per_partition_padded;
    const std::int64_t slot = p.expert_parallel ? 0 : r;  // EP: tp = 1, every rank the whole dim
    s.real_begin = std::min(slot * p.chunk, full);
    s.real_end = std::min(slot * p.chunk + p.chunk, full);
    s.holds_w2_bias = p.biases_loaded && (p.expert_parallel || r == 0 || w2_bias_on_every_rank);
    p.ranks.push_back(s);
  }
  fill_experts(p, plan);

  for (const auto& s : p.ranks) {
    if (s.real_rows() > allocated) {
      // The loader copies more rows than the allocated buffer has (§3.4 #35737 -> #43979: Quark
      // emulation allocates I = 720 at TP4 while the gpt-oss loader slices 736).
      p.error = "rank " + std::to_string(s.rank) + ": the " + std::string(name(loader)) + " loader copies " +
                std::to_string(s.real_rows()) + " intermediate rows into a buffer of " + std::to_string(allocated) +
                " (I_pad at allocation)";
      return p;
    }
  }
  if (loader == Loader::kGeneric && generic.error_when_intermediate_padded && allocated > plan.intermediate_per_partition)
    p.error = *generic.error_when_intermediate_padded;
  // From #42595 the generic loader cuts every tensor by its own dim // tp: packed codes and block
  // scales of a shard that is not whole blocks come out of step with each other.
  if (loader == Loader::kGeneric && generic.shard == GenericLoader::Shard::kPerPartition && !p.expert_parallel) {
    const MethodInfo& m = plan.method_info();
    const std::int64_t unit = std::max<std::int64_t>(m.weight_packing.elements, m.requires_whole_blocks ? m.scale_block : 1);
    if (p.chunk % unit != 0)
      p.error = "the generic loader cuts " + std::to_string(p.chunk) + " intermediate rows per rank (I_full / tp), not whole " +
                std::to_string(unit) + "-element blocks of " + std::string(m.name) +
                ": weight and scale shards would disagree (fused_moe/routed_experts.py:540-552)";
  }
  // _load_weights_other copies each narrowed checkpoint tensor into the whole parameter
  // (param.copy_), which fails for a parameter allocated with padding (inferred from the source:
  // the shapes differ and do not broadcast; README.md "What the source does not settle").
  if (loader == Loader::kGptOssOther &&
      (plan.hidden_allocated != plan.hidden || allocated != plan.intermediate_per_partition))
    p.error = "gpt-oss's _load_weights_other copies whole checkpoint tensors into parameters allocated at (H " +
              std::to_string(plan.hidden_allocated) + ", I " + std::to_string(allocated) + ") for shards of (H " +
              std::to_string(plan.hidden) + ", I " + std::to_string(plan.intermediate_per_partition) +
              "): the copy cannot fit (inferred)";
  return p;
}

std::string Partition::summary() const {
  std::string out = "real rows per rank: ";
  std::size_t i = 0;
  while (i < ranks.size()) {
    std::size_t j = i;
    while (j < ranks.size() && ranks[j].real_rows() == ranks[i].real_rows()) ++j;
    out += (i ? ", " : "") + std::to_string(ranks[i].real_rows());
    if (j - i > 1) out += " x" + std::to_string(j - i);
    i = j;
  }
  const auto all_pad = std::count_if(ranks.begin(), ranks.end(), [](const RankShard& s) { return s.all_padding(); });
  if (all_pad) out += " (" + std::to_string(all_pad) + " all padding)";
  return out + " (" + std::string(name(loader)) + " loader)";
}

template <class T>
Tensor<T> shard_w13(const Partition& p, int rank, const Tensor<T>& full, W13Layout layout, bool gated) {
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 3 || full.dim(1) != (gated ? 2 : 1) * p.intermediate_full)
    throw std::invalid_argument("shard_w13: expected [E, " + std::to_string((gated ? 2 : 1) * p.intermediate_full) +
                                ", C], found " + to_string(full.shape));
  const std::vector<std::int64_t> rows = w13_source_rows(p, r, layout, gated);
  const std::int64_t c = full.dim(2);
  Tensor<T> out = poisoned<T>({r.experts(), std::int64_t(rows.size()), c}, kDefaultPoisonSeed ^ 0x5331);
  const std::int64_t n = std::int64_t(rows.size()), full_rows = full.dim(1);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t i = 0; i < n; ++i)
      std::copy_n(full.data.data() + ((r.expert_begin + e) * full_rows + rows[static_cast<std::size_t>(i)]) * c, c,
                  out.data.data() + (e * n + i) * c);
  return out;
}

template <class T>
Tensor<T> shard_w2(const Partition& p, int rank, const Tensor<T>& full, Packing packing) {
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 3 || full.dim(2) != packing.storage(p.intermediate_full))
    throw std::invalid_argument("shard_w2: expected [E, R, " + std::to_string(packing.storage(p.intermediate_full)) +
                                "], found " + to_string(full.shape));
  // A whole-axis component (a per-channel scale) is not cut along K: every rank keeps its one column.
  const std::int64_t begin = packing.whole_axis() ? 0 : packing.storage(r.real_begin), width = packing.storage(r.real_rows());
  Tensor<T> out = poisoned<T>({r.experts(), full.dim(1), width}, kDefaultPoisonSeed ^ 0x5332);
  const std::int64_t rows = full.dim(1), full_width = full.dim(2);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t i = 0; i < rows; ++i)
      std::copy_n(full.data.data() + ((r.expert_begin + e) * rows + i) * full_width + begin, width,
                  out.data.data() + (e * rows + i) * width);
  return out;
}

Tensor<float> shard_expert_scalars(const Partition& p, int rank, const Tensor<float>& full) {
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 3 || full.dim(2) != 1 || full.dim(0) < r.expert_end)
    throw std::invalid_argument("shard_expert_scalars: expected [E >= " + std::to_string(r.expert_end) +
                                ", parts, 1], found " + to_string(full.shape));
  Tensor<float> out({r.experts(), full.dim(1), 1}, 0.0f);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t j = 0; j < full.dim(1); ++j) out.at(e, j, 0) = full.at(r.expert_begin + e, j, 0);
  return out;
}

Tensor<float> shard_experts(const Partition& p, int rank, const Tensor<float>& full) {
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 3 || full.dim(0) < r.expert_end)
    throw std::invalid_argument("shard_experts: expected [E >= " + std::to_string(r.expert_end) + ", R, C], found " +
                                to_string(full.shape));
  const std::int64_t per_expert = full.dim(1) * full.dim(2);
  Tensor<float> out({r.experts(), full.dim(1), full.dim(2)}, 0.0f);
  std::copy_n(full.data.data() + r.expert_begin * per_expert, r.experts() * per_expert, out.data.data());
  return out;
}

template <class T>
Tensor<T> shard_w13_bias(const Partition& p, int rank, const Tensor<T>& full, W13Layout layout, bool gated) {
  if (full.shape.size() != 2) throw std::invalid_argument("shard_w13_bias: expected [E, 2·I], found " + to_string(full.shape));
  Tensor<T> as3{Shape{full.dim(0), full.dim(1), 1}, T{}};
  as3.data = full.data;
  Tensor<T> out = shard_w13(p, rank, as3, layout, gated);
  out.shape = {out.dim(0), out.dim(1)};
  return out;
}

template <class T>
Tensor<T> shard_w2_bias(const Partition& p, int rank, const Tensor<T>& full) {
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 2) throw std::invalid_argument("shard_w2_bias: expected [E, H], found " + to_string(full.shape));
  Tensor<T> out = poisoned<T>({r.experts(), full.dim(1)}, kDefaultPoisonSeed ^ 0x5334);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t k = 0; k < full.dim(1); ++k) out.at(e, k) = r.holds_w2_bias ? full.at(r.expert_begin + e, k) : T{};
  return out;
}

std::string block_grid_misalignment(const Partition& p, std::int64_t block) {
  for (const RankShard& r : p.ranks)
    if (r.real_begin % block != 0 && !r.all_padding())
      return "rank " + std::to_string(r.rank) + " starts at intermediate row " + std::to_string(r.real_begin) +
             ", not on a " + std::to_string(block) + "-row scale block";
  return {};
}

namespace {
void require_block_aligned(const Partition& p, std::int64_t block, const char* what) {
  if (block < 1) throw std::invalid_argument(std::string(what) + ": block must be >= 1");
  if (const std::string why = block_grid_misalignment(p, block); !why.empty())
    throw std::invalid_argument(std::string(what) + ": " + why);
}
}  // namespace

std::int64_t block_grid_offset(const Partition& p, int rank, std::int64_t block) {
  if (block < 1) throw std::invalid_argument("block_grid_offset: block must be >= 1");
  return shard_of(p, rank).real_begin % block;
}

Tensor<float> shard_w13_block_grid(const Partition& p, int rank, const Tensor<float>& full, std::int64_t block,
                                   bool global_grid) {
  if (!global_grid) require_block_aligned(p, block, "shard_w13_block_grid");
  const RankShard& r = shard_of(p, rank);
  const std::int64_t half = cdiv(p.intermediate_full, block);
  if (full.shape.size() != 3 || full.dim(1) != 2 * half)
    throw std::invalid_argument("shard_w13_block_grid: expected [E, " + std::to_string(2 * half) + ", G], found " +
                                to_string(full.shape));
  const std::int64_t first = r.real_begin / block, rows = cdiv(r.real_begin % block + r.real_rows(), block),
                     g = full.dim(2);
  Tensor<float> out = poisoned<float>({r.experts(), 2 * rows, g}, kDefaultPoisonSeed ^ 0x5335);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t k = 0; k < g; ++k) out.at(e, h * rows + i, k) = full.at(r.expert_begin + e, h * half + first + i, k);
  return out;
}

Tensor<float> shard_w2_block_grid(const Partition& p, int rank, const Tensor<float>& full, std::int64_t block,
                                  bool global_grid) {
  if (!global_grid) require_block_aligned(p, block, "shard_w2_block_grid");
  const RankShard& r = shard_of(p, rank);
  if (full.shape.size() != 3 || full.dim(2) != cdiv(p.intermediate_full, block))
    throw std::invalid_argument("shard_w2_block_grid: expected [E, R, " + std::to_string(cdiv(p.intermediate_full, block)) +
                                "], found " + to_string(full.shape));
  const std::int64_t first = r.real_begin / block, cols = cdiv(r.real_begin % block + r.real_rows(), block);
  Tensor<float> out = poisoned<float>({r.experts(), full.dim(1), cols}, kDefaultPoisonSeed ^ 0x5336);
  for (std::int64_t e = 0; e < r.experts(); ++e)
    for (std::int64_t i = 0; i < full.dim(1); ++i)
      for (std::int64_t k = 0; k < cols; ++k) out.at(e, i, k) = full.at(r.expert_begin + e, i, first + k);
  return out;
}

#define MOECHECK_PADDING_SHARD_INSTANTIATE(T)                                                       \
  template Tensor<T> shard_w13<T>(const Partition&, int, const Tensor<T>&, W13Layout, bool);       \
  template Tensor<T> shard_w2<T>(const Partition&, int, const Tensor<T>&, Packing);                \
  template Tensor<T> shard_w13_bias<T>(const Partition&, int, const Tensor<T>&, W13Layout, bool);  \
  template Tensor<T> shard_w2_bias<T>(const Partition&, int, const Tensor<T>&);
MOECHECK_PADDING_SHARD_INSTANTIATE(float)
MOECHECK_PADDING_SHARD_INSTANTIATE(std::uint8_t)
MOECHECK_PADDING_SHARD_INSTANTIATE(std::uint16_t)

}  // namespace moecheck::reference::padding
