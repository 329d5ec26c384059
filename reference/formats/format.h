// Names of the element formats and of the encoders (rounding/saturation variants) moecheck emulates.
// The numbers behind each name live in codecs.h; this header is the vocabulary the CLI, the HDF5
// layer and the tests share. Source of every rule: ../shared/spec/numerics.md §1–2.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace moecheck::reference::formats {

enum class Format : std::uint8_t {
  kE4m3fn,    // OCP fp8, bias 7, max 448, NaN 0x7F/0xFF, no inf
  kE4m3fnuz,  // MI300 fp8, bias 8, max 240, NaN 0x80 only
  kE5m2,      // OCP fp8, bias 15, max 57344, IEEE-style inf/NaN
  kE5m2fnuz,  // bias 16, max 57344, NaN 0x80 only
  kE2m1,      // fp4, one code per byte here (low nibble); see pack_e2m1 for two per byte
  kE3m2,      // OCP MX fp6, bias 3, max 28, no inf/NaN; one code per byte here (low 6 bits)
  kE2m3,      // OCP MX fp6, bias 1, max 7.5, no inf/NaN; one code per byte; pack_fp6: 4 in 3 bytes
  kE8m0,      // MX scale byte: 2^(b-127), 0x00 = 2^-127, 0xFF = NaN
  kUe4m3,     // NVFP4 block scale: e4m3fn without sign, codes 0x00..0x7E
  kBf16,
  kFp16,
};

inline constexpr Format kAllFormats[] = {Format::kE4m3fn, Format::kE4m3fnuz, Format::kE5m2,
                                         Format::kE5m2fnuz, Format::kE2m1,    Format::kE3m2,
                                         Format::kE2m3,    Format::kE8m0,     Format::kUe4m3,
                                         Format::kBf16,    Format::kFp16};

// Rounding/saturation variants, each named after the code path it emulates.
enum class Rounding : std::uint8_t {
  kSatfinite,  // CUDA/Triton `cvt.rn.satfinite.*`: RNE, overflow and inf saturate to max finite
  kNosat,      // CUDA `__NV_NOSAT`: RNE, overflow and inf give NaN (e4m3) or inf (e5m2)
  kTorch,      // torch `.to(dtype)` (c10 software casts): RNE, not saturating
  kRne,        // plain IEEE round-to-nearest-even (bf16, fp16: `cvt.rn`, `__float2bfloat16_rn`)
  kCeil,       // e8m0 `cudaRoundPosInf` with SATFINITE
  kCeilNosat,  // e8m0 `cudaRoundPosInf` with NOSAT
  kFloor,      // e8m0 `cudaRoundZero` (the OCP rule)
  kEven,       // e8m0 of Quark/AITER "even": round |x| at one mantissa bit, then floor
  kQuark,      // fp6 of Quark's fake_quantize_element (vLLM's MXFP6 path): RNE, saturating, zero
               // always +0, inf/NaN kept as floats and read as codes by Quark's Pack_fp6
};

inline constexpr Rounding kAllRoundings[] = {Rounding::kSatfinite, Rounding::kNosat,
                                             Rounding::kTorch,     Rounding::kRne,
                                             Rounding::kCeil,      Rounding::kCeilNosat,
                                             Rounding::kFloor,     Rounding::kEven,
                                             Rounding::kQuark};

struct EncoderInfo {
  Format format;
  Rounding rounding;
  std::string_view emulates;  // the upstream conversion this variant reproduces
};

std::string_view name(Format format);
std::string_view name(Rounding rounding);
std::optional<Format> parse_format(std::string_view text);
std::optional<Rounding> parse_rounding(std::string_view text);

// Comma-separated valid names, for error messages that list the choices.
std::string format_names();
std::string rounding_names();
std::string rounding_names(Format format);  // the variants that exist for this format

// Bits of one code: 4 (e2m1), 6 (e3m2, e2m3), 8 (fp8, e8m0, ue4m3) or 16 (bf16, fp16).
int code_bits(Format format);

// Every (format, rounding) pair that has an encoder, in a stable order.
std::span<const EncoderInfo> encoders();
bool has_encoder(Format format, Rounding rounding);

}  // namespace moecheck::reference::formats
