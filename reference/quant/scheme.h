// The weight schemes: how a method's expert weights are stored and what the kernel reads, one row
// per scheme (the model: formats::detail::MinifloatSpec). Every layer that stores, pads, persists or
// runs a weight — padding/, fixtures/, device/, properties/ — iterates a row's components instead of
// branching on the scheme; adding a scheme is a row here (README.md, "Adding a scheme").
//
// Vocabulary: a weight is a matrix [N, K], N output rows, K the reduction (input) axis. A scheme
// stores it as components, each a row-major byte or fp32 array whose [rows, cols] follow from
// [N, K] by the component's rule. Sources: spec/numerics.md §3–§5, padding.md §1.5.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/formats/format.h"
#include "reference/quant/blocks.h"
#include "reference/quant/common.h"

namespace moecheck::reference::quant {

enum class WeightScheme : std::uint8_t {
  kDense,             // unquantized, values of the model dtype (vLLM UnquantizedFusedMoEMethod)
  kMxfp4W4A16,        // gpt-oss MXFP4, activations in the model dtype (triton_kernels matmul_ogs)
  kFp8Block128W8A16,  // DeepSeek-V3 FP8 128×128 blocks, activations in the model dtype
  kMxfp8W8A16,        // OCP MXFP8 (e4m3fn + E8M0 per 32), activations in the model dtype (Marlin)
  kMxfp6E3m2W6A16,    // Quark OCP MXFP6 e3m2, weight-only (w_mxfp6_e3m2: emulation, dequantized)
  kMxfp6E2m3W6A16,    // Quark OCP MXFP6 e2m3, weight-only (w_mxfp6_e2m3)
  kFp8Block128W8A8,   // DeepSeek-V3 FP8 128×128 blocks, activations fp8 per token and 128-group
  kMxfp4W4A4Qdq,      // Quark w_mxfp4_a_mxfp4 emulation: MXFP4 weights, activations MXFP4 quant-dequantized
  kInt4G128W4A16,     // GPTQ-style symmetric int4 (uint4b8), fp32 scale per 128 along K (Triton WNA16)
  kInt8G128W8A16,     // symmetric int8 (uint8b128), fp32 scale per 128 along K (Triton WNA16)
  kNvfp4W4A16,        // NVFP4 (e2m1, ue4m3 per 16, fp32 per-expert global scale), 16-bit activations (Marlin)
  kNvfp4W4A16Swizzled,  // the same checkpoint, block scales 128×4-swizzled on the device (b12x, A16)
  kFp8Block128W8A8Ue8m0,  // DeepSeek-V3 FP8 blocks on DeepGEMM: weight and activation scales powers of two (UE8M0)
  kInt4G128W4A16Marlin,   // the int4_g128_w4a16 checkpoint prepared for Marlin (tile-padded, scales permuted)
  kInt8G128W8A16Marlin,   // the int8_g128_w8a16 checkpoint prepared for Marlin
  kFp8PerTensorW8A16,     // FP8 e4m3fn with one fp32 scale per expert and projection (Fp8MoEMethod per-tensor), 16-bit activations (Marlin)
  kInt4G128ZpW4A16,       // AWQ-style asymmetric int4 (uint4 codes, a zero point and a scale per 128 along K; Triton WNA16)
  kInt8G128ZpW8A16,       // asymmetric int8 (uint8 codes, a zero point and a scale per 128 along K; Triton WNA16)
  kInt4G32W4A16,          // symmetric int4 with one scale per 32 along K (MoeWNA16's kInt4Static32GroupScale; Triton WNA16)
  kInt4G32W4A16Marlin,    // the int4_g32_w4a16 checkpoint prepared for Marlin (I tile-padded to lcm(64, 32) = 64)
  kFp8PerTensorW8A8Static,  // FP8 per-tensor weights, activations fp8 per tensor with the checkpoint's static input scales (Triton)
  kFp8PerTensorW8A8Dynamic,  // FP8 per-tensor weights, activations fp8 per tensor, the scale the amax of the batch (Triton)
  kMxfp4W4A8Qdq,  // Quark MXFP4 weights with static FP8 input scales; activations fp8 quant-dequantized (emulation)
  kNvfp4W4A4Qdq,  // NVFP4 weights with static input scales; activations NVFP4 quant-dequantized (emulation)
  kFp8PerChannelW8A8,  // FP8 weights with one scale per output channel, activations fp8 per token (dynamic; Triton)
  kInt4G64W4A16,        // symmetric int4 with one scale per 64 along K (group_size 64; Triton WNA16)
  kInt4G64W4A16Marlin,  // the int4_g64_w4a16 checkpoint prepared for Marlin (I tile-padded to lcm(64, 64) = 64)
  kInt4ChannelW4A16Marlin,  // channelwise int4 (group_size -1: one scale per output channel) on Marlin
  kInt8ChannelW8A16Marlin,  // channelwise int8 on Marlin
  kInt4G128ZpW4A16Marlin,   // the int4_g128_zp_w4a16 (AWQ) checkpoint on Marlin: zero points prepared too
  kMxfp8W8A8,  // OCP MXFP8 weights, activations MXFP8 per 32 (dynamic; vLLM's native Triton MXFP8 MoE on gfx950)
  kInt4G128ActOrderW4A16Marlin,  // GPTQ act-order (desc_act) int4 g128: a group index per column (g_idx), on Marlin
};

// The storage tensors a weight is made of.
enum class Component : std::uint8_t {
  kValues,      // fp32 values of the model dtype
  kCodes,       // element codes, bytes, packed along K
  kScaleBytes,  // one-byte scale codes (E8M0, ue4m3)
  kScales,      // fp32 dequantization multipliers (DeepSeek-V3 `weight_scale_inv`, WNA16 group scales)
  kZeroPoints,  // integer zero points, bytes (WNA16 `qzeros`); padded and poisoned as the scales are
  // fp32 static activation scales of the checkpoint, one per expert and projection (FP8
  // `w13_input_scale`, `w2_input_scale`): what the layer divides each GEMM's input by, not part of
  // the weight's value; per_part, so padding never changes them and EP takes its experts'.
  kInputScales,
  // GPTQ act-order's group index (`g_idx`): the scale group of each column k of the projection, one
  // per column for all of its rows (per_column), held as exact fp32 values (the checkpoint's int32;
  // group ids stay far below 2^24). Never padded: act-order layers keep their exact shapes.
  kGroupIndex,
};
inline constexpr Component kAllComponents[] = {Component::kValues,     Component::kCodes,
                                               Component::kScaleBytes, Component::kScales,
                                               Component::kZeroPoints, Component::kInputScales,
                                               Component::kGroupIndex};
// "values", "codes", "scale_bytes", "scales", "zero_points", "input_scales", "g_idx"
std::string_view name(Component component);
bool holds_floats(Component component);      // kValues, kScales, kInputScales, kGroupIndex; the others hold bytes
// kScaleBytes, kScales and kZeroPoints: the tensors that travel with the scales (padding Role::kScale).
bool is_scale(Component component);

struct ComponentSpec {
  Component component;
  // The codes' element format (kCodes) or the scale codes' (kScaleBytes); none for floats.
  std::optional<formats::Format> format;
  // Along K: `packing.elements` matrix columns are stored in `packing.units` units.
  Packing packing = kUnpacked;
  // Along N: matrix rows per stored row (1, or the block height of a 2-D scale grid).
  std::int64_t row_block = 1;
  // A ceil-divided grid that stores partial edge blocks (FP8 blocks), rather than whole groups only.
  bool partial_blocks = false;
  // The fixture dataset after `w13` / `w2` ("" for none), named as checkpoints name the tensor
  // (gpt-oss `*_blocks` / `*_scales`, DeepSeek-V3 `*_scale_inv`).
  std::string_view dataset;
  // One fp32 per part, whatever its rows and K (NVFP4's per-expert global scale `weight_scale_2`):
  // stored [1, 1] per part; a TP shard keeps it whole, an EP rank takes its experts' (padding
  // partition.h shard_expert_scalars), and padding never changes it.
  bool per_part = false;
  // With per_part: one fp32 for the whole projection, w13's gate and up included ([E, 1, 1] for
  // w13 as for w2): the per-tensor FP8 w13_weight_scale after vLLM's requantization of both halves
  // to one scale (process_fp8_weight_tensor_strategy_moe).
  bool per_projection = false;
  // One value per column k for the whole projection, whatever its rows (act-order's g_idx): stored
  // [1, K] per part; a TP shard of the rows keeps it whole, a shard of K cuts it as the codes are
  // cut, an EP rank takes its experts'.
  bool per_column = false;
  // The loader keeps the whole K extent on every TP rank (act-order's w2 scales: vLLM's
  // load_full_w2), so that a rank's cut of g_idx still indexes the checkpoint's groups; an EP rank
  // takes its experts'.
  bool whole_k_under_tp = false;

  // Stored rows of n matrix rows, and stored units of k matrix columns; std::invalid_argument
  // when whole groups are required and n or k is not a whole number of them.
  std::int64_t stored_rows(std::int64_t n) const;
  std::int64_t stored_cols(std::int64_t k) const;
};

// How a checkpoint holds the gated projection [gate; up].
enum class GateUpParts : std::uint8_t {
  kFused,     // one [2I, H] tensor, one part (gpt-oss, fused checkpoints)
  kSeparate,  // gate and up apart, each [I, H] with its own scales (DeepSeek-V3 gate_proj, up_proj)
};
std::string_view name(GateUpParts parts);

// Where the scales live relative to the elements.
enum class ScaleLayout : std::uint8_t {
  kNone,   // no scales
  kPlain,  // row-major [stored_rows(N), stored_cols(K)], no padding of its own
  // The checkpoint's scale bytes are plain; the layer stores the padded projection's kScaleBytes
  // (w13's 2·I_pad rows as one matrix) 128×4-swizzled (swizzle.h), each expert padded to whole
  // tiles: [E, round_up(rows, 128), round_up(cols, 4)] (vLLM swizzle_blockscale).
  kSwizzled128x4,
};
std::string_view name(ScaleLayout layout);

// What the layer does to each GEMM's input (the activations before GEMM1, the activated
// intermediate before GEMM2): vLLM's `moe_kernel_quantize_input` with the method's quant config.
enum class ActivationQuant : std::uint8_t {
  kNone,            // they stay in the model dtype (w·a16)
  kFp8TokenGroup,   // dynamic e4m3fn per token and `group` columns: per_token_group_quant_fp8 (the
                    // CUDA kernel, fp32 scales; quant/fp8.h Fp8GroupQuantizer::kCuda)
  kFp8TokenGroupUe8m0,  // the same with scale_ue8m0: each scale rounded up to a power of two
                        // (quant/fp8.h Fp8GroupQuantizer::kCudaUe8m0Bump); DeepGEMM's contiguous
                        // layout then packs the whole permuted scale buffer into UE8M0 bytes
  // static e4m3fn per tensor: one fp32 scale per GEMM input, the max of the checkpoint's
  // per-expert input scales over the experts the layer holds (Fp8MoEMethod
  // process_fp8_input_tensor_strategy_moe -> amax_for_moe_activation_quant, without EPLB's
  // all-reduce), applied by static_scaled_fp8_quant (quant/fp8.h Fp8PerTensorStatic)
  kFp8PerTensorStatic,
  // dynamic e4m3fn per tensor: one fp32 scale per GEMM input, amax/448 over every row the kernel
  // is given — the whole (CUDA-graph padded) batch for GEMM1, every pair's activated intermediate
  // of the rank for GEMM2 (_fp8_quantize -> ops.scaled_fp8_quant(A, None) ->
  // dynamic_scaled_fp8_quant; quant/fp8.h Fp8PerTensorDynamic)
  kFp8PerTensorDynamic,
  // Quark w_mxfp4_a_fp8 on vLLM's OCP MX emulation (OCP_MXQuantizationEmulationTritonExperts,
  // quant-dequantizing): GEMM1's input with the static scale (the layer's max of w13_input_scale),
  // GEMM2's with a dynamic one — the emulation's apply passes a2_scale None to TritonExperts, so
  // scaled_fp8_quant takes the amax of intermediate_cache2 and w2_input_scale goes unused.
  kFp8PerTensorStaticThenDynamic,
  // NVFP4 per 16 columns with one static global scale per GEMM, gs = 1 / (the max of the layer's
  // input scales) (oracle/nvfp4.py's EMULATION branch), quant-dequantized by vLLM's Triton
  // _nvfp4_quant_dequant_kernel (quant/nvfp4.h Nvfp4Quantizer::kTritonQdq); W4A4 emulation.
  kNvfp4Qdq,
  // dynamic e4m3fn per token: one fp32 scale per row of the GEMM input, max(row amax / 448,
  // 1 / (448 · 512)), the row divided by it (dynamic_per_token_scaled_fp8_quant; quant/fp8.h
  // Fp8PerToken). A row of GEMM1's input is a token, one of GEMM2's a (token, expert) pair's
  // activated intermediate — under TP, the rank's shard of it.
  kFp8PerTokenDynamic,
  kMxfp4QuarkEven,  // dynamic MXFP4 per 32 columns, amd-quark `qdq_mxfp4(x, "even")` (vLLM
                    // fused_moe/utils.py _mxfp4_quantize -> quant_dequant_mxfp4; quant/mxfp4.h
                    // Mxfp4Rounding::kQuarkEven)
  // dynamic MXFP8 per 32 columns, e4m3fn codes with E8M0 scales (fused_moe_mxfp8_native,
  // experts/mxfp8_native_moe.py @ HollowMan6/vllm 2026-08-22): GEMM1's input by
  // mxfp8_e4m3_quantize (quant/mxfp8.h Mxfp8Quantizer::kVllmCeil), GEMM2's by the quantizer fused
  // with the SwiGLU (kSwigluOaiFused, ActivationSpec::fused_with_activation).
  kMxfp8Dynamic,
};
std::string_view name(ActivationQuant quant);

// What the layer does to the padded weights after loading, before the kernel reads them.
enum class WeightRepack : std::uint8_t {
  kNone,
  // vLLM's Marlin preparation (quant/marlin.h; oracle/int_wna16.py @ 7ca49fbe): the codes
  // tile-repacked, each expert's scales transposed to GPTQ's [K/g, N] and permuted by
  // marlin_permute_scales(size_k); the kernel un-permutes them with the layout that the scale
  // table's height selects (marlin_kernel_scale_layout). The two agree only when size_k is the
  // GEMM's K (spec/bugs.md B17). Needs H % 128 == 0 and a padded I % 64 == 0: cases without them
  // are not generated (marlin.h marlin_moe_shape_problem; vLLM picks another backend).
  kMarlin,
};

// Where a per-tensor activation quantizer's scale for one GEMM comes from.
enum class ScaleSource : std::uint8_t {
  kNone,     // not a per-tensor quantizer
  kStatic,   // the checkpoint's input scales, reduced over the layer's experts (reduce_input_scales)
  kDynamic,  // the amax of the GEMM's whole input (batch_scale)
};

struct ActivationSpec {
  ActivationQuant quant = ActivationQuant::kNone;
  std::int64_t group = 0;  // columns per scale
  // Quant-dequant (the emulation paths): the activations are quantized and dequantized back to the
  // model dtype before a 16-bit GEMM, which then runs as for w·a16. Otherwise the kernel's tensor
  // cores read the codes and each K tile's sum is scaled (W8A8).
  bool qdq = false;
  // GEMM2's quantizer is fused with the activation (swiglu_oai_quantize_mxfp8): it reads the
  // activation computed in fp32, never rounded to the model dtype.
  bool fused_with_activation = false;
  bool quantized() const { return quant != ActivationQuant::kNone; }
  // One scale for the whole GEMM input (per tensor): the kernel sums the code products over all
  // of K and scales the sum once, acc · a_scale · b_scale, after the K loop (fused_moe_kernel's
  // per-tensor path), not per K tile.
  // One fp8 scale for the whole GEMM input (the FP8 per-tensor quantizers).
  bool per_tensor() const {
    return quant == ActivationQuant::kFp8PerTensorStatic || quant == ActivationQuant::kFp8PerTensorDynamic ||
           quant == ActivationQuant::kFp8PerTensorStaticThenDynamic;
  }
  // One scale per row of the GEMM input, over all of its columns (per token).
  bool per_token() const { return quant == ActivationQuant::kFp8PerTokenDynamic; }
  // W8A8 whose activation scales cover all of K (per tensor or per token): the kernel sums the code
  // products over the whole K loop and the epilogue scales the sum once, acc · a_scale[row] ·
  // b_scale (fused_moe_kernel's per-tensor and per-channel paths), not per K tile.
  bool scales_after_k() const { return !qdq && (per_tensor() || per_token()); }
  // Where GEMM `gemm`'s (1 or 2) per-tensor scale comes from (NVFP4: its global scale).
  ScaleSource source(int gemm) const {
    switch (quant) {
      case ActivationQuant::kFp8PerTensorStatic: return ScaleSource::kStatic;
      case ActivationQuant::kFp8PerTensorDynamic: return ScaleSource::kDynamic;
      case ActivationQuant::kFp8PerTensorStaticThenDynamic: return gemm == 1 ? ScaleSource::kStatic : ScaleSource::kDynamic;
      case ActivationQuant::kNvfp4Qdq: return ScaleSource::kStatic;  // the global scale; blocks of 16 under it
      default: return ScaleSource::kNone;
    }
  }
  // A static scale is reduced over the experts the layer holds: an EP rank quantizes with the max
  // of its own experts' input scales, so EP changes the numerics by design (properties P6).
  bool reduced_over_local_experts() const {
    return source(1) == ScaleSource::kStatic || source(2) == ScaleSource::kStatic;
  }
  // Quant-dequantizing with a static scale, vLLM's per_tensor_dequantize multiplies the fp16 codes
  // by the 0-dim fp32 scale: torch computes that in fp16 (the scale cast to fp16, the product
  // rounded to fp16) before `.to(A.dtype)`; a dynamic scale is a [1] tensor, which promotes the
  // product to fp32.
  bool dequantizes_in_fp16(int gemm) const { return per_tensor() && qdq && source(gemm) == ScaleSource::kStatic; }
  // The scale is a reduction over the whole GEMM input, so each token's codes depend on the other
  // rows of the batch: a pad row of a CUDA-graph batch that raises the amax changes every real
  // token's output (P1 draws no token padding for such a row), token 0 alone is quantized with its
  // own scale (P5 does not compare it), and a TP or EP rank reduces over its own shard of GEMM2's
  // input (P6 compares within the scheme's golden tolerance, not the TP rounding bound).
  bool batch_coupled() const { return source(1) == ScaleSource::kDynamic || source(2) == ScaleSource::kDynamic; }
  // Whether a TP rank quantizes GEMM2's input with scales of its own shard: a batch scale over the
  // rank's I columns, or a per-token scale of each row's I shard (the whole layer's row amax spans
  // every rank's columns). EP keeps each row whole, so only the batch-coupled scales change there.
  bool tp_rank_local_scales() const { return batch_coupled() || per_token(); }
};
inline constexpr ActivationSpec kModelDtypeActivations{};

// A GEMM input [rows, cols] quantized as `spec` says: the codes' values (decoded, unscaled, as the
// tensor cores read them) and one fp32 scale per (row, group). cols must be whole groups.
struct QuantizedActivations {
  RowMatrixXf values;  // [rows, cols] fp32 of the codes
  RowMatrixXf scales;  // [rows, cols / group]
  std::int64_t group = 0;
};
// `static_scale`: the layer's input scale for the static quantizers (kFp8PerTensorStatic; its
// scales are then [rows, 1], each that scale, and group = cols); std::invalid_argument if a static
// quantizer lacks it. For kFp8PerTensorDynamic it is the batch's scale (batch_scale) where x is
// one part of the batch, as one expert's rows are; absent, x is the whole batch. A quantizer whose
// GEMMs differ (kFp8PerTensorStaticThenDynamic) always needs it: the caller knows the GEMM.
// `gemm` (1 or 2) picks the quantizer where the two GEMMs' inputs are quantized by different rules
// (kMxfp8Dynamic).
QuantizedActivations quantize_activations(const ActivationSpec& spec, MatrixView x,
                                          std::optional<float> static_scale = std::nullopt, int gemm = 1);
// What the golden model computes with: code · scale, one fp32 product per element (x unchanged
// for kNone).
RowMatrixXf fake_quantize(const ActivationSpec& spec, MatrixView x, std::optional<float> static_scale = std::nullopt,
                          int gemm = 1);
// The dynamic per-tensor scale of x (a ScaleSource::kDynamic GEMM): the max over rows of row amax / 448,
// NaN ignored (fmaxf), Inf kept. The scale of a batch split into parts is the fmax of the parts'
// scales: the division by 448 is monotone, so the max commutes with it.
float batch_scale(const ActivationSpec& spec, MatrixView x);
// The static input scale the layer uses for a GEMM from its experts' per-expert scales: their max
// (torch's `.max()`); std::invalid_argument when there are none, or one is not finite and positive
// (a checkpoint a layer could not quantize with).
float reduce_input_scales(std::span<const float> per_expert, std::string_view what);

// A part's storage: one row-major array per component of its scheme, in the component's stored
// [rows, cols] (ComponentSpec). Arrays of components the scheme lacks stay empty.
struct SchemeStorage {
  std::vector<float> values, scales, input_scales, group_index;
  std::vector<std::uint8_t> codes, scale_bytes, zero_points;

  std::vector<float>& floats(Component component);  // kValues, kScales, kInputScales or kGroupIndex
  std::vector<std::uint8_t>& bytes(Component component);  // kCodes, kScaleBytes or kZeroPoints
  const std::vector<float>& floats(Component component) const;
  const std::vector<std::uint8_t>& bytes(Component component) const;
};

// A registry method whose checkpoints a scheme stores, and the kernel backends (padding/registry.h
// names) on which vLLM runs that method with this scheme's numerics; no backends: every backend.
struct MethodBinding {
  std::string_view method;
  std::span<const std::string_view> backends = {};
  bool binds(std::string_view backend) const;
};

// Where the kernel a row emulates is not Triton's fused_moe_kernel: the operands it lacks and how
// it writes GEMM2 out, read from its source. The default is fused_moe_kernel's.
struct KernelContract {
  // What it cannot take; the generators draw no case that needs it, and the sim refuses one
  // (properties::kernel_problem gives the reason).
  bool biases = true;            // false: no bias operand (a layer's expert biases would be dropped)
  bool interleaved_gate_up = true;  // false: it reads gate and up as the two halves of w13
  bool gelu = true;              // false: it computes gate · σ(α·gate) · (up + β), which is SiLU only at α 1, β 0
  bool weights_on_input = true;  // false: it multiplies the router weight in GEMM2 whatever the layer asks
  // GEMM2 writes fp32 rows, the router weight multiplied in fp32, and the k slots are summed in
  // fp32 and rounded once (fused_moe_mxfp8_native's `g2.view(T, k, H).sum(dim=1)`), not moe_sum's.
  bool fp32_gemm2_output = false;
  std::string_view kernel;  // the kernel and its source, for the reasons
};

// What a case asks of the kernel, for KernelContract's checks.
struct KernelInputs {
  bool biases = false, interleaved_gate_up = false, gelu = false, weights_on_input = false;
};

struct SchemeSpec;
// Rows [row_begin, row_end) of a [rows, cols] matrix held as `storage`, dequantized exactly into
// out (row-major, (row_end - row_begin) · cols floats): the golden's dequantization of the schemes
// that moe::SchemeWeight holds (the others have a Weight type of their own).
using DequantizeRows = void (*)(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                                std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out);
// The quantizer that makes a checkpoint of the scheme from float values (the generators).
using Quantizer = SchemeStorage (*)(const SchemeSpec& scheme, MatrixView values);

struct SchemeSpec {
  WeightScheme scheme;
  std::string_view name;     // "mxfp4_w4a16": fixtures, reports, describe()
  std::string_view summary;  // the storage and the kernel path it emulates
  std::span<const ComponentSpec> components;  // the element component (values or codes) first
  // H and I must be multiples of this (whole packing groups and scale blocks along K).
  std::int64_t size_multiple = 1;
  GateUpParts gate_up = GateUpParts::kFused;
  ScaleLayout scale_layout = ScaleLayout::kNone;
  bool zero_points = false;
  ActivationSpec activation = kModelDtypeActivations;
  // The padding-registry methods (padding/registry.h) whose checkpoints are stored so, each with
  // the backends that run it with this scheme's numerics.
  std::span<const MethodBinding> methods;
  // For the schemes held as moe::SchemeWeight (nullptr for dense, MXFP4 and FP8 blocks, which have
  // Weight types of their own): the golden's dequantization and the generators' quantizer.
  DequantizeRows dequantize_rows = nullptr;
  Quantizer quantize = nullptr;
  // A row that stores its weights as another row does and differs only in what the kernel does
  // with them (activation quantization): that row's scheme. moe::scheme_of a part names the
  // storage row; storage_scheme() maps a case's scheme to it.
  std::optional<WeightScheme> shares_storage_with = std::nullopt;
  WeightRepack repack = WeightRepack::kNone;
  KernelContract kernel = {};

  const ComponentSpec* find(Component component) const;  // nullptr if the scheme has none
  const ComponentSpec& elements() const { return components.front(); }
  bool quantized() const { return elements().component != Component::kValues; }
};

std::span<const SchemeSpec> weight_schemes();  // every row, in enum order
// The row whose storage `scheme` uses (itself unless shares_storage_with says otherwise).
WeightScheme storage_scheme(WeightScheme scheme);
const SchemeSpec& spec(WeightScheme scheme);
std::string_view name(WeightScheme scheme);
std::optional<WeightScheme> parse_weight_scheme(std::string_view name);
std::string weight_scheme_names();  // comma-separated, for error messages
// The scheme that `method` runs with on `backend` (the first row binding both); nullptr for the
// methods and backends no scheme row carries yet.
const SchemeSpec* scheme_for(std::string_view method, std::string_view backend);

// Why the backends of a registry method that no row binds have no generated case (one entry per
// method; the whole method when no row binds it at all). Kept beside the rows: a new row narrows
// its method's entry. properties::gen::unbound_targets lists the backends themselves.
struct UnboundReason {
  std::string_view method;
  std::string_view why;
};
std::span<const UnboundReason> unbound_reasons();
const UnboundReason* unbound_reason(std::string_view method);  // nullptr if the method has no entry

// The shape rule: a projection of `experts` experts made of `parts` stacked parts of `part_rows`
// matrix rows each, over K = `cols`: [E, parts · stored_rows(part_rows), stored_cols(cols)]. w13 is
// two parts of I (gate, up: a 2-D scale grid per half), w2 one part of H. device::validate checks
// every padded component with it; fixtures write and read with it. A per_column component (g_idx)
// is [E, 1, stored_cols(cols)] whatever the parts: w13's gate and up share one.
std::vector<std::int64_t> stacked_shape(const ComponentSpec& component, std::int64_t experts, std::int64_t parts,
                                        std::int64_t part_rows, std::int64_t cols);
// Whether the layer stores `component` of `scheme` swizzled on the device (ScaleLayout::kSwizzled128x4
// and the scale bytes).
bool swizzled_on_device(const SchemeSpec& scheme, const ComponentSpec& component);
// The device's shape of a padded projection's component: stacked_shape, or for a swizzled one
// [E, round_up(parts · part_rows, 128), round_up(stored_cols(cols), 4)]. device::validate checks it.
std::vector<std::int64_t> device_shape(const SchemeSpec& scheme, const ComponentSpec& component, std::int64_t experts,
                                       std::int64_t parts, std::int64_t part_rows, std::int64_t cols);

// Why a case asking `inputs` of the kernel cannot run on the row's (its KernelContract lacks one of
// them: the first, named with the kernel); empty if it can.
std::string kernel_problem(const SchemeSpec& scheme, const KernelInputs& inputs);

// Why sizes H and I cannot be stored in `scheme` (not multiples of size_multiple); empty if they can.
std::string size_problem(const SchemeSpec& scheme, std::int64_t hidden, std::int64_t intermediate);

}  // namespace moecheck::reference::quant
