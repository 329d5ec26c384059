#include "reference/quant/scheme.h"

#include <array>
#include <stdexcept>

#include "reference/names.h"

namespace moecheck::reference::quant {

namespace {

using formats::Format;

// clang-format off
constexpr ComponentSpec kDenseComponents[] = {
    {Component::kValues, std::nullopt, kUnpacked, 1, false, ""},
};
// gpt-oss `*_blocks` [N, K/32, 16] flattened to [N, K/2] and `*_scales` [N, K/32] (numerics.md §4).
constexpr ComponentSpec kMxfp4Components[] = {
    {Component::kCodes, Format::kE2m1, kFp4Bytes, 1, false, "_blocks"},
    {Component::kScaleBytes, Format::kE8m0, kMxScaleBytes, 1, false, "_scales"},
};
// DeepSeek-V3 `weight` [N, K] e4m3fn and `weight_scale_inv` [ceil(N/128), ceil(K/128)] (§3.5).
constexpr ComponentSpec kFp8BlockComponents[] = {
    {Component::kCodes, Format::kE4m3fn, kUnpacked, 1, false, "_codes"},
    {Component::kScales, std::nullopt, Packing{kFp8WeightBlock, 1}, kFp8WeightBlock, true, "_scale_inv"},
};
// clang-format on

constexpr std::string_view kDenseMethods[] = {"unquantized"};
// The Quark W4A4 / W4A8 methods store these weights too; their activation quantization is not yet a
// scheme of its own, so they run here with activations in the model dtype.
constexpr std::string_view kMxfp4Methods[] = {"gpt_oss_mxfp4", "mxfp4", "quark_w_mxfp4", "quark_w_mxfp4_a_mxfp4",
                                              "quark_w_mxfp4_a_fp8"};
constexpr std::string_view kFp8BlockMethods[] = {"fp8_block"};

const std::array<SchemeSpec, 3> kSchemes = {{
    {WeightScheme::kDense, "dense",
     "unquantized weights in the model dtype (vLLM UnquantizedFusedMoEMethod -> Triton fused_moe)", kDenseComponents, 1,
     GateUpParts::kFused, ScaleLayout::kNone, false, ActivationQuant::kNone, kDenseMethods},
    {WeightScheme::kMxfp4W4A16, "mxfp4_w4a16",
     "OCP MXFP4: e2m1 codes two per byte (low nibble = even element), one E8M0 scale per 32 along K, dequantized "
     "in-tile; activations stay in the model dtype (triton_kernels matmul_ogs)",
     kMxfp4Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, ActivationQuant::kNone,
     kMxfp4Methods},
    {WeightScheme::kFp8Block128W8A16, "fp8_block128_w8a16",
     "DeepSeek-V3 FP8: e4m3fn codes, one fp32 weight_scale_inv per 128x128 block (partial edge blocks), gate and up "
     "stored apart (vLLM's per-half grid), dequantized in-tile; activations stay in the model dtype",
     kFp8BlockComponents, 1, GateUpParts::kSeparate, ScaleLayout::kPlain, false, ActivationQuant::kNone,
     kFp8BlockMethods},
}};

}  // namespace

std::string_view name(Component component) {
  switch (component) {
    case Component::kValues: return "values";
    case Component::kCodes: return "codes";
    case Component::kScaleBytes: return "scale_bytes";
    case Component::kScales: return "scales";
  }
  return "unknown";
}
bool holds_floats(Component component) { return component == Component::kValues || component == Component::kScales; }
bool is_scale(Component component) { return component == Component::kScaleBytes || component == Component::kScales; }

std::string_view name(GateUpParts parts) { return parts == GateUpParts::kFused ? "fused" : "separate"; }
std::string_view name(ScaleLayout layout) { return layout == ScaleLayout::kNone ? "none" : "plain"; }
std::string_view name(ActivationQuant) { return "none"; }

std::int64_t ComponentSpec::stored_rows(std::int64_t n) const {
  if (partial_blocks) return cdiv(n, row_block);
  if (n % row_block != 0)
    throw std::invalid_argument(std::string(name(component)) + ": " + std::to_string(n) + " rows are not whole " +
                                std::to_string(row_block) + "-row blocks");
  return n / row_block;
}

std::int64_t ComponentSpec::stored_cols(std::int64_t k) const {
  return partial_blocks ? cdiv(k, packing.elements) * packing.units : packing.storage(k);
}

const ComponentSpec* SchemeSpec::find(Component c) const {
  for (const ComponentSpec& x : components)
    if (x.component == c) return &x;
  return nullptr;
}

std::span<const SchemeSpec> weight_schemes() { return kSchemes; }

const SchemeSpec& spec(WeightScheme scheme) {
  for (const SchemeSpec& s : kSchemes)
    if (s.scheme == scheme) return s;
  throw std::logic_error("weight scheme " + std::to_string(static_cast<int>(scheme)) + " has no table row");
}

std::string_view name(WeightScheme scheme) { return spec(scheme).name; }

std::optional<WeightScheme> parse_weight_scheme(std::string_view text) {
  return find_by_name(kSchemes, text, &SchemeSpec::scheme);
}

std::string weight_scheme_names() { return joined_names(kSchemes); }

const SchemeSpec* scheme_of_method(std::string_view method) {
  for (const SchemeSpec& s : kSchemes)
    for (std::string_view m : s.methods)
      if (m == method) return &s;
  return nullptr;
}

std::vector<std::int64_t> stacked_shape(const ComponentSpec& c, std::int64_t experts, std::int64_t parts,
                                        std::int64_t part_rows, std::int64_t cols) {
  return {experts, parts * c.stored_rows(part_rows), c.stored_cols(cols)};
}

std::string size_problem(const SchemeSpec& s, std::int64_t hidden, std::int64_t intermediate) {
  if (hidden % s.size_multiple == 0 && intermediate % s.size_multiple == 0) return {};
  return std::string(s.name) + " needs H and I multiples of " + std::to_string(s.size_multiple) + "; found H " +
         std::to_string(hidden) + ", I " + std::to_string(intermediate);
}

}  // namespace moecheck::reference::quant
