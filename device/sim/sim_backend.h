// The `sim` backend: a host simulation of vLLM's Triton fused_moe pipeline (fused_moe.py
// fused_experts_impl + fused_moe_kernel), on padded shapes:
//   moe_align_block_size → GEMM1 (BLOCK_M × BLOCK_N × BLOCK_K tiles, in-tile dequantization, fp32
//   accumulation) → epilogue (bias, cast) → intermediate cache 1 → activation → cache 2 → GEMM2
//   (bias, router weight, cast) → cache 3 [T·k, H_pad] → moe_sum.
// Accumulation: one fp32 accumulator per output element, K tiles in ascending order, inside a
// tile ascending k, each product and each sum rounded separately (no FMA; the build uses
// -ffp-contract=off). That is the golden model's Accumulate::kFp32 order, and it is
// order-preserving: zero products appended by padding leave every sum bitwise unchanged.
// Every buffer the pipeline allocates is poisoned first (reference/padding/poison.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "device/backend.h"

namespace moecheck::device::sim {

struct TileConfig {
  std::string name;
  std::int64_t block_m = 16;  // rows (token pairs) per block of moe_align_block_size
  std::int64_t block_n = 64;  // output columns per tile
  std::int64_t block_k = 64;  // reduction depth per tile
};

class SimBackend final : public Backend {
 public:
  explicit SimBackend(TileConfig tiles);  // std::invalid_argument for a tile size < 1
  std::string_view name() const override { return tiles_.name; }
  Capabilities capabilities() const override;
  void run(const PaddedCase& padded_case, std::span<float> output) const override;
  const TileConfig& tiles() const { return tiles_; }

 private:
  TileConfig tiles_;
};

}  // namespace moecheck::device::sim
