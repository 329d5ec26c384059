// The golden forward of one MoE block (block.h) on a batch of tokens, with transformers' eager
// semantics: routed experts in ascending id order, tokens of an expert gathered, one GEMM pair per
// expert, the weighted outputs accumulated in the model dtype; then the shared expert.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/moe/block.h"

namespace moecheck::reference::moe {

struct MoeOutput {
  RowMatrix<float> output;         // [T, H], values of the model dtype
  Routing routing;                 // ids and weights [T, k]
  RowMatrix<float> router_logits;  // [T, E], values of the logits precision
  // The experts whose weights were materialized (dequantized), ascending: exactly the experts
  // that at least one token selected.
  std::vector<std::int32_t> experts_evaluated;
};

// The block's router on `hidden` [T, H] (rounded to the model dtype first, as `.to(dtype)` would):
// F.linear(x, W, b) is one op (addmm), so the bias joins the sum before the rounding to the logits
// precision; then route(). The one router: forward() routes with it, and so does the padding path,
// on the LOGICAL hidden states (padding.md §1.4, bugs.md B7). std::invalid_argument for a hidden
// width other than block.hidden.
struct RouterOutput {
  RowMatrix<float> logits;  // [T, E], values of the logits precision
  Routing routing;          // ids and weights [T, k]
};
RouterOutput route_block(const MoeBlock& block, const RowMatrix<float>& hidden,
                         Accumulate accumulate = Accumulate::kFp64);

// `hidden` [T, H] is rounded to the model dtype first (as `.to(dtype)` would). Throws
// std::invalid_argument for an inconsistent block or a hidden width other than block.hidden.
// `input_quant`: the quantization of each routed expert's GEMM inputs (the scheme's, for W8A8
// schemes: quant/scheme.h ActivationSpec), applied to the rows the expert serves — per token, so
// gathering does not change it; the shared expert is a layer of its own and runs unquantized.
MoeOutput forward(const MoeBlock& block, const RowMatrix<float>& hidden, Accumulate accumulate = Accumulate::kFp64,
                  const quant::ActivationSpec& input_quant = quant::kModelDtypeActivations);

// The shared expert's output on x [T, H] (values of the model dtype): its MLP, scaled by
// σ(x · gate) where the block has a shared-expert gate (Qwen2-MoE), [T, H] in the model dtype; an
// empty matrix for a block without one. forward() adds it to the routed output, and so does the
// padding path's finalize (properties/case.h), on the LOGICAL hidden states.
RowMatrix<float> shared_expert_output(const MoeBlock& block, const RowMatrix<float>& x, Accumulate accumulate);

// One expert's MLP on the rows of x (values of the model dtype), unweighted: the gate_up linear
// rounded (then + bias, rounded), the activation, the down linear rounded (then + bias, rounded).
// Used for routed and shared experts alike.
RowMatrix<float> expert_mlp(const Expert& expert, const RowMatrix<float>& x, Activation activation,
                            GateUpLayout layout, Dtype dtype, Accumulate accumulate);

}  // namespace moecheck::reference::moe
