// Internal helpers of the quant schemes (not part of the public API; not in reference/quant.h).
#pragma once

#include <cstdint>

#include "reference/formats/codecs.h"
#include "reference/quant/common.h"

namespace moecheck::reference::quant::detail {

// The fp8 cast after a clamp to the scheme's limit. e4m3fn: the saturating cvt (CUDA
// `cvt.rn.satfinite`; after the clamp it equals c10's RNE constructor). e4m3fnuz: RNE (HIP
// `cvt_c10`, assumed RNE — unverified; after the ±224 clamp it cannot overflow).
inline std::uint8_t encode_fp8(float v, formats::Format format) {
  return format == formats::Format::kE4m3fnuz ? formats::e4m3fnuz_torch(v) : formats::e4m3fn_satfinite(v);
}

}  // namespace moecheck::reference::quant::detail
