// `moecheck convert`: the codecs of reference/formats from the command line and on HDF5 datasets.
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixtures/hdf5_io.h"
#include "reference/formats.h"
#include "tools/cli/common.h"
#include "tools/cli/verbs.h"

namespace moecheck::cli {
namespace {

namespace fmt = reference::formats;
namespace fx = fixtures;

struct ConvertOptions {
  std::string to, rounding, decode;
  bool bits = false;
  std::vector<std::string> values;
  std::string input, dataset, output;
};

fmt::Format parse_format_or_throw(const std::string& text) {
  const auto f = fmt::parse_format(text);
  if (!f) throw UsageError("unknown format '" + text + "'; valid formats: " + fmt::format_names());
  return *f;
}

fmt::Rounding parse_rounding_or_throw(fmt::Format format, const std::string& text) {
  const auto r = fmt::parse_rounding(text);
  const std::string valid = fmt::rounding_names(format);
  if (valid.empty())
    throw UsageError("format '" + std::string(fmt::name(format)) + "' has no encoder (decode only); formats with "
                     "encoders: e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e2m1, e3m2, e2m3, e8m0, bf16, fp16");
  if (!r) throw UsageError("unknown rounding '" + text + "'; valid for " + std::string(fmt::name(format)) + ": " + valid);
  if (!fmt::has_encoder(format, *r))
    throw UsageError("rounding '" + text + "' does not exist for format " + std::string(fmt::name(format)) +
                     "; valid for " + std::string(fmt::name(format)) + ": " + valid);
  return *r;
}

float parse_value(const std::string& text, bool as_bits) {
  if (as_bits) return std::bit_cast<float>(parse_unsigned(text, 0xFFFFFFFFull, "bit pattern"));
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0')
    throw UsageError("value '" + text + "' is not a number (decimal, hexadecimal float such as 0x1p-127, inf or nan;"
                     " use --bits for fp32 bit patterns)");
  return v;
}

std::string hex_code(std::uint32_t code, fmt::Format format) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", (fmt::code_bits(format) + 3) / 4, code);
  return buf;
}

void print_row(const std::string& input, float x, const std::string& code, float decoded) {
  std::printf("%-16s 0x%08x  %-8s %.9g\n", input.c_str(), std::bit_cast<std::uint32_t>(x), code.c_str(), decoded);
}

void encode_values(const ConvertOptions& o) {
  const fmt::Format format = parse_format_or_throw(o.to);
  const fmt::Rounding rounding = parse_rounding_or_throw(format, o.rounding);
  std::printf("%-16s %-10s  %-8s %s\n", "input", "fp32 bits", "code", "decoded");
  for (const std::string& text : o.values) {
    const float x = parse_value(text, o.bits);
    const std::uint32_t code = fmt::encode(format, rounding, x);
    print_row(text, x, hex_code(code, format), fmt::decode(format, code));
  }
}

void decode_values(const ConvertOptions& o) {
  const fmt::Format format = parse_format_or_throw(o.decode);
  const std::uint64_t max = (1ull << fmt::code_bits(format)) - 1;
  std::printf("%-8s %-10s  %s\n", "code", "fp32 bits", "value");
  for (const std::string& text : o.values) {
    const std::uint32_t code = parse_unsigned(text, max, std::string(fmt::name(format)) + " code");
    const float v = fmt::decode(format, code);
    std::printf("%-8s 0x%08x  %.9g\n", hex_code(code, format).c_str(), std::bit_cast<std::uint32_t>(v), v);
  }
}

void encode_dataset(const ConvertOptions& o) {
  const fmt::Format format = parse_format_or_throw(o.to);
  const fmt::Rounding rounding = parse_rounding_or_throw(format, o.rounding);
  const fx::Reader reader(o.input);
  const fx::Tensor in = reader.read(o.dataset);
  std::vector<float> values;
  if (in.type == fx::ElementType::kF32) {
    const auto v = in.view<float>();
    values.assign(v.begin(), v.end());
  } else if (in.type == fx::ElementType::kU32) {
    for (std::uint32_t u : in.view<std::uint32_t>()) values.push_back(std::bit_cast<float>(u));
  } else {
    throw UsageError(o.input + ": dataset '" + o.dataset + "': expected f32 values or u32 fp32 bit patterns, found " +
                     std::string(fx::name(in.type)));
  }
  fx::Tensor codes;
  if (fmt::code_bits(format) == 16) {
    std::vector<std::uint16_t> out(values.size());
    fmt::encode(format, rounding, values, out);
    codes = format == fmt::Format::kBf16 ? fx::Tensor::bf16(in.shape, out) : fx::Tensor::f16(in.shape, out);
  } else {
    std::vector<std::uint8_t> out(values.size());
    fmt::encode(format, rounding, values, out);
    if (format == fmt::Format::kE8m0) codes = fx::Tensor::e8m0(in.shape, out);
    else if (fx::is_fp8_format(format)) codes = fx::Tensor::fp8(format, in.shape, out);
    else codes = fx::Tensor::u8(in.shape, out);  // e2m1, e3m2, e2m3: one code per byte, low bits
  }
  fx::Writer writer(o.output);
  writer.write("codes", codes);
  writer.set_string_attribute("codes", "encoder", std::string(fmt::name(format)) + ":" + std::string(fmt::name(rounding)));
  writer.set_string_attribute("/", "source_file", o.input);
  writer.set_string_attribute("/", "source_dataset", o.dataset);
  writer.set_string_attribute("/", "generator", "moecheck convert");
  writer.commit();
  std::printf("wrote %s: /codes %s %s, %zu values as %s:%s\n", o.output.c_str(), std::string(fx::name(codes.type)).c_str(),
              fx::to_string(codes.shape).c_str(), values.size(), std::string(fmt::name(format)).c_str(),
              std::string(fmt::name(rounding)).c_str());
}

}  // namespace

void add_convert(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand(
      "convert",
      "Encode fp32 values to a format's codes, or decode codes, with the bit-exact codecs.\n"
      "  moecheck convert --to FORMAT --rounding MODE VALUES...        one line per value: code and decoded value\n"
      "  moecheck convert --to FORMAT --rounding MODE --input IN.h5 --dataset NAME --output OUT.h5\n"
      "                                                                 a float32 (or uint32 bit pattern) dataset\n"
      "                                                                 to /codes (u8; u16 for bf16/fp16)\n"
      "  moecheck convert --decode FORMAT CODES...                     codes (0x.. hex or decimal) to values\n"
      "Example: moecheck convert --to e4m3fn --rounding satfinite -- 464 -inf nan 0x1p-10");
  sub->add_option("--to", opts->to, "Target format: " + fmt::format_names() + " (ue4m3 decodes only)");
  sub->add_option("--rounding", opts->rounding,
                  "Rounding/saturation variant, named after what it emulates: satfinite, nosat, torch (fp8); "
                  "satfinite (e2m1); satfinite, quark (e3m2, e2m3); ceil, ceil_nosat, floor, even, torch (e8m0); "
                  "rne (bf16, fp16)");
  sub->add_option("--decode", opts->decode, "Decode CODES of this format instead of encoding");
  sub->add_flag("--bits", opts->bits, "Read VALUES as fp32 bit patterns (0x3f800000 or decimal)");
  sub->add_option("--input", opts->input, "HDF5 file with the values to encode")->check(CLI::ExistingFile);
  sub->add_option("--dataset", opts->dataset, "Dataset in --input: float32, or uint32 fp32 bit patterns");
  sub->add_option("--output", opts->output, "HDF5 file to write, with /codes of the input's shape");
  sub->add_option("values", opts->values,
                  "Values to encode (decimal, 0x1p-3, inf, nan), or codes with --decode. Negative numbers are "
                  "fine; put -- before VALUES when one is -inf or -nan");
  sub->callback([opts, &exit_code] {
    const ConvertOptions& o = *opts;
    const bool file_mode = !o.input.empty() || !o.dataset.empty() || !o.output.empty();
    if (o.decode.empty() == o.to.empty()) throw UsageError("convert: give exactly one of --to FORMAT or --decode FORMAT");
    if (!o.decode.empty()) {
      if (file_mode || !o.rounding.empty())
        throw UsageError("convert --decode takes CODES only (no --rounding, --input, --dataset, --output)");
      if (o.values.empty()) throw UsageError("convert --decode FORMAT: give one or more CODES");
      decode_values(o);
    } else {
      if (o.rounding.empty())
        throw UsageError("convert --to " + o.to + ": --rounding is required; valid for " + o.to + ": " +
                         (fmt::parse_format(o.to) ? fmt::rounding_names(*fmt::parse_format(o.to))
                                                  : std::string("(unknown format; valid formats: ") +
                                                        fmt::format_names() + ")"));
      if (file_mode) {
        if (o.input.empty() || o.dataset.empty() || o.output.empty())
          throw UsageError("convert on a file needs all of --input, --dataset and --output");
        if (!o.values.empty()) throw UsageError("convert: give VALUES or --input, not both");
        encode_dataset(o);
      } else {
        if (o.values.empty()) throw UsageError("convert --to FORMAT: give VALUES, or --input/--dataset/--output");
        encode_values(o);
      }
    }
    exit_code = 0;
  });
}

}  // namespace moecheck::cli
