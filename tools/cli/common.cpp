#include "tools/cli/common.h"

#include <cstdio>
#include <cstdlib>

namespace moecheck::cli {

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("MOECHECK_DATA"); env && *env) return env;
  return std::filesystem::path(MOECHECK_SOURCE_DIR) / "fixtures" / "data";
}

std::uint32_t parse_unsigned(const std::string& text, std::uint64_t max, const std::string& what) {
  const bool is_hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string digits = is_hex ? text.substr(2) : text;
  const std::string valid = is_hex ? "0123456789abcdefABCDEF" : "0123456789";
  if (digits.empty() || digits.find_first_not_of(valid) != std::string::npos || digits.size() > 20)
    throw UsageError(what + " '" + text + "' is not a number (use 0x.. for hexadecimal, or decimal)");
  const std::uint64_t value = std::strtoull(digits.c_str(), nullptr, is_hex ? 16 : 10);
  if (value > max) throw UsageError(what + " '" + text + "' is out of range (at most " + std::to_string(max) + ")");
  return std::uint32_t(value);
}

std::uint64_t parse_seed(const std::string& text) {
  const bool is_hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string digits = is_hex ? text.substr(2) : text;
  const std::string valid = is_hex ? "0123456789abcdefABCDEF" : "0123456789";
  if (digits.empty() || digits.find_first_not_of(valid) != std::string::npos || (is_hex && digits.size() > 16) ||
      (!is_hex && (digits.size() > 20 || (digits.size() == 20 && digits > "18446744073709551615"))))
    throw UsageError("--seed '" + text + "': expected a 64-bit number, decimal or 0x-hexadecimal");
  return std::strtoull(digits.c_str(), nullptr, is_hex ? 16 : 10);
}

std::string hex(std::uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string& command_line() {
  static std::string line;
  return line;
}

void set_case_filters(const std::string& dtype, const std::string& layout, properties::gen::CaseOptions& options) {
  if (!dtype.empty()) {
    const auto d = reference::moe::parse_dtype(dtype);
    if (!d || (*d != reference::moe::Dtype::kF32 && *d != reference::moe::Dtype::kBf16))
      throw UsageError("--dtype: expected fp32 or bf16 (the generated model dtypes), found '" + dtype + "'");
    options.dtype = *d;
  }
  if (layout == "concatenated")
    options.layout = reference::moe::GateUpLayout::kConcatenated;
  else if (layout == "interleaved")
    options.layout = reference::moe::GateUpLayout::kInterleaved;
  else if (!layout.empty())
    throw UsageError("--layout: expected concatenated or interleaved (the gate/up layouts), found '" + layout + "'");
}

}  // namespace moecheck::cli
