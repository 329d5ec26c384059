// External oracle 2: the codecs against PyTorch's casts and decodes recorded on the GPU machine
// (fixtures/data/oracle/torch_formats.h5, tools/oracle/torch_formats.py), bit for bit.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "fixtures/format_oracle.h"
#include "fixtures/hdf5_io.h"

namespace fx = moecheck::fixtures;

namespace {

const std::filesystem::path kOracle = std::filesystem::path(MOECHECK_SOURCE_DIR) / "fixtures/data/oracle/torch_formats.h5";

std::filesystem::path temp_file(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("moecheck_torch_oracle_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST(TorchOracle, EveryCastAndDecodeMatchesBitForBit) {
  const fx::OracleReport report = fx::check_format_oracle(kOracle);
  EXPECT_GT(report.inputs, 200000u);
  std::set<std::string> seen;
  for (const auto& row : report.rows) {
    seen.insert(row.dataset);
    EXPECT_GT(row.checked, 0u) << row.dataset;
    EXPECT_EQ(row.mismatches, 0u) << row.dataset << " (" << row.check << "): first: "
                                  << (row.examples.empty() ? "" : row.examples.front());
  }
  // Every fp8 dtype torch has, the clamp-then-cast, bf16 and fp16, on the CPU and on CUDA, and the
  // decode tables: the file must still hold all of them.
  for (const char* device : {"cpu", "cuda"}) {
    for (const char* d : {"float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
                          "float8_e4m3fn_clamped", "bfloat16", "float16"}) {
      EXPECT_TRUE(seen.count(std::string(device) + "/" + d)) << device << "/" << d;
    }
  }
  for (const char* d : {"float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
                        "bfloat16", "float16"}) {
    EXPECT_TRUE(seen.count(std::string("decode/") + d)) << d;
  }
  EXPECT_TRUE(report.ok());
}

// The comparison can fail: one flipped code in a copy of a dataset is found and named.
TEST(TorchOracle, DetectsASingleWrongCode) {
  const fx::Reader source(kOracle);
  const fx::Tensor inputs = source.read("inputs");
  fx::Tensor codes = source.read("cuda/float8_e4m3fn");
  codes.bytes[1234] ^= 0x01;
  const auto path = temp_file("flipped.h5");
  fx::Writer w(path);
  w.write("inputs", inputs);
  w.write("cuda/float8_e4m3fn", codes);
  w.set_string_attribute("cuda/float8_e4m3fn", "encoder", "e4m3fn:torch");
  w.commit();
  const fx::OracleReport report = fx::check_format_oracle(path);
  ASSERT_EQ(report.rows.size(), 1u);
  EXPECT_EQ(report.rows[0].mismatches, 1u);
  ASSERT_EQ(report.rows[0].examples.size(), 1u);
  EXPECT_NE(report.rows[0].examples[0].find("x=0x"), std::string::npos);
  EXPECT_FALSE(report.ok());
  std::filesystem::remove_all(path.parent_path());
}

TEST(TorchOracle, MalformedFilesAreNamedErrors) {
  const fx::Reader source(kOracle);
  const fx::Tensor inputs = source.read("inputs");
  const fx::Tensor codes = source.read("cpu/float8_e5m2");
  {
    const auto path = temp_file("bad_encoder.h5");
    fx::Writer w(path);
    w.write("inputs", inputs);
    w.write("cpu/x", codes);
    w.set_string_attribute("cpu/x", "encoder", "e5m2:ceil");
    w.commit();
    try {
      fx::check_format_oracle(path);
      FAIL() << "expected an error";
    } catch (const fx::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("bad_encoder.h5"), std::string::npos) << m;
      EXPECT_NE(m.find("'cpu/x'"), std::string::npos) << m;
      EXPECT_NE(m.find("found 'e5m2:ceil'"), std::string::npos) << m;
    }
  }
  {
    const auto path = temp_file("short.h5");
    fx::Writer w(path);
    w.write("inputs", inputs);
    const std::vector<std::uint8_t> few(10, 0);
    w.write("cpu/y", fx::Tensor::u8({10}, few));
    w.set_string_attribute("cpu/y", "encoder", "e5m2:torch");
    w.commit();
    try {
      fx::check_format_oracle(path);
      FAIL() << "expected an error";
    } catch (const fx::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("'cpu/y'"), std::string::npos) << m;
      EXPECT_NE(m.find("found 10"), std::string::npos) << m;
    }
  }
  std::filesystem::remove_all(temp_file("x").parent_path());
}
