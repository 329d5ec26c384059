// Weight matrices of the MoE block in the encodings checkpoints use. Quantized ones stay quantized
// until the forward materializes one expert at a time, so only the experts that the routing
// selects are ever dequantized.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "reference/moe/dtype.h"
#include "reference/quant/fp8_block.h"
#include "reference/quant/mxfp4.h"
#include "reference/quant/scheme.h"

namespace moecheck::reference::moe {

// A weight held as floats, row-major [rows = out, cols = in]: nn.Linear's orientation. Checkpoint
// tensors stored in×out (gpt-oss, Llama-4, DBRX w2) are transposed into this when loaded.
struct DenseWeight {
  std::int64_t rows = 0, cols = 0;
  std::vector<float> values;
};

// A weight of a table-driven scheme (a row of quant/scheme.h with `dequantize_rows`): its storage
// components as the row describes them, dequantized by the row's function. New schemes are held so;
// dense, MXFP4 and FP8 blocks keep the types the checkpoint loaders build.
struct SchemeWeight {
  quant::WeightScheme scheme = quant::WeightScheme::kDense;
  std::int64_t rows = 0, cols = 0;
  quant::SchemeStorage storage;
};

// One [out, in] matrix: floats, gpt-oss MXFP4 blocks/scales, DeepSeek-V3 FP8 blocks with
// `weight_scale_inv`, or a table-driven scheme's storage. Each quantized form dequantizes exactly
// (reference/quant).
using Weight = std::variant<DenseWeight, quant::Mxfp4Weight, quant::Fp8BlockWeight, SchemeWeight>;

std::int64_t rows(const Weight& weight);
std::int64_t cols(const Weight& weight);

// A projection made of parts stacked along the output axis: [gate; up] from two per-expert
// checkpoint tensors (each with its own FP8 scales), or a single part for a fused tensor.
struct StackedWeight {
  std::vector<Weight> parts;

  std::int64_t rows() const;  // the sum of the parts' rows
  std::int64_t cols() const;  // the parts' common cols; std::invalid_argument if they differ
};

// The matrix's exact values, row-major [rows, cols], rounded to `dtype` (a bf16 model holds its
// weights in bf16: exact for bf16 and MXFP4 tensors, a rounding for fp32 or FP8-block values).
// `out` must hold rows() · cols() floats.
void materialize(const StackedWeight& weight, Dtype dtype, std::span<float> out);

// Throws std::invalid_argument naming `what` unless the matrix is [rows, cols] and every part is
// internally consistent (value counts, block and scale sizes).
void validate(const StackedWeight& weight, std::int64_t rows, std::int64_t cols, std::string_view what);

// ---- the weight-scheme table's view of a part (quant/scheme.h) ------------------------------------

// The scheme a part is stored in (one per Weight alternative).
quant::WeightScheme scheme_of(const Weight& part);

// A part's storage: one row-major array per component of its scheme (quant::SchemeStorage).
using WeightStorage = quant::SchemeStorage;
WeightStorage storage_of(const Weight& part);
// One component's array of a part, without a copy (empty if the part's scheme lacks it).
std::span<const float> float_component(const Weight& part, quant::Component component);
std::span<const std::uint8_t> byte_component(const Weight& part, quant::Component component);
// The part of `scheme` holding `storage` for a [rows, cols] matrix; std::invalid_argument (naming
// the component) unless every array has its stored size.
Weight weight_from_storage(quant::WeightScheme scheme, std::int64_t rows, std::int64_t cols, WeightStorage storage);
// The quantizer that makes checkpoints of `scheme` from float values [rows, cols] (generators):
// dense keeps them; MXFP4 is triton_kernels' downcast (torch reference, the kernel's bytes); FP8
// blocks are vLLM's per_block_cast_to_fp8; a table-driven scheme uses its row's quantizer.
Weight quantize_weight(quant::WeightScheme scheme, quant::MatrixView values);

}  // namespace moecheck::reference::moe
