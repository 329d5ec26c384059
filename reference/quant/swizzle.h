// The 128×4 swizzled layout of block-scale factors that CUTLASS, FlashInfer and b12x read (vLLM
// nvfp4_utils.py swizzle_blockscale @ 7ca49fbe; numerics.md §3.10 "Scale layout"): a [rows, cols]
// scale matrix (rows = weight rows, cols = scale blocks along K) is padded to whole 128-row × 4-column
// tiles, and each tile is stored as [32, 4, 4] (row % 32, (row / 32) % 4, col % 4), tiles ordered
// row tile first. A layout of the device, never of a checkpoint: the layer swizzles after loading
// and padding, so padded extents (not logical ones) fix every offset (spec/bugs.md B14).
#pragma once

#include <cstdint>
#include <vector>

#include "reference/quant/blocks.h"

namespace moecheck::reference::quant {

inline constexpr std::int64_t kSwizzleTileRows = 128;  // rows per tile
inline constexpr std::int64_t kSwizzleTileCols = 4;    // scale columns per tile

// The swizzled extents of a [rows, cols] scale matrix: rows and cols rounded up to the tile.
struct SwizzledExtents {
  std::int64_t rows = 0, cols = 0;
  std::int64_t size() const { return rows * cols; }
};
constexpr SwizzledExtents swizzled_extents(std::int64_t rows, std::int64_t cols) {
  return {round_up(rows, kSwizzleTileRows), round_up(cols, kSwizzleTileCols)};
}

// The storage offset of scale (r, c) in a matrix whose padded column count is `padded_cols` (a
// multiple of 4): (r/128 · padded_cols/4 + c/4) · 512 + (r%32) · 16 + ((r/32)%4) · 4 + c%4.
constexpr std::int64_t swizzled_offset(std::int64_t r, std::int64_t c, std::int64_t padded_cols) {
  return ((r / kSwizzleTileRows) * (padded_cols / kSwizzleTileCols) + c / kSwizzleTileCols) * 512 + (r % 32) * 16 +
         ((r / 32) % 4) * 4 + c % kSwizzleTileCols;
}

// A row-major [rows, cols] matrix swizzled into `out` (swizzled_extents(rows, cols).size() values,
// resized); the tile padding keeps `out`'s prior contents where it already has that size (the
// caller's poison), else `fill`.
template <class T>
void swizzle_128x4(const T* plain, std::int64_t rows, std::int64_t cols, std::vector<T>& out, T fill = T{}) {
  const SwizzledExtents x = swizzled_extents(rows, cols);
  if (static_cast<std::int64_t>(out.size()) != x.size()) out.assign(static_cast<std::size_t>(x.size()), fill);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(swizzled_offset(r, c, x.cols))] = plain[r * cols + c];
}
// The inverse: the [rows, cols] logical scales back out of a swizzled buffer.
template <class T>
std::vector<T> unswizzle_128x4(const T* swizzled, std::int64_t rows, std::int64_t cols) {
  const SwizzledExtents x = swizzled_extents(rows, cols);
  std::vector<T> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(r * cols + c)] = swizzled[swizzled_offset(r, c, x.cols)];
  return out;
}

}  // namespace moecheck::reference::quant
