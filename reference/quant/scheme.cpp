#include "reference/quant/scheme.h"

#include <array>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "reference/formats/codecs.h"
#include "reference/names.h"
#include "reference/quant/fp8.h"
#include "reference/quant/mxfp4.h"
#include "reference/quant/mxfp8.h"
#include "reference/quant/mx.h"
#include "reference/quant/nvfp4.h"
#include "reference/quant/swizzle.h"
#include "reference/quant/wna16.h"

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
// OCP MXFP8 `weight` [N, K] e4m3fn and `weight_scale` [N, K/32] E8M0 (ModelOpt / compressed-tensors
// MXFP8; numerics.md §3.9, §4).
constexpr ComponentSpec kMxfp8Components[] = {
    {Component::kCodes, Format::kE4m3fn, kUnpacked, 1, false, "_codes"},
    {Component::kScaleBytes, Format::kE8m0, kMxScaleBytes, 1, false, "_scales"},
};
// Quark OCP MXFP6 `weight` [N, K·3/4] (four fp6 codes in three bytes, formats::pack_fp6) and
// `weight_scale` [N, K/32] E8M0 (vLLM quark_moe.py get_packed_dim, create_weights @ 7ca49fbe).
constexpr ComponentSpec kMxfp6E3m2Components[] = {
    {Component::kCodes, Format::kE3m2, kFp6Bytes, 1, false, "_blocks"},
    {Component::kScaleBytes, Format::kE8m0, kMxScaleBytes, 1, false, "_scales"},
};
constexpr ComponentSpec kMxfp6E2m3Components[] = {
    {Component::kCodes, Format::kE2m3, kFp6Bytes, 1, false, "_blocks"},
    {Component::kScaleBytes, Format::kE8m0, kMxScaleBytes, 1, false, "_scales"},
};
// The fused-MoE WNA16 layout MoeWNA16Method allocates (moe_wna16.py create_weights @ 7ca49fbe:
// w13_qweight uint8 [E, 2I, H / (8 / bits)], w13_scales params_dtype [E, 2I, H / group]):
// int4 codes two per byte along K, low nibble = even k (fused_moe_kernel_gptq_awq's
// `(b >> (offs_k % 2) * 4) & 0xF`, fused_moe.py), int8 one per byte; one scale per group along K,
// held as its fp32 value (the kernel's `b_scale.to(tl.float32)`). No zero-point tensor: the
// kernel subtracts 8 / 128 (`b_zp_num`). The codes are unsigned integers, no minifloat format.
constexpr ComponentSpec kInt4G128Components[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_scales"},
};
// GPTQ act-order (desc_act) int4 g128: the codes and scales as int4_g128_w4a16 (group j's scales
// belong to the columns whose g_idx is j), plus the group index per column; w2's scales keep the
// whole K on every TP rank (load_full_w2: auto_gptq.py create_weights @ HollowMan6/vllm 2026-08-22).
constexpr ComponentSpec kInt4G128ActOrderComponents[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_scales", false, false, false, true},
    {Component::kGroupIndex, std::nullopt, kUnpacked, 1, false, "_g_idx", false, false, true},
};
constexpr ComponentSpec kInt8G128Components[] = {
    {Component::kCodes, std::nullopt, kUnpacked, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_scales"},
};
// The same with zero points (MoeWNA16Method with has_zp: AWQ, or GPTQ sym=false): one uint8 zero point
// per scale, the codes plain unsigned (uint4 / uint8), dequantized as (q - zp) · scale. Held one
// per byte [N, K/g]; the kernel layout packs int4 ones two per byte along N (w13_qzeros [E, 2I/2,
// H/g], low nibble = even n; pack_wna16), a bijection on the even row counts that whole groups
// give, so padding, sharding and the gate/up interleave move whole rows of them.
constexpr ComponentSpec kInt4G128ZpComponents[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_scales"},
    {Component::kZeroPoints, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_zeros"},
};
constexpr ComponentSpec kInt8G128ZpComponents[] = {
    {Component::kCodes, std::nullopt, kUnpacked, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_scales"},
    {Component::kZeroPoints, std::nullopt, Packing{kWna16Group128, 1}, 1, false, "_zeros"},
};
// int4 with group 32 (a checkpoint's `group_size: 32`; MoeWNA16 also reaches it by halving 128 for
// a shard whose I is not a multiple of it, not modelled: the generators draw whole groups).
constexpr ComponentSpec kInt4G32Components[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group32, 1}, 1, false, "_scales"},
};
// int4 with group 64 (a checkpoint's `group_size: 64`).
constexpr ComponentSpec kInt4G64Components[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, Packing{kWna16Group64, 1}, 1, false, "_scales"},
};
// Channelwise WNA16 (GPTQ group_size -1, compressed-tensors strategy "channel"): one scale per
// output channel over the whole of K ([N, 1], kWholeAxis), so padding and TP shards of K keep it.
// The rows take sizes in multiples of 32 (size_multiple), though a checkpoint may hold any: P1's
// unpadded reference runs Marlin's scale permutation on the unpadded shapes, whose N (2·I for w13)
// it needs in whole 64-column tiles. Marlin still pads such an I (96, 160, ...) to its 64-row tile.
constexpr std::int64_t kSizeQuantumForMarlinReference = 32;
constexpr ComponentSpec kInt4ChannelComponents[] = {
    {Component::kCodes, std::nullopt, kFp4Bytes, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, kWholeAxis, 1, false, "_scales"},
};
constexpr ComponentSpec kInt8ChannelComponents[] = {
    {Component::kCodes, std::nullopt, kUnpacked, 1, false, "_qweight"},
    {Component::kScales, std::nullopt, kWholeAxis, 1, false, "_scales"},
};
// ModelOpt NVFP4 per expert and projection (numerics.md §3.10, §4; modelopt.py @ 7ca49fbe): `weight`
// uint8 [N, K/2] (e2m1, low nibble = even k), `weight_scale` e4m3 [N, K/16] (ue4m3: sign 0), and
// `weight_scale_2` fp32, one per projection part (vLLM's w13_weight_scale_2 [E, 2], w2's [E]).
constexpr ComponentSpec kNvfp4Components[] = {
    {Component::kCodes, Format::kE2m1, kFp4Bytes, 1, false, "_weight"},
    {Component::kScaleBytes, Format::kUe4m3, kNvfp4ScaleBytes, 1, false, "_weight_scale"},
    {Component::kScales, std::nullopt, kUnpacked, 1, false, "_weight_scale_2", true},
};
// The same with ModelOpt's static input scales, one per expert and part as weight_scale_2 (vLLM's
// w13_input_scale [E, 2], w2_input_scale [E]; only their max is used).
constexpr ComponentSpec kNvfp4W4A4Components[] = {
    {Component::kCodes, Format::kE2m1, kFp4Bytes, 1, false, "_weight"},
    {Component::kScaleBytes, Format::kUe4m3, kNvfp4ScaleBytes, 1, false, "_weight_scale"},
    {Component::kScales, std::nullopt, kUnpacked, 1, false, "_weight_scale_2", true},
    {Component::kInputScales, std::nullopt, kUnpacked, 1, false, "_input_scale", true},
};
// vLLM's per-tensor FP8 MoE weights as the kernels receive them (Fp8MoEMethod @ 7ca49fbe): `weight`
// e4m3fn [N, K] and one fp32 `weight_scale` per expert and projection. A checkpoint holds one scale
// per shard (w13_weight_scale [E, 2]: w1, w3); process_weights_after_loading requantizes both
// halves to their max (process_fp8_weight_tensor_strategy_moe, fp8_utils.py:1408-1436) before any
// backend sees them, leaving [E]. The row stores that form: a fused w13 with one scale
// (per_projection): the checkpoint whose two shard scales are equal, for which the requant returns
// each code whose product q·s lies in fp16's normal range (fp16(q·s)/s is within 2^-11 of q, inside
// e4m3's half step; a product in fp16's subnormal range could move a code, not modelled). Checkpoints
// whose shard scales differ are not generated: their requant is lossy. Sharded by experts, never by
// rows, as NVFP4's weight_scale_2 is.
constexpr ComponentSpec kFp8TensorComponents[] = {
    {Component::kCodes, Format::kE4m3fn, kUnpacked, 1, false, "_weight"},
    {Component::kScales, std::nullopt, kUnpacked, 1, false, "_weight_scale", true, true},
};
// The same checkpoint with static activation scales (activation_scheme "static"; Fp8MoEMethod
// create_weights @ HollowMan6/vllm 2026-08-22: w13_input_scale and w2_input_scale fp32 [E], one per
// expert and projection, the scale of GEMM1's input and of GEMM2's).
constexpr ComponentSpec kFp8TensorStaticComponents[] = {
    {Component::kCodes, Format::kE4m3fn, kUnpacked, 1, false, "_weight"},
    {Component::kScales, std::nullopt, kUnpacked, 1, false, "_weight_scale", true, true},
    {Component::kInputScales, std::nullopt, kUnpacked, 1, false, "_input_scale", true, true},
};
// Quark w_mxfp4_a_fp8: the MXFP4 weight and scale of the OCP MX rows, plus the static FP8 input scale
// of each expert and projection (QuarkOCP_MX_MoEMethod create_weights: w13_input_scale and
// w2_input_scale fp32 [E]).
constexpr ComponentSpec kMxfp4W4A8Components[] = {
    {Component::kCodes, Format::kE2m1, kFp4Bytes, 1, false, "_weight"},
    {Component::kScaleBytes, Format::kE8m0, kMxScaleBytes, 1, false, "_weight_scale"},
    {Component::kInputScales, std::nullopt, kUnpacked, 1, false, "_input_scale", true, true},
};
// compressed-tensors FP8 with the channel weight strategy (CompressedTensorsW8A8Fp8MoEMethod
// create_weights @ HollowMan6/vllm 2026-08-22): `weight` e4m3fn [N, K] and `weight_scale` fp32
// [N, 1], one per output channel (w13_weight_scale [E, 2I, 1]: gate and up rows each their own,
// stacked by the loader as the weight rows are). Its one column spans the whole of K (kWholeAxis):
// padding K or a TP shard of w2's K leaves it as it is; padding or sharding N moves its rows.
constexpr ComponentSpec kFp8ChannelComponents[] = {
    {Component::kCodes, Format::kE4m3fn, kUnpacked, 1, false, "_weight"},
    {Component::kScales, std::nullopt, kWholeAxis, 1, false, "_weight_scale"},
};
// clang-format on

constexpr MethodBinding kDenseMethods[] = {{"unquantized"}};
// Quark W4A8 (`quark_w_mxfp4_a_fp8`) runs here on CPU only: the oracle selects CPUExpertsMxfp4 with
// activation key None and make_mxfp4_moe_quant_config gives it the W4A16 config (oracle/mxfp4.py
// @ HollowMan6/vllm 2026-08-22); its EMULATION quant-dequantizes the activations (mxfp4_w4a8_qdq),
// and AITER's W4A8 kernel is unbound. W4A4 has its row (mxfp4_w4a4_qdq) on EMULATION.
constexpr std::string_view kMxfp4W4A8A16Backends[] = {"CPU"};
constexpr MethodBinding kMxfp4Methods[] = {
    {"gpt_oss_mxfp4"}, {"mxfp4"}, {"quark_w_mxfp4"}, {"quark_w_mxfp4_a_fp8", kMxfp4W4A8A16Backends}};
// w_mxfp4_a_mxfp4 on EMULATION: QuarkOCP_MX_MoEMethod's emulation experts dequantize the MXFP4
// weights and quant-dequantize each GEMM input with quant_dequant_mxfp4 (amd-quark qdq_mxfp4,
// scale mode "even"; fused_moe/utils.py _mxfp4_quantize @ 7ca49fbe). AITER's CK W4A4 kernel, XPU
// and CPU run their own numerics and stay unbound.
constexpr std::string_view kEmulation[] = {"EMULATION"};
constexpr MethodBinding kMxfp4W4A4Methods[] = {{"quark_w_mxfp4_a_mxfp4", kEmulation}};
// w_mxfp4_a_fp8 on EMULATION (OCP_MXQuantizationEmulationTritonExperts, ocp_mx_emulation_moe.py;
// the input scales reduced to their max over the layer's experts, oracle/mxfp4.py's EMULATION
// branch of convert_gpt_oss_weight_to_mxfp4_moe_kernel_format): the MXFP4 weights dequantized to
// the model dtype, each GEMM input quant-dequantized to fp8 (_fp8_quantize_dequantize) — GEMM1 with
// the static scale, GEMM2 with a dynamic one (the emulation passes a2_scale None).
constexpr MethodBinding kMxfp4W4A8Methods[] = {{"quark_w_mxfp4_a_fp8", kEmulation}};
constexpr ActivationSpec kFp8StaticThenDynamicQdq{ActivationQuant::kFp8PerTensorStaticThenDynamic, 0, true};
constexpr ActivationSpec kMxfp4QuarkEvenQdq{ActivationQuant::kMxfp4QuarkEven, kMxBlock, true};
// fp8_block runs W8A16 on CPU (cpu_moe.py "FP8 W8A16 MoE", CPUQuantMethod.FP8_W8A16) and on Marlin
// (fp8 weights dequantized in the kernel, 16-bit activations); every other backend quantizes the
// activations per token and 128-group (DeepSeek-V3's path: fused_moe.py moe_kernel_quantize_input
// -> per_token_group_quant_fp8, block_shape [128, 128]; DeepGEMM, CUTLASS, AITER likewise; XPU's
// numerics inferred the same, unverified). DEFAULT (the older rulesets) stands for the Triton path.
constexpr std::string_view kFp8BlockW8A16Backends[] = {"CPU", "MARLIN"};
constexpr std::string_view kFp8BlockW8A8Backends[] = {"TRITON", "BATCHED_TRITON", "FLASHINFER_CUTLASS",
                                                      "FLASHINFER_TRTLLM", "AITER", "XPU", "DEFAULT"};
// DeepGEMM with VLLM_USE_DEEP_GEMM_E8M0 (default on): DeepGemmQuantScaleFMT.from_oracle is UE8M0 on
// SM100 / SM120 and FLOAT32_CEIL_UE8M0 on Hopper (vllm/utils/deep_gemm.py:60-82 @ 7ca49fbe), so every
// activation scale is a power of two, and the weights' block scales are requantized to powers of two
// at load (requant_weight_ue8m0_inplace). deepgemm_moe_permute scatters the activations and their
// fp32 scales into the contiguous layout of M_sum aligned rows (deep_gemm_utils.py:459-540), whose
// scale buffer DeepGEMM 2.6 packs into UE8M0 with a device assert on every entry (spec/bugs.md B15).
constexpr std::string_view kFp8BlockDeepGemmBackends[] = {"DEEPGEMM"};
constexpr MethodBinding kFp8BlockW8A8Ue8m0Methods[] = {{"fp8_block", kFp8BlockDeepGemmBackends}};
constexpr MethodBinding kFp8BlockMethods[] = {{"fp8_block", kFp8BlockW8A16Backends}};
constexpr MethodBinding kFp8BlockW8A8Methods[] = {{"fp8_block", kFp8BlockW8A8Backends}};
// MXFP8 checkpoints run W8A16 on Marlin (prepare_mxfp8_moe_layer_for_marlin: fp8 weights
// dequantized in the kernel) and on EMULATION (Mxfp8EmulationTritonExperts: dequant_mxfp8_to_bf16,
// then TritonExperts with quant_dtype None; fused_moe/experts/mxfp8_emulation_moe.py,
// oracle/fp8.py @ 7ca49fbe); the other mxfp8 backends quantize the activations to MXFP8 (W8A8),
// which is a scheme of its own.
constexpr std::string_view kMxfp8W8A16Backends[] = {"MARLIN", "EMULATION"};
constexpr MethodBinding kMxfp8Methods[] = {{"mxfp8", kMxfp8W8A16Backends}};
// MXFP8 W8A8 on gfx950 (Mxfp8NativeTritonExperts -> fused_moe_mxfp8_native,
// experts/mxfp8_native_moe.py @ HollowMan6/vllm 2026-08-22; the oracle's TRITON_MXFP8 when the
// AITER FlyDSL kernel is not taken): moe_align_block_size with BLOCK_M 64; GEMM1's input quantized
// per 32 columns by mxfp8_e4m3_quantize, tl.dot_scaled(e4m3 x e4m3) per K tile with both E8M0
// scales, the fp32 sum cast to the model dtype (no bias, no router weight); the SwiGLU of the split
// halves in fp32 fused with GEMM2's quantizer (swiglu_oai_quantize_mxfp8); GEMM2 the same, its sum
// times the router weight in fp32, written fp32; the k slots summed in fp32, one cast. The kernel
// asserts K % 128 (GEMM1's K is H, GEMM2's the rank's I): the row stores multiples of 128.
constexpr std::string_view kMxfp8TritonBackends[] = {"TRITON_MXFP8"};
constexpr MethodBinding kMxfp8W8A8Methods[] = {{"mxfp8", kMxfp8TritonBackends}};
constexpr ActivationSpec kMxfp8DynamicActivations{ActivationQuant::kMxfp8Dynamic, kMxBlock, false, true};
constexpr KernelContract kMxfp8NativeKernel{false, false, false, false, true,
                                            "fused_moe_mxfp8_native (experts/mxfp8_native_moe.py:244-324)"};
constexpr std::int64_t kMxfp8NativeKMultiple = 128;  // `assert K % 128 == 0` (mxfp8_native_moe.py:189)
// Quark w_mxfp6_e3m2 / w_mxfp6_e2m3 without input quantization: the emulation dequantizes the
// weights and runs in the model dtype (quark_moe.py QuarkOCP_MX_MoEMethod, ocp_mx_utils.py
// OCP_MX_Scheme @ 7ca49fbe). One registry method covers both element formats.
constexpr MethodBinding kMxfp6Methods[] = {{"quark_w_mxfp6"}};
// WNA16 runs fused_moe_kernel_gptq_awq's numerics on TRITON only (TritonWNA16Experts,
// experts/triton_moe.py; oracle/int_wna16.py backend_to_kernel_cls @ 7ca49fbe). Marlin, HUMMING,
// XPU, CPU (CPUExpertsInt4) and FLASHINFER_TRTLLM (MXINT4) have kernels of their own; EMULATION
// (Int4EmulationTritonExperts) dequantizes to bf16 at load time in convert_to_wna16_moe_kernel_format,
// a rounding not modelled here. The older rulesets' DEFAULT backend is left unbound: which kernel
// it stands for (Marlin for GPTQ/AWQ, Triton for MoeWNA16) depends on the checkpoint's config.
constexpr std::string_view kWna16TritonBackends[] = {"TRITON"};
constexpr MethodBinding kInt4Wna16Methods[] = {{"int4_wna16", kWna16TritonBackends}};
constexpr MethodBinding kInt8Wna16Methods[] = {{"int8_wna16", kWna16TritonBackends}};
// Marlin MoE for the same checkpoints (MarlinExperts; oracle/int_wna16.py prepare_moe_wna16_marlin
// @ 7ca49fbe): the padded weights repacked and their scales permuted after loading
// (WeightRepack::kMarlin), then a W4A16 / W8A16 kernel that dequantizes (q - 8) · s and (q - 128) · s
// in the 16-bit dtype. The in-kernel product of a small integer and a 16-bit scale is exact in
// fp32, so the sim's tile (fp32 product, one rounding to the model dtype) gives Marlin's values;
// Marlin's own K order is not modelled (the sim's order-preserving sum stands in). Its write-out is:
// the fp32 sum cast to the dtype, the bias and the router weight then applied in the dtype
// (write_result's __hadd2 / __hmul2), and a channelwise scale after the K loop. BATCHED_MARLIN
// (the batched activation format) stays unbound.
// int4 with zero points (AWQ) on Marlin: the layer prepares the zero points too (marlin_zero_points
// after awq_to_marlin_zero_points' unpacking; quant/marlin.h marlin_pack_zero_points), and the
// kernel's int4 path with integer zero points subtracts them exactly (dequant_skip_flop: sub_zp,
// then the scale's __hmul2), so the dequantization is the Triton row's (q - zp) · s rounded once.
// int8 with zero points stays unbound on Marlin: with bf16 activations its kernel computes
// __hfma2(q, s, -(zp · s)) with zp · s rounded first, a dequantization not modelled here.
constexpr std::string_view kWna16MarlinBackends[] = {"MARLIN"};
constexpr MethodBinding kInt4Wna16MarlinMethods[] = {{"int4_wna16", kWna16MarlinBackends}};
constexpr MethodBinding kInt8Wna16MarlinMethods[] = {{"int8_wna16", kWna16MarlinBackends}};
// fp8_per_tensor on Marlin (prepare_fp8_moe_layer_for_marlin, marlin_utils_fp8.py:241-368 @ 7ca49fbe):
// the one scale per expert and projection is repeated into per-channel scales, cast to the model
// dtype and exponent-biased (a power of two, exact); the kernel dequantizes e4m3 · scale in the
// 16-bit dtype and the activations stay 16-bit. The other backends run it W8A8 with per-tensor
// activation scales, a row not written yet.
constexpr std::string_view kFp8TensorMarlinBackends[] = {"MARLIN"};
constexpr MethodBinding kFp8TensorW8A16Methods[] = {{"fp8_per_tensor", kFp8TensorMarlinBackends}};
// fp8_per_tensor W8A8 on Triton (TritonExperts, fused_moe_kernel with use_fp8_w8a8, per-tensor
// path; fused_moe.py @ HollowMan6/vllm 2026-08-22): each GEMM input quantized by
// static_scaled_fp8_quant with the layer's one input scale (moe_kernel_quantize_input ->
// _fp8_quantize -> ops.scaled_fp8_quant(A, A_scale)); the fp8 dot summed over all of K, then
// `accumulator * a_scale * b_scale`, the bias, the router weight (GEMM2), one cast. The dynamic
// checkpoints (activation_scheme "dynamic", no input scales) run the same kernel with A_scale None:
// dynamic_scaled_fp8_quant takes one amax over every row it is given — the prepare step's whole
// batch, CUDA-graph pad rows included, and TritonExperts' intermediate_cache2 of every pair, whose
// rows for another EP rank's experts the kernel wrote as zeros (expert id -1). FlashInfer, AITER
// and XPU run kernels of their own.
constexpr std::string_view kFp8TensorTritonBackends[] = {"TRITON", "DEFAULT"};
constexpr MethodBinding kFp8TensorW8A8StaticMethods[] = {{"fp8_per_tensor", kFp8TensorTritonBackends}};
constexpr MethodBinding kFp8TensorW8A8DynamicMethods[] = {{"fp8_per_tensor", kFp8TensorTritonBackends}};
constexpr ActivationSpec kFp8PerTensorStaticActivations{ActivationQuant::kFp8PerTensorStatic, 0};
constexpr ActivationSpec kFp8PerTensorDynamicActivations{ActivationQuant::kFp8PerTensorDynamic, 0};

// NVFP4 weight-only (activations in the model dtype). The numerics are those of the weight path of
// vLLM's Triton NVFP4 emulation kernel (nvfp4_emulation_moe.py:180-235 @ 7ca49fbe): per element
// w = e2m1 · (fp32(ue4m3) · weight_scale_2), cast to the compute dtype, fp32 dot. MARLIN runs NVFP4
// checkpoints W4A16 (nvfp4_w4a16_moe_quant_config; its scales repacked as S0E5M3 and the global
// scale exponent-biased, marlin_utils_fp4.py:61-154) and b12x does with VLLM_B12X_MOE_FP4_FORCE_A16
// (oracle/nvfp4.py:176-179, 537-547) on the 128×4-swizzled scales of prepare_nvfp4_moe_layer_for_b12x
// (b12x_moe.py). Neither kernel's in-register arithmetic is read here: where its rounding differs
// from the emulation kernel's, P2's tolerance covers it (P1 compares the sim with itself).
constexpr std::string_view kNvfp4MarlinBackends[] = {"MARLIN"};
constexpr std::string_view kNvfp4B12xBackends[] = {"B12X"};
constexpr MethodBinding kNvfp4W4A16Methods[] = {{"nvfp4", kNvfp4MarlinBackends}};
constexpr MethodBinding kNvfp4W4A16SwizzledMethods[] = {{"nvfp4", kNvfp4B12xBackends}};
// NVFP4 W4A4 on EMULATION (Nvfp4QuantizationEmulationTritonExperts, nvfp4_emulation_moe.py @
// HollowMan6/vllm 2026-08-22): each GEMM input quant-dequantized by ref_nvfp4_quant_dequant with
// the layer's one global scale, a1_gscale = 1 / max(w13_input_scale) (a2 likewise; the max over
// the experts the layer holds, oracle/nvfp4.py's EMULATION branch), then the weight path of the
// W4A16 rows. On CUDA and ROCm the quant-dequant is the Triton kernel modelled here; XPU runs
// ref_nvfp4_quant's torch ops (IEEE divisions), whose last-bit differences P2's bound covers.
constexpr MethodBinding kNvfp4W4A4Methods[] = {{"nvfp4", kEmulation}};
constexpr ActivationSpec kNvfp4QdqActivations{ActivationQuant::kNvfp4Qdq, kNvfp4Block, true};

// fp8_per_channel on Triton (TritonExperts -> fused_moe_kernel with use_fp8_w8a8 and
// per_channel_quant, fused_moe.py @ HollowMan6/vllm 2026-08-22): each GEMM input quantized per row
// by dynamic_per_token_scaled_fp8_quant (moe_kernel_quantize_input -> _fp8_quantize with
// per_act_token_quant), the fp8 dot summed over all of K, then `accumulator * a_scale * b_scale`
// with a_scale the row's (offs_token // top_k: the token for GEMM1, the pair for GEMM2) and
// b_scale the output channel's, the bias, the router weight (GEMM2), one cast. On Hopper and
// Blackwell the oracle picks VLLM_CUTLASS first (CutlassExpertsFp8: the same quantizer, CUTLASS
// grouped GEMMs, the router weight applied in moe_unpermute), a kernel whose accumulation and
// finalize are not read here; AITER runs its own.
constexpr std::string_view kFp8ChannelTritonBackends[] = {"TRITON"};
constexpr MethodBinding kFp8ChannelW8A8Methods[] = {{"fp8_per_channel", kFp8ChannelTritonBackends}};
constexpr ActivationSpec kFp8PerTokenActivations{ActivationQuant::kFp8PerTokenDynamic, 0};

// DeepSeek-V3's activation quantization: per token, 128 columns (the weight block's K).
constexpr ActivationSpec kFp8TokenGroup128{ActivationQuant::kFp8TokenGroup, kFp8WeightBlock};
constexpr ActivationSpec kFp8TokenGroup128Ue8m0{ActivationQuant::kFp8TokenGroupUe8m0, kFp8WeightBlock};

const std::array<SchemeSpec, 32> kSchemes = {{
    {WeightScheme::kDense, "dense",
     "unquantized weights in the model dtype (vLLM UnquantizedFusedMoEMethod -> Triton fused_moe)", kDenseComponents, 1,
     GateUpParts::kFused, ScaleLayout::kNone, false, kModelDtypeActivations, kDenseMethods},
    {WeightScheme::kMxfp4W4A16, "mxfp4_w4a16",
     "OCP MXFP4: e2m1 codes two per byte (low nibble = even element), one E8M0 scale per 32 along K, dequantized "
     "in-tile; activations stay in the model dtype (triton_kernels matmul_ogs)",
     kMxfp4Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kMxfp4Methods},
    {WeightScheme::kFp8Block128W8A16, "fp8_block128_w8a16",
     "DeepSeek-V3 FP8: e4m3fn codes, one fp32 weight_scale_inv per 128x128 block (partial edge blocks), gate and up "
     "stored apart (vLLM's per-half grid), dequantized in-tile; activations stay in the model dtype",
     kFp8BlockComponents, 1, GateUpParts::kSeparate, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kFp8BlockMethods},
    {WeightScheme::kMxfp8W8A16, "mxfp8_w8a16",
     "OCP MXFP8: e4m3fn codes one per byte, one E8M0 scale per 32 along K, dequantized in-tile; activations stay in "
     "the model dtype (Marlin MXFP8, the bf16 emulation)",
     kMxfp8Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kMxfp8Methods, mx_dequantize_rows, quantize_mxfp8_weight},
    {WeightScheme::kMxfp6E3m2W6A16, "mxfp6_e3m2_w6a16",
     "Quark OCP MXFP6 e3m2: four fp6 codes in three bytes, one E8M0 scale per 32 along K, dequantized; activations "
     "stay in the model dtype (Quark emulation, w_mxfp6_e3m2)",
     kMxfp6E3m2Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kMxfp6Methods, mx_dequantize_rows, quantize_mxfp6_weight},
    {WeightScheme::kMxfp6E2m3W6A16, "mxfp6_e2m3_w6a16",
     "Quark OCP MXFP6 e2m3: four fp6 codes in three bytes, one E8M0 scale per 32 along K, dequantized; activations "
     "stay in the model dtype (Quark emulation, w_mxfp6_e2m3)",
     kMxfp6E2m3Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kMxfp6Methods, mx_dequantize_rows, quantize_mxfp6_weight},
    {WeightScheme::kFp8Block128W8A8, "fp8_block128_w8a8",
     "DeepSeek-V3 FP8 weights as fp8_block128_w8a16; activations quantized to e4m3fn per token and 128 columns "
     "(fp32 scales) before each GEMM; the Triton kernel scales each K tile's fp8 dot by both scales",
     kFp8BlockComponents, kFp8WeightBlock, GateUpParts::kSeparate, ScaleLayout::kPlain, false, kFp8TokenGroup128,
     kFp8BlockW8A8Methods, nullptr, nullptr, WeightScheme::kFp8Block128W8A16},
    {WeightScheme::kMxfp4W4A4Qdq, "mxfp4_w4a4_qdq",
     "Quark OCP MXFP4 weights as mxfp4_w4a16; each GEMM input quant-dequantized to MXFP4 (amd-quark qdq_mxfp4, "
     "scale mode even) in the model dtype, then the 16-bit GEMM (vLLM's emulation of w_mxfp4_a_mxfp4)",
     kMxfp4Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kMxfp4QuarkEvenQdq,
     kMxfp4W4A4Methods, nullptr, nullptr, WeightScheme::kMxfp4W4A16},
    {WeightScheme::kInt4G128W4A16, "int4_g128_w4a16",
     "symmetric int4 (uint4b8: q - 8), two per byte (low nibble = even k), one scale per 128 along K, dequantized "
     "in-tile as (fp32(q) - 8) * scale, cast to the model dtype; activations stay in the model dtype (Triton "
     "fused_moe_kernel_gptq_awq)",
     kInt4G128Components, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kInt8G128W8A16, "int8_g128_w8a16",
     "symmetric int8 (uint8b128: q - 128), one per byte, one scale per 128 along K, dequantized in-tile as "
     "(fp32(q) - 128) * scale, cast to the model dtype; activations stay in the model dtype (Triton "
     "fused_moe_kernel_gptq_awq)",
     kInt8G128Components, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt8Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kNvfp4W4A16, "nvfp4_w4a16",
     "NVFP4 (ModelOpt): e2m1 codes two per byte (low nibble = even k), one ue4m3 scale per 16 along K, one fp32 "
     "weight_scale_2 per expert and part (gate, up apart); dequantized in-tile as e2m1 * (ue4m3 * weight_scale_2), "
     "cast to the model dtype; activations stay in the model dtype (Marlin W4A16)",
     kNvfp4Components, kNvfp4Block, GateUpParts::kSeparate, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kNvfp4W4A16Methods, nvfp4_dequantize_rows, quantize_nvfp4_weight},
    {WeightScheme::kNvfp4W4A16Swizzled, "nvfp4_w4a16_swizzled",
     "the nvfp4_w4a16 checkpoint with its ue4m3 block scales 128x4-swizzled on the device after padding, each "
     "expert's scale tensor padded to whole 128-row x 4-column tiles (b12x with VLLM_B12X_MOE_FP4_FORCE_A16)",
     kNvfp4Components, kNvfp4Block, GateUpParts::kSeparate, ScaleLayout::kSwizzled128x4, false,
     kModelDtypeActivations, kNvfp4W4A16SwizzledMethods, nullptr, nullptr, WeightScheme::kNvfp4W4A16},
    {WeightScheme::kFp8Block128W8A8Ue8m0, "fp8_block128_w8a8_ue8m0",
     "DeepSeek-V3 FP8 blocks on DeepGEMM: fp8_block128_w8a8 with UE8M0 scales, the weights' block scales and each "
     "activation scale (per token and 128 columns) rounded up to a power of two; the activations scattered into "
     "the contiguous layout of block-aligned rows, whose whole scale buffer DeepGEMM packs into UE8M0",
     kFp8BlockComponents, kFp8WeightBlock, GateUpParts::kSeparate, ScaleLayout::kPlain, false, kFp8TokenGroup128Ue8m0,
     kFp8BlockW8A8Ue8m0Methods, nullptr, nullptr, WeightScheme::kFp8Block128W8A16},
    {WeightScheme::kInt4G128W4A16Marlin, "int4_g128_w4a16_marlin",
     "the int4_g128_w4a16 checkpoint on Marlin: I tile-padded to lcm(64, 128), the codes tile-repacked and the "
     "scales permuted after loading (marlin_permute_scales with the GEMM's K), un-permuted by the kernel's read; "
     "dequantized in-tile as (q - 8) * scale in the model dtype",
     kInt4G128Components, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16MarlinMethods, nullptr, nullptr, WeightScheme::kInt4G128W4A16, WeightRepack::kMarlin},
    {WeightScheme::kInt8G128W8A16Marlin, "int8_g128_w8a16_marlin",
     "the int8_g128_w8a16 checkpoint on Marlin, prepared as int4_g128_w4a16_marlin; dequantized in-tile as "
     "(q - 128) * scale in the model dtype",
     kInt8G128Components, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt8Wna16MarlinMethods, nullptr, nullptr, WeightScheme::kInt8G128W8A16, WeightRepack::kMarlin},
    {WeightScheme::kFp8PerTensorW8A16, "fp8_per_tensor_w8a16",
     "FP8 per-tensor (Fp8MoEMethod): e4m3fn codes one per byte, one fp32 weight_scale per expert and projection "
     "(w13's halves requantized to one at load); dequantized in-tile as e4m3 * scale, cast to the model dtype; "
     "activations stay in the model dtype (Marlin W8A16)",
     kFp8TensorComponents, 1, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kFp8TensorW8A16Methods, fp8_tensor_dequantize_rows, quantize_fp8_tensor_weight},
    {WeightScheme::kInt4G128ZpW4A16, "int4_g128_zp_w4a16",
     "asymmetric int4 (AWQ-style: uint4 codes, one uint8 zero point and one scale per 128 along K), two codes per "
     "byte (low nibble = even k), dequantized in-tile as (fp32(q) - fp32(zp)) * scale, cast to the model dtype; "
     "activations stay in the model dtype (Triton fused_moe_kernel_gptq_awq with has_zp)",
     kInt4G128ZpComponents, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, true, kModelDtypeActivations,
     kInt4Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kInt8G128ZpW8A16, "int8_g128_zp_w8a16",
     "asymmetric int8 (uint8 codes, one uint8 zero point and one scale per 128 along K), dequantized in-tile as "
     "(fp32(q) - fp32(zp)) * scale, cast to the model dtype; activations stay in the model dtype (Triton "
     "fused_moe_kernel_gptq_awq with has_zp)",
     kInt8G128ZpComponents, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, true, kModelDtypeActivations,
     kInt8Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kInt4G32W4A16, "int4_g32_w4a16",
     "symmetric int4 (uint4b8) as int4_g128_w4a16 with one scale per 32 along K (group_size 32); dequantized in-tile "
     "as (fp32(q) - 8) * scale, cast to the model dtype (Triton fused_moe_kernel_gptq_awq)",
     kInt4G32Components, kWna16Group32, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kInt4G32W4A16Marlin, "int4_g32_w4a16_marlin",
     "the int4_g32_w4a16 checkpoint on Marlin: I tile-padded to lcm(64, 32) = 64, the codes tile-repacked and the "
     "scales permuted after loading (marlin_permute_scales with the GEMM's K); dequantized in-tile as (q - 8) * scale "
     "in the model dtype",
     kInt4G32Components, kWna16Group32, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16MarlinMethods, nullptr, nullptr, WeightScheme::kInt4G32W4A16, WeightRepack::kMarlin},
    {WeightScheme::kFp8PerTensorW8A8Static, "fp8_per_tensor_w8a8_static",
     "FP8 per-tensor weights as fp8_per_tensor_w8a16, plus the checkpoint's static input scales (one fp32 per expert "
     "and projection); each GEMM input quantized to e4m3fn with the max of the layer's experts' input scales "
     "(x * (1/s), saturated at 448); the fp8 dot summed over all of K, then * a_scale * b_scale, + bias, * router "
     "weight, one cast (Triton fused_moe_kernel, per-tensor W8A8)",
     kFp8TensorStaticComponents, 1, GateUpParts::kFused, ScaleLayout::kPlain, false, kFp8PerTensorStaticActivations,
     kFp8TensorW8A8StaticMethods, fp8_tensor_dequantize_rows, quantize_fp8_tensor_static_weight},
    {WeightScheme::kFp8PerTensorW8A8Dynamic, "fp8_per_tensor_w8a8_dynamic",
     "FP8 per-tensor weights as fp8_per_tensor_w8a16 (no input scales); each GEMM input quantized to e4m3fn with "
     "one dynamic scale, amax/448 over the whole GEMM input (every token row of the batch, pad rows included, for "
     "GEMM1; every pair's intermediate for GEMM2), then as fp8_per_tensor_w8a8_static (Triton fused_moe_kernel, "
     "per-tensor W8A8)",
     kFp8TensorComponents, 1, GateUpParts::kFused, ScaleLayout::kPlain, false, kFp8PerTensorDynamicActivations,
     kFp8TensorW8A8DynamicMethods, fp8_tensor_dequantize_rows, quantize_fp8_tensor_weight},
    {WeightScheme::kMxfp4W4A8Qdq, "mxfp4_w4a8_qdq",
     "Quark OCP MXFP4 weights (e2m1 two per byte, E8M0 per 32) with static FP8 input scales; the weights "
     "dequantized to the model dtype, GEMM1's input quant-dequantized to e4m3fn with the layer's max input scale "
     "(the product in fp16, as per_tensor_dequantize's 0-dim scale makes it), GEMM2's with a dynamic per-tensor "
     "scale (amax/448 of every pair's intermediate), then the 16-bit GEMMs (vLLM's emulation of w_mxfp4_a_fp8)",
     kMxfp4W4A8Components, kMxBlock, GateUpParts::kFused, ScaleLayout::kPlain, false, kFp8StaticThenDynamicQdq,
     kMxfp4W4A8Methods, mx_dequantize_rows, quantize_mxfp4_w4a8_weight},
    {WeightScheme::kNvfp4W4A4Qdq, "nvfp4_w4a4_qdq",
     "NVFP4 (ModelOpt) weights as nvfp4_w4a16, plus static input scales (one per expert and part); each GEMM "
     "input quant-dequantized to NVFP4 per 16 columns with the global scale 1 / max(input_scale) (vLLM's Triton "
     "_nvfp4_quant_dequant_kernel: div.full reciprocals), in the model dtype, then the W4A16 emulation kernel's "
     "weight path (vLLM's W4A4 emulation)",
     kNvfp4W4A4Components, kNvfp4Block, GateUpParts::kSeparate, ScaleLayout::kPlain, false, kNvfp4QdqActivations,
     kNvfp4W4A4Methods, nvfp4_dequantize_rows, quantize_nvfp4_w4a4_weight},
    {WeightScheme::kFp8PerChannelW8A8, "fp8_per_channel_w8a8",
     "FP8 per-channel (compressed-tensors, channel weights, dynamic per-token activations): e4m3fn codes one per "
     "byte, one fp32 weight_scale per output row; each GEMM input quantized to e4m3fn per row (amax/448, floored at "
     "1/(448*512), the row divided by it); the fp8 dot summed over all of K, then * a_scale[row] * b_scale[col], + "
     "bias, * router weight, one cast (Triton fused_moe_kernel, per-channel W8A8)",
     kFp8ChannelComponents, 1, GateUpParts::kFused, ScaleLayout::kPlain, false, kFp8PerTokenActivations,
     kFp8ChannelW8A8Methods, fp8_channel_dequantize_rows, quantize_fp8_channel_weight},
    {WeightScheme::kInt4G64W4A16, "int4_g64_w4a16",
     "symmetric int4 (uint4b8) as int4_g128_w4a16 with one scale per 64 along K (group_size 64); dequantized in-tile "
     "as (fp32(q) - 8) * scale, cast to the model dtype (Triton fused_moe_kernel_gptq_awq)",
     kInt4G64Components, kWna16Group64, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16Methods, wna16_dequantize_rows, quantize_wna16_weight},
    {WeightScheme::kInt4G64W4A16Marlin, "int4_g64_w4a16_marlin",
     "the int4_g64_w4a16 checkpoint on Marlin: I tile-padded to lcm(64, 64) = 64, the codes tile-repacked and the "
     "scales permuted after loading (marlin_permute_scales with the GEMM's K); dequantized in-tile as (q - 8) * scale "
     "in the model dtype",
     kInt4G64Components, kWna16Group64, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16MarlinMethods, nullptr, nullptr, WeightScheme::kInt4G64W4A16, WeightRepack::kMarlin},
    {WeightScheme::kInt4ChannelW4A16Marlin, "int4_channel_w4a16_marlin",
     "channelwise int4 (uint4b8, group_size -1: one scale per output channel) on Marlin: I tile-padded to 64, the "
     "codes tile-repacked and the one-row scales permuted (marlin_permute_scales' single-group layout); the kernel "
     "sums the bare (q - 8) over K in fp32 and applies the scale in the write-out, after the cast to the model dtype "
     "(__hmul2), then the bias and the router weight in that dtype",
     kInt4ChannelComponents, kSizeQuantumForMarlinReference, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt4Wna16MarlinMethods, wna16_dequantize_rows, quantize_wna16_weight, std::nullopt, WeightRepack::kMarlin},
    {WeightScheme::kInt8ChannelW8A16Marlin, "int8_channel_w8a16_marlin",
     "channelwise int8 (uint8b128, one scale per output channel) on Marlin, prepared as int4_channel_w4a16_marlin; "
     "the scale multiplies the fp32 sum before the cast (scale_float), then the bias and the router weight in the "
     "model dtype",
     kInt8ChannelComponents, kSizeQuantumForMarlinReference, GateUpParts::kFused, ScaleLayout::kPlain, false, kModelDtypeActivations,
     kInt8Wna16MarlinMethods, wna16_dequantize_rows, quantize_wna16_weight, std::nullopt, WeightRepack::kMarlin},
    {WeightScheme::kInt4G128ZpW4A16Marlin, "int4_g128_zp_w4a16_marlin",
     "the int4_g128_zp_w4a16 (AWQ) checkpoint on Marlin: I tile-padded to lcm(64, 128), the codes tile-repacked, "
     "the scales and the zero points permuted and packed after loading (marlin_permute_scales, marlin_zero_points); "
     "dequantized in-tile as (q - zp) * scale in the model dtype",
     kInt4G128ZpComponents, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, true, kModelDtypeActivations,
     kInt4Wna16MarlinMethods, nullptr, nullptr, WeightScheme::kInt4G128ZpW4A16, WeightRepack::kMarlin},
    {WeightScheme::kMxfp8W8A8, "mxfp8_w8a8",
     "OCP MXFP8 weights as mxfp8_w8a16; GEMM1's input quantized to e4m3fn per 32 columns with E8M0 scales "
     "(ceil(log2(amax/448))), GEMM2's by the quantizer fused with the SwiGLU (fp32, floor(log2(amax))); each K tile's "
     "e4m3 dot scaled by both E8M0 scales (tl.dot_scaled), GEMM1 cast to the model dtype, GEMM2 written fp32 times the "
     "router weight and summed over the k slots in fp32 (vLLM's native MXFP8 MoE on gfx950); sizes in multiples of "
     "128, no biases, SiLU only, gate and up concatenated",
     kMxfp8Components, kMxfp8NativeKMultiple, GateUpParts::kFused, ScaleLayout::kPlain, false,
     kMxfp8DynamicActivations, kMxfp8W8A8Methods, nullptr, nullptr, WeightScheme::kMxfp8W8A16, WeightRepack::kNone,
     kMxfp8NativeKernel},
    {WeightScheme::kInt4G128ActOrderW4A16Marlin, "int4_g128_act_order_w4a16_marlin",
     "GPTQ act-order (desc_act) int4 g128 on Marlin: codes and scales as int4_g128_w4a16, plus g_idx, the scale "
     "group of each column (group j: the j-th 128 columns by decreasing importance); never padded (Marlin keeps "
     "act-order layers' exact shapes); under TP each rank cuts w2's codes and g_idx along K but keeps all of w2's "
     "scales (load_full_w2, is_k_full false); dequantized in-tile as (q - 8) * scale[g_idx[k]] in the model dtype",
     kInt4G128ActOrderComponents, kWna16Group128, GateUpParts::kFused, ScaleLayout::kPlain, false,
     kModelDtypeActivations, kInt4Wna16MarlinMethods, wna16_dequantize_rows, quantize_wna16_weight, std::nullopt,
     WeightRepack::kMarlin},
}};

// clang-format off
constexpr UnboundReason kUnboundReasons[] = {
    {"fp8_per_tensor", "FlashInfer (CUTLASS, TRT-LLM), AITER and XPU run W8A8 kernels of their own, not modelled; "
                       "MARLIN's W8A16 and Triton's static and dynamic W8A8 are rows"},
    {"fp8_per_channel", "VLLM_CUTLASS (CutlassExpertsFp8, the oracle's first choice on Hopper and Blackwell) and AITER "
                        "run W8A8 kernels of their own, not modelled; Triton's per-channel W8A8 is a row"},
    {"fp8_per_block_online", "an online method: the layer quantizes bf16 checkpoint weights to 128x128 FP8 blocks at "
                             "load (Fp8PerBlockOnlineMoEMethod); that load-time quantizer is not a row yet"},
    {"mxfp4_online", "an online method: the layer quantizes bf16 checkpoint weights to MXFP4 at load "
                     "(Mxfp4OnlineMoEMethod); that load-time quantizer is not a row yet"},
    {"mxfp8", "FlashInfer TRT-LLM, DeepGEMM, XPU, AITER's FlyDSL kernel and HUMMING run W8A8 kernels of their own, "
              "not modelled; the W8A16 paths (MARLIN, EMULATION) and TRITON_MXFP8's native W8A8 are rows"},
    {"quark_w_mxfp4_a_fp8", "AITER's W4A8 kernel (AITER_MXFP4_FP8) runs its own numerics, and vLLM's XPU platform "
                            "does not allow quark; CPU (W4A16 numerics) and EMULATION's quant-dequantize are rows"},
    {"quark_w_mxfp4_a_mxfp4", "AITER's CK W4A4 kernel (AITER_MXFP4_MXFP4, CK), XPU and CPU run their own numerics "
                              "and NONE is the older rulesets' no-kernel choice; only EMULATION's quant-dequantize is "
                              "a row"},
    {"nvfp4", "these run W4A4 kernels of their own (native NVFP4 activations: FlashInfer, CUTLASS, HUMMING) "
              "(DEFAULT is the older rulesets' name); the W4A16 paths (MARLIN, B12X) and EMULATION's W4A4 "
              "quant-dequantize are rows"},
    {"int4_wna16", "kernels or roundings of their own, not modelled: the batched format, MXINT4, the CPU, XPU and "
                   "HUMMING kernels, EMULATION's dequantization to bf16 at load; DEFAULT (the older rulesets') stands "
                   "for Marlin or Triton by checkpoint config"},
    {"int8_wna16", "kernels or roundings of their own, not modelled: the batched format, the XPU and HUMMING kernels, "
                   "EMULATION's dequantization to bf16 at load; DEFAULT (the older rulesets') stands for Marlin or "
                   "Triton by checkpoint config"},
};
// clang-format on

}  // namespace

std::span<const UnboundReason> unbound_reasons() { return kUnboundReasons; }
const UnboundReason* unbound_reason(std::string_view method) {
  for (const UnboundReason& r : kUnboundReasons)
    if (r.method == method) return &r;
  return nullptr;
}

std::string_view name(Component component) {
  switch (component) {
    case Component::kValues: return "values";
    case Component::kCodes: return "codes";
    case Component::kScaleBytes: return "scale_bytes";
    case Component::kScales: return "scales";
    case Component::kZeroPoints: return "zero_points";
    case Component::kInputScales: return "input_scales";
    case Component::kGroupIndex: return "g_idx";
  }
  return "unknown";
}
bool holds_floats(Component component) {
  return component == Component::kValues || component == Component::kScales || component == Component::kInputScales ||
         component == Component::kGroupIndex;
}
bool is_scale(Component component) {
  return component == Component::kScaleBytes || component == Component::kScales || component == Component::kZeroPoints ||
         component == Component::kInputScales;
}

std::string_view name(GateUpParts parts) { return parts == GateUpParts::kFused ? "fused" : "separate"; }
std::string_view name(ScaleLayout layout) {
  switch (layout) {
    case ScaleLayout::kNone: return "none";
    case ScaleLayout::kPlain: return "plain";
    case ScaleLayout::kSwizzled128x4: return "swizzled_128x4";
  }
  return "unknown";
}
std::string_view name(ActivationQuant quant) {
  switch (quant) {
    case ActivationQuant::kNone: return "none";
    case ActivationQuant::kFp8TokenGroup: return "fp8_token_group";
    case ActivationQuant::kFp8TokenGroupUe8m0: return "fp8_token_group_ue8m0";
    case ActivationQuant::kFp8PerTensorStatic: return "fp8_per_tensor_static";
    case ActivationQuant::kFp8PerTensorDynamic: return "fp8_per_tensor_dynamic";
    case ActivationQuant::kFp8PerTensorStaticThenDynamic: return "fp8_per_tensor_static_then_dynamic";
    case ActivationQuant::kNvfp4Qdq: return "nvfp4_qdq";
    case ActivationQuant::kFp8PerTokenDynamic: return "fp8_per_token_dynamic";
    case ActivationQuant::kMxfp4QuarkEven: return "mxfp4_quark_even";
    case ActivationQuant::kMxfp8Dynamic: return "mxfp8_dynamic";
  }
  return "unknown";
}

namespace {
// The fp8 codes' values, unscaled, as the tensor cores read them.
RowMatrixXf decoded_codes(const Fp8Quantized& q) {
  RowMatrixXf out(q.codes.rows(), q.codes.cols());
  const float* decode = formats::decode_table(q.format);
  for (Eigen::Index i = 0; i < q.codes.size(); ++i) out.data()[i] = decode[q.codes.data()[i]];
  return out;
}
}  // namespace

float reduce_input_scales(std::span<const float> per_expert, std::string_view what) {
  if (per_expert.empty()) throw std::invalid_argument(std::string(what) + ": no experts' input scales to reduce");
  float m = per_expert.front();
  for (std::size_t e = 0; e < per_expert.size(); ++e) {
    const float s = per_expert[e];
    if (!std::isfinite(s) || !(s > 0.0f))
      throw std::invalid_argument(std::string(what) + ": input scale of expert " + std::to_string(e) +
                                  ": expected a finite positive fp32, found " + std::to_string(s));
    m = std::max(m, s);
  }
  return m;
}

float batch_scale(const ActivationSpec& spec, MatrixView x) {
  if (spec.source(1) != ScaleSource::kDynamic && spec.source(2) != ScaleSource::kDynamic)
    throw std::invalid_argument("batch_scale: activations of scheme '" + std::string(name(spec.quant)) +
                                "' have no batch scale");
  return dynamic_tensor_scale(x, formats::Format::kE4m3fn);
}

QuantizedActivations quantize_activations(const ActivationSpec& spec, MatrixView x, std::optional<float> static_scale,
                                          int gemm) {
  if (spec.quant == ActivationQuant::kFp8PerTensorDynamic) {
    const float scale = static_scale ? *static_scale : batch_scale(spec, x);
    const Fp8Quantized q = quantize(x, Fp8PerTensorStatic{scale, formats::Format::kE4m3fn});
    return {decoded_codes(q), RowMatrixXf::Constant(x.rows(), 1, scale), x.cols()};
  }
  if (spec.quant == ActivationQuant::kFp8PerTensorStaticThenDynamic) {
    if (!static_scale)
      throw std::invalid_argument(
          "quantize_activations: fp8_per_tensor_static_then_dynamic needs the GEMM's scale (static for GEMM1, the "
          "batch's for GEMM2)");
    const Fp8Quantized q = quantize(x, Fp8PerTensorStatic{*static_scale, formats::Format::kE4m3fn});
    return {decoded_codes(q), RowMatrixXf::Constant(x.rows(), 1, *static_scale), x.cols()};
  }
  if (spec.quant == ActivationQuant::kFp8PerTensorStatic) {
    if (!static_scale)
      throw std::invalid_argument("quantize_activations: fp8_per_tensor_static needs the layer's input scale");
    const Fp8Quantized q = quantize(x, Fp8PerTensorStatic{*static_scale, formats::Format::kE4m3fn});
    return {decoded_codes(q), RowMatrixXf::Constant(x.rows(), 1, *static_scale), x.cols()};
  }
  if (spec.quant == ActivationQuant::kFp8PerTokenDynamic) {
    // vLLM passes no scale_ub here (moe_kernel_quantize_input's _fp8_quantize).
    const Fp8Quantized q = quantize(x, Fp8PerToken{std::nullopt, formats::Format::kE4m3fn});
    return {decoded_codes(q), q.scales, x.cols()};
  }
  if (spec.quant == ActivationQuant::kNvfp4Qdq) {
    if (!static_scale)
      throw std::invalid_argument("quantize_activations: nvfp4 quant-dequant needs the layer's input scale");
    // a1_gscale = 1.0 / a13_scale.max(): an IEEE division in torch.
    const float gs = 1.0f / *static_scale;
    const Nvfp4Tensor q = quantize(x, Nvfp4Quantizer::kTritonQdq, Nvfp4GlobalScale{gs, *static_scale});
    QuantizedActivations out;
    out.group = kNvfp4Block;
    out.values.resize(x.rows(), x.cols());
    out.scales.resize(x.rows(), x.cols() / kNvfp4Block);
    const float* decode = formats::decode_table(formats::Format::kE2m1);
    for (Eigen::Index r = 0; r < x.rows(); ++r)
      for (Eigen::Index c = 0; c < x.cols(); ++c)
        out.values(r, c) = decode[(q.packed(r, c / 2) >> (4 * (c % 2))) & 0x0F];
    for (Eigen::Index r = 0; r < x.rows(); ++r)
      for (Eigen::Index b = 0; b < out.scales.cols(); ++b) out.scales(r, b) = nvfp4_qdq_block_scale(q.block_scales(r, b), gs);
    return out;
  }
  if (spec.quant == ActivationQuant::kMxfp4QuarkEven) {
    const Mxfp4Weight q = quantize(x, Mxfp4Rounding::kQuarkEven);
    QuantizedActivations out;
    out.group = kMxBlock;
    out.values.resize(x.rows(), x.cols());
    out.scales.resize(x.rows(), x.cols() / kMxBlock);
    const float* decode = formats::decode_table(formats::Format::kE2m1);
    for (Eigen::Index r = 0; r < x.rows(); ++r)
      for (Eigen::Index c = 0; c < x.cols(); ++c) out.values(r, c) = decode[code_at(q, r, c)];
    for (Eigen::Index i = 0; i < out.scales.size(); ++i) out.scales.data()[i] = formats::e8m0_value(q.scales[i]);
    return out;
  }
  if (spec.quant == ActivationQuant::kMxfp8Dynamic) {
    const Mxfp8Tensor q = quantize(x, gemm == 2 ? Mxfp8Quantizer::kSwigluOaiFused : Mxfp8Quantizer::kVllmCeil);
    QuantizedActivations out;
    out.group = kMxBlock;
    out.values.resize(x.rows(), x.cols());
    out.scales.resize(x.rows(), x.cols() / kMxBlock);
    const float* decode = formats::decode_table(formats::Format::kE4m3fn);
    for (Eigen::Index i = 0; i < q.codes.size(); ++i) out.values.data()[i] = decode[q.codes.data()[i]];
    for (Eigen::Index i = 0; i < q.scales.size(); ++i) out.scales.data()[i] = formats::e8m0_value(q.scales.data()[i]);
    return out;
  }
  if (spec.quant != ActivationQuant::kFp8TokenGroup && spec.quant != ActivationQuant::kFp8TokenGroupUe8m0)
    throw std::invalid_argument("quantize_activations: activations of scheme '" + std::string(name(spec.quant)) +
                                "' are not quantized");
  // UE8M0: the register kernel's exponent bump, the one vLLM dispatches for 16-bit inputs with group
  // 128 (DeepSeek's bf16 runs); for an fp32 model the shared-memory kernel's log2 rule can give the
  // next power of two down just above 2^k (kCudaUe8m0Log2; not modelled).
  const Fp8GroupQuantizer quantizer =
      spec.quant == ActivationQuant::kFp8TokenGroupUe8m0 ? Fp8GroupQuantizer::kCudaUe8m0Bump : Fp8GroupQuantizer::kCuda;
  const Fp8Quantized q = quantize(x, Fp8PerTokenGroup{quantizer, spec.group});
  return {decoded_codes(q), q.scales, spec.group};
}

RowMatrixXf fake_quantize(const ActivationSpec& spec, MatrixView x, std::optional<float> static_scale, int gemm) {
  if (!spec.quantized()) return x;
  const QuantizedActivations q = quantize_activations(spec, x, static_scale, gemm);
  RowMatrixXf out(x.rows(), x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c) out(r, c) = q.values(r, c) * q.scales(r, c / q.group);
  return out;
}

std::int64_t ComponentSpec::stored_rows(std::int64_t n) const {
  if (per_part || per_column) return 1;
  if (partial_blocks) return cdiv(n, row_block);
  if (n % row_block != 0)
    throw std::invalid_argument(std::string(name(component)) + ": " + std::to_string(n) + " rows are not whole " +
                                std::to_string(row_block) + "-row blocks");
  return n / row_block;
}

std::int64_t ComponentSpec::stored_cols(std::int64_t k) const {
  if (per_part) return 1;
  return partial_blocks ? cdiv(k, packing.elements) * packing.units : packing.storage(k);
}

const ComponentSpec* SchemeSpec::find(Component c) const {
  for (const ComponentSpec& x : components)
    if (x.component == c) return &x;
  return nullptr;
}

std::span<const SchemeSpec> weight_schemes() { return kSchemes; }

WeightScheme storage_scheme(WeightScheme scheme) { return spec(scheme).shares_storage_with.value_or(scheme); }

const SchemeSpec& spec(WeightScheme scheme) {
  for (const SchemeSpec& s : kSchemes)
    if (s.scheme == scheme) return s;
  throw std::logic_error("weight scheme " + std::to_string(static_cast<int>(scheme)) + " has no table row");
}

std::string_view name(WeightScheme scheme) { return spec(scheme).name; }

std::string kernel_problem(const SchemeSpec& scheme, const KernelInputs& inputs) {
  const KernelContract& k = scheme.kernel;
  const auto why = [&](const char* what) { return std::string(scheme.name) + ": " + std::string(k.kernel) + " " + what; };
  if (inputs.biases && !k.biases) return why("takes no expert biases (the layer's would be dropped)");
  if (inputs.interleaved_gate_up && !k.interleaved_gate_up)
    return why("reads gate and up as the two halves of w13, not interleaved rows");
  if (inputs.gelu && !k.gelu) return why("computes SwiGLU whatever the layer's activation (GELU would become SiLU)");
  if (inputs.weights_on_input && !k.weights_on_input)
    return why("multiplies the router weight in GEMM2 even when the layer applies it on the input (twice)");
  return {};
}

std::optional<WeightScheme> parse_weight_scheme(std::string_view text) {
  return find_by_name(kSchemes, text, &SchemeSpec::scheme);
}

std::string weight_scheme_names() { return joined_names(kSchemes); }

std::vector<float>& SchemeStorage::floats(Component c) {
  return c == Component::kValues        ? values
         : c == Component::kInputScales ? input_scales
         : c == Component::kGroupIndex  ? group_index
                                        : scales;
}
std::vector<std::uint8_t>& SchemeStorage::bytes(Component c) {
  return c == Component::kCodes ? codes : c == Component::kZeroPoints ? zero_points : scale_bytes;
}
const std::vector<float>& SchemeStorage::floats(Component c) const {
  return c == Component::kValues        ? values
         : c == Component::kInputScales ? input_scales
         : c == Component::kGroupIndex  ? group_index
                                        : scales;
}
const std::vector<std::uint8_t>& SchemeStorage::bytes(Component c) const {
  return c == Component::kCodes ? codes : c == Component::kZeroPoints ? zero_points : scale_bytes;
}

bool MethodBinding::binds(std::string_view backend) const {
  if (backends.empty()) return true;
  for (std::string_view b : backends)
    if (b == backend) return true;
  return false;
}

const SchemeSpec* scheme_for(std::string_view method, std::string_view backend) {
  for (const SchemeSpec& s : kSchemes)
    for (const MethodBinding& m : s.methods)
      if (m.method == method && m.binds(backend)) return &s;
  return nullptr;
}

std::vector<std::int64_t> stacked_shape(const ComponentSpec& c, std::int64_t experts, std::int64_t parts,
                                        std::int64_t part_rows, std::int64_t cols) {
  if (c.per_part && c.per_projection) return {experts, 1, 1};
  if (c.per_column) return {experts, 1, c.stored_cols(cols)};  // w13's gate and up share it
  return {experts, parts * c.stored_rows(part_rows), c.stored_cols(cols)};
}

bool swizzled_on_device(const SchemeSpec& scheme, const ComponentSpec& c) {
  return scheme.scale_layout == ScaleLayout::kSwizzled128x4 && c.component == Component::kScaleBytes;
}

std::vector<std::int64_t> device_shape(const SchemeSpec& scheme, const ComponentSpec& c, std::int64_t experts,
                                       std::int64_t parts, std::int64_t part_rows, std::int64_t cols) {
  if (!swizzled_on_device(scheme, c)) return stacked_shape(c, experts, parts, part_rows, cols);
  const SwizzledExtents x = swizzled_extents(parts * c.stored_rows(part_rows), c.stored_cols(cols));
  return {experts, x.rows, x.cols};
}

std::string size_problem(const SchemeSpec& s, std::int64_t hidden, std::int64_t intermediate) {
  if (hidden % s.size_multiple == 0 && intermediate % s.size_multiple == 0) return {};
  return std::string(s.name) + " needs H and I multiples of " + std::to_string(s.size_multiple) + "; found H " +
         std::to_string(hidden) + ", I " + std::to_string(intermediate);
}

}  // namespace moecheck::reference::quant
