// Internal helpers of the quant schemes (not part of the public API; not in reference/quant.h).
#pragma once

#include <cstdint>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/quant/common.h"

namespace moecheck::reference::quant::detail {

// The fp8 cast after a clamp to the scheme's limit. e4m3fn: the saturating cvt (CUDA
// `cvt.rn.satfinite`; after the clamp it equals c10's RNE constructor). e4m3fnuz: RNE (HIP
// `cvt_c10`, assumed RNE — unverified; after the ±224 clamp it cannot overflow).
inline std::uint8_t encode_fp8(float v, formats::Format format) {
  return format == formats::Format::kE4m3fnuz ? formats::e4m3fnuz_torch(v) : formats::e4m3fn_satfinite(v);
}

// The row range of a dequantize_rows call: 0 <= begin <= end <= rows, and a buffer when non-empty.
inline void check_row_range(const std::string& what, std::int64_t row_begin, std::int64_t row_end, std::int64_t rows,
                            const float* out) {
  if (row_begin < 0 || row_begin > row_end || row_end > rows)
    fail(what + " dequantize_rows range", "0 <= row_begin <= row_end <= rows = " + std::to_string(rows),
         std::string("[").append(std::to_string(row_begin)).append(", ").append(std::to_string(row_end)).append(")"));
  if (row_end > row_begin && out == nullptr) fail(what + " dequantize_rows out", "a buffer", "nullptr");
}

}  // namespace moecheck::reference::quant::detail
