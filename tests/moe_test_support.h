// Helpers of the MoE tests: a minimal safetensors writer (the reference writer's conventions:
// __metadata__ first, header padded with spaces to a multiple of 8, tensors back to back), a
// config.json writer, and seeded random values that are exact in bf16.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "reference/formats/codecs.h"

namespace moecheck::test {

struct StTensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

inline StTensor st_f32(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  StTensor t{std::move(name), "F32", std::move(shape), std::vector<std::uint8_t>(values.size() * 4)};
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

inline StTensor st_bf16(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  StTensor t{std::move(name), "BF16", std::move(shape), std::vector<std::uint8_t>(values.size() * 2)};
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t b = reference::formats::bf16_rne(values[i]);
    std::memcpy(t.bytes.data() + 2 * i, &b, 2);
  }
  return t;
}

inline StTensor st_bytes(std::string name, std::string dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> bytes) {
  return {std::move(name), std::move(dtype), std::move(shape), std::move(bytes)};
}

inline void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const StTensor& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A fresh directory under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("moecheck_" + std::string(info ? info->test_suite_name() : "t") + "_" + (info ? info->name() : "x") + "_" +
             std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Seeded values, exactly representable in bf16 (so a bf16 and an fp32 run see the same inputs).
class Values {
 public:
  explicit Values(std::uint32_t seed) : rng_(seed) {}
  float next(float scale = 1.0f) {
    const float v = std::normal_distribution<float>(0.0f, scale)(rng_);
    return reference::formats::bf16_value(reference::formats::bf16_rne(v));
  }
  std::vector<float> vec(std::size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (float& x : v) x = next(scale);
    return v;
  }
  std::uint32_t raw() { return rng_(); }

 private:
  std::mt19937 rng_;
};

}  // namespace moecheck::test
