// The block and group sizes of the quant schemes, the integer arithmetic every layout uses, and how
// a packed storage axis maps logical elements to storage units. One header, so that quant/,
// padding/, the sim and the fixtures say "32" or "128" only through these names.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace moecheck::reference::quant {

// OCP Microscaling Formats v1.0 §5: one E8M0 scale per 32 elements (MXFP4, MXFP6, MXFP8).
inline constexpr std::int64_t kMxBlock = 32;
// NVFP4 (ModelOpt, compressed-tensors): one ue4m3 scale per 16 e2m1 elements (numerics.md §3.10).
inline constexpr std::int64_t kNvfp4Block = 16;
// DeepSeek-V3 `weight_block_size: [128, 128]`: one fp32 weight_scale_inv per 128×128 block.
inline constexpr std::int64_t kFp8WeightBlock = 128;
// GPTQ / AWQ / compressed-tensors WNA16 `group_size: 128`: one scale (and zero point) per 128
// elements along K, the common checkpoint setting (TritonWNA16Experts takes any group).
inline constexpr std::int64_t kWna16Group128 = 128;
// `group_size: 32`, the finest group the fused-MoE WNA16 paths take (MoeWNA16Method halves a group
// down to 32 at most; vLLM keys int4 group 32 apart as kInt4Static32GroupScale).
inline constexpr std::int64_t kWna16Group32 = 32;
// `group_size: 64` (GPTQ and AWQ checkpoints quantized so; vLLM's generic kInt4Static key, whose
// group shape the Triton and Marlin kernels take from the scales' shape).
inline constexpr std::int64_t kWna16Group64 = 64;

// ceil(a / b) for a >= 0, b > 0; std::invalid_argument otherwise.
constexpr std::int64_t cdiv(std::int64_t a, std::int64_t b) {
  if (b <= 0 || a < 0) throw std::invalid_argument("cdiv: needs a >= 0 and b > 0");
  return (a + b - 1) / b;
}
// The smallest multiple of `multiple` that is >= x, for x >= 0, multiple > 0.
constexpr std::int64_t round_up(std::int64_t x, std::int64_t multiple) {
  if (multiple <= 0 || x < 0) throw std::invalid_argument("round_up: needs x >= 0 and multiple > 0");
  return cdiv(x, multiple) * multiple;
}

// `elements` logical elements are stored in `units` storage units along the last axis.
struct Packing {
  // Elements per group; 0: the whole axis is one group, whatever its length (kWholeAxis).
  std::int64_t elements = 1;
  std::int64_t units = 1;
  bool whole_axis() const { return elements == 0; }
  // Storage units of n logical elements; std::invalid_argument unless n is a whole number of groups.
  std::int64_t storage(std::int64_t n) const {
    if (whole_axis()) return units;
    if (n % elements != 0)
      throw std::invalid_argument(std::to_string(n) + " elements are not a whole number of " +
                                  std::to_string(elements) + "-element storage groups");
    return n / elements * units;
  }
  bool operator==(const Packing&) const = default;
};
inline constexpr Packing kUnpacked{1, 1};                   // one element per unit (floats, bf16 bits, fp8 codes)
inline constexpr Packing kFp4Bytes{2, 1};                   // two e2m1 codes per byte (MXFP4, NVFP4, int4)
inline constexpr Packing kFp6Bytes{4, 3};                   // four 6-bit codes in three bytes (MXFP6, get_packed_dim ·3/4)
inline constexpr Packing kMxScaleBytes{kMxBlock, 1};        // one E8M0 scale byte per MX block
inline constexpr Packing kNvfp4ScaleBytes{kNvfp4Block, 1};  // one ue4m3 scale byte per NVFP4 block
// One unit for the whole reduction axis: a per-output-channel scale (FP8 `weight_scale` [N, 1] of
// the channel strategy), the same single column before and after K is padded or TP-sharded.
inline constexpr Packing kWholeAxis{0, 1};

// The code of element k of a row packed as `packing` (one of the element packings above): a byte;
// a nibble, element 2i low (e2m1, int4); or six bits of the little-endian 24-bit word of four fp6
// codes (formats::pack_fp6). The layouts the tile functions and the dequantizers share.
inline std::uint8_t packed_code(const std::uint8_t* row, std::int64_t k, Packing packing) {
  if (packing.elements == 1) return row[k];
  if (packing.elements == 2) return k % 2 == 0 ? row[k / 2] & 0x0F : row[k / 2] >> 4;
  const std::uint8_t* word = row + (k / 4) * 3;
  const std::uint32_t bits = std::uint32_t(word[0]) | std::uint32_t(word[1]) << 8 | std::uint32_t(word[2]) << 16;
  return std::uint8_t((bits >> (6 * (k % 4))) & 0x3F);
}

}  // namespace moecheck::reference::quant
