#include "reference/formats/format.h"

#include <algorithm>
#include <array>

namespace moecheck::reference::formats {
namespace {

constexpr std::array<std::pair<Format, std::string_view>, 11> kFormatNames{{
    {Format::kE4m3fn, "e4m3fn"},
    {Format::kE4m3fnuz, "e4m3fnuz"},
    {Format::kE5m2, "e5m2"},
    {Format::kE5m2fnuz, "e5m2fnuz"},
    {Format::kE2m1, "e2m1"},
    {Format::kE3m2, "e3m2"},
    {Format::kE2m3, "e2m3"},
    {Format::kE8m0, "e8m0"},
    {Format::kUe4m3, "ue4m3"},
    {Format::kBf16, "bf16"},
    {Format::kFp16, "fp16"},
}};

constexpr std::array<std::pair<Rounding, std::string_view>, 9> kRoundingNames{{
    {Rounding::kSatfinite, "satfinite"},
    {Rounding::kNosat, "nosat"},
    {Rounding::kTorch, "torch"},
    {Rounding::kRne, "rne"},
    {Rounding::kCeil, "ceil"},
    {Rounding::kCeilNosat, "ceil_nosat"},
    {Rounding::kFloor, "floor"},
    {Rounding::kEven, "even"},
    {Rounding::kQuark, "quark"},
}};

constexpr EncoderInfo kEncoders[] = {
    {Format::kE4m3fn, Rounding::kSatfinite, "CUDA __nv_cvt_float_to_fp8(__NV_SATFINITE, __NV_E4M3); Triton .to(float8e4nv)"},
    {Format::kE4m3fn, Rounding::kNosat, "CUDA __nv_cvt_float_to_fp8(__NV_NOSAT, __NV_E4M3)"},
    {Format::kE4m3fn, Rounding::kTorch, "torch .to(float8_e4m3fn) (c10 fp8e4m3fn_from_fp32_value)"},
    {Format::kE4m3fnuz, Rounding::kTorch, "torch .to(float8_e4m3fnuz)"},
    {Format::kE5m2, Rounding::kSatfinite, "CUDA __nv_cvt_float_to_fp8(__NV_SATFINITE, __NV_E5M2); Triton .to(float8e5)"},
    {Format::kE5m2, Rounding::kNosat, "CUDA __nv_cvt_float_to_fp8(__NV_NOSAT, __NV_E5M2)"},
    {Format::kE5m2, Rounding::kTorch, "torch .to(float8_e5m2)"},
    {Format::kE5m2fnuz, Rounding::kTorch, "torch .to(float8_e5m2fnuz)"},
    {Format::kE2m1, Rounding::kSatfinite, "cvt.rn.satfinite.e2m1x2.f32; CUDA __nv_cvt_float_to_fp4(__NV_E2M1, cudaRoundNearest)"},
    {Format::kE3m2, Rounding::kSatfinite, "CUDA __nv_cvt_float_to_fp6(__NV_E3M2, cudaRoundNearest); cvt.rn.satfinite.e3m2x2.f32"},
    {Format::kE3m2, Rounding::kQuark, "Quark fake_quantize_to_low_precision_fp(ebits=3, mbits=2, 28) as in vLLM quant_dequant_mxfp6, codes as Quark Pack_fp6.pack"},
    {Format::kE2m3, Rounding::kSatfinite, "CUDA __nv_cvt_float_to_fp6(__NV_E2M3, cudaRoundNearest); cvt.rn.satfinite.e2m3x2.f32"},
    {Format::kE2m3, Rounding::kQuark, "Quark fake_quantize_to_low_precision_fp(ebits=2, mbits=3, 7.5) as in vLLM quant_dequant_mxfp6, codes as Quark Pack_fp6.pack"},
    {Format::kE8m0, Rounding::kCeil, "CUDA __nv_cvt_float_to_e8m0(cudaRoundPosInf, __NV_SATFINITE)"},
    {Format::kE8m0, Rounding::kCeilNosat, "CUDA __nv_cvt_float_to_e8m0(cudaRoundPosInf, __NV_NOSAT)"},
    {Format::kE8m0, Rounding::kFloor, "CUDA __nv_cvt_float_to_e8m0(cudaRoundZero, __NV_SATFINITE); OCP floor"},
    {Format::kE8m0, Rounding::kEven, "Quark/AITER 'even' scale: (bits(amax) + 0x200000) & 0xFF800000, floor(log2)"},
    {Format::kE8m0, Rounding::kTorch, "torch .to(float8_e8m0fnu) (half-up on normals)"},
    {Format::kBf16, Rounding::kRne, "CUDA __float2bfloat16_rn; cvt.rn.bf16.f32"},
    {Format::kFp16, Rounding::kRne, "CUDA __float2half_rn; cvt.rn.f16.f32"},
};

template <class Table>
std::string join_names(const Table& table) {
  std::string out;
  for (const auto& [value, text] : table) {
    if (!out.empty()) out += ", ";
    out += text;
  }
  return out;
}

}  // namespace

std::string_view name(Format format) {
  for (const auto& [f, text] : kFormatNames)
    if (f == format) return text;
  return "?";
}

std::string_view name(Rounding rounding) {
  for (const auto& [r, text] : kRoundingNames)
    if (r == rounding) return text;
  return "?";
}

std::optional<Format> parse_format(std::string_view text) {
  for (const auto& [f, t] : kFormatNames)
    if (t == text) return f;
  return std::nullopt;
}

std::optional<Rounding> parse_rounding(std::string_view text) {
  for (const auto& [r, t] : kRoundingNames)
    if (t == text) return r;
  return std::nullopt;
}

std::string format_names() { return join_names(kFormatNames); }
std::string rounding_names() { return join_names(kRoundingNames); }

std::string rounding_names(Format format) {
  std::string out;
  for (const auto& e : kEncoders) {
    if (e.format != format) continue;
    if (!out.empty()) out += ", ";
    out += name(e.rounding);
  }
  return out;
}

int code_bits(Format format) {
  switch (format) {
    case Format::kE2m1: return 4;
    case Format::kE3m2:
    case Format::kE2m3: return 6;
    case Format::kBf16:
    case Format::kFp16: return 16;
    default: return 8;
  }
}

std::span<const EncoderInfo> encoders() { return kEncoders; }

bool has_encoder(Format format, Rounding rounding) {
  return std::any_of(std::begin(kEncoders), std::end(kEncoders),
                     [&](const EncoderInfo& e) { return e.format == format && e.rounding == rounding; });
}

}  // namespace moecheck::reference::formats
