// ROCm (MI300) normalization of e4m3fn checkpoints to e4m3fnuz (spec/numerics.md §3.12):
// vLLM `normalize_e4m3fn_to_e4m3fnuz` reinterprets the code bytes, turns 0x80 (-0 in fn, the only
// NaN in fnuz) into 0x00, and doubles every scale, because a fnuz code is worth half the same fn
// byte. The codec facts live in formats (`e4m3fn_to_fnuz_code`, `kFnToFnuzScaleFactor`).
#pragma once

#include <cstdint>
#include <span>

#include "reference/quant/fp8.h"
#include "reference/quant/fp8_block.h"

namespace moecheck::reference::quant {

// In place: codes through formats::e4m3fn_to_fnuz_code, each scale times 2.
void normalize_e4m3fn_to_e4m3fnuz(std::span<std::uint8_t> codes, std::span<float> scales);
// `input_scale` doubles too.
float normalize_input_scale_to_fnuz(float input_scale);

// Whole tensors; the input must be e4m3fn, the result is e4m3fnuz with the same layout.
Fp8Quantized normalize_e4m3fn_to_e4m3fnuz(const Fp8Quantized& q);
Fp8BlockWeight normalize_e4m3fn_to_e4m3fnuz(const Fp8BlockWeight& w);

}  // namespace moecheck::reference::quant
