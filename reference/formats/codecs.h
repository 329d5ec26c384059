// Bit-exact codecs for the element formats of format.h (spec/numerics.md §1–2).
//
// Every encoder is one instance of a single round-to-nearest-even routine on the fp32 bit pattern
// (detail::encode_minifloat), parameterised by the target's exponent/mantissa widths and by what
// the emulated path does on overflow, inf, NaN and -0. The e8m0 scale roundings are separate
// because they are not nearest-rounding. Decoding is by construction from the same parameters.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reference/formats/format.h"

namespace moecheck::reference::formats {

namespace detail {

// What one minifloat encoder does. Codes are magnitudes (sign bit excluded) unless noted.
struct MinifloatSpec {
  int exp_bits;
  int man_bits;
  int bias;
  std::uint32_t max_code;       // largest finite magnitude code
  std::uint32_t overflow_code;  // result magnitude for |x| that rounds above max_code, and for inf
  bool overflow_signed;         // whether the input sign is kept on overflow
  std::uint32_t nan_code;       // full code (with sign bit if any) returned for NaN input
  bool nan_signed;              // whether the input sign is ORed into nan_code
  bool unsigned_zero;           // fnuz formats: -0 encodes as +0 (0x80 is their NaN)
};

constexpr float pow2(int k) {  // exact 2^k for -149 <= k <= 127
  return k >= -126 ? std::bit_cast<float>(std::uint32_t(k + 127) << 23)
                   : std::bit_cast<float>(1u << (k + 149));
}

// c ? a : b as bit masks: GCC keeps ?: on integers as branches, which stops vectorisation.
constexpr std::uint32_t select(bool c, std::uint32_t a, std::uint32_t b) {
  const std::uint32_t m = 0u - std::uint32_t(c);
  return (a & m) | (b & ~m);
}

// Round |x| to nearest-even at the target precision. Two paths, both free of data-dependent
// branches (selects only) so that bulk loops vectorise and random inputs cost no mispredictions:
// - |x| in the target's normal range: integer RNE on the fp32 bits (re-bias the exponent, add
//   half an ulp minus one plus the kept lsb, shift); a carry bumps the exponent field;
// - below it: one IEEE fp32 addition of an anchor 2^(emin - man_bits + 23), whose ulp is the
//   target's subnormal quantum, so the FPU's own RNE (no FTZ/DAZ: we never build fast-math)
//   rounds |x| to a whole number of quanta.
// Every path is checked on all 2^32 inputs (tests/formats_exhaustive_test.cpp).
template <MinifloatSpec S>
constexpr std::uint32_t encode_minifloat(float x) {
  constexpr int kEmin = 1 - S.bias;        // exponent of the smallest normal
  constexpr int kDrop = 23 - S.man_bits;   // fp32 mantissa bits the target does not keep
  constexpr std::uint32_t kRebias = std::uint32_t(S.bias - 127) << 23;  // wraps for bias < 127
  constexpr std::uint32_t kMinNormalBits = std::uint32_t(kEmin + 127) << 23;
  constexpr float kAnchor = pow2(kEmin - S.man_bits + 23);
  constexpr std::uint32_t kSignBit = 1u << (S.exp_bits + S.man_bits);
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t sign = (u >> 31) * kSignBit;
  const std::uint32_t a = u & 0x7FFFFFFFu;

  std::uint32_t t = a + kRebias;
  t += (1u << (kDrop - 1)) - 1u + ((t >> kDrop) & 1u);
  const std::uint32_t normal = t >> kDrop;
  const std::uint32_t below = std::bit_cast<std::uint32_t>(std::bit_cast<float>(a) + kAnchor) -
                              std::bit_cast<std::uint32_t>(kAnchor);
  // Inputs far above the range (inf included) give magnitudes above max_code, never a wrap.
  const std::uint32_t magnitude = select(a < kMinNormalBits, below, normal);

  std::uint32_t code = magnitude | sign;
  if constexpr (S.unsigned_zero) code = select(magnitude == 0, 0u, code);
  code = select(magnitude > S.max_code, S.overflow_code | (S.overflow_signed ? sign : 0u), code);
  code = select(a > 0x7F800000u, S.nan_code | (S.nan_signed ? sign : 0u), code);
  return code;
}

}  // namespace detail

// ---- Encoders, one named function per emulated conversion -------------------------------------

// clang-format off
inline constexpr detail::MinifloatSpec kE4m3fnSatfinite{4, 3, 7,  0x7E, 0x7E, true,  0x7F, false, false};
inline constexpr detail::MinifloatSpec kE4m3fnNosat    {4, 3, 7,  0x7E, 0x7F, true,  0x7F, false, false};
inline constexpr detail::MinifloatSpec kE4m3fnTorch    {4, 3, 7,  0x7E, 0x7F, true,  0x7F, true,  false};
inline constexpr detail::MinifloatSpec kE4m3fnuzTorch  {4, 3, 8,  0x7F, 0x80, false, 0x80, false, true};
inline constexpr detail::MinifloatSpec kE5m2Satfinite  {5, 2, 15, 0x7B, 0x7B, true,  0x7F, false, false};
inline constexpr detail::MinifloatSpec kE5m2Nosat      {5, 2, 15, 0x7B, 0x7C, true,  0x7F, false, false};
inline constexpr detail::MinifloatSpec kE5m2Torch      {5, 2, 15, 0x7B, 0x7C, true,  0x7F, true,  false};
inline constexpr detail::MinifloatSpec kE5m2fnuzTorch  {5, 2, 16, 0x7F, 0x80, false, 0x80, false, true};
inline constexpr detail::MinifloatSpec kE2m1Satfinite  {2, 1, 1,  0x7,  0x7,  true,  0x7,  false, false};
inline constexpr detail::MinifloatSpec kE3m2Satfinite  {3, 2, 3,  0x1F, 0x1F, true,  0x1F, false, false};
inline constexpr detail::MinifloatSpec kE2m3Satfinite  {2, 3, 1,  0x1F, 0x1F, true,  0x1F, false, false};
// The Quark rows decide finite inputs only; encode_quark_fp6 replaces what they give for inf/NaN.
inline constexpr detail::MinifloatSpec kE3m2Quark      {3, 2, 3,  0x1F, 0x1F, true,  0x1F, false, true};
inline constexpr detail::MinifloatSpec kE2m3Quark      {2, 3, 1,  0x1F, 0x1F, true,  0x1F, false, true};
inline constexpr detail::MinifloatSpec kBf16Rne        {8, 7, 127, 0x7F7F, 0x7F80, true, 0x7FFF, false, false};
inline constexpr detail::MinifloatSpec kFp16Rne        {5, 10, 15, 0x7BFF, 0x7C00, true, 0x7FFF, false, false};
// clang-format on

// e4m3fn: CUDA `__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)`, Triton `.to(float8e4nv)`.
constexpr std::uint8_t e4m3fn_satfinite(float x) { return std::uint8_t(detail::encode_minifloat<kE4m3fnSatfinite>(x)); }
// e4m3fn: CUDA `__NV_NOSAT`: |x| > 464 and inf give NaN 0x7F|sign.
constexpr std::uint8_t e4m3fn_nosat(float x) { return std::uint8_t(detail::encode_minifloat<kE4m3fnNosat>(x)); }
// e4m3fn: torch `.to(float8_e4m3fn)`: like nosat, but NaN keeps its sign (c10 ORs the sign in).
constexpr std::uint8_t e4m3fn_torch(float x) { return std::uint8_t(detail::encode_minifloat<kE4m3fnTorch>(x)); }
// e4m3fnuz: torch `.to(float8_e4m3fnuz)`: >= 248, inf and NaN give 0x80; -0 gives 0x00.
constexpr std::uint8_t e4m3fnuz_torch(float x) { return std::uint8_t(detail::encode_minifloat<kE4m3fnuzTorch>(x)); }
// e5m2: CUDA/Triton satfinite: overflow and inf give 0x7B|sign; NaN 0x7F.
constexpr std::uint8_t e5m2_satfinite(float x) { return std::uint8_t(detail::encode_minifloat<kE5m2Satfinite>(x)); }
// e5m2: CUDA NOSAT: >= 61440 and inf give inf 0x7C|sign; NaN 0x7F.
constexpr std::uint8_t e5m2_nosat(float x) { return std::uint8_t(detail::encode_minifloat<kE5m2Nosat>(x)); }
// e5m2: torch `.to(float8_e5m2)`: like nosat, NaN keeps its sign.
constexpr std::uint8_t e5m2_torch(float x) { return std::uint8_t(detail::encode_minifloat<kE5m2Torch>(x)); }
// e5m2fnuz: torch `.to(float8_e5m2fnuz)`: >= 61440, inf and NaN give 0x80; -0 gives 0x00.
constexpr std::uint8_t e5m2fnuz_torch(float x) { return std::uint8_t(detail::encode_minifloat<kE5m2fnuzTorch>(x)); }
// e2m1: RNE saturating at ±6, sign of zero kept (`cvt.rn.satfinite.e2m1x2.f32`, CUDA
// `__nv_cvt_float_to_fp4`). NaN gives +6 (CUDA's documented rule; triton_kernels' software path
// keeps the NaN's sign instead, which matters only for NaN input). One code per byte, low nibble.
constexpr std::uint8_t e2m1_satfinite(float x) { return std::uint8_t(detail::encode_minifloat<kE2m1Satfinite>(x)); }
// e3m2 / e2m3 (OCP MX v1.0 §5.3.2): CUDA 13.0 `__nv_cvt_float_to_fp6(x, __NV_E3M2 / __NV_E2M3,
// cudaRoundNearest)` (/usr/local/cuda-13.0/include/cuda_fp6.hpp). sm_90 and the host run its
// software path, `__nv_cvt_double_to_fp6` on (double)x; family-specific sm_100/110/120 targets use
// `cvt.rn.satfinite.e3m2x2.f32` / `.e2m3x2` instead (cuda_fp8.h), not checked here (unverified
// that it agrees). The software path: |x| <= half the smallest subnormal gives ±0, keeping the
// sign of zero; |x| > max (28 / 7.5), inf included, gives ±max (0x1F|sign), never a wrap; NaN
// gives +max 0x1F whatever its sign (the header's documented rule for every fp6 conversion);
// otherwise RNE with subnormals. One code per byte, low 6 bits; bit 5 is the sign.
constexpr std::uint8_t e3m2_satfinite(float x) { return std::uint8_t(detail::encode_minifloat<kE3m2Satfinite>(x)); }
constexpr std::uint8_t e2m3_satfinite(float x) { return std::uint8_t(detail::encode_minifloat<kE2m3Satfinite>(x)); }

// fp6 as vLLM's MXFP6 path rounds it. vLLM's `quant_dequant_mxfp6` (MXFP6 activations, and the
// MoE emulation; vllm-project/vllm vllm/model_executor/layers/quantization/utils/mxfp6_utils.py
// @ 7ca49fbe) calls amd-quark's `fake_quantize_fp4_fp6_per_group_with_scale`, which divides by the
// block scale and calls
// `fake_quantize_to_low_precision_fp(x, ebits, mbits, quant_max = 28 / 7.5, round_mode = 0)`
// (amd/Quark quark/torch/kernel/hw_emulation/hw_emulation_interface.py @ 1d27b558), whose element
// function `fake_quantize_element` (read in amd/Quark quark/onnx/operators/custom_ops/include/mx/
// funcs.cuh @ 1d27b558; the torch extension includes csrc/mx/funcs.cuh, which was not in the store:
// that it is the same function is unverified) does, on the fp32 bits:
// - exponent field 255 (inf, NaN): returns x unchanged, so it does not saturate inf;
// - otherwise RNE at the fp6 precision, with subnormals (`shift_and_round` ignores round_mode and
//   breaks ties to the even kept bit), then clamps the magnitude to quant_max: the same values as
//   the CUDA rule for every finite x;
// - a result of magnitude 0 is returned as +0.0, so -0 and negative inputs that round to zero lose
//   their sign (CUDA keeps it).
// Quark writes codes with `Pack_fp6.pack` (amd/Quark quark/torch/utils/pack.py @ 1d27b558), which
// divides the fp6-valued floats by 2^(127 - bias) and takes fp32 bits [23-M, 28-M) as the
// magnitude and bit 31 as the sign. Exact for every fp6 value; for the inf and NaN that
// fake_quantize_element lets through it gives: ±inf -> 0x1C|sign (e3m2, 16) / 0x18|sign (e2m3, 4),
// and a NaN the bits of the NaN that the division returns. IEEE 754 (and x86 SSE, so torch on the
// CPU) returns the input NaN quietened, payload and sign kept, which is what this encoder does;
// a GPU that returns its canonical NaN (NVIDIA: 0x7FFFFFFF, giving 0x1F) would differ (unverified).
// vLLM's runtime QDQ never forms codes: it keeps inf and NaN as floats, so decode(encode(x))
// reproduces `quant_dequant_mxfp6` for finite x only.
namespace detail {
template <MinifloatSpec S>
constexpr std::uint32_t encode_quark_fp6(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t quietened = u | select((u & 0x7FFFFFFFu) > 0x7F800000u, 0x00400000u, 0u);
  const std::uint32_t from_bits = ((quietened >> (23 - S.man_bits)) & 0x1Fu) | ((quietened >> 26) & 0x20u);
  return select((u & 0x7F800000u) == 0x7F800000u, from_bits, encode_minifloat<S>(x));
}
}  // namespace detail
constexpr std::uint8_t e3m2_quark(float x) { return std::uint8_t(detail::encode_quark_fp6<kE3m2Quark>(x)); }
constexpr std::uint8_t e2m3_quark(float x) { return std::uint8_t(detail::encode_quark_fp6<kE2m3Quark>(x)); }

// bf16 / fp16: IEEE RNE (`__float2bfloat16_rn`, `__float2half_rn`, `cvt.rn`); NaN gives 0x7FFF.
constexpr std::uint16_t bf16_rne(float x) { return std::uint16_t(detail::encode_minifloat<kBf16Rne>(x)); }
constexpr std::uint16_t fp16_rne(float x) { return std::uint16_t(detail::encode_minifloat<kFp16Rne>(x)); }

// e8m0 scale roundings; all of them use |x| (spec §2.7, §2.4, §3.8).
// `cudaRoundPosInf`: exponent + (mantissa != 0); fp32 subnormals above 2^-127 give 1.
namespace detail {
constexpr std::uint8_t e8m0_ceil(float x, bool satfinite) {
  const std::uint32_t a = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0xFF;
  if (a == 0x7F800000u) return satfinite ? 0xFE : 0xFF;
  const std::uint32_t exp_field = a >> 23, mantissa = a & 0x7FFFFFu;
  if (exp_field == 0) return mantissa > 0x400000u ? 1 : 0;  // 0x400000 is 2^-127 itself
  const std::uint32_t b = exp_field + (mantissa != 0 ? 1u : 0u);
  if (b > 0xFE) return satfinite ? 0xFE : 0xFF;
  return std::uint8_t(b);
}
}  // namespace detail
constexpr std::uint8_t e8m0_ceil(float x) { return detail::e8m0_ceil(x, true); }
constexpr std::uint8_t e8m0_ceil_nosat(float x) { return detail::e8m0_ceil(x, false); }
// `cudaRoundZero` (SATFINITE): the exponent field; subnormals give 0, inf 0xFE.
constexpr std::uint8_t e8m0_floor(float x) {
  const std::uint32_t a = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0xFF;
  if (a == 0x7F800000u) return 0xFE;
  return std::uint8_t(a >> 23);
}
// Quark/AITER "even": bits(|x|) + 0x200000, keep sign and exponent, floor(log2), clamp to
// [-127, 127]. As in that integer arithmetic, inf and most NaNs become inf (0xFE), while a NaN
// whose bits are >= 0x7FE00000 carries into the sign bit and becomes -0 (0x00). The scheme's
// "- emax" shift is applied by the caller before encoding.
constexpr std::uint8_t e8m0_even(float x) {
  const std::uint32_t a = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu;
  const std::uint32_t b = ((a + 0x200000u) & 0x7F800000u) >> 23;
  return std::uint8_t(b > 0xFE ? 0xFE : b);
}
// torch `.to(float8_e8m0fnu)`: round on the guard bit, ties up for normals (the implied bit is
// the lsb) and down for subnormals; inf and NaN give 0xFF.
constexpr std::uint8_t e8m0_torch(float x) {
  const std::uint32_t a = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu;
  std::uint32_t exp_field = a >> 23;
  if (exp_field == 0xFF) return 0xFF;
  const bool guard = a & 0x400000u, rest = a & 0x3FFFFFu, lsb = exp_field > 0;
  if (guard && (rest || lsb)) ++exp_field;
  return std::uint8_t(exp_field);
}

// ---- Decoders -----------------------------------------------------------------------------

// The value of every code of a byte format (fp8, e2m1, e3m2, e2m3, e8m0, ue4m3), for table
// lookups in hot loops: 16 entries for e2m1, 64 for fp6, 256 otherwise; bf16 and fp16 have no
// table (bf16_value is a shift; fp16 via decode()).
const float* decode_table(Format format);

constexpr float e8m0_value(std::uint8_t b) {
  if (b == 0xFF) return std::bit_cast<float>(0x7FC00000u);
  return b == 0 ? detail::pow2(-127) : std::bit_cast<float>(std::uint32_t(b) << 23);
}
constexpr float bf16_value(std::uint16_t c) { return std::bit_cast<float>(std::uint32_t(c) << 16); }

// Decode one code; the code must fit the format (4, 6, 8 or 16 bits), else std::out_of_range.
// NaN codes decode to the quiet NaN 0x7FC00000 (with the code's sign where the format has one).
float decode(Format format, std::uint32_t code);
// x rounded to fp16 (RNE) and back: what a torch fp16 tensor op leaves of an fp32 value.
inline float fp16_round(float x) { return decode(Format::kFp16, fp16_rne(x)); }

// Bulk decode. Byte formats (fp8, e2m1 and fp6 one code per byte, e8m0, ue4m3) take uint8 codes;
// bf16 and fp16 take uint16. A mismatch of format and code width, or of lengths, throws; so does
// an e2m1 or fp6 byte with bits set above the code (std::out_of_range).
void decode(Format format, std::span<const std::uint8_t> codes, std::span<float> out);
void decode(Format format, std::span<const std::uint16_t> codes, std::span<float> out);

// Encode one value with a (format, rounding) pair from encoders(); else std::invalid_argument.
std::uint32_t encode(Format format, Rounding rounding, float x);
void encode(Format format, Rounding rounding, std::span<const float> in, std::span<std::uint8_t> out);
void encode(Format format, Rounding rounding, std::span<const float> in, std::span<std::uint16_t> out);

// e2m1 packing: element 2i in the low nibble, 2i+1 in the high nibble (spec §1). An odd count
// leaves the last high nibble 0.
std::vector<std::uint8_t> pack_e2m1(std::span<const std::uint8_t> codes);
std::vector<std::uint8_t> unpack_e2m1(std::span<const std::uint8_t> packed, std::size_t count);

// fp6 packing (e3m2 and e2m3 alike): four codes in three bytes, as Quark's `Pack_fp6` writes MXFP6
// weights and vLLM's `dequant_mxfp6` reads them (`create_pack_method(None, "fp6_*").unpack`; amd/Quark
// quark/torch/utils/pack.py @ 1d27b558; vLLM sizes the packed dimension as dim * 3 / 4,
// quark_moe.py get_packed_dim @ 7ca49fbe). Codes c0..c3 form the 24-bit little-endian word
// c0 | c1 << 6 | c2 << 12 | c3 << 18: byte 0 = c0 | (c1 & 3) << 6, byte 1 = c1 >> 2 | (c2 & 15) << 4,
// byte 2 = c2 >> 4 | c3 << 2. (Quark notes the AMD `mfma_scale_f32_16x16x128_f8f6f4` instruction
// expects this layout.) The count must be a multiple of 4 (no partial words: padding.md §1.5) and
// every code must fit 6 bits; else std::invalid_argument / std::out_of_range.
std::vector<std::uint8_t> pack_fp6(std::span<const std::uint8_t> codes);
std::vector<std::uint8_t> unpack_fp6(std::span<const std::uint8_t> packed, std::size_t count);

// ROCm `normalize_e4m3fn_to_e4m3fnuz` (spec §3.12): the bytes are reinterpreted, 0x80 (-0 in fn,
// NaN in fnuz) becomes 0x00, and every scale is doubled, because a fnuz code is worth half the
// fn code. NaN codes 0x7F/0xFF are carried over as the bytes they are (fnuz ±240), as vLLM does.
constexpr std::uint8_t e4m3fn_to_fnuz_code(std::uint8_t c) { return c == 0x80 ? 0x00 : c; }
inline constexpr float kFnToFnuzScaleFactor = 2.0f;

}  // namespace moecheck::reference::formats
