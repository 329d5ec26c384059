#include "properties/properties.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "device/registry.h"
#include "reference/padding/pad.h"
#include "reference/padding/partition.h"

namespace moecheck::properties {

namespace pd = reference::padding;
namespace moe = reference::moe;

const std::vector<std::string>& property_names() {
  static const std::vector<std::string> names = {kP1PaddingInvariance, kP2GoldenAgreement, kP3Poison,
                                                 kP4Routing,           kP5Metamorphic,     kP6TensorParallel};
  return names;
}

bool shards_cases(const std::string& property) { return resolve_property(property) == kP6TensorParallel; }

std::string resolve_property(const std::string& property) {
  for (const std::string& n : property_names())
    if (property == n || property == n.substr(0, 2)) return n;
  std::string valid;
  for (const std::string& n : property_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown property '" + property + "'; valid: " + valid + " (or P1 ... P6)");
}

namespace {

// A second poison seed, unrelated to the first, for P3.
constexpr std::uint64_t kOtherPoison = 0x0DDBA11C0FFEEULL;

std::uint64_t allowed_ulp(const device::Capabilities& caps) {
  return caps.order_preserving ? 0 : static_cast<std::uint64_t>(caps.ulp_bound < 0 ? 0 : caps.ulp_bound);
}

Verdict start(const char* property, const device::Backend& backend) {
  Verdict v;
  v.property = property;
  v.backend = std::string(backend.name());
  return v;
}

std::string tolerance_text(const device::Capabilities& caps) {
  if (caps.order_preserving) return "bitwise (order-preserving; +0 == -0)";
  std::ostringstream os;  // (not string concatenation: g++ 12 -Wrestrict false positive)
  os << "within " << caps.ulp_bound << " ulp (" << caps.tolerance_reason << ")";
  return os.str();
}

// Runs `body`; an exception (an invalid padded case, a kernel that rejects it, a shape mismatch)
// is the property's failure, reported with the case.
Verdict guarded(Verdict v, const MoeCase& c, const std::function<void(Verdict&)>& body) {
  try {
    body(v);
  } catch (const std::exception& e) {
    v.ok = false;
    v.skipped = false;
    v.message = v.property + " on " + v.backend + ": exception: " + e.what() + "; case " + describe(c);
  }
  return v;
}

// The output shape contract (bugs.md B5, B6): exactly T·H values. Empty when kept.
std::string shape_violation(const std::vector<float>& y, std::int64_t tokens, std::int64_t hidden, const char* what) {
  if (static_cast<std::int64_t>(y.size()) == tokens * hidden) return {};
  std::ostringstream os;
  os << "output shape contract: the " << what << " output has " << y.size() << " values, expected [T " << tokens
     << ", H " << hidden << "] = " << tokens * hidden;
  return os.str();
}

// The padded run of the case: the padding path's plan, padded case, backend run and slice, all
// with `faults`. `seed` seeds the poison.
struct PaddedRun {
  pd::Plan plan;
  device::PaddedCase padded;
};
PaddedRun padded_case(const MoeCase& c, const Faults& faults, std::uint64_t seed = poison_seed()) {
  PaddedRun r{layer_plan(c, shipped_ruleset(c.target.ruleset), faults.padding), {}};
  r.padded = make_padded_case(c, r.plan, seed, faults.padding);
  r.padded.faults = faults.kernel;
  return r;
}
std::vector<float> unpadded_run(const MoeCase& c, const device::Backend& backend, const pd::Plan& plan,
                                const Faults& faults) {
  device::PaddedCase u = make_unpadded_reference(c, plan, poison_seed(), faults.padding);
  u.faults = faults.kernel;
  return run_layer(c, backend, u, poison_seed(), faults.padding);
}

}  // namespace

Verdict check_padding_invariance(const MoeCase& c, const device::Backend& backend, const Faults& faults) {
  return guarded(start(kP1PaddingInvariance, backend), c, [&](Verdict& v) {
    const pd::Plan expected = plan_for(c, shipped_ruleset(c.target.ruleset));
    const PaddedRun run = padded_case(c, faults);
    const device::Capabilities caps = backend.capabilities();
    if (!caps.supports(run.padded)) {
      v.skipped = true;
      return;
    }
    std::ostringstream os;
    os << kP1PaddingInvariance << " on " << v.backend << " " << tolerance_text(caps) << ": ";
    if (run.plan.hidden_padded != expected.hidden_padded ||
        run.plan.intermediate_per_partition_padded != expected.intermediate_per_partition_padded) {
      v.ok = false;
      os << "ruleset conformance: the padding path pads to (H_pad " << run.plan.hidden_padded << ", I_pad "
         << run.plan.intermediate_per_partition_padded << "), the ruleset says (" << expected.hidden_padded << ", "
         << expected.intermediate_per_partition_padded << "); case " << describe(c);
      v.message = os.str();
      return;
    }
    const std::vector<float> y_unpadded = unpadded_run(c, backend, expected, faults);
    const std::vector<float> y_padded = run_layer(c, backend, run.padded, poison_seed(), faults.padding);
    for (const auto& [y, what] : {std::pair{&y_unpadded, "unpadded"}, std::pair{&y_padded, "padded"}})
      if (const std::string bad = shape_violation(*y, c.tokens(), c.block.hidden, what); !bad.empty()) {
        v.ok = false;
        v.message = os.str() + bad + "; case " + describe(c);
        return;
      }
    const moe::Routing routing = moe::route_block(c.block, c.hidden_states).routing;
    v.comparison = compare(y_unpadded, y_padded, c.tokens(), c.block.hidden, allowed_ulp(caps), &routing);
    v.ok = v.comparison.ok();
    os << "padded (H_pad " << run.plan.hidden_padded << ", I_pad " << run.plan.intermediate_per_partition_padded
       << ") vs unpadded: " << v.comparison.summary() << "; ulp histogram " << v.comparison.histogram_text()
       << "; case " << describe(c);
    v.message = os.str();
  });
}

const std::vector<GoldenTolerance>& golden_tolerances() {
  using device::WeightScheme;
  using moe::Dtype;
  // Measured worst cases are in properties/README.md (fp32: the bound is ~20x above them, bf16 ~3x).
  static const std::string fp32_reason =
      "fp32 accumulation in K-tile order (sim) vs fp64 accumulation rounded once (golden): each dot product over "
      "K <= 3072 may differ by a few fp32 ulps of its larger terms, and the two GEMMs compound it; bounded "
      "relative to the token row's largest output because outputs near zero cancel";
  static const std::string bf16_reason =
      "bf16 model: the gate/up result, the activation and each expert output are rounded to bf16; when fp32 "
      "(sim) and fp64 (golden) sums straddle a bf16 rounding boundary the value differs by one bf16 ulp "
      "(2^-8 relative), which the down projection and the top-k sum carry to the output";
  static const std::string w8a8_reason =
      "W8A8: both run the same fp8 codes and scales (one quantizer), but the GEMM1 output reaching the second "
      "quantization differs by the accumulation order (fp32 K tiles, each tile's dot scaled by both scales, vs one "
      "fp64 sum), and where it straddles a rounding boundary of e4m3 (3 mantissa bits) that element of GEMM2's "
      "input moves by one fp8 ulp (2^-3 relative of the element), which the down projection spreads over the row "
      "(measured worst 0.011 of the row max over 3 x 200 fp8_block cases, seeds 1-3, all bf16; fp32 cases "
      "2.3e-7, no flip seen; the golden keeps W8A8 weights in fp32, as the tensor cores read codes and scales)";
  static const std::string wna16_reason =
      "WNA16 weights are (fp32(q) - zp) * scale in fp32 on both sides (fused_moe_kernel_gptq_awq's order), "
      "then rounded to the model dtype, so quantization adds no sim/golden difference";
  static const std::string wna16_act_order_reason =
      wna16_reason + " (act-order: each column's scale is its g_idx group's, alike on both sides; the sum runs in "
                     "column order, not Marlin's sorted order)";
  static const std::string nvfp4_reason =
      "NVFP4 weights are e2m1 * (fp32(ue4m3) * weight_scale_2) in fp32 on both sides (the emulation kernel's "
      "order), then rounded to the model dtype, so quantization adds no sim/golden difference";
  static const std::string w4a4_reason =
      "MXFP4 activations (quant-dequant): both quantize with the same codec, but GEMM2's input differs by the "
      "GEMM1 accumulation order, and an element at an e2m1 rounding boundary (1 mantissa bit) moves by a whole "
      "e2m1 step, up to half the element";
  // The weight-only schemes: the accumulation differences above, plus what the scheme's
  // dequantization adds (nothing, for every row here: the sim's tile and the golden compute the
  // same fp32 product and round it to the model dtype alike).
  struct WeightOnly {
    WeightScheme scheme;
    std::string_view why;  // appended to both dtypes' reasons; empty for dense
  };
  static const WeightOnly weight_only[] = {
      {WeightScheme::kDense, ""},
      {WeightScheme::kMxfp4W4A16, "MXFP4 values dequantize exactly (e2m1 x 2^k), so quantization adds no error"},
      {WeightScheme::kFp8Block128W8A16, "e4m3 x fp32 block scale products are exact in fp32"},
      {WeightScheme::kMxfp8W8A16,
       "MXFP8 values dequantize exactly (e4m3 x 2^k; in bf16 but for subnormals), so quantization adds no error"},
      {WeightScheme::kMxfp6E3m2W6A16, "MXFP6 values dequantize exactly (fp6 x 2^k), so quantization adds no error"},
      {WeightScheme::kMxfp6E2m3W6A16, "MXFP6 values dequantize exactly (fp6 x 2^k), so quantization adds no error"},
      {WeightScheme::kInt4G128W4A16, wna16_reason},
      {WeightScheme::kInt8G128W8A16, wna16_reason},
      {WeightScheme::kInt4G128W4A16Marlin, wna16_reason},
      {WeightScheme::kInt8G128W8A16Marlin, wna16_reason},
      {WeightScheme::kInt4G128ZpW4A16, wna16_reason},
      {WeightScheme::kInt8G128ZpW8A16, wna16_reason},
      {WeightScheme::kInt4G32W4A16, wna16_reason},
      {WeightScheme::kInt4G32W4A16Marlin, wna16_reason},
      {WeightScheme::kInt4G64W4A16, wna16_reason},
      {WeightScheme::kInt4G64W4A16Marlin, wna16_reason},
      {WeightScheme::kInt4ChannelW4A16Marlin, wna16_reason},
      {WeightScheme::kInt8ChannelW8A16Marlin, wna16_reason},
      {WeightScheme::kInt4G128ZpW4A16Marlin, wna16_reason},
      {WeightScheme::kInt4G128ActOrderW4A16Marlin, wna16_act_order_reason},
      {WeightScheme::kNvfp4W4A16, nvfp4_reason},
      {WeightScheme::kNvfp4W4A16Swizzled, nvfp4_reason},
      {WeightScheme::kFp8PerTensorW8A16,
       "e4m3 x fp32 per-projection scale products are exact in fp32 (the generated scales are bf16 values: Marlin's cast "
       "of the scale to the model dtype is exact), so quantization adds no error"},
  };
  static const std::vector<GoldenTolerance> table = [] {
    std::vector<GoldenTolerance> t;
    for (const WeightOnly& w : weight_only) {
      const std::string tail = w.why.empty() ? "" : "; " + std::string(w.why);
      t.push_back({w.scheme, Dtype::kF32, 1.0 / (1 << 16), fp32_reason + tail});
      t.push_back({w.scheme, Dtype::kBf16, 1.0 / (1 << 5), bf16_reason + tail});
    }
    t.push_back({WeightScheme::kFp8Block128W8A8, Dtype::kF32, 1.0 / (1 << 5), w8a8_reason});
    t.push_back({WeightScheme::kFp8Block128W8A8, Dtype::kBf16, 1.0 / (1 << 5), w8a8_reason + "; and " + bf16_reason});
    t.push_back({WeightScheme::kFp8Block128W8A8Ue8m0, Dtype::kF32, 1.0 / (1 << 5), w8a8_reason + " (UE8M0 scales alike)"});
    t.push_back({WeightScheme::kFp8Block128W8A8Ue8m0, Dtype::kBf16, 1.0 / (1 << 5),
                 w8a8_reason + " (UE8M0 scales alike); and " + bf16_reason});
    // Per-tensor static W8A8: the same codes on both sides (one quantizer, the same static scale),
    // GEMM2's input moving by an fp8 ulp where GEMM1's outputs straddle an e4m3 boundary, as for
    // the blocks; the per-tensor sum is scaled once after the K loop (sim) rather than per tile.
    static const std::string w8a8_static_reason =
        "W8A8 with one static scale per GEMM input: as for the blocks, GEMM1's outputs reach the second "
        "quantization through another accumulation order, and one that straddles an e4m3 boundary moves by an fp8 "
        "step; but the step is the static scale's, the same absolute step for every element (about 2^-4 at the "
        "generated GEMM2 inputs' magnitude), not one adapted to a 128-group's amax, so one flip weighs more in the "
        "row (measured worst 0.021, 0.028, 0.030 of the row max over 300 fp8_per_tensor cases each, seeds 1-3, all "
        "bf16; fp32 worst 4.1e-7 over 28 cases, no flip seen)";
    t.push_back({WeightScheme::kFp8PerTensorW8A8Static, Dtype::kF32, 1.0 / (1 << 4), w8a8_static_reason});
    t.push_back({WeightScheme::kFp8PerTensorW8A8Static, Dtype::kBf16, 1.0 / (1 << 4),
                 w8a8_static_reason + "; and " + bf16_reason});
    // Per-tensor dynamic W8A8: the same kernel; each scale is the amax of the GEMM's whole input
    // (the same on both sides for GEMM1; GEMM2's amax may itself differ by the accumulation order).
    static const std::string w8a8_dynamic_reason =
        "W8A8 with one dynamic scale per GEMM input (amax/448 of the whole input): as for the static scales, an "
        "element of GEMM2's input that straddles an e4m3 boundary moves by an fp8 step of the tensor's scale, and "
        "GEMM2's scale itself follows the largest intermediate, which differs by the accumulation order (measured "
        "worst 0.037 of the row max over 114 bf16 cases, 5.2e-5 over 134 fp32 cases, where a flip was seen)";
    t.push_back({WeightScheme::kFp8PerTensorW8A8Dynamic, Dtype::kF32, 1.0 / (1 << 4), w8a8_dynamic_reason});
    t.push_back({WeightScheme::kFp8PerTensorW8A8Dynamic, Dtype::kBf16, 1.0 / (1 << 4),
                 w8a8_dynamic_reason + "; and " + bf16_reason});
    // Per-channel W8A8 with dynamic per-token activations: each GEMM input row has a scale of its own
    // (its amax / 448), so a flip at an e4m3 boundary moves an element by a step of its row's scale.
    static const std::string w8a8_channel_reason =
        "W8A8 with per-channel weight scales and a dynamic per-token scale per GEMM input row: an element of "
        "GEMM2's input that straddles an e4m3 boundary moves by an fp8 step of its row's scale, and that scale "
        "follows the row's largest intermediate, which differs by the GEMM1 accumulation order (measured worst "
        "0.047 of the row max over 310 bf16 cases, 0.0018 over 290 fp32 cases, where flips were seen; "
        "MOECHECK_MEASURE_METHOD=fp8_per_channel, 600 cases)";
    t.push_back({WeightScheme::kFp8PerChannelW8A8, Dtype::kF32, 1.0 / (1 << 4), w8a8_channel_reason});
    t.push_back({WeightScheme::kFp8PerChannelW8A8, Dtype::kBf16, 1.0 / (1 << 4),
                 w8a8_channel_reason + "; and " + bf16_reason});
    // MXFP8 W8A8 (the native gfx950 kernel): per-32-block E8M0 activation scales, so a flip at an
    // e4m3 boundary moves an element by a step of its block's power-of-two scale; GEMM2's fused
    // quantizer puts each block's amax in [1, 2), a coarser step for the block's small elements.
    static const std::string mxfp8_w8a8_reason =
        "MXFP8 W8A8: both quantize with the same rules (GEMM1 ceil(log2(amax/448)), GEMM2 the fused SwiGLU's "
        "floor(log2(amax))), but GEMM2's input differs by the GEMM1 accumulation order, so an element at an e4m3 "
        "rounding boundary moves by one fp8 step of its 32-block's scale, and a block's scale follows its largest "
        "element; the fused rule's scale leaves 3 mantissa bits at the amax and fewer below it (measured worst "
        "0.010 of the row max over 86 bf16 cases, 6.1e-7 over 122 fp32 cases, no flip seen; "
        "MOECHECK_MEASURE_METHOD=mxfp8, 600 cases)";
    t.push_back({WeightScheme::kMxfp8W8A8, Dtype::kF32, 1.0 / (1 << 5), mxfp8_w8a8_reason});
    t.push_back({WeightScheme::kMxfp8W8A8, Dtype::kBf16, 1.0 / (1 << 5), mxfp8_w8a8_reason + "; and " + bf16_reason});
    static const std::string w4a8_reason =
        "MXFP4 weights with fp8 activations (quant-dequant): both quantize with the same codec and scales, but "
        "GEMM2's input differs by the GEMM1 accumulation order, so an element at an e4m3 rounding boundary moves "
        "by one fp8 step of GEMM2's dynamic scale, and that scale follows the largest intermediate";
    t.push_back({WeightScheme::kMxfp4W4A8Qdq, Dtype::kF32, 1.0 / (1 << 4),
                 w4a8_reason + " (measured worst 8.5e-7 over 274 fp32 cases, no flip seen)"});
    t.push_back({WeightScheme::kMxfp4W4A8Qdq, Dtype::kBf16, 1.0 / (1 << 3),
                 w4a8_reason + "; in bf16 GEMM1's outputs differ by a bf16 ulp far more often, so more GEMM2 inputs "
                               "flip (measured worst 0.043 over 294 bf16 cases; 0.066 of a --method quark_w_mxfp4_a_fp8 run at seed 4); and " +
                     bf16_reason});
    static const std::string nvfp4_w4a4_reason =
        "NVFP4 activations (quant-dequant): both quantize with the same codec and global scale, but GEMM2's input "
        "differs by the GEMM1 accumulation order, and an element at an e2m1 rounding boundary moves by a whole "
        "e2m1 step of its block's scale";
    t.push_back({WeightScheme::kNvfp4W4A4Qdq, Dtype::kF32, 1.0 / (1 << 5),
                 nvfp4_w4a4_reason + " (measured worst 1.1e-6 over 136 fp32 cases)"});
    t.push_back({WeightScheme::kNvfp4W4A4Qdq, Dtype::kBf16, 1.0 / (1 << 3),
                 nvfp4_w4a4_reason + " (measured worst 0.0093 over 116 bf16 cases, well under mxfp4_w4a4_qdq's 0.12; "
                                     "the bound keeps that row's reasoning, one e2m1 step); and " +
                     bf16_reason});
    t.push_back({WeightScheme::kMxfp4W4A4Qdq, Dtype::kF32, 1.0 / (1 << 5), w4a4_reason});
    t.push_back({WeightScheme::kMxfp4W4A4Qdq, Dtype::kBf16, 1.0 / (1 << 2),
                 w4a4_reason + "; in bf16 GEMM1's outputs differ by a bf16 ulp far more often than in fp32, so about 1 "
                               "in 100 GEMM2 inputs flips (measured worst 0.12 of the row max over 3 x 200 cases, seeds "
                               "1-3; P1, P3, P5 stay bitwise and P6 within 2^-5, so the padding path is still checked "
                               "exactly); and " +
                     bf16_reason});
    return t;
  }();
  return table;
}

const GoldenTolerance& golden_tolerance(device::WeightScheme scheme, moe::Dtype dtype) {
  for (const GoldenTolerance& t : golden_tolerances())
    if (t.scheme == scheme && t.dtype == dtype) return t;
  throw std::invalid_argument("golden_tolerance: no entry for " + std::string(device::name(scheme)) + " " +
                              std::string(moe::name(dtype)));
}

namespace {

// Elements of `actual` beyond rel · (max |reference| of the token row, over `scales` too); NaN and
// Inf on either side count as beyond.
struct RelCheck {
  std::int64_t violations = 0;
  double worst_rel = 0;  // max |Δ| / row scale
  std::int64_t worst_token = -1, worst_column = -1;
};
RelCheck relative_check(std::span<const float> reference, std::span<const float> actual, std::int64_t rows,
                        std::int64_t cols, double rel, const std::vector<std::span<const float>>& scales = {}) {
  RelCheck r;
  for (std::int64_t t = 0; t < rows; ++t) {
    double scale = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const auto n = static_cast<std::size_t>(t * cols + j);
      if (std::isfinite(reference[n])) scale = std::max(scale, std::fabs(double{reference[n]}));
      for (const auto& s : scales)
        if (std::isfinite(s[n])) scale = std::max(scale, std::fabs(double{s[n]}));
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const auto n = static_cast<std::size_t>(t * cols + j);
      const double e = reference[n], a = actual[n];
      // A non-finite value on either side is a violation: generated inputs keep every result finite.
      const double d = std::isfinite(e) && std::isfinite(a) ? std::fabs(a - e) : INFINITY;
      const double q = scale > 0 ? d / scale : (d > 0 ? INFINITY : 0);
      if (q > rel) ++r.violations;
      if (q > r.worst_rel) {
        r.worst_rel = q;
        r.worst_token = t;
        r.worst_column = j;
      }
    }
  }
  return r;
}

std::string rel_text(const RelCheck& r, double rel) {
  std::ostringstream os;
  os << r.violations << " elements beyond " << rel << " x row max |ref|, worst " << r.worst_rel;
  if (r.worst_token >= 0) os << " at (t" << r.worst_token << ", c" << r.worst_column << ")";
  return os.str();
}

}  // namespace

Verdict check_golden_agreement(const MoeCase& c, const device::Backend& backend, const Faults& faults) {
  return guarded(start(kP2GoldenAgreement, backend), c, [&](Verdict& v) {
    const PaddedRun run = padded_case(c, faults);
    const device::Capabilities caps = backend.capabilities();
    if (!caps.supports(run.padded) || c.target.tp != 1 || c.target.ep) {
      v.skipped = true;
      return;
    }
    const GoldenTolerance& tol = golden_tolerance(c.scheme, c.block.dtype);
    const std::vector<float> y = run_layer(c, backend, run.padded, poison_seed(), faults.padding);
    std::ostringstream os;
    os << kP2GoldenAgreement << " on " << v.backend << " vs reference::moe::forward (fp64): ";
    if (const std::string bad = shape_violation(y, c.tokens(), c.block.hidden, "padded"); !bad.empty()) {
      v.ok = false;
      v.message = os.str() + bad + "; case " + describe(c);
      return;
    }
    // The golden of what the loader loads: without a bias path (the generic FusedMoE loader,
    // padding.md §1.7) the w2 bias stays zero (reference::padding::shard_w2_bias).
    MoeCase loaded = c;
    const pd::Partition part = pd::partition(run.plan);
    const bool biases_dropped = !part.ranks.at(0).holds_w2_bias && !c.block.experts.empty() &&
                                !c.block.experts.front().down_bias.empty();
    if (biases_dropped)
      for (moe::Expert& e : loaded.block.experts) e.down_bias.clear();
    const moe::MoeOutput g = golden(loaded);
    const std::span<const float> ref(g.output.data(), static_cast<std::size_t>(g.output.size()));
    v.comparison = compare(ref, y, c.tokens(), c.block.hidden, 0, &g.routing);
    const RelCheck r = relative_check(ref, y, c.tokens(), c.block.hidden, tol.rel);
    v.ok = r.violations == 0;
    v.rel_error = r.worst_rel;
    if (biases_dropped) os << "(w2 bias not loaded: the generic loader has no bias path, padding.md §1.7) ";
    os << rel_text(r, tol.rel) << "; ulp " << v.comparison.summary() << "; ulp histogram "
       << v.comparison.histogram_text() << "; case " << describe(c);
    v.message = os.str();
  });
}

Verdict check_poison(const MoeCase& c, const device::Backend& backend, const Faults& faults) {
  return guarded(start(kP3Poison, backend), c, [&](Verdict& v) {
    const PaddedRun a = padded_case(c, faults, poison_seed());
    const device::Capabilities caps = backend.capabilities();
    if (!caps.supports(a.padded)) {
      v.skipped = true;
      return;
    }
    const PaddedRun b = padded_case(c, faults, poison_seed() ^ kOtherPoison);
    const std::vector<float> y_ref = unpadded_run(c, backend, plan_for(c, shipped_ruleset(c.target.ruleset)), faults);
    const std::vector<float> ya = run_layer(c, backend, a.padded, poison_seed(), faults.padding);
    const std::vector<float> yb = run_layer(c, backend, b.padded, poison_seed() ^ kOtherPoison, faults.padding);
    std::ostringstream os;
    os << kP3Poison << " on " << v.backend << ": ";
    for (const auto& [y, what] : {std::pair{&y_ref, "unpadded"}, std::pair{&ya, "padded"}})
      if (const std::string bad = shape_violation(*y, c.tokens(), c.block.hidden, what); !bad.empty()) {
        v.ok = false;
        v.message = os.str() + bad + "; case " + describe(c);
        return;
      }
    const moe::Routing routing = moe::route_block(c.block, c.hidden_states).routing;
    const Comparison seeds = compare(ya, yb, c.tokens(), c.block.hidden, 0, &routing);
    v.comparison = compare(y_ref, ya, c.tokens(), c.block.hidden, allowed_ulp(caps), &routing);
    std::int64_t leaked_nonfinite = 0;
    for (std::size_t i = 0; i < ya.size(); ++i)
      if (std::isfinite(y_ref[i]) && (!std::isfinite(ya[i]) || !std::isfinite(yb[i]))) ++leaked_nonfinite;
    v.ok = seeds.ok() && v.comparison.ok() && leaked_nonfinite == 0;
    os << leaked_nonfinite << " non-finite outputs where the unpadded run is finite; poison seed A vs B: "
       << seeds.summary() << "; seed A vs unpadded " << tolerance_text(caps) << ": " << v.comparison.summary()
       << "; case " << describe(c);
    v.message = os.str();
  });
}

Verdict check_routing(const MoeCase& c, const Faults& faults) {
  Verdict v0;
  v0.property = kP4Routing;
  v0.backend = "host";
  return guarded(v0, c, [&](Verdict& v) {
    const pd::Plan plan = layer_plan(c, shipped_ruleset(c.target.ruleset), faults.padding);
    const device::PaddedCase padded = make_padded_case(c, plan, poison_seed(), faults.padding);
    const pd::Tensor<float> router_in = pd::routing_input(plan, padded.hidden_states_padded, padded.poison_seed);
    // The real tokens' rows (a padded batch's pad rows, B20, come after them).
    const RowMatrix<float> x_from_padded =
        Eigen::Map<const RowMatrix<float>>(router_in.data.data(), c.tokens(), router_in.dim(1));
    const moe::Routing logical = moe::route_block(c.block, c.hidden_states).routing;
    const moe::Routing from_padded = moe::route_block(c.block, x_from_padded).routing;
    const moe::Routing golden_routing = moe::forward(c.block, c.hidden_states).routing;
    const auto same = [](const moe::Routing& a, const moe::Routing& b) {
      if (a.ids != b.ids || a.weights.rows() != b.weights.rows() || a.weights.cols() != b.weights.cols()) return false;
      for (Eigen::Index t = 0; t < a.weights.rows(); ++t)
        for (Eigen::Index j = 0; j < a.weights.cols(); ++j)
          if (ulp_distance(a.weights(t, j), b.weights(t, j)) != 0) return false;
      return true;
    };
    // The padded case carries the logical routing (local ids under EP, -1 for other ranks).
    const pd::Partition part = pd::partition(plan);
    const pd::RankShard& shard = part.ranks.at(static_cast<std::size_t>(c.target.rank));
    std::int64_t differing = 0;
    for (std::int64_t t = 0; t < c.tokens(); ++t)
      for (std::int64_t j = 0; j < padded.top_k; ++j) {
        const std::int64_t id = logical.ids(t, j);
        const std::int64_t local = id >= shard.expert_begin && id < shard.expert_end ? id - shard.expert_begin : -1;
        if (padded.topk_ids.at(t, j) != local || ulp_distance(padded.topk_weights.at(t, j), logical.weights(t, j)) != 0)
          ++differing;
      }
    const bool padded_ok = same(logical, from_padded), golden_ok = same(logical, golden_routing);
    v.ok = padded_ok && golden_ok && differing == 0;
    std::ostringstream os;
    os << kP4Routing << ": routing from padded activations[:, :H] " << (padded_ok ? "equal" : "DIFFERS")
       << "; vs reference::moe::forward " << (golden_ok ? "equal" : "DIFFERS") << "; the padded case's top-k: "
       << differing << " of " << c.tokens() * padded.top_k << " (token, slot) pairs differ; case " << describe(c);
    v.message = os.str();
  });
}

namespace {

// The block with its experts relabelled e -> E-1-e: experts, router rows, router and correction
// biases reversed.
MoeCase relabelled(const MoeCase& c) {
  MoeCase r = c;
  moe::MoeBlock& b = r.block;
  const std::int64_t E = b.num_experts(), H = b.router.cols;
  std::reverse(b.experts.begin(), b.experts.end());
  for (std::int64_t e = 0; e < E; ++e)
    std::copy_n(c.block.router.values.begin() + (E - 1 - e) * H, H, b.router.values.begin() + e * H);
  std::reverse(b.router_bias.begin(), b.router_bias.end());
  std::reverse(b.correction_bias.begin(), b.correction_bias.end());
  return r;
}

}  // namespace

Verdict check_metamorphic(const MoeCase& c, const device::Backend& backend, const Faults& faults) {
  return guarded(start(kP5Metamorphic, backend), c, [&](Verdict& v) {
    const PaddedRun base = padded_case(c, faults);
    const device::Capabilities caps = backend.capabilities();
    if (!caps.supports(base.padded)) {
      v.skipped = true;
      return;
    }
    const auto run = [&](const MoeCase& x) {
      device::PaddedCase p = make_padded_case(x, base.plan, poison_seed(), faults.padding);
      p.faults = faults.kernel;
      return run_layer(x, backend, p, poison_seed(), faults.padding);
    };
    const std::int64_t T = c.tokens(), H = c.block.hidden;
    const std::vector<float> y = run_layer(c, backend, base.padded, poison_seed(), faults.padding);
    std::ostringstream os;
    os << kP5Metamorphic << " on " << v.backend << ": ";
    if (const std::string bad = shape_violation(y, T, H, "padded"); !bad.empty()) {
      v.ok = false;
      v.message = os.str() + bad + "; case " + describe(c);
      return;
    }
    const moe::Routing routing = moe::route_block(c.block, c.hidden_states).routing;

    // Token permutation: reversed.
    MoeCase reversed = c;
    reversed.hidden_states = c.hidden_states.colwise().reverse();
    const std::vector<float> yr = run(reversed);
    std::vector<float> yr_back(yr.size());
    for (std::int64_t t = 0; t < T; ++t)
      std::copy_n(yr.begin() + (T - 1 - t) * H, H, yr_back.begin() + t * H);
    v.comparison = compare(y, yr_back, T, H, allowed_ulp(caps), &routing);
    bool ok = v.comparison.ok();
    os << "tokens reversed: " << v.comparison.summary();

    // Batch invariance: token 0 alone — except where the activation scale is the batch's amax
    // (ActivationSpec::batch_coupled): token 0 alone is quantized with a scale of its own.
    const bool batch_coupled = reference::quant::spec(c.scheme).activation.batch_coupled();
    if (T > 0 && batch_coupled)
      os << "; token 0 alone: not compared (the activation scale is the amax of the whole batch)";
    if (T > 0 && !batch_coupled) {
      MoeCase alone = c;
      alone.hidden_states = c.hidden_states.topRows(1);
      const std::vector<float> y0 = run(alone);
      const Comparison single =
          compare(std::span<const float>(y).first(static_cast<std::size_t>(H)), y0, 1, H, allowed_ulp(caps));
      ok = ok && single.ok();
      os << "; token 0 alone: " << single.summary();
    }

    // Expert relabelling, on the tokens whose routing maps exactly (no tie at the k-th place).
    if (c.block.semantics.router.n_group <= 1 && c.block.num_experts() > 1 && T > 0) {
      const MoeCase r = relabelled(c);
      const moe::Routing rr = moe::route_block(r.block, r.hidden_states).routing;
      const std::int64_t E = c.block.num_experts();
      std::vector<std::int64_t> mapped;
      for (std::int64_t t = 0; t < T; ++t) {
        bool same = true;
        for (Eigen::Index j = 0; j < routing.ids.cols(); ++j)
          same = same && rr.ids(t, j) == E - 1 - routing.ids(t, j) &&
                 ulp_distance(rr.weights(t, j), routing.weights(t, j)) == 0;
        if (same) mapped.push_back(t);
      }
      // With a batch-wide activation scale a token whose routing moved (a top-k tie) changes every
      // other token's quantization: only a fully mapped batch is compared.
      const bool comparable = !batch_coupled || static_cast<std::int64_t>(mapped.size()) == T;
      const std::vector<float> yl = comparable ? run(r) : std::vector<float>(y.size());
      if (!comparable) mapped.clear();
      std::vector<float> a, b;
      for (std::int64_t t : mapped) {
        a.insert(a.end(), y.begin() + t * H, y.begin() + (t + 1) * H);
        b.insert(b.end(), yl.begin() + t * H, yl.begin() + (t + 1) * H);
      }
      const Comparison relabel = compare(a, b, static_cast<std::int64_t>(mapped.size()), H, allowed_ulp(caps));
      ok = ok && relabel.ok();
      if (comparable)
        os << "; experts relabelled (" << mapped.size() << " of " << T << " tokens without a top-k tie): "
           << relabel.summary();
      else
        os << "; experts relabelled: not compared (a token with a top-k tie routes elsewhere, and the batch-wide "
              "activation scale follows it)";
    }

    // Experts without tokens: the output stays finite.
    std::vector<bool> used(static_cast<std::size_t>(c.block.num_experts()), false);
    for (Eigen::Index t = 0; t < routing.ids.rows(); ++t)
      for (Eigen::Index j = 0; j < routing.ids.cols(); ++j) used[static_cast<std::size_t>(routing.ids(t, j))] = true;
    const auto empty_experts = std::count(used.begin(), used.end(), false);
    const auto nonfinite = std::count_if(y.begin(), y.end(), [](float x) { return !std::isfinite(x); });
    if (empty_experts > 0) ok = ok && nonfinite == 0;
    os << "; " << empty_experts << " experts without tokens, " << nonfinite << " non-finite outputs; case "
       << describe(c);
    v.ok = ok;
    v.message = os.str();
  });
}

const TpTolerance& tensor_parallel_tolerance(moe::Dtype dtype) {
  static const TpTolerance f32{moe::Dtype::kF32, 1.0 / (1 << 16),
                               "fp32: the ranks split GEMM2's sum over I, so each output is the same terms summed "
                               "in another grouping (one fp32 rounding per partial sum and per all-reduce add)"};
  static const TpTolerance bf16{moe::Dtype::kBf16, 1.0 / (1 << 5),
                                "bf16: every rank's output is rounded to bf16 (2^-9 relative to the partial, which "
                                "may exceed the sum) before the all-reduce, and the top-k sum rounds after each add"};
  return dtype == moe::Dtype::kBf16 ? bf16 : f32;
}

Verdict check_tensor_parallel(const MoeCase& c, const device::Backend& backend, const Faults& faults) {
  return guarded(start(kP6TensorParallel, backend), c, [&](Verdict& v) {
    const PaddedRun whole = padded_case(c, faults);
    const device::Capabilities caps = backend.capabilities();
    if (!caps.supports(whole.padded) || c.target.tp != 1 || c.target.ep) {
      v.skipped = true;
      return;
    }
    const std::int64_t T = c.tokens(), H = c.block.hidden;
    const std::vector<float> y = run_layer(c, backend, whole.padded, poison_seed(), faults.padding);
    std::ostringstream os;
    os << kP6TensorParallel << " on " << v.backend << ": ";
    if (const std::string bad = shape_violation(y, T, H, "unpartitioned"); !bad.empty()) {
      v.ok = false;
      v.message = os.str() + bad + "; case " + describe(c);
      return;
    }
    // A dynamic per-tensor scale is the amax of the GEMM input the rank holds: GEMM2's is over the
    // rank's I shard (TP) or its experts' pairs (EP), so each rank quantizes GEMM2's input on a grid
    // of its own, finer than the whole layer's, and the two sides' fp8 rounding errors no longer
    // cancel: each is up to half an fp8 step (2^-4 of the element), so the bound is 2^-3.
    // A per-token scale is the amax of the row the rank holds: under TP, GEMM2's row is the rank's I
    // shard, so the same holds for TP (EP keeps rows whole).
    const reference::quant::ActivationSpec& act = reference::quant::spec(c.scheme).activation;
    const TpTolerance tp_tol = tensor_parallel_tolerance(c.block.dtype);
    TpTolerance rank_local_tol = tp_tol;
    if (act.tp_rank_local_scales())
      rank_local_tol = {c.block.dtype, 1.0 / (1 << 3),
             "each rank quantizes GEMM2's input with the amax of its own shard, so the ranks' fp8 grids differ from "
             "the whole layer's: two fp8 roundings of up to 2^-4 each (measured worst of the row max: "
             "fp8_per_tensor_w8a8_dynamic 0.082 fp32, 0.062 bf16 over 134 + 114 cases, 0.090 in a 200-case run; mxfp4_w4a8_qdq 0.072 fp32, "
             "0.061 bf16 over 118 + 122 cases, TP only; fp8_per_channel_w8a8, a per-token scale per row of the rank's "
             "I shard, TP only: 0.065 fp32, 0.067 bf16 over 290 + 310 cases)"};
    const TpTolerance* reason = &tp_tol;  // the bound the message explains
    int applied = 0;
    bool ok = true;
    // A static per-tensor activation scale is the max over the experts a rank holds (vLLM without
    // EPLB's all-reduce): an EP rank quantizes with its own scale, which changes its outputs by
    // design, so only the TP shards (every rank holds every expert's scale) are compared.
    const bool ep_changes_numerics = reference::quant::spec(c.scheme).activation.reduced_over_local_experts();
    for (const bool ep : {false, true})
      for (const int tp : {2, 4}) {
        if (ep && ep_changes_numerics) continue;
        MoeCase ct = c;
        ct.target.tp = tp;
        ct.target.ep = ep;
        const pd::Plan plan = layer_plan(ct, shipped_ruleset(ct.target.ruleset), faults.padding);
        if (!unsupported_reason(plan, ct.scheme).empty() || !pd::partition(plan).ok()) continue;
        if (ep && c.block.num_experts() < tp) continue;
        ++applied;
        const bool rank_local = ep ? act.batch_coupled() : act.tp_rank_local_scales();
        const TpTolerance& tol = rank_local ? rank_local_tol : tp_tol;
        if (rank_local) reason = &rank_local_tol;
        std::vector<std::vector<float>> partials;
        std::vector<float> sum(static_cast<std::size_t>(T * H), 0.0f);
        for (int rank = 0; rank < tp; ++rank) {
          ct.target.rank = rank;
          device::PaddedCase p = make_padded_case(ct, plan, poison_seed(), faults.padding);
          p.faults = faults.kernel;
          std::vector<float> yr = run_and_slice(backend, p, poison_seed(), faults.padding);
          if (const std::string bad = shape_violation(yr, T, H, "rank"); !bad.empty())
            throw std::runtime_error(bad);
          for (std::size_t n = 0; n < sum.size(); ++n) sum[n] += yr[n];  // the all-reduce, rank order
          partials.push_back(std::move(yr));
        }
        for (float& s : sum) s = moe::round_to(c.block.dtype, s);
        // The shared expert is not sharded here: the caller adds it once, after the all-reduce.
        sum = finalize(c, std::move(sum));
        std::vector<std::span<const float>> scales(partials.begin(), partials.end());
        const RelCheck r = relative_check(y, sum, T, H, tol.rel, scales);
        const Comparison cmp = compare(y, sum, T, H, 0);
        if (r.violations > 0 && ok) v.comparison = cmp;
        ok = ok && r.violations == 0;
        v.rel_error = std::max(v.rel_error, r.worst_rel);
        os << (applied > 1 ? "; " : "") << (ep ? "EP " : "TP ") << tp << ": " << rel_text(r, tol.rel) << ", max "
           << cmp.max_ulp << " fp32 ulp";
      }
    if (applied == 0) {
      v.skipped = true;
      return;
    }
    v.ok = ok;
    if (ep_changes_numerics)
      os << "; EP not compared (each EP rank quantizes the activations with the max of its own experts' static "
            "input scales)";
    os << " (" << reason->reason << "); case " << describe(c);
    v.message = os.str();
  });
}

std::vector<Verdict> check(const std::string& property_name, const MoeCase& c, const Faults& faults,
                           const std::vector<std::string>& backends) {
  const std::string property = resolve_property(property_name);
  std::vector<Verdict> out;
  if (property == kP4Routing) {
    out.push_back(check_routing(c, faults));
    return out;
  }
  for (const device::Backend* b : device::backends()) {
    if (!backends.empty() && std::find(backends.begin(), backends.end(), b->name()) == backends.end()) continue;
    out.push_back(property == kP1PaddingInvariance ? check_padding_invariance(c, *b, faults)
                  : property == kP2GoldenAgreement ? check_golden_agreement(c, *b, faults)
                  : property == kP3Poison          ? check_poison(c, *b, faults)
                  : property == kP5Metamorphic     ? check_metamorphic(c, *b, faults)
                                                   : check_tensor_parallel(c, *b, faults));
  }
  return out;
}

}  // namespace moecheck::properties
