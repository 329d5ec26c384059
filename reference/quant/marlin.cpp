#include "reference/quant/marlin.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <string>
#include <vector>

namespace moecheck::reference::quant {

namespace {

void check_bits(int bits, std::string_view what) {
  if (bits != 4 && bits != 8) detail::fail(std::string(what) + " bits", "4 or 8", bits);
}

template <typename M>
void check_shape(const M& m, std::int64_t rows, std::int64_t cols, std::string_view what) {
  if (m.rows() != rows || m.cols() != cols)
    detail::fail(what, detail::shape_string({rows, cols}), detail::shape_string({m.rows(), m.cols()}));
}

void check_multiple(std::int64_t value, std::int64_t multiple, std::string_view what, std::string_view why) {
  if (value <= 0 || value % multiple != 0)
    detail::fail(what, "a positive multiple of " + std::to_string(multiple) + " (" + std::string(why) + ")", value);
}

int pack_factor(int bits) { return 32 / bits; }
std::uint32_t mask_of(int bits) { return (1u << bits) - 1u; }
std::int64_t words_per_tile(int bits) { return kMarlinTileK * kMarlinTileN / pack_factor(bits); }

// ---- the tile map --------------------------------------------------------------------------
// The repack kernel runs 4 warps of 32 threads per 16×64 tile (R:122-127). Thread th of warp w owns
// column n0 = 16w + th/4 and n0 + 8, and rows k0 = 2·(th%4) + {0, 1, 8, 9} (R:129-134): the B
// fragment of an m16n8k16 MMA. It gathers 8 codes vals[0..7]: vals[j] (k0 + kRowOffset[j%4],
// n0 + 8·(j/4)) (R:179-191).
constexpr int kRowOffset[4] = {0, 1, 8, 9};  // R:132 tc_offsets
// int4: one word per thread at th·4 + w; nibble i holds vals[kInt4Vals[i]] (R:200-209): the
// interleave of FasterTransformer's int4 -> fp16 conversion, cited there.
constexpr int kInt4Vals[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// int8: two words per thread at th·8 + 2w + h, h = 0 for column n0, 1 for n0 + 8; byte i holds
// vals[4h + kInt8Vals[i]] (R:222-235).
constexpr int kInt8Vals[4] = {0, 2, 1, 3};

MarlinTileSource source_of(int thread, int warp, int val) {
  return {2 * (thread % 4) + kRowOffset[val % 4], 16 * warp + thread / 4 + 8 * (val / 4)};
}

// ---- the scale permutations (MU:460-467) --------------------------------------------------------
constexpr std::int64_t kGroupedChunk = 64;
constexpr std::int64_t kSingleChunk = 32;
// kGrouped: position p = 8i + j takes element i + 8j (an 8×8 transpose of each 64-chunk).
int grouped_source(int p) { return p / 8 + 8 * (p % 8); }
// kSingleGroup: position p = 8i + t takes element 2i + [0, 1, 8, 9, 16, 17, 24, 25][t].
int single_source(int p) { return 2 * (p / 8) + (p % 8) % 2 + 8 * ((p % 8) / 2); }

std::int64_t chunk_of(MarlinScaleLayout layout) {
  return layout == MarlinScaleLayout::kGrouped ? kGroupedChunk : kSingleChunk;
}
int layout_source(MarlinScaleLayout layout, int p) {
  return layout == MarlinScaleLayout::kGrouped ? grouped_source(p) : single_source(p);
}

// The zero points' interleave inside each run of 32/bits values (MU:521-529).
constexpr int kZpInterleave4[8] = {0, 2, 4, 6, 1, 3, 5, 7};
constexpr int kZpInterleave8[4] = {0, 2, 1, 3};
int zp_interleave(int bits, int i) { return bits == 4 ? kZpInterleave4[i] : kZpInterleave8[i]; }

// Flat index into the row-major [K/g, N] zero points that field i of packed word (r, c) holds:
// pack_cols puts column pf·c + i in field i, the interleave reads its run at interleave[i], and the
// chunk permutation reads the 64-chunk at grouped_source.
std::int64_t zp_source(std::int64_t r, std::int64_t c, int i, std::int64_t size_n, int bits) {
  const std::int64_t q = r * size_n + c * pack_factor(bits) + zp_interleave(bits, i);
  return (q / kGroupedChunk) * kGroupedChunk + grouped_source(int(q % kGroupedChunk));
}

void check_marlin_n(std::int64_t size_n, std::string_view what) {
  check_multiple(size_n, kMarlinTileN, what, "Marlin tile_n_size, gptq_marlin_repack.cu:292");
}

void check_sort_indices(const Eigen::VectorXi& perm, std::int64_t size_k, std::string_view what) {
  if (perm.size() == 0) return;
  if (perm.size() != size_k) detail::fail(std::string(what) + " size", "K = " + std::to_string(size_k) + " or 0", perm.size());
  std::vector<bool> seen(std::size_t(size_k), false);
  for (std::int64_t k = 0; k < size_k; ++k) {
    const int v = perm[k];
    if (v < 0 || v >= size_k || seen[std::size_t(v)])
      detail::fail(std::string(what) + "[" + std::to_string(k) + "]",
                   "a permutation of 0 .. " + std::to_string(size_k - 1), v);
    seen[std::size_t(v)] = true;
  }
}

}  // namespace

MarlinTileSource marlin_tile_source(int word, int field, int bits) {
  check_bits(bits, "marlin_tile_source:");
  if (word < 0 || word >= words_per_tile(bits))
    detail::fail("marlin_tile_source word", "0 .. " + std::to_string(words_per_tile(bits) - 1), word);
  if (field < 0 || field >= pack_factor(bits))
    detail::fail("marlin_tile_source field", "0 .. " + std::to_string(pack_factor(bits) - 1), field);
  if (bits == 4) return source_of(word / 4, word % 4, kInt4Vals[field]);
  return source_of(word / 8, (word % 8) / 2, 4 * (word % 2) + kInt8Vals[field]);
}

RowMatrixXi32 marlin_repack_codes(const RowMatrixXu8& codes, int bits, const Eigen::VectorXi& sort_indices) {
  check_bits(bits, "marlin_repack_codes:");
  const std::int64_t size_n = codes.rows(), size_k = codes.cols();
  check_multiple(size_k, kMarlinTileK, "marlin_repack_codes: K", "Marlin tile_k_size, gptq_marlin_repack.cu:290");
  check_marlin_n(size_n, "marlin_repack_codes: N");
  check_sort_indices(sort_indices, size_k, "marlin_repack_codes: sort_indices");
  const int pf = pack_factor(bits);
  const std::int64_t tile_words = words_per_tile(bits);
  RowMatrixXi32 out(size_k / kMarlinTileK, size_n / kMarlinTileN * tile_words);
  for (std::int64_t kt = 0; kt < out.rows(); ++kt)
    for (std::int64_t col = 0; col < out.cols(); ++col) {
      const std::int64_t nt = col / tile_words;
      std::uint32_t word = 0;
      for (int f = 0; f < pf; ++f) {
        const MarlinTileSource s = marlin_tile_source(int(col % tile_words), f, bits);
        const std::int64_t k = kt * kMarlinTileK + s.k, n = nt * kMarlinTileN + s.n;
        const std::int64_t src_k = sort_indices.size() ? sort_indices[k] : k;
        const std::uint32_t code = codes(n, src_k);
        if (code > mask_of(bits))
          detail::fail("marlin_repack_codes: code (" + std::to_string(n) + ", " + std::to_string(src_k) + ")",
                       "<= " + std::to_string(mask_of(bits)), code);
        word |= code << (bits * f);
      }
      out(kt, col) = std::bit_cast<std::int32_t>(word);
    }
  return out;
}

RowMatrixXu8 marlin_unpack_codes(const RowMatrixXi32& qweight, std::int64_t size_k, std::int64_t size_n, int bits,
                                 const Eigen::VectorXi& sort_indices) {
  check_bits(bits, "marlin_unpack_codes:");
  check_multiple(size_k, kMarlinTileK, "marlin_unpack_codes: K", "Marlin tile_k_size, gptq_marlin_repack.cu:290");
  check_marlin_n(size_n, "marlin_unpack_codes: N");
  check_sort_indices(sort_indices, size_k, "marlin_unpack_codes: sort_indices");
  const std::int64_t tile_words = words_per_tile(bits);
  check_shape(qweight, size_k / kMarlinTileK, size_n / kMarlinTileN * tile_words,
              "marlin_unpack_codes: qweight shape [K/16, N*bits/2]");
  RowMatrixXu8 codes(size_n, size_k);
  for (std::int64_t kt = 0; kt < qweight.rows(); ++kt)
    for (std::int64_t col = 0; col < qweight.cols(); ++col) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(qweight(kt, col));
      for (int f = 0; f < pack_factor(bits); ++f) {
        const MarlinTileSource s = marlin_tile_source(int(col % tile_words), f, bits);
        const std::int64_t k = kt * kMarlinTileK + s.k, n = col / tile_words * kMarlinTileN + s.n;
        codes(n, sort_indices.size() ? sort_indices[k] : k) = std::uint8_t((word >> (bits * f)) & mask_of(bits));
      }
    }
  return codes;
}

MarlinScaleLayout marlin_scale_layout(std::int64_t size_k, std::int64_t group_size) {
  // MU:474 (without is_a_8bit, which this reference does not model).
  return group_size < size_k && group_size != -1 ? MarlinScaleLayout::kGrouped : MarlinScaleLayout::kSingleGroup;
}

MarlinScaleLayout marlin_kernel_scale_layout(std::int64_t num_groups) {
  if (num_groups <= 0) detail::fail("marlin_kernel_scale_layout: num_groups", ">= 1", num_groups);
  return num_groups > 1 ? MarlinScaleLayout::kGrouped : MarlinScaleLayout::kSingleGroup;
}

RowMatrixXf marlin_permute_scales(const RowMatrixXf& s, std::int64_t size_k, std::int64_t size_n, std::int64_t group_size) {
  if (s.cols() != size_n) detail::fail("marlin_permute_scales: scales columns (size_n)", std::to_string(size_n), s.cols());
  return marlin_permute_scales(s, marlin_scale_layout(size_k, group_size));
}

RowMatrixXf marlin_permute_scales(const RowMatrixXf& s, MarlinScaleLayout layout) {
  check_marlin_n(s.cols(), "marlin_permute_scales: N");
  const std::int64_t chunk = chunk_of(layout);
  RowMatrixXf out(s.rows(), s.cols());
  for (Eigen::Index i = 0; i < s.size(); ++i)
    out.data()[i] = s.data()[(i / chunk) * chunk + layout_source(layout, int(i % chunk))];
  return out;
}

RowMatrixXf marlin_unpermute_scales(const RowMatrixXf& s, MarlinScaleLayout layout) {
  check_marlin_n(s.cols(), "marlin_unpermute_scales: N");
  const std::int64_t chunk = chunk_of(layout);
  RowMatrixXf out(s.rows(), s.cols());
  for (Eigen::Index i = 0; i < s.size(); ++i)
    out.data()[(i / chunk) * chunk + layout_source(layout, int(i % chunk))] = s.data()[i];
  return out;
}

RowMatrixXi32 marlin_pack_zero_points(const RowMatrixXu8& z, int bits) {
  check_bits(bits, "marlin_pack_zero_points:");
  check_marlin_n(z.cols(), "marlin_pack_zero_points: N");
  const std::int64_t size_n = z.cols();
  RowMatrixXi32 out(z.rows(), size_n / pack_factor(bits));
  for (std::int64_t r = 0; r < out.rows(); ++r)
    for (std::int64_t c = 0; c < out.cols(); ++c) {
      std::uint32_t word = 0;
      for (int i = 0; i < pack_factor(bits); ++i) {
        const std::uint32_t v = z.data()[zp_source(r, c, i, size_n, bits)];
        if (v > mask_of(bits)) detail::fail("marlin_pack_zero_points: zero point", "<= " + std::to_string(mask_of(bits)), v);
        word |= v << (bits * i);
      }
      out(r, c) = std::bit_cast<std::int32_t>(word);
    }
  return out;
}

RowMatrixXu8 marlin_unpack_zero_points(const RowMatrixXi32& packed, std::int64_t size_n, int bits) {
  check_bits(bits, "marlin_unpack_zero_points:");
  check_marlin_n(size_n, "marlin_unpack_zero_points: N");
  check_shape(packed, packed.rows(), size_n / pack_factor(bits), "marlin_unpack_zero_points: shape [K/g, N*bits/32]");
  RowMatrixXu8 z(packed.rows(), size_n);
  for (std::int64_t r = 0; r < packed.rows(); ++r)
    for (std::int64_t c = 0; c < packed.cols(); ++c) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(packed(r, c));
      for (int i = 0; i < pack_factor(bits); ++i)
        z.data()[zp_source(r, c, i, size_n, bits)] = std::uint8_t((word >> (bits * i)) & mask_of(bits));
    }
  return z;
}

MarlinSortedGIdx marlin_sort_g_idx(const Eigen::VectorXi& g_idx, std::int64_t num_groups) {
  for (Eigen::Index k = 0; k < g_idx.size(); ++k)
    if (g_idx[k] < 0 || g_idx[k] >= num_groups)
      detail::fail("marlin_sort_g_idx: g_idx[" + std::to_string(k) + "]", "0 .. " + std::to_string(num_groups - 1), g_idx[k]);
  MarlinSortedGIdx out;
  out.sort_indices.resize(g_idx.size());
  std::iota(out.sort_indices.begin(), out.sort_indices.end(), 0);
  std::stable_sort(out.sort_indices.begin(), out.sort_indices.end(), [&](int a, int b) { return g_idx[a] < g_idx[b]; });
  out.g_idx.resize(g_idx.size());
  for (Eigen::Index i = 0; i < g_idx.size(); ++i) out.g_idx[i] = g_idx[out.sort_indices[i]];
  return out;
}

MarlinWeight marlin_repack(const IntWeight& w, const std::optional<Eigen::VectorXi>& g_idx) {
  validate(w);
  MarlinWeight m;
  m.size_k = w.cols;
  m.size_n = w.rows;
  m.bits = w.bits;
  m.group_size = w.group_size;
  const std::int64_t groups = w.cols / w.group_size;
  if (g_idx) {
    if (g_idx->size() != w.cols) detail::fail("marlin_repack: g_idx size", "K = " + std::to_string(w.cols), g_idx->size());
    MarlinSortedGIdx sorted = marlin_sort_g_idx(*g_idx, groups);
    m.g_idx = std::move(sorted.g_idx);
    m.sort_indices = std::move(sorted.sort_indices);
  }
  m.qweight = marlin_repack_codes(w.codes, w.bits, m.sort_indices);
  // Scales stay in group order with act-order too: the kernel indexes them by the sorted g_idx.
  // size_k is this weight's own K, so a single group (group_size == K) takes the single-group branch.
  m.scales = marlin_permute_scales(w.scales.transpose(), w.cols, w.rows, w.group_size);
  if (w.zeros) m.zeros = marlin_pack_zero_points(w.zeros->transpose(), w.bits);
  return m;
}

IntWeight marlin_unpack(const MarlinWeight& m) {
  check_bits(m.bits, "MarlinWeight");
  if (m.group_size <= 0 || m.size_k % m.group_size != 0)
    detail::fail("MarlinWeight.group_size", "a positive divisor of K = " + std::to_string(m.size_k), m.group_size);
  const std::int64_t groups = m.size_k / m.group_size;
  if (m.g_idx.size() != m.sort_indices.size())
    detail::fail("MarlinWeight.g_idx size", "that of sort_indices (" + std::to_string(m.sort_indices.size()) + ")", m.g_idx.size());
  IntWeight w;
  w.rows = m.size_n;
  w.cols = m.size_k;
  w.bits = m.bits;
  w.group_size = m.group_size;
  w.codes = marlin_unpack_codes(m.qweight, m.size_k, m.size_n, m.bits, m.sort_indices);
  check_shape(m.scales, groups, m.size_n, "MarlinWeight.scales shape [K/g, N]");
  w.scales = marlin_unpermute_scales(m.scales, marlin_kernel_scale_layout(groups)).transpose();
  if (m.zeros) {
    check_shape(*m.zeros, groups, m.size_n * m.bits / 32, "MarlinWeight.zeros shape [K/g, N*bits/32]");
    w.zeros = RowMatrixXu8(marlin_unpack_zero_points(*m.zeros, m.size_n, m.bits).transpose());
  }
  validate(w);
  return w;
}

Eigen::VectorXi marlin_checkpoint_g_idx(const MarlinWeight& m) {
  check_sort_indices(m.sort_indices, m.size_k, "MarlinWeight.sort_indices");
  if (m.g_idx.size() != m.sort_indices.size())
    detail::fail("MarlinWeight.g_idx size", "that of sort_indices (" + std::to_string(m.sort_indices.size()) + ")", m.g_idx.size());
  Eigen::VectorXi out(m.g_idx.size());
  for (Eigen::Index i = 0; i < m.g_idx.size(); ++i) out[m.sort_indices[i]] = m.g_idx[i];
  return out;
}

std::string marlin_moe_shape_problem(std::int64_t hidden, std::int64_t intermediate_padded) {
  if (hidden % kMarlinMoeHiddenMultiple != 0)
    return "Marlin MoE needs H % 128 == 0 (check_moe_marlin_supports_config); found H " + std::to_string(hidden);
  if (intermediate_padded % 64 != 0)
    return "Marlin MoE needs I % 64 == 0 after its tile padding (w2's K, marlin_utils.py:337-338); found I " +
           std::to_string(intermediate_padded);
  return {};
}

IntWeight marlin_moe_pad_intermediate(const IntWeight& shard, MarlinMoeShard which, std::int64_t group_size,
                                      std::int64_t intermediate_padded) {
  validate(shard);
  const bool w13 = which == MarlinMoeShard::kW13Half;
  const std::string what = w13 ? "marlin_moe_pad_intermediate (w13 half [I, H])" : "marlin_moe_pad_intermediate (w2 [H, I])";
  const std::int64_t hidden = w13 ? shard.cols : shard.rows;
  const std::int64_t intermediate = w13 ? shard.rows : shard.cols;
  if (group_size != -1 && group_size <= 0)
    detail::fail(what + ": group_size", "-1 (channelwise) or a positive group size", group_size);
  // The shard must be what the checkpoint's group size makes of it: w13 groups along H, w2 along I.
  const std::int64_t expected_group = group_size == -1 ? shard.cols : group_size;
  if (shard.group_size != expected_group)
    detail::fail(what + ": IntWeight.group_size", std::to_string(expected_group) + " (group_size " +
                 std::to_string(group_size) + " over K = " + std::to_string(shard.cols) + ")", shard.group_size);
  check_multiple(hidden, 128, what + ": H", "Marlin MoE, marlin_utils.py:377");
  if (group_size > 0 && intermediate % group_size != 0)
    detail::fail(what + ": I", "a multiple of the group size " + std::to_string(group_size) +
                 " (a group may not straddle the padded boundary, marlin_utils.py:377-378)", intermediate);
  if (intermediate_padded < intermediate)
    detail::fail(what + ": padded I", ">= I = " + std::to_string(intermediate), intermediate_padded);
  check_multiple(intermediate_padded, 64, what + ": padded I", "w13 N = 2I % 128, w2 K = I % 64, marlin_utils.py:337-338");
  if (group_size > 0 && intermediate_padded % group_size != 0)
    detail::fail(what + ": padded I", "a multiple of the group size " + std::to_string(group_size) +
                 " (whole groups, marlin_utils.py:339-345)", intermediate_padded);

  IntWeight out = shard;
  if (w13) {
    // Rows = I: new rows of codes, scales and zero points, all 0 (OW:612, 614, 617-620).
    out.rows = intermediate_padded;
    out.codes = RowMatrixXu8::Zero(intermediate_padded, shard.cols);
    out.codes.topRows(shard.rows) = shard.codes;
    out.scales = RowMatrixXf::Zero(intermediate_padded, shard.scales.cols());
    out.scales.topRows(shard.rows) = shard.scales;
    if (shard.zeros) {
      RowMatrixXu8 z = RowMatrixXu8::Zero(intermediate_padded, shard.zeros->cols());
      z.topRows(shard.rows) = *shard.zeros;
      out.zeros = z;
    }
    return out;
  }
  // w2: columns = I (K). Codes 0 (OW:613, 811); new groups get scale 0 and zero point 0 when grouped
  // (OW:615-616, 621-622, 816-818); channelwise keeps its single group, now spanning the padded K.
  out.cols = intermediate_padded;
  out.codes = RowMatrixXu8::Zero(shard.rows, intermediate_padded);
  out.codes.leftCols(shard.cols) = shard.codes;
  if (group_size == -1) {
    out.group_size = intermediate_padded;
    return out;
  }
  const std::int64_t groups = intermediate_padded / group_size;
  out.scales = RowMatrixXf::Zero(shard.rows, groups);
  out.scales.leftCols(shard.scales.cols()) = shard.scales;
  if (shard.zeros) {
    RowMatrixXu8 z = RowMatrixXu8::Zero(shard.rows, groups);
    z.leftCols(shard.zeros->cols()) = *shard.zeros;
    out.zeros = z;
  }
  return out;
}

}  // namespace moecheck::reference::quant
