#include "device/sim/sim_backend.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "device/sim/align.h"
#include "reference/formats/codecs.h"
#include "reference/moe/activation.h"
#include "reference/padding/poison.h"
#include "reference/quant/marlin.h"
#include "reference/quant/swizzle.h"
#include "reference/quant/wna16.h"

namespace moecheck::device::sim {

namespace {

using reference::moe::Dtype;
using reference::moe::GateUpLayout;
using reference::padding::Tensor;

using reference::quant::cdiv;
namespace rq = reference::quant;
float round_dtype(Dtype dtype, float v) { return reference::moe::round_to(dtype, double{v}); }

// One expert's [rows, cols] weight as the kernel's B operand sees it: pointers to this expert's
// storage components (PaddedWeight) and the row arithmetic of its scales. The scheme's tile
// function (kTileFunctions) dequantizes element by element into the compute dtype (the Triton
// kernel's `b = (b * scale).to(compute_type)`).
struct WeightView;
// A scheme's tile function: elements [k0, k0 + count) of row n, into out[0..count).
using TileFunction = void (*)(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out);

struct WeightView {
  TileFunction tile = nullptr;
  Dtype dtype = Dtype::kF32;
  std::int64_t rows = 0, cols = 0;
  const float* values = nullptr;        // kValues, [rows, cols]
  const std::uint8_t* codes = nullptr;  // kCodes, [rows, code_stride]
  std::int64_t code_stride = 0;
  rq::Packing code_packing = rq::kUnpacked;
  const float* decode = nullptr;        // the codes' decode table (formats::decode_table)
  const std::uint8_t* scale_bytes = nullptr;  // kScaleBytes
  const float* scales = nullptr;              // kScales
  // WNA16 (kScales as group scales): the zero point without a kZeroPoints component (8 / 128), or
  // the zero points themselves, one per byte (zp_stride per row).
  int symmetric_zero_point = 0;
  const std::uint8_t* zero_points = nullptr;  // kZeroPoints
  std::int64_t zp_stride = 0;
  std::int64_t scale_stride = 0;  // stored scale columns per stored row (fault B2 changes it)
  std::int64_t scale_count = 0;   // stored scales of the expert (B2's indices wrap inside it)
  std::int64_t scale_k_block = 1, scale_row_block = 1;
  // A 128×4-swizzled scale tensor (quant::ScaleLayout::kSwizzled128x4): its padded column count
  // (a multiple of 4); 0 for plain scales.
  std::int64_t swizzle_cols = 0;
  // Per-part scalars (quant::ComponentSpec::per_part: NVFP4 weight_scale_2): one per half of w13
  // (gate, up), one for w2.
  const float* part_scales = nullptr;
  std::int64_t part_count = 0;  // 2 for w13's separate halves, 1 for a per-projection scalar or w2
  // Row → (half, index in half) for w13's per-half scale grid; half_rows = 0 for w2.
  std::int64_t half_rows = 0;
  // A 2-D grid of a shard off the block grid (PaddedWeight::scale_grid_offset, B16): w13's rows
  // (scale_row_offset) or w2's K (scale_k_offset) are that far into their first block; each half
  // of w13's grid holds scale_half_blocks blocks.
  std::int64_t scale_row_offset = 0, scale_k_offset = 0, scale_half_blocks = 0;
  bool interleaved = false;
  // Fault B1: row `b1_row` of each half takes the scales of row `b1_source` of that half.
  std::int64_t b1_row = -1, b1_source = -1;
  // GPTQ act-order (quant::Component::kGroupIndex): the scale group of each of the expert's K
  // columns (exact fp32), into scales that may span more groups than this rank's K (w2 under TP:
  // load_full_w2); nullptr: column k is in group k / scale_k_block.
  const float* group_index = nullptr;

  // The scale group along K of column k.
  std::int64_t group_of(std::int64_t k) const {
    return group_index ? static_cast<std::int64_t>(group_index[k]) : (scale_k_offset + k) / scale_k_block;
  }

  // The row whose scales row n uses, in w13 row numbering.
  std::int64_t scale_row(std::int64_t n) const {
    if (b1_row < 0 || half_rows == 0) return n;
    const std::int64_t half = interleaved ? n % 2 : n / half_rows;
    const std::int64_t i = interleaved ? n / 2 : n % half_rows;
    if (i != b1_row) return n;
    return interleaved ? 2 * b1_source + half : half * half_rows + b1_source;
  }
  // The stored scale row of matrix row n: the row itself, or its block of a per-half 2-D grid.
  std::int64_t stored_scale_row(std::int64_t n) const {
    const std::int64_t r = scale_row(n);
    if (scale_row_block == 1) return r;
    if (half_rows == 0) return r / scale_row_block;
    const std::int64_t half = interleaved ? r % 2 : r / half_rows;
    const std::int64_t i = interleaved ? r / 2 : r % half_rows;
    return half * scale_half_blocks + (scale_row_offset + i) / scale_row_block;
  }
  // The scale of element (n, k), wrapped inside the expert's scales (fault B2 reads past a row).
  std::int64_t scale_index(std::int64_t n, std::int64_t k) const {
    if (swizzle_cols > 0) return rq::swizzled_offset(scale_row(n), k / scale_k_block, swizzle_cols);
    return (stored_scale_row(n) * scale_stride + group_of(k)) % scale_count;
  }
  // The per-part scalar of row n: its half's (w13) or the projection's (w2).
  float part_scale(std::int64_t n) const {
    if (half_rows == 0 || part_count == 1) return part_scales[0];
    return part_scales[interleaved ? n % 2 : n / half_rows];
  }
  // The end of the scale block along K that holds element k (in [k0, k0 + count) coordinates).
  std::int64_t scale_block_end(std::int64_t k) const {
    if (group_index) return k + 1;  // act-order: neighbouring columns may be in any group
    return ((scale_k_offset + k) / scale_k_block + 1) * scale_k_block - scale_k_offset;
  }
  void row(std::int64_t n, std::int64_t k0, std::int64_t count, float* out) const { tile(*this, n, k0, count, out); }
  // W8A8: the weight scale of the K tile starting at k0 for row n (the tile lies in one block).
  // fp32 scales (FP8 blocks), or E8M0 bytes (MXFP8 under tl.dot_scaled).
  float k_tile_scale(std::int64_t n, std::int64_t k0) const {
    return scales ? scales[scale_index(n, k0)] : reference::formats::e8m0_value(scale_bytes[scale_index(n, k0)]);
  }
};

// A W8A8 GEMM's A operand: the quantized rows' code values (QuantizedActivations::values) and
// their scales, one per (row, group); row_of(pair) picks the row a pair reads.
struct AScales {
  const reference::quant::QuantizedActivations* q = nullptr;  // nullptr: w·a16, no tile scaling
  bool per_pair = true;  // rows are pairs (a1, cache2), or tokens (pair / top_k)
  std::int64_t top_k = 1;
  float at(std::int32_t pair, std::int64_t k0) const {
    const Eigen::Index row = per_pair ? pair : pair / top_k;
    return q->scales(row, k0 / q->group);
  }
};

void dense_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  std::copy_n(w.values + n * w.cols + k0, count, out);
}
// e2m1 codes two per byte (low nibble = even element) times the E8M0 scale of their 32-block.
void mxfp4_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  for (std::int64_t k = k0; k < k0 + count;) {
    const float s = reference::formats::e8m0_value(w.scale_bytes[w.scale_index(n, k)]);
    const std::int64_t end = std::min(k0 + count, (k / w.scale_k_block + 1) * w.scale_k_block);
    for (; k < end; ++k) {
      const std::uint8_t byte = r[k / 2];
      const std::uint8_t code = k % 2 == 0 ? byte & 0x0F : byte >> 4;
      out[k - k0] = round_dtype(w.dtype, w.decode[code] * s);
    }
  }
}
// fp8 codes times the fp32 multiplier of their 128×128 block.
// Calls f(k_begin, k_end, scale index) for each run of [k0, k0 + count) that one scale covers (a
// scale block along K; fault B2's wrapped index is constant over a block too), so the tile
// functions look a scale up once per block rather than once per element.
template <class F>
void for_scale_runs(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, F&& f) {
  for (std::int64_t k = k0; k < k0 + count;) {
    const std::int64_t end = std::min(k0 + count, w.scale_block_end(k));
    f(k, end, w.scale_index(n, k));
    k = end;
  }
}

void fp8_block_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  for_scale_runs(w, n, k0, count, [&](std::int64_t k, std::int64_t end, std::int64_t i) {
    const float s = w.scales[i];
    for (; k < end; ++k) out[k - k0] = round_dtype(w.dtype, w.decode[r[k]] * s);
  });
}

// W8A8: the fp8 codes' values unscaled, as the tensor cores read them; the block scale multiplies
// each K tile's dot product instead (k_tile_scale), or a per-tensor scale the whole sum (the
// epilogue's acc · a_scale · b_scale).
void fp8_codes_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  for (std::int64_t k = k0; k < k0 + count; ++k) out[k - k0] = w.decode[r[k]];
}

// Element codes of any packing (blocks.h packed_code: bytes, nibbles, fp6 words) times the E8M0
// scale of their 32-block: MXFP8 and MXFP6, one fp32 product as the golden's mx_dequantize_rows.
void mx_codes_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  for_scale_runs(w, n, k0, count, [&](std::int64_t k, std::int64_t end, std::int64_t i) {
    const float s = reference::formats::e8m0_value(w.scale_bytes[i]);
    for (; k < end; ++k) out[k - k0] = round_dtype(w.dtype, w.decode[rq::packed_code(r, k, w.code_packing)] * s);
  });
}

// fused_moe_kernel_gptq_awq (fused_moe.py @ 7ca49fbe): b = ((fp32(q) - fp32(zp)) · fp32(scale))
// .to(compute_type), int4 codes two per byte (low nibble = even k), int8 one per byte; zp is the
// group's zero point (the kernel unpacks int4 ones, `(b_zp >> (offs_bn % 2) * 4) & 0xF`, from the
// layout that the rows hold one per byte), or b_zp_num 8 / 128 without one.
void wna16_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  for_scale_runs(w, n, k0, count, [&](std::int64_t k, std::int64_t end, std::int64_t i) {
    int zp = w.symmetric_zero_point;
    if (w.zero_points) {
      // Zero points share the scales' row (fault B1 included) and group.
      const std::int64_t row = w.scale_row(n), group = w.group_of(k);
      zp = w.zero_points[row * w.zp_stride + group];  // one per byte (the rows' storage, scheme.cpp)
    }
    const float s = w.scales[i], z = static_cast<float>(zp);
    for (; k < end; ++k)
      out[k - k0] = round_dtype(w.dtype, (static_cast<float>(rq::packed_code(r, k, w.code_packing)) - z) * s);
  });
}

// Channelwise WNA16 on Marlin (group_size -1; marlin_template.h): the dequantized B operand is the
// bare q - 8 / q - 128 (or q - zp), exact in the 16-bit dtype; the one scale per output channel is
// applied after the K loop, in the write-out (the epilogue's marlin_write_out).
void wna16_codes_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  const float z = static_cast<float>(w.symmetric_zero_point);
  for (std::int64_t k = k0; k < k0 + count; ++k)
    out[k - k0] = round_dtype(w.dtype, static_cast<float>(rq::packed_code(r, k, w.code_packing)) - z);
}

// NVFP4 (the Triton emulation kernel's weight path, nvfp4_emulation_moe.py @ 7ca49fbe): b_scale =
// fp32(ue4m3) · weight_scale_2, then e2m1 · b_scale, cast to the compute dtype; the block scale
// plain or swizzled (scale_index).
void nvfp4_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  const float* e4m3 = reference::formats::decode_table(reference::formats::Format::kE4m3fn);
  const float global = w.part_scale(n);
  for_scale_runs(w, n, k0, count, [&](std::int64_t k, std::int64_t end, std::int64_t i) {
    const float b_scale = e4m3[w.scale_bytes[i]] * global;
    for (; k < end; ++k) out[k - k0] = round_dtype(w.dtype, w.decode[rq::packed_code(r, k, w.code_packing)] * b_scale);
  });
}

// Per-tensor FP8 on Marlin (prepare_fp8_moe_layer_for_marlin @ 7ca49fbe): e4m3 · the projection's scale,
// cast to the compute dtype (the generated scales are bf16 values, so Marlin's cast of the scale to
// the model dtype changes nothing; the product is exact in fp32).
void fp8_tensor_row(const WeightView& w, std::int64_t n, std::int64_t k0, std::int64_t count, float* out) {
  const std::uint8_t* r = w.codes + n * w.code_stride;
  const float s = w.part_scale(n);
  for (std::int64_t k = k0; k < k0 + count; ++k) out[k - k0] = round_dtype(w.dtype, w.decode[r[k]] * s);
}

// The schemes the sim runs, each with its tile function.
struct SimScheme {
  WeightScheme scheme;
  TileFunction row;
};
constexpr SimScheme kTileFunctions[] = {
    {WeightScheme::kDense, dense_row},
    {WeightScheme::kMxfp4W4A16, mxfp4_row},
    {WeightScheme::kFp8Block128W8A16, fp8_block_row},
    {WeightScheme::kMxfp8W8A16, mx_codes_row},
    {WeightScheme::kMxfp6E3m2W6A16, mx_codes_row},
    {WeightScheme::kMxfp6E2m3W6A16, mx_codes_row},
    {WeightScheme::kFp8Block128W8A8, fp8_codes_row},
    {WeightScheme::kMxfp4W4A4Qdq, mxfp4_row},
    {WeightScheme::kInt4G128W4A16, wna16_row},
    {WeightScheme::kInt8G128W8A16, wna16_row},
    {WeightScheme::kNvfp4W4A16, nvfp4_row},
    {WeightScheme::kNvfp4W4A16Swizzled, nvfp4_row},
    {WeightScheme::kFp8Block128W8A8Ue8m0, fp8_codes_row},
    {WeightScheme::kInt4G128W4A16Marlin, wna16_row},
    {WeightScheme::kInt8G128W8A16Marlin, wna16_row},
    {WeightScheme::kFp8PerTensorW8A16, fp8_tensor_row},
    {WeightScheme::kInt4G128ZpW4A16, wna16_row},
    {WeightScheme::kInt8G128ZpW8A16, wna16_row},
    {WeightScheme::kInt4G32W4A16, wna16_row},
    {WeightScheme::kInt4G32W4A16Marlin, wna16_row},
    {WeightScheme::kFp8PerTensorW8A8Static, fp8_codes_row},
    {WeightScheme::kFp8PerTensorW8A8Dynamic, fp8_codes_row},
    {WeightScheme::kMxfp4W4A8Qdq, mx_codes_row},
    {WeightScheme::kNvfp4W4A4Qdq, nvfp4_row},
    {WeightScheme::kFp8PerChannelW8A8, fp8_codes_row},
    {WeightScheme::kInt4G64W4A16, wna16_row},
    {WeightScheme::kInt4G64W4A16Marlin, wna16_row},
    {WeightScheme::kInt4ChannelW4A16Marlin, wna16_codes_row},
    {WeightScheme::kInt8ChannelW8A16Marlin, wna16_codes_row},
    {WeightScheme::kInt4G128ZpW4A16Marlin, wna16_row},
    {WeightScheme::kMxfp8W8A8, fp8_codes_row},
    {WeightScheme::kInt4G128ActOrderW4A16Marlin, wna16_row},
};
TileFunction tile_function(WeightScheme scheme) {
  for (const SimScheme& s : kTileFunctions)
    if (s.scheme == scheme) return s.row;
  return nullptr;
}

// Expert e's view of a padded projection [E, n_rows, k_cols] (as a matrix). `b14`: fault B14 finds a
// swizzled scale tensor's expert at the plain extents' stride.
WeightView view_of(const PaddedWeight& w, const rq::SchemeSpec& scheme, Dtype dtype, std::int64_t e, std::int64_t rows,
                   std::int64_t cols, bool b14 = false) {
  WeightView v;
  v.tile = tile_function(scheme.scheme);
  v.dtype = dtype;
  v.rows = rows;
  v.cols = cols;
  // WNA16's b_zp_num: 2^(bits - 1), used when the row stores no zero points.
  if (rq::is_wna16(scheme))
    v.symmetric_zero_point = 1 << (rq::wna16_scheme(scheme).bits - 1);
  w.for_each(scheme, [&](const rq::ComponentSpec& c, const auto& t) {
    using T = typename std::decay_t<decltype(t.data)>::value_type;
    const std::int64_t per_expert = t.dim(1) * t.dim(2);
    const T* base = t.data.data() + e * per_expert;
    if (c.component == rq::Component::kValues || c.component == rq::Component::kCodes) {
      if constexpr (std::is_same_v<T, float>) {
        v.values = base;
      } else {
        v.codes = base;
        v.code_stride = t.dim(2);
        v.code_packing = c.packing;
        // Integer codes (WNA16) have no minifloat format: their tile function reads them as is.
        if (c.format) v.decode = reference::formats::decode_table(*c.format);
      }
      return;
    }
    // Static activation scales: the layer's, read by run() (not part of the B operand).
    if (c.component == rq::Component::kInputScales) return;
    if (c.component == rq::Component::kGroupIndex) {
      if constexpr (std::is_same_v<T, float>) v.group_index = base;
      return;
    }
    if (c.component == rq::Component::kZeroPoints) {
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        v.zero_points = base;
        v.zp_stride = t.dim(2);
      }
      return;
    }
    if (c.per_part) {
      if constexpr (std::is_same_v<T, float>) {
        v.part_scales = base;
        v.part_count = t.dim(1);
      }
      return;
    }
    if constexpr (std::is_same_v<T, float>)
      v.scales = base;
    else
      v.scale_bytes = rq::swizzled_on_device(scheme, c) && b14 ? t.data.data() + e * rows * c.stored_cols(cols) : base;
    if (rq::swizzled_on_device(scheme, c)) v.swizzle_cols = t.dim(2);
    v.scale_stride = t.dim(2);
    v.scale_count = per_expert;
    v.scale_k_block = c.packing.elements;
    v.scale_row_block = c.row_block;
    v.scale_half_blocks = t.dim(1) / 2;  // w13's per-half grid (w2 ignores it)
  });
  return v;
}

// Fault B4's uninitialized lanes: K lanes at or past `logical_k` read poison from `pool`.
struct KTail {
  std::int64_t logical_k = std::numeric_limits<std::int64_t>::max();
  const std::vector<float>* pool = nullptr;
  float at(std::size_t i) const { return (*pool)[i % pool->size()]; }
};

// One fused_moe_kernel launch: for each block of the aligned sort and each output tile, one fp32
// accumulator per element, K tiles ascending, ascending k inside a tile, multiply then add.
// a_row(pair) → pointer to K values; view(expert) → WeightView; store(pair, expert, n, acc).
//
// W8A8 (`a_scales.q` set): fused_moe_kernel's block-quant loop, `accumulator += tl.dot(a, b) *
// a_scale[:, None] * b_scale[None, :]` per K tile (fused_moe.py @ 7ca49fbe): each tile's dot of
// the code values is summed apart, then multiplied by the A scale and the B scale, then added.
// BLOCK_K is capped at the group size so that a tile never straddles two scale groups (vLLM sets
// BLOCK_SIZE_K to the block size for block-quantized weights).
template <class ARow, class View, class Store>
void tiled_gemm(const TileConfig& t, const AlignedBlocks& ab, std::int64_t n_total, std::int64_t k_total,
                std::int64_t n_tiles, ARow a_row, View view, Store store, const KTail& tail,
                const AScales& a_scales = {}) {
  const bool scaled = a_scales.q != nullptr;
  const std::int64_t bm = t.block_m, bn = t.block_n;
  const std::int64_t bk = scaled ? std::min(t.block_k, a_scales.q->group) : t.block_k;
  if (scaled && a_scales.q->group % bk != 0)
    throw std::invalid_argument("sim: BLOCK_K " + std::to_string(bk) + " does not divide the activation group " +
                                std::to_string(a_scales.q->group));
  std::vector<float> acc(static_cast<std::size_t>(bm * bn));
  std::vector<float> part(scaled ? static_cast<std::size_t>(bm * bn) : 0);
  std::vector<float> bt(static_cast<std::size_t>(bk * bn));  // B tile, [k][n]
  std::vector<float> wrow(static_cast<std::size_t>(bk));
  std::vector<std::int32_t> pairs;
  for (std::int64_t b = 0; b < ab.num_blocks(); ++b) {
    const std::int32_t expert = ab.expert_ids[static_cast<std::size_t>(b)];
    const WeightView w = view(expert);
    pairs.clear();
    for (std::int64_t m = 0; m < bm; ++m) {
      const std::size_t at = static_cast<std::size_t>(b * bm + m);
      const std::int32_t id = ab.sorted_token_ids[at];
      // The kernel's token_mask is `id < num_valid_tokens`: a negative id passes it and is loaded
      // from. The sim checks the bound the hardware does not (an illegal access on a GPU).
      if (id < 0)
        throw std::out_of_range("sim fused_moe: illegal access: sorted_token_ids[" + std::to_string(at) + "] = " +
                                std::to_string(id) + " (block " + std::to_string(b) + ", expert " +
                                std::to_string(expert) + "), expected a pair index in [0, " +
                                std::to_string(ab.sentinel) + "] (" + std::to_string(ab.sentinel) + ": padding)");
      if (id < ab.sentinel) pairs.push_back(id);  // the kernel's token_mask
    }
    for (std::int64_t nt = 0; nt < n_tiles; ++nt) {
      const std::int64_t n0 = nt * bn, nn = std::min(bn, n_total - n0);
      if (nn <= 0) break;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (std::int64_t k0 = 0; k0 < k_total; k0 += bk) {
        const std::int64_t kk = std::min(bk, k_total - k0);
        for (std::int64_t n = 0; n < nn; ++n) {
          w.row(n0 + n, k0, kk, wrow.data());
          for (std::int64_t k = 0; k < kk; ++k)
            bt[static_cast<std::size_t>(k * bn + n)] =
                k0 + k >= tail.logical_k ? tail.at(static_cast<std::size_t>((k0 + k) * 131 + n)) : wrow[static_cast<std::size_t>(k)];
        }
        if (scaled) std::fill(part.begin(), part.end(), 0.0f);
        for (std::size_t m = 0; m < pairs.size(); ++m) {
          const float* a = a_row(pairs[m]);
          float* accr = (scaled ? part.data() : acc.data()) + static_cast<std::int64_t>(m) * bn;
          for (std::int64_t k = 0; k < kk; ++k) {
            const float av = k0 + k >= tail.logical_k ? tail.at(static_cast<std::size_t>((k0 + k) * 17 + m)) : a[k0 + k];
            const float* br = bt.data() + k * bn;
            for (std::int64_t n = 0; n < nn; ++n) {
              const float product = av * br[n];
              accr[n] = accr[n] + product;
            }
          }
        }
        if (scaled)
          for (std::size_t m = 0; m < pairs.size(); ++m) {
            const float a_s = a_scales.at(pairs[m], k0);
            for (std::int64_t n = 0; n < nn; ++n) {
              const std::size_t i = static_cast<std::size_t>(static_cast<std::int64_t>(m) * bn + n);
              acc[i] = acc[i] + (part[i] * a_s) * w.k_tile_scale(n0 + n, k0);
            }
          }
      }
      for (std::size_t m = 0; m < pairs.size(); ++m)
        for (std::int64_t n = 0; n < nn; ++n)
          store(pairs[m], expert, n0 + n, acc[static_cast<std::size_t>(static_cast<std::int64_t>(m) * bn + n)]);
    }
  }
}

// Fault B12: a concatenated w13 [E, 2·I_pad, W] rebuilt end-padded as [gate(I), up(I), fill].
template <class T>
void end_pad_rows(Tensor<T>& t, std::int64_t i, std::int64_t ip, T fill) {
  if (t.shape.empty()) return;
  const std::int64_t e = t.shape[0];
  const std::int64_t width = t.shape.size() == 3 ? t.shape[2] : 1;
  const Tensor<T> src = t;
  for (std::int64_t x = 0; x < e; ++x)
    for (std::int64_t r = 0; r < 2 * ip; ++r) {
      const std::int64_t from = r < i ? r : r < 2 * i ? ip + (r - i) : -1;
      for (std::int64_t c = 0; c < width; ++c)
        t.data[static_cast<std::size_t>((x * 2 * ip + r) * width + c)] =
            from < 0 ? fill : src.data[static_cast<std::size_t>((x * 2 * ip + from) * width + c)];
    }
}

// Marlin's zero points (marlin_zero_points after the checkpoint's own unpacking): each expert's
// [N, K/g] zero points transposed to [K/g, N], permuted and packed into int32 words, then read back
// as the kernel unpacks them (quant/marlin.h).
void marlin_zero_point_round_trip(Tensor<std::uint8_t>& zero_points, int bits) {
  const std::int64_t e = zero_points.dim(0), n = zero_points.dim(1), groups = zero_points.dim(2);
  for (std::int64_t x = 0; x < e; ++x) {
    Eigen::Map<rq::RowMatrixXu8> z(zero_points.data.data() + x * n * groups, n, groups);
    const rq::RowMatrixXu8 gptq = z.transpose();
    const rq::RowMatrixXu8 kernel = rq::marlin_unpack_zero_points(rq::marlin_pack_zero_points(gptq, bits), n, bits);
    z = kernel.transpose();
  }
}

// Marlin's preparation of one projection's group scales [E, N, K/g] (IntWeight orientation) and the
// kernel's read of them (quant::WeightRepack::kMarlin): per expert, transposed to GPTQ's [K/g, N],
// permuted as marlin_permute_scales(size_k) lays them out, then un-permuted with the layout that
// the table's K/g rows make the kernel read. The codes' tile repack is a bijection that the kernel
// undoes (quant/marlin.h's inverse matched the CUDA repack kernels bit for bit on the shapes it
// lists), so the sim reads them in checkpoint layout. size_k is the GEMM's K, unless fault B17
// passes another.
void marlin_scale_round_trip(Tensor<float>& scales, std::int64_t size_k, std::int64_t group) {
  const std::int64_t e = scales.dim(0), n = scales.dim(1), groups = scales.dim(2);
  for (std::int64_t x = 0; x < e; ++x) {
    Eigen::Map<rq::RowMatrixXf> s(scales.data.data() + x * n * groups, n, groups);
    const rq::RowMatrixXf gptq = s.transpose();
    const rq::RowMatrixXf kernel = rq::marlin_unpermute_scales(rq::marlin_permute_scales(gptq, size_k, n, group),
                                                               rq::marlin_kernel_scale_layout(groups));
    s = kernel.transpose();
  }
}

}  // namespace

SimBackend::SimBackend(TileConfig tiles) : tiles_(std::move(tiles)) {
  if (tiles_.block_m < 1 || tiles_.block_n < 1 || tiles_.block_k < 1)
    throw std::invalid_argument("SimBackend " + tiles_.name + ": tile sizes must be >= 1");
}

Capabilities SimBackend::capabilities() const {
  Capabilities c;
  for (const SimScheme& s : kTileFunctions) c.schemes.push_back(s.scheme);
  c.layouts = {GateUpLayout::kConcatenated, GateUpLayout::kInterleaved};
  c.activations = {reference::moe::Activation::kSilu, reference::moe::Activation::kGeluErf,
                   reference::moe::Activation::kSwigluOai};
  c.dtypes = {Dtype::kF32, Dtype::kBf16};
  c.weights_on_input = true;
  c.biases = true;
  c.order_preserving = true;
  c.ulp_bound = 0;
  c.tolerance_reason =
      "fp32 accumulation, K tiles ascending, ascending k inside a tile, multiply then add (no FMA): the "
      "golden's Accumulate::kFp32 order, so padded zero products leave every sum bitwise unchanged";
  c.block_m = tiles_.block_m;
  c.block_n = tiles_.block_n;
  c.block_k = tiles_.block_k;
  for (const KernelFaultInfo& info : kernel_faults()) c.faults.emplace_back(info.name);
  return c;
}

void SimBackend::run(const PaddedCase& input, std::span<float> output) const {
  validate(input);
  if (!capabilities().supports(input))
    throw std::invalid_argument("backend " + tiles_.name + ": unsupported case (scheme " +
                                std::string(device::name(input.scheme)) + ")");
  const rq::SchemeSpec& scheme = rq::spec(input.scheme);
  if (const std::string why = rq::kernel_problem(
          scheme, {!input.w13_bias.shape.empty(), input.layout == GateUpLayout::kInterleaved,
                   input.activation == reference::moe::Activation::kGeluErf, input.weights_on_input});
      !why.empty())
    throw std::invalid_argument("backend " + tiles_.name + ": " + why);
  const std::int64_t tokens = input.tokens, k = input.top_k, experts = input.experts;
  const std::int64_t hp = input.plan.hidden_padded;
  const std::int64_t i = input.plan.intermediate_per_partition, ip = input.plan.intermediate_per_partition_padded;
  if (static_cast<std::int64_t>(output.size()) != tokens * hp)
    throw std::invalid_argument("backend " + tiles_.name + ": output holds " + std::to_string(output.size()) +
                                " floats, expected [T, H_pad] = " + std::to_string(tokens * hp));
  const FaultSwitches& f = input.faults;
  const Dtype dtype = input.dtype;
  const std::uint64_t seed = input.poison_seed;

  // Fault B12 works on a copy whose w13 rows are end-padded.
  PaddedCase end_padded;
  const bool b12 = f.w13_end_padded && input.layout == GateUpLayout::kConcatenated && ip > i;
  if (b12) {
    end_padded = input;
    // Every w13 component whose rows are the matrix's (a 2-D grid's rows are blocks of them).
    end_padded.w13.for_each(scheme, [&](const rq::ComponentSpec& comp, auto& t) {
      using T = typename std::decay_t<decltype(t.data)>::value_type;
      if (comp.row_block == 1 && !comp.per_part && !rq::swizzled_on_device(scheme, comp)) end_pad_rows(t, i, ip, T{});
    });
    end_pad_rows(end_padded.w13_bias, i, ip, 0.0f);
  }
  const PaddedCase* prepared_from = b12 ? &end_padded : &input;
  // The layer's weight preparation after loading (quant::WeightRepack), on a copy.
  PaddedCase prepared;
  if (scheme.repack == rq::WeightRepack::kMarlin) {
    prepared = *prepared_from;
    const rq::Packing scale_packing = scheme.find(rq::Component::kScales)->packing;
    const std::int64_t group = scale_packing.whole_axis() ? -1 : scale_packing.elements;  // -1: channelwise
    // Fault B17: w13's size_k is the per-partition intermediate size (upstream's
    // layer.intermediate_size_per_partition), not w13's K = H_pad.
    marlin_scale_round_trip(prepared.w13.scales, f.marlin_scales_keyed_on_intermediate ? i : hp, group);
    // w2's size_k is the scale table's groups · group (marlin_w2_scales.shape[1] · group_size): the
    // rank's I, or the whole I of act-order's unsharded scales.
    marlin_scale_round_trip(prepared.w2.scales, group > 0 ? prepared.w2.scales.dim(2) * group : ip, group);
    if (scheme.zero_points) {
      marlin_zero_point_round_trip(prepared.w13.zero_points, rq::wna16_scheme(scheme).bits);
      marlin_zero_point_round_trip(prepared.w2.zero_points, rq::wna16_scheme(scheme).bits);
    }
    prepared_from = &prepared;
  }
  const PaddedCase& c = *prepared_from;
  if (tokens == 0) return;

  const AlignedBlocks ab = moe_align_block_size(c.topk_ids, experts, tiles_.block_m, seed, f.sort_keeps_first_duplicate);
  const std::int64_t pairs = tokens * k;

  std::vector<float> pool(4099);
  reference::padding::poison(std::span<float>(pool), seed ^ 0xb4b4b4b4ULL);
  const KTail no_tail{};

  // Fault B10: the per-expert activation scale (1 for unquantized activations) of a batched
  // prepare, allocated NaN (the NaN-filled allocator of vLLM's test) and set for experts with
  // tokens only — or, without the fault, for every expert.
  std::vector<float> a_scale(static_cast<std::size_t>(experts), std::numeric_limits<float>::quiet_NaN());
  for (std::int64_t e = 0; e < experts; ++e)
    if (!f.nan_for_empty_experts || ab.tokens_per_expert[static_cast<std::size_t>(e)] > 0)
      a_scale[static_cast<std::size_t>(e)] = 1.0f;

  // Router weight on the input (MoEPrepareAndFinalizeNoDPEP.prepare): a1 = x · w.to(dtype), one
  // row per pair.
  std::vector<float> a1;
  if (c.weights_on_input) {
    a1.resize(static_cast<std::size_t>(pairs * hp));
    reference::padding::poison(std::span<float>(a1), seed ^ 0xa1ULL);
    for (std::int64_t p = 0; p < pairs; ++p) {
      const float w = round_dtype(dtype, c.topk_weights.data[static_cast<std::size_t>(p)]);
      for (std::int64_t h = 0; h < hp; ++h)
        a1[static_cast<std::size_t>(p * hp + h)] = round_dtype(dtype, c.hidden_states_padded.at(p / k, h) * w);
    }
  }

  // W8A8: each GEMM's A operand quantized as the scheme says, before the kernel
  // (moe_kernel_quantize_input): the hidden states per token (or a1 per pair), cache2 per pair.
  const rq::ActivationSpec& input_quant = scheme.activation;
  const auto quantize_rows = [&](const float* data, std::int64_t rows, std::int64_t cols, int gemm) {
    return rq::quantize_activations(input_quant, Eigen::Map<const rq::RowMatrixXf>(data, rows, cols), std::nullopt,
                                    gemm);
  };
  // The emulation paths quant-dequantize instead: each A row replaced by code · scale in the model
  // dtype, then the 16-bit GEMM as for w·a16.
  // With a static per-tensor scale the product is taken in fp16 (ActivationSpec::dequantizes_in_fp16).
  const auto qdq_rows = [&](float* data, std::int64_t rows, std::int64_t cols, std::optional<float> scale, int gemm) {
    const Eigen::Map<const rq::RowMatrixXf> x(data, rows, cols);
    if (input_quant.dequantizes_in_fp16(gemm)) {
      const rq::QuantizedActivations q = rq::quantize_activations(input_quant, x, scale);
      for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index k = 0; k < cols; ++k)
          data[r * cols + k] = round_dtype(
              dtype, reference::formats::fp16_round(q.values(r, k) * reference::formats::fp16_round(q.scales(r, k / q.group))));
      return;
    }
    const rq::RowMatrixXf q = rq::fake_quantize(input_quant, x, scale);
    for (Eigen::Index i = 0; i < q.size(); ++i) data[i] = round_dtype(dtype, q.data()[i]);
  };
  // Static per-tensor activations (fp8_per_tensor_w8a8_static): one scale per GEMM, the max of
  // the input scales of the experts this layer holds (an EP rank: its own experts'), as
  // process_fp8_input_tensor_strategy_moe reduces them after loading.
  std::optional<float> a1_static, a2_static;
  if (input_quant.source(1) == rq::ScaleSource::kStatic)
    a1_static = rq::reduce_input_scales(c.w13.input_scales.data, "sim: w13_input_scale");
  if (input_quant.source(2) == rq::ScaleSource::kStatic)
    a2_static = rq::reduce_input_scales(c.w2.input_scales.data, "sim: w2_input_scale");
  const auto quantize_static = [&](const float* data, std::int64_t rows, std::int64_t cols, std::optional<float> s) {
    return rq::quantize_activations(input_quant, Eigen::Map<const rq::RowMatrixXf>(data, rows, cols), s);
  };
  // The weight's scale that the epilogue applies: one fp32 per expert and projection (per tensor), or
  // one per output row n of the padded projection's `rows` (per channel: fused_moe_kernel's b_scale
  // at offs_bn).
  const rq::ComponentSpec* weight_scales = scheme.find(rq::Component::kScales);
  const bool per_channel_weights = weight_scales && !weight_scales->per_part;
  const auto weight_scale = [&](const PaddedWeight& w, std::int32_t e, std::int64_t rows, std::int64_t n) {
    return w.scales.data[static_cast<std::size_t>(per_channel_weights ? e * rows + n : e)];
  };
  // W8A8 with scales over all of K (per tensor, per token): the tensor cores read the codes and the
  // epilogue scales the sum, acc · a_scale[row] · b_scale. A quant-dequantizing row with per-tensor
  // scales runs the 16-bit GEMM instead.
  const bool scales_after_k = input_quant.scales_after_k();
  // Marlin's write-out (marlin_template.h write_result, fused_marlin_moe @ HollowMan6/vllm 2026-08-22):
  // the fp32 sum cast to the 16-bit dtype (float2num); a channelwise scale then multiplied in it
  // (__hmul2) for 4-bit weights, or in fp32 before the cast (scale_float, __fmul_rn) for 8-bit ones;
  // the bias added in the 16-bit dtype (__hadd2); in GEMM2 the router weight, cast to the dtype,
  // multiplied in it (__hmul2). Each step rounds to the dtype (a no-op for fp32 cases, which Marlin
  // does not run: they keep the structure). The scale is the checkpoint's 16-bit value.
  const bool marlin = scheme.repack == rq::WeightRepack::kMarlin;
  // GEMM2 rows written fp32, the router weight multiplied in fp32 (fused_moe_mxfp8_native).
  const bool fp32_pairs = scheme.kernel.fp32_gemm2_output;
  const bool marlin_channelwise = marlin && weight_scales && weight_scales->packing.whole_axis();
  const int marlin_bits = marlin ? rq::wna16_scheme(scheme).bits : 0;
  const auto marlin_write_out = [&](float acc, std::optional<float> channel_scale, std::optional<float> bias,
                                    std::optional<float> router_weight) {
    float v = acc;
    if (channel_scale && marlin_bits == 8) v = v * round_dtype(dtype, *channel_scale);
    v = round_dtype(dtype, v);
    if (channel_scale && marlin_bits == 4) v = round_dtype(dtype, v * round_dtype(dtype, *channel_scale));
    if (bias) v = round_dtype(dtype, v + *bias);
    if (router_weight) v = round_dtype(dtype, v * round_dtype(dtype, *router_weight));
    return v;
  };
  // Dynamic per-tensor activations (fp8_per_tensor_w8a8_dynamic): GEMM1's scale is the amax of every
  // row the prepare step quantizes — all tokens of the padded batch, pad rows included (or a1's
  // pairs with the weight on the input).
  if (input_quant.source(1) == rq::ScaleSource::kDynamic)
    a1_static = c.weights_on_input ? rq::batch_scale(input_quant, Eigen::Map<const rq::RowMatrixXf>(a1.data(), pairs, hp))
                                   : rq::batch_scale(input_quant, Eigen::Map<const rq::RowMatrixXf>(
                                                                      c.hidden_states_padded.data.data(), tokens, hp));
  std::vector<float> x_qdq;
  rq::QuantizedActivations qa1;
  AScales a1_scales;
  if (scales_after_k) {
    qa1 = c.weights_on_input ? quantize_static(a1.data(), pairs, hp, a1_static)
                             : quantize_static(c.hidden_states_padded.data.data(), tokens, hp, a1_static);
  } else if (input_quant.quantized() && input_quant.qdq) {
    if (c.weights_on_input) {
      qdq_rows(a1.data(), pairs, hp, a1_static, 1);
    } else {
      x_qdq = c.hidden_states_padded.data;
      qdq_rows(x_qdq.data(), tokens, hp, a1_static, 1);
    }
  } else if (input_quant.quantized()) {
    qa1 = c.weights_on_input ? quantize_rows(a1.data(), pairs, hp, 1)
                             : quantize_rows(c.hidden_states_padded.data.data(), tokens, hp, 1);
    a1_scales = AScales{&qa1, c.weights_on_input, k};
  }

  // DeepGEMM's contiguous layout (fp8_block128_w8a8_ue8m0; deepgemm_moe_permute @ 7ca49fbe): the
  // activation scales are scattered into a buffer of the aligned sort's rows, zero-initialized
  // (torch.zeros; fault B15: torch.empty, the allocator's garbage), and DeepGEMM 2.6 packs the whole
  // buffer into UE8M0 bytes with a device assert that each value is +-0 or a power of two
  // (`(bits & 0x807fffff) == 0`). The sim runs that check: a failed assert is a sticky CUDA error 719.
  if (input_quant.quant == rq::ActivationQuant::kFp8TokenGroupUe8m0 && qa1.group > 0) {
    const std::int64_t rows = ab.num_blocks() * tiles_.block_m, groups = qa1.scales.cols();
    std::vector<float> permuted(static_cast<std::size_t>(rows * groups), 0.0f);
    if (f.activation_scale_padding_unwritten)
      reference::padding::poison(std::span<float>(permuted), seed ^ 0xb15b15ULL);
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int32_t id = ab.sorted_token_ids[static_cast<std::size_t>(r)];
      if (id < 0 || id >= ab.sentinel) continue;  // a padding row: the scatter writes only real pairs
      const Eigen::Index row = c.weights_on_input ? id : id / k;
      for (std::int64_t g = 0; g < groups; ++g) permuted[static_cast<std::size_t>(r * groups + g)] = qa1.scales(row, g);
    }
    for (std::int64_t n = 0; n < rows * groups; ++n) {
      const std::uint32_t bits = std::bit_cast<std::uint32_t>(permuted[static_cast<std::size_t>(n)]);
      if ((bits & 0x807fffffU) != 0)
        throw std::runtime_error(
            "sim DeepGEMM pack_fp32_into_ue8m0: device assert (values[j] & 0x807fffff) == 0 failed at row " +
            std::to_string(n / groups) + " group " + std::to_string(n % groups) + " of the permuted activation scales [" +
            std::to_string(rows) + ", " + std::to_string(groups) + "] (" +
            (ab.sorted_token_ids[static_cast<std::size_t>(n / groups)] >= ab.sentinel ? "an alignment padding row"
                                                                                       : "a real pair's row") +
            ", block " + std::to_string(n / groups / tiles_.block_m) + "): CUDA error 719 (unspecified launch failure)");
    }
  }

  // GEMM1: [pairs, H_pad] × w13ᵀ → cache1 [pairs, 2·I_pad].
  const std::int64_t n1 = 2 * ip;
  std::vector<float> cache1(static_cast<std::size_t>(pairs * n1));
  reference::padding::poison(std::span<float>(cache1), seed ^ 0xc1ULL);
  const auto w13_view = [&](std::int32_t e) {
    WeightView v = view_of(c.w13, scheme, dtype, e, n1, hp, f.swizzle_stride_from_logical_extents);
    v.half_rows = ip;
    v.interleaved = c.layout == GateUpLayout::kInterleaved;
    v.scale_row_offset = f.scale_tile_rank_local ? 0 : c.w13.scale_grid_offset;  // B16: r / 128
    if (f.read_padded_scales && ip > i) {
      v.b1_row = i - 1;
      v.b1_source = ip - 1;
    }
    return v;
  };
  const bool has_b13 = !c.w13_bias.shape.empty();
  // B3: the grid is sized from the logical intermediate size.
  const std::int64_t n1_tiles = cdiv(f.skip_last_output_tile ? 2 * i : n1, tiles_.block_n);
  tiled_gemm(
      tiles_, ab, n1, hp, n1_tiles,
      [&](std::int32_t p) -> const float* {
        if (qa1.group > 0) return qa1.values.data() + (c.weights_on_input ? p : p / k) * hp;
        if (!x_qdq.empty()) return x_qdq.data() + (p / k) * hp;
        return c.weights_on_input ? a1.data() + p * hp : c.hidden_states_padded.data.data() + (p / k) * hp;
      },
      w13_view,
      [&](std::int32_t p, std::int32_t e, std::int64_t n, float acc) {
        // Epilogue: scales over all of K, acc · a_scale[row] · b_scale (the row: the token, or the pair
        // with the weight on the input); acc *= dequant (activation) scale; acc += bias; cast to the
        // compute dtype.
        if (scales_after_k) acc = acc * qa1.scales(c.weights_on_input ? p : p / k, 0) * weight_scale(c.w13, e, n1, n);
        float v = acc * a_scale[static_cast<std::size_t>(e)];
        if (marlin) {
          cache1[static_cast<std::size_t>(p * n1 + n)] =
              marlin_write_out(v, marlin_channelwise ? std::optional(weight_scale(c.w13, e, n1, n)) : std::nullopt,
                               has_b13 ? std::optional(c.w13_bias.at(e, n)) : std::nullopt, std::nullopt);
          return;
        }
        if (has_b13) v = v + c.w13_bias.at(e, n);
        cache1[static_cast<std::size_t>(p * n1 + n)] = round_dtype(dtype, v);
      },
      no_tail, a1_scales);

  // Activation: cache1 → cache2 [pairs, I_pad], split at I_pad (or interleaved pairs); in fp32
  // where GEMM2's quantizer is fused with it.
  std::vector<float> cache2(static_cast<std::size_t>(pairs * ip));
  reference::padding::poison(std::span<float>(cache2), seed ^ 0xc2ULL);
  const Dtype act_dtype = input_quant.fused_with_activation ? Dtype::kF32 : dtype;
  for (std::int64_t p = 0; p < pairs; ++p)
    reference::moe::activate(c.activation, c.layout, act_dtype,
                             std::span<const float>(cache1.data() + p * n1, static_cast<std::size_t>(n1)),
                             std::span<float>(cache2.data() + p * ip, static_cast<std::size_t>(ip)));

  // GEMM2: cache2 × w2ᵀ → cache3 [pairs, H_pad], router weight in the epilogue.
  std::vector<float> cache3(static_cast<std::size_t>(pairs * hp));
  reference::padding::poison(std::span<float>(cache3), seed ^ 0xc3ULL);
  // B2: E8M0 scales only (MX schemes), read with the stride of a 256-aligned I.
  const rq::ComponentSpec* scale_codes = scheme.find(rq::Component::kScaleBytes);
  const bool b2 = f.e8m0_scale_misindex && scale_codes && scale_codes->format == reference::formats::Format::kE8m0 &&
                  ip % 256 != 0;
  const auto w2_view = [&](std::int32_t e) {
    WeightView v = view_of(c.w2, scheme, dtype, e, hp, ip, f.swizzle_stride_from_logical_extents);
    v.scale_k_offset = f.scale_tile_rank_local ? 0 : c.w2.scale_grid_offset;  // B16: k / 128
    if (b2) v.scale_stride = cdiv(ip, 256) * 256 / scale_codes->packing.elements;
    return v;
  };
  const bool has_b2 = !c.w2_bias.shape.empty();
  KTail tail;
  if (f.uninitialized_k_tail_lanes && ip > i) {
    tail.logical_k = i;
    tail.pool = &pool;
  }
  rq::QuantizedActivations qa2;
  AScales a2_scales;
  if (input_quant.source(2) == rq::ScaleSource::kDynamic) {
    // GEMM2's dynamic scale: the amax of intermediate_cache2, every pair's row. The rows of pairs
    // for another EP rank's experts are zeros there (the kernel's expert id -1 blocks write zeros,
    // and act(0) = 0), which leave the amax unchanged; here they are skipped.
    float s2 = 0.0f;
    for (std::int64_t p = 0; p < pairs; ++p)
      if (c.topk_ids.data[static_cast<std::size_t>(p)] != -1)
        s2 = std::fmax(s2, rq::batch_scale(input_quant, Eigen::Map<const rq::RowMatrixXf>(cache2.data() + p * ip, 1, ip)));
    a2_static = s2;
  }
  if (scales_after_k) {
    qa2 = quantize_static(cache2.data(), pairs, ip, a2_static);
  } else if (input_quant.quantized() && input_quant.qdq) {
    qdq_rows(cache2.data(), pairs, ip, a2_static, 2);
  } else if (input_quant.quantized()) {
    qa2 = quantize_rows(cache2.data(), pairs, ip, 2);
    a2_scales = AScales{&qa2, true, k};
  }
  tiled_gemm(
      tiles_, ab, hp, ip, cdiv(hp, tiles_.block_n),
      [&](std::int32_t p) -> const float* { return (qa2.group > 0 ? qa2.values.data() : cache2.data()) + p * ip; },
      w2_view,
      [&](std::int32_t p, std::int32_t e, std::int64_t n, float acc) {
        if (marlin) {
          cache3[static_cast<std::size_t>(p * hp + n)] = marlin_write_out(
              acc, marlin_channelwise ? std::optional(weight_scale(c.w2, e, hp, n)) : std::nullopt,
              has_b2 ? std::optional(c.w2_bias.at(e, n)) : std::nullopt,
              c.weights_on_input ? std::nullopt : std::optional(c.topk_weights.data[static_cast<std::size_t>(p)]));
          return;
        }
        float v = scales_after_k ? acc * qa2.scales(p, 0) * weight_scale(c.w2, e, hp, n) : acc;
        if (has_b2) v = v + c.w2_bias.at(e, n);
        if (!c.weights_on_input) v = v * c.topk_weights.data[static_cast<std::size_t>(p)];  // MUL_ROUTED_WEIGHT
        cache3[static_cast<std::size_t>(p * hp + n)] = fp32_pairs ? v : round_dtype(dtype, v);
      },
      tail, a2_scales);

  // EP: pairs routed to another rank's expert (id -1) are in no block; the kernel writes their
  // rows as zeros (fused_moe_kernel's expert id -1 path). Fault B18: they stay unwritten in the
  // (poisoned) workspace, and the reduction below sums them all the same.
  for (std::int64_t p = 0; p < pairs && !f.unwritten_slots_reduced; ++p)
    if (c.topk_ids.data[static_cast<std::size_t>(p)] == -1)
      std::fill_n(cache3.begin() + p * hp, hp, 0.0f);

  // moe_sum over the k slots: k = 1 a copy; k in {2, 3, 4} adds in the tensor dtype, rounding after
  // each add (the templated CUDA kernel); other k: at::sum_out, fp32 accumulation, one rounding.
  // fp32 pair rows (KernelContract::fp32_gemm2_output) are summed in fp32 and rounded once.
  const bool dtype_adds = k >= 2 && k <= 4 && !fp32_pairs;
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t h = 0; h < hp; ++h) {
      float s = cache3[static_cast<std::size_t>((t * k) * hp + h)];
      for (std::int64_t j = 1; j < k; ++j) {
        s = s + cache3[static_cast<std::size_t>((t * k + j) * hp + h)];
        if (dtype_adds) s = round_dtype(dtype, s);
      }
      output[static_cast<std::size_t>(t * hp + h)] = round_dtype(dtype, s);
    }

  // Fault B10, the finalize: a batched layout reduces over every expert slot, weight 0 for the
  // experts a token did not choose; 0 · NaN from an empty expert's scale poisons every row.
  if (f.nan_for_empty_experts)
    for (std::int64_t e = 0; e < experts; ++e) {
      const float zero_weighted = 0.0f * a_scale[static_cast<std::size_t>(e)];
      if (zero_weighted == 0.0f) continue;  // finite scale: adds +0, a no-op
      for (float& o : output) o = o + zero_weighted;
    }
}

}  // namespace moecheck::device::sim
