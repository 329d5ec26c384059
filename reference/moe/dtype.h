// The two model dtypes of the golden model and the two accumulation modes of its dot products.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "reference/formats/codecs.h"

namespace moecheck::reference::moe {

// The dtype the Hugging Face model runs in. bf16 is emulated: every value is a float holding a
// bf16-representable number, rounded at the points where transformers' eager code produces a
// bf16 tensor (spec/models.md §1.2, §6.2).
enum class Dtype : std::uint8_t { kF32, kBf16 };

std::string_view name(Dtype dtype);                      // "float32", "bfloat16" (config.json's spelling)
std::optional<Dtype> parse_dtype(std::string_view text);  // also accepts "fp32", "f32", "bf16"

// An op result in `dtype`, from its exact (or fp64) value, the way torch's CPU kernels produce it:
// rounded to fp32 (RNE), and for bf16 on from that fp32 value to bf16 (RNE), because torch computes
// bf16 elementwise ops in fp32 and rounds once at the end. For +, -, ×, ÷ of two fp32 operands,
// rounding their double result to fp32 is exactly the fp32 operation (53 ≥ 2·24 + 2).
inline float round_to(Dtype dtype, double exact) {
  const float f = static_cast<float>(exact);
  return dtype == Dtype::kBf16 ? formats::bf16_value(formats::bf16_rne(f)) : f;
}

// How the dot products of every linear layer are summed: y = (((0 + x0·w0) + x1·w1) + ...) in
// ascending k, no FMA, then rounded once at the family's cast point. The modes differ only in the
// precision of that sum. Both are order-preserving by construction: appending zero products
// (padding) leaves every sum bitwise unchanged, which the padding properties rely on.
enum class Accumulate : std::uint8_t {
  // The reference: products and sums in double (an fp32 × fp32 product is exact in double).
  kFp64,
  // Sequential fp32: every product and every sum rounded to fp32.
  kFp32,
};

std::string_view name(Accumulate accumulate);  // "fp64", "fp32"
std::optional<Accumulate> parse_accumulate(std::string_view text);

}  // namespace moecheck::reference::moe
