#include "reference/moe/forward.h"

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "reference/formats/codecs.h"
#include "reference/moe/linear.h"

namespace moecheck::reference::moe {
namespace {

// The buffer that one expert's weights are materialized into, reused from expert to expert: a
// fresh allocation of tens of MiB costs a page fault per 4 KiB on first touch, about as much time
// as the GEMM that reads it.
struct Workspace {
  std::vector<float> weight;
};

// r(r(x · wᵀ) + r(b)): transformers' experts write `x @ W + b`, two ops, two roundings.
// `weight_dtype`: what the dequantized weight is held in — the model dtype, except for W8A8 GEMMs,
// whose tensor cores read the fp8 codes and apply the fp32 scales to the sums (kept in fp32 here).
RowMatrix<float> linear_rounded(const StackedWeight& weight, const std::vector<float>& bias, const RowMatrix<float>& x,
                                Dtype dtype, Accumulate accumulate, Workspace& ws, Dtype weight_dtype) {
  const std::int64_t n = weight.rows();
  const std::size_t size = static_cast<std::size_t>(n * weight.cols());
  if (ws.weight.size() < size) ws.weight.resize(size);
  const std::span<const float> w(ws.weight.data(), size);
  materialize(weight, weight_dtype, {ws.weight.data(), size});
  const RowMatrix<double> z = linear(accumulate, x, w, n);
  RowMatrix<float> y(x.rows(), n);
  for (Eigen::Index i = 0; i < z.size(); ++i) y.data()[i] = round_to(dtype, z.data()[i]);
  if (!bias.empty())
    for (Eigen::Index t = 0; t < y.rows(); ++t)
      for (std::int64_t o = 0; o < n; ++o) y(t, o) = round_to(dtype, double{y(t, o)} + round_to(dtype, bias[o]));
  return y;
}

// Each GEMM's input as the quantized kernel sees it: code · scale (quant/scheme.h fake_quantize),
// back in the model dtype where the path quant-dequantizes (the emulations' `.to(A.dtype)`), or
// unchanged for w·a16 schemes.
// `scale`: this GEMM's one input scale for the per-tensor quantizers (GemmScales); `gemm` 1 or 2.
RowMatrix<float> gemm_input(const quant::ActivationSpec& input_quant, const RowMatrix<float>& x, Dtype dtype,
                            std::optional<float> scale, int gemm) {
  if (!input_quant.quantized()) return x;
  if (input_quant.dequantizes_in_fp16(gemm)) {
    // fp16(code) * fp16(scale), rounded to fp16, then `.to(A.dtype)` (ActivationSpec).
    const quant::QuantizedActivations q = quant::quantize_activations(input_quant, x, scale, gemm);
    RowMatrix<float> out(x.rows(), x.cols());
    for (Eigen::Index r = 0; r < x.rows(); ++r)
      for (Eigen::Index c = 0; c < x.cols(); ++c)
        out(r, c) = round_to(dtype, formats::fp16_round(q.values(r, c) * formats::fp16_round(q.scales(r, c / q.group))));  // exact in fp32
    return out;
  }
  RowMatrix<float> q = quant::fake_quantize(input_quant, x, scale, gemm);
  if (input_quant.qdq)
    for (Eigen::Index i = 0; i < q.size(); ++i) q.data()[i] = round_to(dtype, q.data()[i]);
  return q;
}

// A per-tensor activation quantizer's one scale per GEMM (quant::ScaleSource): static, the max of
// every expert's checkpoint scale for that GEMM (the layer holds all of them here); dynamic, the
// amax of the GEMM's whole input, set by forward between its passes.
struct GemmScales {
  std::optional<float> gemm1, gemm2;
};
GemmScales static_scales(const MoeBlock& block, const quant::ActivationSpec& input_quant) {
  if (!input_quant.reduced_over_local_experts()) return {};
  std::vector<float> w13, w2;
  // One input scale per part: a fused w13 holds one, NVFP4's separate gate and up one each ([E, 2]).
  const auto input_scales = [](const StackedWeight& w, const char* what, std::vector<float>& out) {
    for (const Weight& part : w.parts) {
      const auto* q = std::get_if<SchemeWeight>(&part);
      if (!q || q->storage.input_scales.size() != 1)
        throw std::invalid_argument(std::string("forward: static activation scales: ") + what +
                                    ": expected one input scale per expert and part, found none");
      out.push_back(q->storage.input_scales.front());
    }
  };
  for (const Expert& e : block.experts) {
    input_scales(e.gate_up, "w13_input_scale", w13);
    input_scales(e.down, "w2_input_scale", w2);
  }
  GemmScales out;
  if (input_quant.source(1) == quant::ScaleSource::kStatic) out.gemm1 = quant::reduce_input_scales(w13, "w13_input_scale");
  if (input_quant.source(2) == quant::ScaleSource::kStatic) out.gemm2 = quant::reduce_input_scales(w2, "w2_input_scale");
  return out;
}
// The dynamic scale of a GEMM input held as one matrix per expert: the fmax of the parts' scales.
float batch_scale(const quant::ActivationSpec& input_quant, const std::vector<RowMatrix<float>>& parts) {
  float s = 0.0f;
  for (const RowMatrix<float>& p : parts)
    if (p.rows() > 0) s = std::fmax(s, quant::batch_scale(input_quant, p));
  return s;
}

// W8A8 tensor cores read codes and apply the scales to the sums: the weight stays fp32; a
// quant-dequantizing emulation runs a 16-bit GEMM on weights of the model dtype.
Dtype weight_dtype(const quant::ActivationSpec& input_quant, Dtype dtype) {
  return input_quant.quantized() && !input_quant.qdq ? Dtype::kF32 : dtype;
}

// An expert's first half: GEMM1 and the activation.
RowMatrix<float> expert_hidden(const Expert& expert, const RowMatrix<float>& x, Activation activation,
                               GateUpLayout layout, Dtype dtype, Accumulate accumulate, Workspace& ws,
                               const quant::ActivationSpec& input_quant, std::optional<float> scale) {
  const RowMatrix<float> gate_up = linear_rounded(expert.gate_up, expert.gate_up_bias,
                                                  gemm_input(input_quant, x, dtype, scale, 1), dtype, accumulate, ws,
                                                  weight_dtype(input_quant, dtype));
  RowMatrix<float> h(x.rows(), gate_up.cols() / 2);
  // A quantizer fused with the activation reads it in fp32, never rounded to the model dtype.
  const Dtype act_dtype = input_quant.fused_with_activation ? Dtype::kF32 : dtype;
  for (Eigen::Index t = 0; t < x.rows(); ++t)
    activate(activation, layout, act_dtype, {gate_up.row(t).data(), static_cast<std::size_t>(gate_up.cols())},
             {h.row(t).data(), static_cast<std::size_t>(h.cols())});
  return h;
}
// Its second half: GEMM2.
RowMatrix<float> expert_down(const Expert& expert, const RowMatrix<float>& h, Dtype dtype, Accumulate accumulate,
                             Workspace& ws, const quant::ActivationSpec& input_quant, std::optional<float> scale) {
  return linear_rounded(expert.down, expert.down_bias, gemm_input(input_quant, h, dtype, scale, 2), dtype, accumulate, ws,
                        weight_dtype(input_quant, dtype));
}

RowMatrix<float> run_expert(const Expert& expert, const RowMatrix<float>& x, Activation activation, GateUpLayout layout,
                            Dtype dtype, Accumulate accumulate, Workspace& ws) {
  const quant::ActivationSpec& none = quant::kModelDtypeActivations;
  return expert_down(expert, expert_hidden(expert, x, activation, layout, dtype, accumulate, ws, none, {}), dtype,
                     accumulate, ws, none, {});
}

}  // namespace

RowMatrix<float> expert_mlp(const Expert& expert, const RowMatrix<float>& x, Activation activation, GateUpLayout layout,
                            Dtype dtype, Accumulate accumulate) {
  Workspace ws;
  return run_expert(expert, x, activation, layout, dtype, accumulate, ws);
}

namespace {
void check_hidden(const MoeBlock& block, const RowMatrix<float>& hidden, const char* who) {
  if (hidden.cols() != block.hidden)
    throw std::invalid_argument(std::string(who) + ": hidden states: expected [T, " + std::to_string(block.hidden) +
                                "], found [" + std::to_string(hidden.rows()) + ", " + std::to_string(hidden.cols()) +
                                "]");
}
RowMatrix<float> rounded(const RowMatrix<float>& hidden, Dtype dtype) {
  return hidden.unaryExpr([dtype](float v) { return round_to(dtype, v); });
}
// The router on x, already rounded to the model dtype.
RouterOutput route_rounded(const MoeBlock& block, const RowMatrix<float>& x, Accumulate accumulate) {
  const Dtype dtype = block.dtype;
  const std::int64_t tokens = x.rows(), experts = block.num_experts();
  std::vector<float> w(block.router.values.size());
  materialize(StackedWeight{{block.router}}, dtype, w);
  const RowMatrix<double> z = linear(accumulate, x, w, experts);
  RouterOutput out;
  out.logits.resize(tokens, experts);
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t e = 0; e < experts; ++e)
      out.logits(t, e) = round_to(block.semantics.router.logits, dtype,
                                  z(t, e) + (block.router_bias.empty() ? 0.0 : round_to(dtype, block.router_bias[e])));
  out.routing = route(block.semantics.router, dtype, out.logits, block.correction_bias);
  return out;
}
}  // namespace

RouterOutput route_block(const MoeBlock& block, const RowMatrix<float>& hidden, Accumulate accumulate) {
  check_hidden(block, hidden, "route_block");
  return route_rounded(block, rounded(hidden, block.dtype), accumulate);
}

RowMatrix<float> shared_expert_output(const MoeBlock& block, const RowMatrix<float>& x, Accumulate accumulate) {
  if (!block.shared_expert) return {};
  const Dtype dtype = block.dtype;
  Workspace ws;
  RowMatrix<float> shared =
      run_expert(*block.shared_expert, x, block.semantics.activation, GateUpLayout::kConcatenated, dtype, accumulate, ws);
  if (block.shared_expert_gate) {
    const RowMatrix<float> gate =
        linear_rounded(StackedWeight{{*block.shared_expert_gate}}, {}, x, dtype, accumulate, ws, dtype);
    for (Eigen::Index t = 0; t < x.rows(); ++t) {
      const double g = round_to(dtype, sigmoid(gate(t, 0)));
      for (std::int64_t h = 0; h < block.hidden; ++h) shared(t, h) = round_to(dtype, g * shared(t, h));
    }
  }
  return shared;
}

MoeOutput forward(const MoeBlock& block, const RowMatrix<float>& hidden, Accumulate accumulate,
                  const quant::ActivationSpec& input_quant) {
  validate(block);
  check_hidden(block, hidden, "forward");
  const Dtype dtype = block.dtype;
  const Semantics& s = block.semantics;
  const auto r = [dtype](double v) { return round_to(dtype, v); };
  const std::int64_t tokens = hidden.rows(), experts = block.num_experts(), k = s.router.top_k;
  const RowMatrix<float> x = rounded(hidden, dtype);

  MoeOutput out;
  Workspace ws;
  GemmScales scales = static_scales(block, input_quant);
  RouterOutput routed = route_rounded(block, x, accumulate);
  out.router_logits = std::move(routed.logits);
  out.routing = std::move(routed.routing);

  // Which (token, slot) pairs each expert serves, tokens ascending.
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> served(static_cast<std::size_t>(experts));
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t j = 0; j < k; ++j) served[static_cast<std::size_t>(out.routing.ids(t, j))].emplace_back(t, j);

  out.output = RowMatrix<float>::Zero(tokens, block.hidden);
  RowMatrix<double> sum = RowMatrix<double>::Zero(s.combine == Combine::kSum ? tokens : 0, block.hidden);
  // Three passes over the experts, so that a dynamic per-tensor quantizer sees the whole input of
  // each GEMM before it quantizes any of it: every expert's input rows, then GEMM1 and the
  // activation of each, then GEMM2 of each.
  std::vector<RowMatrix<float>> inputs(static_cast<std::size_t>(experts)), hiddens(inputs.size());
  for (std::int64_t e = 0; e < experts; ++e) {
    const auto& members = served[static_cast<std::size_t>(e)];
    if (members.empty()) continue;
    out.experts_evaluated.push_back(static_cast<std::int32_t>(e));
    RowMatrix<float>& xe = inputs[static_cast<std::size_t>(e)];
    xe.resize(static_cast<Eigen::Index>(members.size()), block.hidden);
    for (std::size_t i = 0; i < members.size(); ++i) {
      const auto [t, j] = members[i];
      const double w = out.routing.weights(t, j);
      for (std::int64_t h = 0; h < block.hidden; ++h) xe(i, h) = s.weights_on_input ? r(x(t, h) * w) : x(t, h);
    }
  }
  // Every token is in some expert's rows (k >= 1), so GEMM1's parts cover the whole batch.
  if (input_quant.source(1) == quant::ScaleSource::kDynamic) scales.gemm1 = batch_scale(input_quant, inputs);
  for (std::int64_t e = 0; e < experts; ++e)
    if (inputs[static_cast<std::size_t>(e)].rows() > 0)
      hiddens[static_cast<std::size_t>(e)] =
          expert_hidden(block.experts[static_cast<std::size_t>(e)], inputs[static_cast<std::size_t>(e)], s.activation,
                        s.layout, dtype, accumulate, ws, input_quant, scales.gemm1);
  if (input_quant.source(2) == quant::ScaleSource::kDynamic) scales.gemm2 = batch_scale(input_quant, hiddens);
  for (std::int64_t e = 0; e < experts; ++e) {
    const auto& members = served[static_cast<std::size_t>(e)];
    if (members.empty()) continue;
    const RowMatrix<float> ye = expert_down(block.experts[static_cast<std::size_t>(e)],
                                            hiddens[static_cast<std::size_t>(e)], dtype, accumulate, ws, input_quant,
                                            scales.gemm2);
    for (std::size_t i = 0; i < members.size(); ++i) {
      const auto [t, j] = members[i];
      const double w = out.routing.weights(t, j);
      for (std::int64_t h = 0; h < block.hidden; ++h) {
        // `out * weight` in the weights' precision (fp32 weights promote), then `.to(dtype)`.
        const float contribution = s.weights_on_input ? ye(i, h) : r(round_to(s.router.weights, dtype, ye(i, h) * w));
        if (s.combine == Combine::kSum)
          sum(t, h) += contribution;
        else
          out.output(t, h) = r(double{out.output(t, h)} + contribution);
      }
    }
  }
  if (s.combine == Combine::kSum) out.output = sum.unaryExpr([&](double v) { return r(v); });

  if (block.shared_expert) {
    const RowMatrix<float> shared = shared_expert_output(block, x, accumulate);
    for (std::int64_t t = 0; t < tokens; ++t)
      for (std::int64_t h = 0; h < block.hidden; ++h) out.output(t, h) = r(double{out.output(t, h)} + shared(t, h));
  }
  return out;
}

}  // namespace moecheck::reference::moe
