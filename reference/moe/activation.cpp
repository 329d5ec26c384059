#include "reference/moe/activation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace moecheck::reference::moe {

std::string_view name(Activation activation) {
  switch (activation) {
    case Activation::kSilu: return "silu";
    case Activation::kGeluErf: return "gelu";
    case Activation::kSwigluOai: return "swigluoai";
  }
  return "?";
}

std::optional<Activation> parse_hidden_act(std::string_view text) {
  if (text == "silu" || text == "swish") return Activation::kSilu;
  if (text == "gelu") return Activation::kGeluErf;
  return std::nullopt;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double silu(double v) { return v * sigmoid(v); }
double gelu_erf(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

void activate(Activation activation, GateUpLayout layout, Dtype dtype, std::span<const float> gate_up,
              std::span<float> out) {
  const std::size_t n = out.size();
  if (gate_up.size() != 2 * n)
    throw std::invalid_argument("activate: expected a gate/up row of " + std::to_string(2 * n) + " values, found " +
                                std::to_string(gate_up.size()));
  const auto r = [dtype](double v) { return round_to(dtype, v); };
  for (std::size_t i = 0; i < n; ++i) {
    const bool interleaved = layout == GateUpLayout::kInterleaved;
    const double gate = gate_up[interleaved ? 2 * i : i];
    const double up = gate_up[interleaved ? 2 * i + 1 : n + i];
    switch (activation) {
      case Activation::kSilu:
        out[i] = r(r(silu(gate)) * up);
        break;
      case Activation::kGeluErf:
        out[i] = r(r(gelu_erf(gate)) * up);
        break;
      case Activation::kSwigluOai: {
        const double g = std::min(gate, double{kSwigluOaiLimit});  // NaN stays NaN
        const double u = std::clamp(up, -double{kSwigluOaiLimit}, double{kSwigluOaiLimit});
        const double glu = r(g * r(sigmoid(r(g * double{kSwigluOaiAlpha}))));
        out[i] = r(r(u + 1.0) * glu);
        break;
      }
    }
  }
}

}  // namespace moecheck::reference::moe
