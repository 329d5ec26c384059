// Shared pieces of the moecheck verbs: the user-facing error type and the default data folder.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

#include "properties/gen/case.h"

namespace moecheck::cli {

// A mistake in the command line or its inputs: printed as "moecheck: error: ...", exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The committed fixtures: $MOECHECK_DATA if set, else fixtures/data of the source tree this binary
// was built from.
std::filesystem::path default_data_dir();

// Parses a code or bit pattern: "0x7e" / "0X7E" hexadecimal, otherwise decimal. UsageError if the
// text is not a whole number or exceeds max.
std::uint32_t parse_unsigned(const std::string& text, std::uint64_t max, const std::string& what);
// A 64-bit seed, decimal or 0x-hexadecimal; UsageError naming --seed otherwise.
std::uint64_t parse_seed(const std::string& text);
std::string hex(std::uint64_t value);  // "0x6d6f..."

// --dtype and --layout of the verbs that generate cases: "" (both), else the model dtype ("fp32",
// "bf16", as reference::moe::parse_dtype reads them) and the gate/up layout ("concatenated",
// "interleaved"). UsageError naming the option otherwise.
void set_case_filters(const std::string& dtype, const std::string& layout, properties::gen::CaseOptions& options);

// The command line as typed (set by main), for reports.
std::string& command_line();

}  // namespace moecheck::cli
