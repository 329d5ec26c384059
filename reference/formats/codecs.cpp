#include "reference/formats/codecs.h"

#include <array>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace moecheck::reference::formats {
namespace {

constexpr float kQuietNan = std::bit_cast<float>(0x7FC00000u);

// The value of a sign/exponent/mantissa code, ignoring special codes (handled by the caller).
constexpr float minifloat_value(std::uint32_t code, int exp_bits, int man_bits, int bias) {
  const std::uint32_t magnitude_mask = (1u << (exp_bits + man_bits)) - 1u;
  const bool negative = (code >> (exp_bits + man_bits)) & 1u;
  const std::uint32_t magnitude = code & magnitude_mask;
  const int exp_field = int(magnitude >> man_bits);
  const std::uint32_t mantissa = magnitude & ((1u << man_bits) - 1u);
  // Both products are exact: a small integer times a power of two inside the fp32 normal range.
  const float value = exp_field == 0
                          ? float(mantissa) * detail::pow2(1 - bias - man_bits)
                          : float((1u << man_bits) + mantissa) * detail::pow2(exp_field - bias - man_bits);
  return negative ? -value : value;
}

constexpr float signed_nan(bool negative) { return negative ? -kQuietNan : kQuietNan; }

constexpr float e4m3fn_decode(std::uint32_t c) {
  if ((c & 0x7F) == 0x7F) return signed_nan(c & 0x80);  // 0x7F, 0xFF
  return minifloat_value(c, 4, 3, 7);
}
constexpr float e4m3fnuz_decode(std::uint32_t c) {
  if (c == 0x80) return kQuietNan;  // the only NaN; there is no -0
  return minifloat_value(c, 4, 3, 8);
}
constexpr float e5m2_decode(std::uint32_t c) {
  if ((c & 0x7C) == 0x7C) {  // exponent all ones: inf (mantissa 0) or NaN
    if ((c & 0x03) == 0) return (c & 0x80) ? -std::numeric_limits<float>::infinity()
                                            : std::numeric_limits<float>::infinity();
    return signed_nan(c & 0x80);
  }
  return minifloat_value(c, 5, 2, 15);
}
constexpr float e5m2fnuz_decode(std::uint32_t c) {
  if (c == 0x80) return kQuietNan;
  return minifloat_value(c, 5, 2, 16);
}
constexpr float e2m1_decode(std::uint32_t c) { return minifloat_value(c, 2, 1, 1); }
// OCP MX fp6 has no inf or NaN codes: all 64 codes are finite, 0x20 is -0.
constexpr float e3m2_decode(std::uint32_t c) { return minifloat_value(c, 3, 2, 3); }
constexpr float e2m3_decode(std::uint32_t c) { return minifloat_value(c, 2, 3, 1); }
constexpr float fp16_decode(std::uint32_t c) {
  if ((c & 0x7C00) == 0x7C00) {
    if ((c & 0x03FF) == 0) return (c & 0x8000) ? -std::numeric_limits<float>::infinity()
                                                : std::numeric_limits<float>::infinity();
    return signed_nan(c & 0x8000);
  }
  return minifloat_value(c, 5, 10, 15);
}

template <float (*Decode)(std::uint32_t), std::size_t N>
constexpr std::array<float, N> make_table() {
  std::array<float, N> t{};
  for (std::uint32_t c = 0; c < N; ++c) t[c] = Decode(c);
  return t;
}
constexpr float e8m0_decode(std::uint32_t c) { return e8m0_value(std::uint8_t(c)); }

constexpr auto kE4m3fnTable = make_table<e4m3fn_decode, 256>();
constexpr auto kE4m3fnuzTable = make_table<e4m3fnuz_decode, 256>();
constexpr auto kE5m2Table = make_table<e5m2_decode, 256>();
constexpr auto kE5m2fnuzTable = make_table<e5m2fnuz_decode, 256>();
constexpr auto kE8m0Table = make_table<e8m0_decode, 256>();
// e2m1 codes live in the low nibble of a byte; a stray high nibble is an error, never a value.
constexpr auto kE2m1Table = make_table<e2m1_decode, 16>();
// fp6 codes live in the low 6 bits of a byte; bits 6-7 set are an error, as for e2m1.
constexpr auto kE3m2Table = make_table<e3m2_decode, 64>();
constexpr auto kE2m3Table = make_table<e2m3_decode, 64>();

// All 65536 fp16 values, built on first use (256 KiB; too large to build at compile time).
const float* fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (std::uint32_t c = 0; c < 65536; ++c) t[c] = fp16_decode(c);
    return t;
  }();
  return table.data();
}

[[noreturn]] void throw_width(Format format, std::uint32_t code) {
  throw std::out_of_range("code 0x" + [&] {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%X", code);
    return std::string(buf);
  }() + " does not fit format " + std::string(name(format)) + " (" + std::to_string(code_bits(format)) +
                          " bits)");
}

[[noreturn]] void throw_no_encoder(Format format, Rounding rounding) {
  throw std::invalid_argument("no encoder for format " + std::string(name(format)) + " with rounding " +
                              std::string(name(rounding)) + "; valid roundings for " +
                              std::string(name(format)) + ": " +
                              (rounding_names(format).empty() ? std::string("(none: decode only)")
                                                              : rounding_names(format)));
}

void check_lengths(std::size_t in, std::size_t out) {
  if (in != out)
    throw std::invalid_argument("length mismatch: " + std::to_string(in) + " inputs, " +
                                std::to_string(out) + " outputs");
}

template <class Code, auto Fn>
void encode_loop(std::span<const float> in, std::span<Code> out) {
  const float* __restrict src = in.data();
  Code* __restrict dst = out.data();
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) dst[i] = Code(Fn(src[i]));
}

using ByteLoop = void (*)(std::span<const float>, std::span<std::uint8_t>);
using HalfLoop = void (*)(std::span<const float>, std::span<std::uint16_t>);
using Scalar = std::uint32_t (*)(float);

struct EncoderImpl {
  Format format;
  Rounding rounding;
  Scalar scalar;
  ByteLoop bytes;
  HalfLoop halves;
};

template <auto Fn>
std::uint32_t scalar_of(float x) { return Fn(x); }

#define MOECHECK_BYTE_ENCODER(F, R, FN) \
  EncoderImpl { F, R, &scalar_of<FN>, &encode_loop<std::uint8_t, FN>, nullptr }
#define MOECHECK_HALF_ENCODER(F, R, FN) \
  EncoderImpl { F, R, &scalar_of<FN>, nullptr, &encode_loop<std::uint16_t, FN> }

const EncoderImpl kEncoderImpls[] = {
    MOECHECK_BYTE_ENCODER(Format::kE4m3fn, Rounding::kSatfinite, e4m3fn_satfinite),
    MOECHECK_BYTE_ENCODER(Format::kE4m3fn, Rounding::kNosat, e4m3fn_nosat),
    MOECHECK_BYTE_ENCODER(Format::kE4m3fn, Rounding::kTorch, e4m3fn_torch),
    MOECHECK_BYTE_ENCODER(Format::kE4m3fnuz, Rounding::kTorch, e4m3fnuz_torch),
    MOECHECK_BYTE_ENCODER(Format::kE5m2, Rounding::kSatfinite, e5m2_satfinite),
    MOECHECK_BYTE_ENCODER(Format::kE5m2, Rounding::kNosat, e5m2_nosat),
    MOECHECK_BYTE_ENCODER(Format::kE5m2, Rounding::kTorch, e5m2_torch),
    MOECHECK_BYTE_ENCODER(Format::kE5m2fnuz, Rounding::kTorch, e5m2fnuz_torch),
    MOECHECK_BYTE_ENCODER(Format::kE2m1, Rounding::kSatfinite, e2m1_satfinite),
    MOECHECK_BYTE_ENCODER(Format::kE3m2, Rounding::kSatfinite, e3m2_satfinite),
    MOECHECK_BYTE_ENCODER(Format::kE3m2, Rounding::kQuark, e3m2_quark),
    MOECHECK_BYTE_ENCODER(Format::kE2m3, Rounding::kSatfinite, e2m3_satfinite),
    MOECHECK_BYTE_ENCODER(Format::kE2m3, Rounding::kQuark, e2m3_quark),
    MOECHECK_BYTE_ENCODER(Format::kE8m0, Rounding::kCeil, e8m0_ceil),
    MOECHECK_BYTE_ENCODER(Format::kE8m0, Rounding::kCeilNosat, e8m0_ceil_nosat),
    MOECHECK_BYTE_ENCODER(Format::kE8m0, Rounding::kFloor, e8m0_floor),
    MOECHECK_BYTE_ENCODER(Format::kE8m0, Rounding::kEven, e8m0_even),
    MOECHECK_BYTE_ENCODER(Format::kE8m0, Rounding::kTorch, e8m0_torch),
    MOECHECK_HALF_ENCODER(Format::kBf16, Rounding::kRne, bf16_rne),
    MOECHECK_HALF_ENCODER(Format::kFp16, Rounding::kRne, fp16_rne),
};
#undef MOECHECK_BYTE_ENCODER
#undef MOECHECK_HALF_ENCODER

const EncoderImpl& find_encoder(Format format, Rounding rounding) {
  for (const auto& e : kEncoderImpls)
    if (e.format == format && e.rounding == rounding) return e;
  throw_no_encoder(format, rounding);
}

}  // namespace

const float* decode_table(Format format) {
  switch (format) {
    case Format::kE4m3fn:
    case Format::kUe4m3: return kE4m3fnTable.data();
    case Format::kE4m3fnuz: return kE4m3fnuzTable.data();
    case Format::kE5m2: return kE5m2Table.data();
    case Format::kE5m2fnuz: return kE5m2fnuzTable.data();
    case Format::kE2m1: return kE2m1Table.data();
    case Format::kE3m2: return kE3m2Table.data();
    case Format::kE2m3: return kE2m3Table.data();
    case Format::kE8m0: return kE8m0Table.data();
    case Format::kBf16:
    case Format::kFp16: break;
  }
  throw std::invalid_argument("format " + std::string(name(format)) + " has no byte decode table");
}

float decode(Format format, std::uint32_t code) {
  if (code >> code_bits(format)) throw_width(format, code);
  switch (format) {
    case Format::kBf16: return bf16_value(std::uint16_t(code));
    case Format::kFp16: return fp16_decode(code);
    default: return decode_table(format)[code];
  }
}

void decode(Format format, std::span<const std::uint8_t> codes, std::span<float> out) {
  check_lengths(codes.size(), out.size());
  if (code_bits(format) > 8)
    throw std::invalid_argument("format " + std::string(name(format)) + " has 16-bit codes; pass uint16 codes");
  const float* table = decode_table(format);
  const std::uint8_t* __restrict src = codes.data();
  float* __restrict dst = out.data();
  const std::size_t n = codes.size();
  if (code_bits(format) == 8) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
    return;
  }
  // e2m1 and fp6: the table is shorter than 256, so index with the code bits only and check the
  // rest once; the OR of every byte has a bit above the code iff some byte does.
  const std::uint8_t mask = std::uint8_t((1u << code_bits(format)) - 1u);
  std::uint8_t seen = 0;
  for (std::size_t i = 0; i < n; ++i) {
    seen |= src[i];
    dst[i] = table[src[i] & mask];
  }
  if (seen & ~mask) {
    for (std::size_t i = 0; i < n; ++i)
      if (src[i] & ~mask) throw_width(format, src[i]);
  }
}

void decode(Format format, std::span<const std::uint16_t> codes, std::span<float> out) {
  check_lengths(codes.size(), out.size());
  const std::uint16_t* __restrict src = codes.data();
  float* __restrict dst = out.data();
  const std::size_t n = codes.size();
  if (format == Format::kBf16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_value(src[i]);
  } else if (format == Format::kFp16) {
    const float* table = fp16_table();
    for (std::size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
  } else {
    throw std::invalid_argument("format " + std::string(name(format)) + " has byte codes; pass uint8 codes");
  }
}

std::uint32_t encode(Format format, Rounding rounding, float x) {
  return find_encoder(format, rounding).scalar(x);
}

void encode(Format format, Rounding rounding, std::span<const float> in, std::span<std::uint8_t> out) {
  check_lengths(in.size(), out.size());
  const EncoderImpl& e = find_encoder(format, rounding);
  if (!e.bytes)
    throw std::invalid_argument("format " + std::string(name(format)) + " has 16-bit codes; pass a uint16 output");
  e.bytes(in, out);
}

void encode(Format format, Rounding rounding, std::span<const float> in, std::span<std::uint16_t> out) {
  check_lengths(in.size(), out.size());
  const EncoderImpl& e = find_encoder(format, rounding);
  if (!e.halves)
    throw std::invalid_argument("format " + std::string(name(format)) + " has byte codes; pass a uint8 output");
  e.halves(in, out);
}

std::vector<std::uint8_t> pack_e2m1(std::span<const std::uint8_t> codes) {
  std::vector<std::uint8_t> packed((codes.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] > 0x0F) throw_width(Format::kE2m1, codes[i]);
    packed[i / 2] |= std::uint8_t(codes[i] << (4 * (i % 2)));
  }
  return packed;
}

std::vector<std::uint8_t> unpack_e2m1(std::span<const std::uint8_t> packed, std::size_t count) {
  if (count > 2 * packed.size() || count + 1 < 2 * packed.size())
    throw std::invalid_argument("unpack_e2m1: " + std::to_string(packed.size()) + " packed bytes cannot hold " +
                                std::to_string(count) + " codes");
  std::vector<std::uint8_t> codes(count);
  for (std::size_t i = 0; i < count; ++i) codes[i] = (packed[i / 2] >> (4 * (i % 2))) & 0x0F;
  return codes;
}

std::vector<std::uint8_t> pack_fp6(std::span<const std::uint8_t> codes) {
  if (codes.size() % 4 != 0)
    throw std::invalid_argument("pack_fp6: expected a multiple of 4 codes (four 6-bit codes fill three bytes), found " +
                                std::to_string(codes.size()));
  std::vector<std::uint8_t> packed(codes.size() / 4 * 3);
  for (std::size_t g = 0; g < codes.size() / 4; ++g) {
    std::uint32_t word = 0;  // 24 bits, code 4g+k at bits [6k, 6k+6)
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t c = codes[4 * g + k];
      if (c > 0x3F) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "0x%02X", c);
        throw std::out_of_range("pack_fp6: code " + std::to_string(4 * g + k) + ": expected a 6-bit code (0x00..0x3F), found " +
                                buf);
      }
      word |= std::uint32_t(c) << (6 * k);
    }
    for (std::size_t b = 0; b < 3; ++b) packed[3 * g + b] = std::uint8_t(word >> (8 * b));
  }
  return packed;
}

std::vector<std::uint8_t> unpack_fp6(std::span<const std::uint8_t> packed, std::size_t count) {
  if (count % 4 != 0)
    throw std::invalid_argument("unpack_fp6: expected a count that is a multiple of 4 (four codes per three bytes), found " +
                                std::to_string(count));
  if (packed.size() != count / 4 * 3)
    throw std::invalid_argument("unpack_fp6: " + std::to_string(count) + " codes need " + std::to_string(count / 4 * 3) +
                                " packed bytes, found " + std::to_string(packed.size()));
  std::vector<std::uint8_t> codes(count);
  for (std::size_t g = 0; g < count / 4; ++g) {
    const std::uint32_t word = std::uint32_t(packed[3 * g]) | std::uint32_t(packed[3 * g + 1]) << 8 |
                               std::uint32_t(packed[3 * g + 2]) << 16;
    for (std::size_t k = 0; k < 4; ++k) codes[4 * g + k] = std::uint8_t((word >> (6 * k)) & 0x3Fu);
  }
  return codes;
}

}  // namespace moecheck::reference::formats
