#include "reference/moe/dtype.h"

namespace moecheck::reference::moe {

std::string_view name(Dtype dtype) { return dtype == Dtype::kBf16 ? "bfloat16" : "float32"; }

std::optional<Dtype> parse_dtype(std::string_view text) {
  if (text == "float32" || text == "fp32" || text == "f32") return Dtype::kF32;
  if (text == "bfloat16" || text == "bf16") return Dtype::kBf16;
  return std::nullopt;
}

std::string_view name(Accumulate accumulate) { return accumulate == Accumulate::kFp32 ? "fp32" : "fp64"; }

std::optional<Accumulate> parse_accumulate(std::string_view text) {
  if (text == "fp64") return Accumulate::kFp64;
  if (text == "fp32") return Accumulate::kFp32;
  return std::nullopt;
}

}  // namespace moecheck::reference::moe
