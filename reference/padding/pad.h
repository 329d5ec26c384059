// Padding operations, each a function of the plan (padding.md §1.4–§1.6, §6 steps 3–5). They take
// one rank's logical (unpadded) tensors, as a loader would copy them, and return the padded ones.
// Every output is allocated poisoned (poison.h) and then written: real values copied, padded
// regions filled as the plan's ruleset says (zero weights and biases, scale bytes 0x00 for MXFP4
// and 0x01 for Quark), or left poisoned where vLLM allocates with torch.empty ("uninitialized").
//
// Two stages, as in vLLM: the allocation (create_weights at the maybe_roundup_sizes sizes), then,
// if the ruleset has one, the post-load alignment to the final sizes (FlashInfer FP8 / NVFP4),
// which places the w13 rows per half or, as vLLM does today, all at the top (bugs.md B12).
//
// Storage: T is float (values), std::uint8_t (codes, scale bytes) or std::uint16_t (bf16 bits).
// `packing` says how the padded axis is stored (kFp4Bytes: H/2 bytes; kMxScaleBytes: H/32 ...).
// Errors (wrong shapes, a rank with more rows than the buffer) are std::invalid_argument.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/padding/plan.h"
#include "reference/padding/poison.h"
#include "reference/padding/tensor.h"

namespace moecheck::reference::padding {

enum class Role : std::uint8_t { kWeight, kScale, kBias };

// w13 (or its block scales) of one rank: [e, 2·real, st(H)] -> [e, 2·I_pad, st(H_pad)].
// kConcatenated: each half's real rows at the top of its half, zeros below; kInterleaved: the real
// (gate, up) pairs at the top, padding at the tail of the interleaved rows. Non-gated plans: one half.
template <class T>
Tensor<T> pad_w13(const Plan& plan, const Tensor<T>& rank_w13, W13Layout layout, Role role, Packing packing,
                  std::uint64_t seed = kDefaultPoisonSeed);
// w2 (or its scales) of one rank: [e, H, st(real)] -> [e, H_pad, st(I_pad)].
template <class T>
Tensor<T> pad_w2(const Plan& plan, const Tensor<T>& rank_w2, Role role, Packing packing,
                 std::uint64_t seed = kDefaultPoisonSeed);
// Biases: w13 [e, 2·real] -> [e, 2·I_pad] (rows as pad_w13); w2 [e, H] -> [e, H_pad].
template <class T>
Tensor<T> pad_w13_bias(const Plan& plan, const Tensor<T>& bias, W13Layout layout, std::uint64_t seed = kDefaultPoisonSeed);
template <class T>
Tensor<T> pad_w2_bias(const Plan& plan, const Tensor<T>& bias, std::uint64_t seed = kDefaultPoisonSeed);

// The runner's activation padding (§1.4): [M, H] -> [M, H_pad], zeros on the right; [M, H]
// unchanged (copied) when the plan skips forward padding (FlashInfer TRTLLM MXFP8).
template <class T>
Tensor<T> pad_activations(const Plan& plan, const Tensor<T>& x, std::uint64_t seed = kDefaultPoisonSeed);
// What the kernel sees: pad_activations, or for skip_forward_padding the kernel's own zero padding
// to round_up(H, kernel_activation_alignment) (mxfp8_quantize(alignment=256)).
template <class T>
Tensor<T> kernel_activations(const Plan& plan, const Tensor<T>& x, std::uint64_t seed = kDefaultPoisonSeed);
// The router's input: the logical columns [:, :H] of a possibly padded [M, W] (§1.4, bugs.md B7).
template <class T>
Tensor<T> routing_input(const Plan& plan, const Tensor<T>& x, std::uint64_t seed = kDefaultPoisonSeed);
// The slice back: [M, W >= H] -> [M, H] (§1.4 x[..., :H]).
template <class T>
Tensor<T> slice_output(const Plan& plan, const Tensor<T>& y, std::uint64_t seed = kDefaultPoisonSeed);
// The TP/EP all-reduce on the padded width, in rank order, then the slice (§1.4 _maybe_reduce_output).
Tensor<float> all_reduce_then_slice(const Plan& plan, const std::vector<Tensor<float>>& rank_outputs,
                                    std::uint64_t seed = kDefaultPoisonSeed);

#define MOECHECK_PADDING_PAD_EXTERN(T)                                                                         \
  extern template Tensor<T> pad_w13<T>(const Plan&, const Tensor<T>&, W13Layout, Role, Packing, std::uint64_t); \
  extern template Tensor<T> pad_w2<T>(const Plan&, const Tensor<T>&, Role, Packing, std::uint64_t);             \
  extern template Tensor<T> pad_w13_bias<T>(const Plan&, const Tensor<T>&, W13Layout, std::uint64_t);           \
  extern template Tensor<T> pad_w2_bias<T>(const Plan&, const Tensor<T>&, std::uint64_t);                       \
  extern template Tensor<T> pad_activations<T>(const Plan&, const Tensor<T>&, std::uint64_t);                   \
  extern template Tensor<T> kernel_activations<T>(const Plan&, const Tensor<T>&, std::uint64_t);                \
  extern template Tensor<T> routing_input<T>(const Plan&, const Tensor<T>&, std::uint64_t);                     \
  extern template Tensor<T> slice_output<T>(const Plan&, const Tensor<T>&, std::uint64_t);
MOECHECK_PADDING_PAD_EXTERN(float)
MOECHECK_PADDING_PAD_EXTERN(std::uint8_t)
MOECHECK_PADDING_PAD_EXTERN(std::uint16_t)
#undef MOECHECK_PADDING_PAD_EXTERN

}  // namespace moecheck::reference::padding
