// The gated activations of MoE experts: the row [2I] that the gate/up projection produces becomes
// [I]. Each op rounds to the model dtype where transformers' eager code produces a tensor
// (spec/models.md §1.2); in a float32 model that is fp32 rounding of each op.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "reference/moe/dtype.h"

namespace moecheck::reference::moe {

enum class Activation : std::uint8_t {
  kSilu,       // silu(gate) · up, silu(v) = v · σ(v)
  kGeluErf,    // gelu(gate) · up, the exact erf GELU 0.5 · v · (1 + erf(v / √2))
  kSwigluOai,  // gpt-oss: (clamp(up, -7, 7) + 1) · g · σ(1.702 · g) with g = min(gate, 7)
};

// Where gate and up sit in the [2I] row.
enum class GateUpLayout : std::uint8_t {
  kConcatenated,  // [gate_0 .. gate_{I-1}, up_0 .. up_{I-1}]: every family but gpt-oss
  kInterleaved,   // [gate_0, up_0, gate_1, up_1, ...]: gpt-oss (even = gate, odd = up)
};

// gpt-oss's constants: transformers' eager GptOssExperts hard-codes both (it ignores the config's
// swiglu_limit); vLLM's swigluoai_and_mul defaults to the same.
inline constexpr float kSwigluOaiAlpha = 1.702f;
inline constexpr float kSwigluOaiLimit = 7.0f;

std::string_view name(Activation activation);  // "silu", "gelu", "swigluoai"
// config.json `hidden_act`: silu or swish → kSilu, gelu → kGeluErf; nullopt for the rest (the tanh
// GELU variants are a different function).
std::optional<Activation> parse_hidden_act(std::string_view text);

// The exact functions, in double.
double sigmoid(double v);
double silu(double v);
double gelu_erf(double v);

// One token's row. Each op is rounded to `dtype` (r below), in transformers' eager order:
//   kSilu / kGeluErf: r(r(act(gate)) · up)                         (act_fn(gate) * up)
//   kSwigluOai:       g = min(gate, 7), u = clamp(up, -7, 7),
//                     r(r(u + 1) · r(g · r(σ(r(g · 1.702f)))))      (GptOssExperts._apply_gate)
// Inputs are values of `dtype`. The clamps keep NaN. Zero gate and up give exactly 0 in every
// case, so padded intermediate lanes with zero weights and biases contribute nothing.
// `gate_up` holds 2·out.size() values.
void activate(Activation activation, GateUpLayout layout, Dtype dtype, std::span<const float> gate_up,
              std::span<float> out);

}  // namespace moecheck::reference::moe
