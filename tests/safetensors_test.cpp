// The safetensors reader (spec/models.md §3): round trips of every dtype, metadata, scalars and
// zero-size tensors, files from other writers, sharded checkpoints resolved through weight_map
// (0-based shard names, as gpt-oss ships them), and one test per malformed input, each checking
// that the message names the file, the tensor, the expected and the found.
//
// The test writes its own files, with a writer that follows the reference writer's conventions
// (`__metadata__` first, tensors by dtype descending then name, header padded with spaces to a
// multiple of 8), and raw bytes for the broken ones. No Python, no committed binaries.
#include "fixtures/safetensors.h"
#include "tests/fixtures_test_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace moecheck::fixtures::safetensors {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

// ---- A small writer -----------------------------------------------------------------------------

struct Spec {
  std::string name;
  Dtype dtype;
  Shape shape;
  Bytes data;
};

std::uint64_t byte_size(Dtype dtype, const Shape& shape) {
  return std::uint64_t(element_count(shape)) * std::uint64_t(bits(dtype)) / 8;
}

// A tensor with recognisable bytes: seed, seed + 7, seed + 14, ...
Spec patterned(std::string name, Dtype dtype, Shape shape, std::uint8_t seed) {
  Bytes data(byte_size(dtype, shape));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::uint8_t(seed + 7 * i);
  return {std::move(name), dtype, std::move(shape), std::move(data)};
}

template <class T>
Bytes bytes_of(const std::vector<T>& values) {
  Bytes out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string json_shape(const Shape& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string entry(const std::string& name, std::string_view dtype, const Shape& shape, std::uint64_t begin,
                  std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + std::string(dtype) + "\",\"shape\":" + json_shape(shape) +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// 8-byte little-endian N, then the header (padded with spaces to a multiple of 8 when asked), then data.
Bytes assemble(std::string header, const Bytes& data, bool pad = true) {
  while (pad && header.size() % 8 != 0) header += ' ';
  // Pre-sized and copied (vector::insert here trips GCC 12's -Warray-bounds false positive).
  Bytes out(8 + header.size() + data.size());
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = std::uint8_t(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

// The reference writer's layout: __metadata__ first, storage by dtype descending then by name.
Bytes build(std::vector<Spec> tensors, const std::map<std::string, std::string>& metadata = {{"format", "pt"}}) {
  std::sort(tensors.begin(), tensors.end(),
            [](const Spec& a, const Spec& b) { return a.dtype != b.dtype ? a.dtype > b.dtype : a.name < b.name; });
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      header += std::string(first ? "" : ",") + "\"" + key + "\":\"" + value + "\"";
      first = false;
    }
    header += "}";
  }
  Bytes data;
  for (const Spec& t : tensors) {
    EXPECT_EQ(t.data.size(), byte_size(t.dtype, t.shape)) << t.name;
    if (header.size() > 1) header += ",";
    header += entry(t.name, name(t.dtype), t.shape, data.size(), data.size() + t.data.size());
    data.insert(data.end(), t.data.begin(), t.data.end());
  }
  return assemble(header + "}", data);
}

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_text(const fs::path& path, const std::string& text) { write_file(path, Bytes(text.begin(), text.end())); }

// ---- Fixture and assertions ---------------------------------------------------------------------

class SafetensorsTest : public moecheck::test::TempDirTest {
 protected:
  SafetensorsTest() : TempDirTest("moecheck-safetensors-") {}

  // Writes a file with a hand-written header (no padding unless asked) and returns its path.
  fs::path raw(const std::string& header, const Bytes& data, bool pad = true,
               const std::string& name = "x.safetensors") {
    const fs::path path = file(name);
    write_file(path, assemble(header, data, pad));
    return path;
  }

};

using moecheck::test::error_of;
using moecheck::test::expect_mentions;

// The error File(path) throws, which must name the file.
std::string open_error(const fs::path& path) {
  const std::string message = error_of([&] { File file(path); });
  expect_mentions(message, {path.string() + ": "});
  return message;
}

// ---- Dtypes -------------------------------------------------------------------------------------

TEST(SafetensorsDtype, NamesBitsAndEnumOrderFollowTheSpec) {
  // spec §3.5 (enum order) and §3.6 (strings); bits from safetensors' bitsize.
  const std::vector<std::pair<std::string, int>> expected{
      {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},     {"U8", 8},          {"I8", 8},
      {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
      {"U16", 16},    {"F16", 16},    {"BF16", 16},   {"I32", 32},        {"U32", 32},        {"F32", 32},
      {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64}};
  ASSERT_EQ(std::size(kAllDtypes), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Dtype dtype = kAllDtypes[i];
    EXPECT_EQ(static_cast<std::size_t>(dtype), i);
    EXPECT_EQ(name(dtype), expected[i].first);
    EXPECT_EQ(bits(dtype), expected[i].second) << expected[i].first;
    EXPECT_EQ(parse_dtype(expected[i].first), dtype);
  }
  EXPECT_FALSE(parse_dtype("F7"));
  EXPECT_FALSE(parse_dtype("bf16"));  // case matters, as in the reference reader
  EXPECT_FALSE(parse_dtype(""));
  using reference::formats::Format;
  EXPECT_EQ(format(Dtype::kF8E4M3), Format::kE4m3fn);
  EXPECT_EQ(format(Dtype::kF8E5M2), Format::kE5m2);
  EXPECT_EQ(format(Dtype::kF8E4M3Fnuz), Format::kE4m3fnuz);
  EXPECT_EQ(format(Dtype::kF8E5M2Fnuz), Format::kE5m2fnuz);
  EXPECT_EQ(format(Dtype::kF8E8M0), Format::kE8m0);
  EXPECT_EQ(format(Dtype::kBF16), Format::kBf16);
  EXPECT_EQ(format(Dtype::kF16), Format::kFp16);
  EXPECT_FALSE(format(Dtype::kU8));
  EXPECT_FALSE(format(Dtype::kF4));
  EXPECT_FALSE(format(Dtype::kF32));
}

// ---- Round trips --------------------------------------------------------------------------------

TEST_F(SafetensorsTest, EveryDtypeRoundTrips) {
  std::vector<Spec> specs;
  for (const Dtype dtype : kAllDtypes) {
    // numel × bits must be whole bytes: 6 codes of F4 = 3 bytes, 4 of F6 = 3 bytes.
    Shape shape = bits(dtype) == 6 ? Shape{2, 4} : Shape{2, 3};
    specs.push_back(
        patterned("t." + std::string(name(dtype)), dtype, shape, std::uint8_t(static_cast<int>(dtype) * 11)));
  }
  const fs::path path = file("all.safetensors");
  write_file(path, build(specs));

  const File file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.header_size() % 8, 0u);
  EXPECT_EQ(file.file_size(), fs::file_size(path));
  std::vector<std::string> want_names;
  for (const Spec& s : specs) want_names.push_back(s.name);
  std::sort(want_names.begin(), want_names.end());
  EXPECT_EQ(file.names(), want_names);
  for (const Spec& s : specs) {
    SCOPED_TRACE(s.name);
    ASSERT_TRUE(file.has(s.name));
    const TensorInfo& info = file.info(s.name);
    EXPECT_EQ(info.name, s.name);
    EXPECT_EQ(info.dtype, s.dtype);
    EXPECT_EQ(info.shape, s.shape);
    EXPECT_EQ(info.numel(), element_count(s.shape));
    EXPECT_EQ(info.byte_size(), s.data.size());
    const auto bytes = file.bytes(s.name);
    EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), s.data);
    // The writer's order puts the widest types first, so each tensor is aligned to its element.
    if (bits(s.dtype) >= 8) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data()) % (bits(s.dtype) / 8), 0u);
    }
  }
  EXPECT_EQ(file.info("t.U64").begin, 0u);  // dtype descending: U64 is stored first
  EXPECT_FALSE(file.has("t.u64"));

  const Checkpoint checkpoint(path);  // a single file path
  EXPECT_FALSE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.root(), path);
  EXPECT_TRUE(checkpoint.index_path().empty());
  EXPECT_EQ(checkpoint.names(), want_names);
  EXPECT_EQ(checkpoint.files(), std::vector<fs::path>{path});
  for (const Spec& s : specs) {
    const auto bytes = checkpoint.bytes(s.name);
    EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), s.data) << s.name;
    EXPECT_EQ(checkpoint.file_of(s.name), path);
  }
}

TEST_F(SafetensorsTest, ReadF32WidensF32Bf16AndF16Exactly) {
  const float kMax = std::numeric_limits<float>::max();
  const float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> f32{1.5f, -0.0f, kInf, kMax, std::ldexp(1.0f, -149), -3.25f};
  // bf16 bits: 1.5, -2, 2^-133 (smallest subnormal), +inf, -max, 0.15625
  const std::vector<std::uint16_t> bf16{0x3FC0, 0xC000, 0x0001, 0x7F80, 0xFF7F, 0x3E20};
  const std::vector<float> bf16_values{1.5f,    -2.0f, std::ldexp(1.0f, -133), kInf, -std::bit_cast<float>(0x7F7F0000u),
                                       0.15625f};
  // f16 bits: 1, 2^-24 (smallest subnormal), -65504, +inf, -0, 0.333 (0x3555 = 1365/4096)
  const std::vector<std::uint16_t> f16{0x3C00, 0x0001, 0xFBFF, 0x7C00, 0x8000, 0x3555};
  const std::vector<float> f16_values{1.0f, std::ldexp(1.0f, -24), -65504.0f, kInf, -0.0f, 1365.0f / 4096.0f};
  const fs::path path = file("model.safetensors");
  write_file(path, build({{"a.f32", Dtype::kF32, {2, 3}, bytes_of(f32)},
                          {"b.bf16", Dtype::kBF16, {3, 2}, bytes_of(bf16)},
                          {"c.f16", Dtype::kF16, {6}, bytes_of(f16)}}));
  const Checkpoint checkpoint(dir_);  // a directory with model.safetensors
  EXPECT_FALSE(checkpoint.sharded());

  auto same_bits = [](const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i])) << "element " << i;
  };
  same_bits(checkpoint.read_f32("a.f32", {2, 3}), f32);
  same_bits(checkpoint.read_f32("b.bf16", {3, 2}), bf16_values);
  same_bits(checkpoint.read_f32("c.f16", {6}), f16_values);
  same_bits(checkpoint.read_f32("b.bf16", {kAnyDim, 2}), bf16_values);
  same_bits(checkpoint.read_f32("a.f32", {kAnyDim, kAnyDim}), f32);
}

TEST_F(SafetensorsTest, ReadF32DecodesLargeUnalignedBf16) {
  // Another writer's order: one byte of U8 first, so the BF16 data sits at an odd address; and
  // more elements than one decode chunk.
  std::vector<std::uint16_t> bf16(10'001);
  for (std::size_t i = 0; i < bf16.size(); ++i) bf16[i] = std::uint16_t(0x3F80 + (i * 37) % 0x0700);
  Bytes data{0xAB};
  const Bytes more = bytes_of(bf16);
  data.insert(data.end(), more.begin(), more.end());
  const std::string header =
      "{" + entry("byte", "U8", {1}, 0, 1) + "," + entry("w", "BF16", {10'001}, 1, 1 + 2 * bf16.size()) + "}";
  const fs::path path = raw(header, data);
  const Checkpoint checkpoint(path);
  const std::vector<float> values = checkpoint.read_f32("w", {kAnyDim});
  ASSERT_EQ(values.size(), bf16.size());
  for (std::size_t i = 0; i < bf16.size(); ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(values[i]), std::uint32_t(bf16[i]) << 16) << "element " << i;
  EXPECT_EQ(checkpoint.read_u8("byte", {1}), Bytes{0xAB});
}

TEST_F(SafetensorsTest, ReadU8GivesRawCodesOfU8AndFp8) {
  const std::vector<Dtype> byte_types{Dtype::kU8,     Dtype::kF8E5M2,     Dtype::kF8E4M3,
                                      Dtype::kF8E8M0, Dtype::kF8E4M3Fnuz, Dtype::kF8E5M2Fnuz};
  std::vector<Spec> specs;
  for (const Dtype dtype : byte_types)
    specs.push_back(patterned(std::string(name(dtype)), dtype, {4, 2}, std::uint8_t(0x70 + static_cast<int>(dtype))));
  // gpt-oss MXFP4 blocks and scales are plain U8 (spec §2.2).
  specs.push_back(patterned("model.layers.0.mlp.experts.gate_up_proj_blocks", Dtype::kU8, {2, 6, 3, 16}, 1));
  specs.push_back(patterned("model.layers.0.mlp.experts.gate_up_proj_scales", Dtype::kU8, {2, 6, 3}, 2));
  specs.push_back(patterned("bf16", Dtype::kBF16, {2}, 3));
  specs.push_back(patterned("i8", Dtype::kI8, {2}, 4));
  write_file(file("model.safetensors"), build(specs));
  const Checkpoint checkpoint(dir_);
  for (const Spec& s : specs) {
    if (s.dtype == Dtype::kBF16 || s.dtype == Dtype::kI8) continue;
    EXPECT_EQ(checkpoint.read_u8(s.name, s.shape), s.data) << s.name;
  }
  EXPECT_EQ(checkpoint.read_u8("model.layers.0.mlp.experts.gate_up_proj_blocks", {kAnyDim, 6, 3, 16}).size(), 576u);

  const fs::path path = file("model.safetensors");
  expect_mentions(error_of([&] { checkpoint.read_u8("bf16", {2}); }),
                  {path.string(), "tensor 'bf16'", "dtype: expected one of U8, F8_E5M2", "found BF16"});
  expect_mentions(error_of([&] { checkpoint.read_u8("i8", {2}); }), {path.string(), "tensor 'i8'", "found I8"});
  expect_mentions(error_of([&] {
                    checkpoint.read_f32("F8_E4M3", {4, 2});
                  }),
                  {path.string(), "tensor 'F8_E4M3'", "expected one of F32, BF16, F16", "found F8_E4M3"});
}

TEST_F(SafetensorsTest, Metadata) {
  write_file(file("a.safetensors"),
             build({patterned("w", Dtype::kF32, {1}, 0)}, {{"format", "pt"}, {"note", "made by a test"}}));
  EXPECT_EQ(File(file("a.safetensors")).metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "made by a test"}}));

  write_file(file("b.safetensors"), build({patterned("w", Dtype::kF32, {1}, 0)}, {}));
  EXPECT_TRUE(File(file("b.safetensors")).metadata().empty());

  // null metadata is no metadata (the reference reader's Option); metadata need not come first.
  const fs::path path =
      raw("{" + entry("w", "U8", {2}, 0, 2) + ",\"__metadata__\":null}", {1, 2}, true, "c.safetensors");
  const File file_c(path);
  EXPECT_TRUE(file_c.metadata().empty());
  EXPECT_EQ(file_c.names(), std::vector<std::string>{"w"});
}

TEST_F(SafetensorsTest, ScalarsAndZeroSizeTensors) {
  const fs::path path = file("model.safetensors");
  write_file(path, build({{"scalar", Dtype::kF32, {}, bytes_of(std::vector<float>{2.5f})},
                          {"empty", Dtype::kBF16, {0, 4}, {}},
                          {"empty_u8", Dtype::kU8, {3, 0}, {}},
                          {"z_last", Dtype::kU8, {2}, {7, 8}}}));
  const File file(path);
  EXPECT_EQ(file.info("scalar").shape, Shape{});
  EXPECT_EQ(file.info("scalar").numel(), 1);
  EXPECT_EQ(file.info("empty").numel(), 0);
  EXPECT_EQ(file.info("empty").begin, file.info("empty").end);
  EXPECT_TRUE(file.bytes("empty").empty());
  const Checkpoint checkpoint(path);
  EXPECT_EQ(checkpoint.read_f32("scalar", {}), std::vector<float>{2.5f});
  EXPECT_TRUE(checkpoint.read_f32("empty", {0, 4}).empty());
  EXPECT_TRUE(checkpoint.read_u8("empty_u8", {3, 0}).empty());
  EXPECT_EQ(checkpoint.read_u8("z_last", {2}), (Bytes{7, 8}));

  // An empty file: no tensors at all.
  const fs::path none = raw("{}", {}, true, "none.safetensors");
  EXPECT_TRUE(File(none).names().empty());
}

TEST_F(SafetensorsTest, OtherWritersOrderAndUnpaddedHeader) {
  // Storage order U8, F32, BF16 (not the writer's), JSON keys unsorted, N not a multiple of 8,
  // trailing spaces after the JSON.
  Bytes data{9};
  const Bytes f = bytes_of(std::vector<float>{1.0f, 2.0f});
  data.insert(data.end(), f.begin(), f.end());
  data.push_back(0x80);
  data.push_back(0x3F);  // bf16 1.0
  const std::string header = "{" + entry("z", "F32", {2}, 1, 9) + "," + entry("a", "BF16", {}, 9, 11) + "," +
                             entry("m", "U8", {1}, 0, 1) + "}   ";
  ASSERT_NE((header.size()) % 8, 0u);
  const fs::path path = raw(header, data, false);
  const File file(path);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a", "m", "z"}));
  EXPECT_EQ(file.header_size(), header.size());
  const Checkpoint checkpoint(path);
  EXPECT_EQ(checkpoint.read_f32("z", {2}), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(checkpoint.read_f32("a", {}), std::vector<float>{1.0f});
}

TEST_F(SafetensorsTest, FileAndCheckpointMove) {
  const fs::path path = file("model.safetensors");
  write_file(path, build({patterned("w", Dtype::kU8, {3}, 5)}));
  File first(path);
  const auto span = first.bytes("w");
  const TensorInfo* info = &first.info("w");
  File second(std::move(first));
  EXPECT_EQ(second.bytes("w").data(), span.data());  // the mapping moved, not copied
  EXPECT_EQ(&second.info("w"), info);
  expect_mentions(error_of([&] { (void)first.names(); }),
                  {"expected a live file", "found one moved from"});  // NOLINT(bugprone-use-after-move)
  Checkpoint a(dir_);
  Checkpoint b(std::move(a));
  EXPECT_EQ(b.read_u8("w", {3}), (Bytes{5, 12, 19}));
}

// ---- Sharded checkpoints ------------------------------------------------------------------------

std::string index_json(const std::map<std::string, std::string>& weight_map) {
  // transformers writes sort_keys=True, indent=2.
  std::string out =
      "{\n  \"metadata\": {\n    \"total_parameters\": 0,\n    \"total_size\": 0\n  },\n  \"weight_map\": {\n";
  bool first = true;
  for (const auto& [tensor, shard] : weight_map) {
    out += std::string(first ? "" : ",\n") + "    \"" + tensor + "\": \"" + shard + "\"";
    first = false;
  }
  return out + "\n  }\n}\n";
}

class ShardedTest : public SafetensorsTest {
 protected:
  // gpt-oss style: three 0-based shards, one layer's tensors spread over two of them.
  void write_gpt_oss_like() {
    const std::string p = "model.layers.0.mlp.";
    shard0_ = {patterned(p + "router.weight", Dtype::kBF16, {4, 8}, 10),
               patterned(p + "router.bias", Dtype::kBF16, {4}, 20),
               patterned("model.unlisted", Dtype::kU8, {1}, 99)};  // in the shard, not in weight_map
    shard1_ = {patterned(p + "experts.gate_up_proj_blocks", Dtype::kU8, {4, 6, 1, 16}, 30),
               patterned(p + "experts.gate_up_proj_scales", Dtype::kU8, {4, 6, 1}, 40)};
    shard2_ = {{p + "experts.gate_up_proj_bias", Dtype::kF32, {4, 6}, bytes_of(std::vector<float>(24, 0.5f))}};
    write_file(file("model-00000-of-00002.safetensors"), build(shard0_));
    write_file(file("model-00001-of-00002.safetensors"), build(shard1_));
    write_file(file("model-00002-of-00002.safetensors"), build(shard2_));
    // A decoy with the 1-based name a derivation would guess for the first shard of three.
    write_file(file("model-00001-of-00003.safetensors"),
               build({patterned(p + "router.weight", Dtype::kBF16, {4, 8}, 200)}));
    std::map<std::string, std::string> weight_map;
    for (const Spec& s : shard0_)
      if (s.name != "model.unlisted") weight_map[s.name] = "model-00000-of-00002.safetensors";
    for (const Spec& s : shard1_) weight_map[s.name] = "model-00001-of-00002.safetensors";
    for (const Spec& s : shard2_) weight_map[s.name] = "model-00002-of-00002.safetensors";
    write_text(file("model.safetensors.index.json"), index_json(weight_map));
  }

  std::vector<Spec> shard0_, shard1_, shard2_;
};

TEST_F(ShardedTest, NamesAndShardsComeFromWeightMap) {
  write_gpt_oss_like();
  const Checkpoint checkpoint(dir_);
  EXPECT_TRUE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.root(), dir_);
  EXPECT_EQ(checkpoint.index_path(), dir_ / "model.safetensors.index.json");
  EXPECT_EQ(checkpoint.names().size(), 5u);
  EXPECT_FALSE(checkpoint.has("model.unlisted"));
  EXPECT_EQ(checkpoint.files(),
            (std::vector<fs::path>{file("model-00000-of-00002.safetensors"), file("model-00001-of-00002.safetensors"),
                                   file("model-00002-of-00002.safetensors")}));
  for (const auto* shard : {&shard0_, &shard1_, &shard2_})
    for (const Spec& s : *shard) {
      if (s.name == "model.unlisted") continue;
      ASSERT_TRUE(checkpoint.has(s.name)) << s.name;
      const auto bytes = checkpoint.bytes(s.name);
      EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), s.data) << s.name;
      EXPECT_EQ(checkpoint.info(s.name).shape, s.shape);
    }
  EXPECT_EQ(checkpoint.file_of("model.layers.0.mlp.router.weight"), file("model-00000-of-00002.safetensors"));
  EXPECT_EQ(checkpoint.file_of("model.layers.0.mlp.experts.gate_up_proj_bias"),
            file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(checkpoint.file("model.layers.0.mlp.router.bias").metadata().at("format"), "pt");
  EXPECT_EQ(checkpoint.read_f32("model.layers.0.mlp.experts.gate_up_proj_bias", {4, 6}), std::vector<float>(24, 0.5f));
  EXPECT_EQ(checkpoint.read_u8("model.layers.0.mlp.experts.gate_up_proj_scales", {4, 6, 1}), shard1_[1].data);
  EXPECT_NO_THROW(checkpoint.validate_all());

  // The index file's path works as well as its directory.
  const Checkpoint by_index(dir_ / "model.safetensors.index.json");
  EXPECT_EQ(by_index.names(), checkpoint.names());
  EXPECT_EQ(by_index.read_u8("model.layers.0.mlp.experts.gate_up_proj_blocks", {4, 6, 1, 16}), shard1_[0].data);
}

TEST_F(ShardedTest, ConcurrentReadsOpenEachShardOnce) {
  write_gpt_oss_like();
  const Checkpoint checkpoint(dir_);
  std::vector<std::thread> threads;
  std::vector<const File*> seen(8);
  for (std::size_t t = 0; t < seen.size(); ++t)
    threads.emplace_back([&, t] {
      for (const auto& name : checkpoint.names()) (void)checkpoint.bytes(name);
      seen[t] = &checkpoint.file("model.layers.0.mlp.router.weight");
    });
  for (auto& thread : threads) thread.join();
  for (const File* f : seen) EXPECT_EQ(f, seen[0]);
}

TEST_F(ShardedTest, PreferSingleFileWhenBothExist) {
  write_gpt_oss_like();
  write_file(file("model.safetensors"), build({patterned("only", Dtype::kU8, {1}, 1)}));
  const Checkpoint checkpoint(dir_);
  EXPECT_FALSE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"only"});
}

// ---- Malformed files: one test each -------------------------------------------------------------

TEST_F(SafetensorsTest, TruncatedBelowTheHeaderLength) {
  const fs::path path = file("short.safetensors");
  write_file(path, Bytes{1, 2, 3, 4, 5});
  expect_mentions(open_error(path), {"expected at least 8 bytes", "found 5", "truncated"});
  write_file(path, Bytes{});
  expect_mentions(open_error(path), {"expected at least 8 bytes", "found 0"});
}

TEST_F(SafetensorsTest, TruncatedInTheData) {
  const fs::path path = file("cut.safetensors");
  Bytes good = build({patterned("a", Dtype::kF32, {4}, 0), patterned("b", Dtype::kU8, {8}, 1)});
  good.erase(good.end() - 3, good.end());  // the last tensor (U8 'b', stored after F32 'a') loses 3 bytes
  write_file(path, good);
  expect_mentions(open_error(path),
                  {"tensor 'b'", "data_offsets [16, 24]", "expected END <= 21", "found 24", "truncated"});
}

TEST_F(SafetensorsTest, HeaderLengthLongerThanTheFile) {
  const fs::path path = file("long.safetensors");
  Bytes bytes = assemble("{}", {});  // N = 8, file = 16 bytes
  bytes[0] = 200;
  write_file(path, bytes);
  expect_mentions(open_error(path), {"header length: expected at most 8 bytes", "found 200"});
}

TEST_F(SafetensorsTest, HeaderOverTheLimit) {
  const fs::path path = file("huge.safetensors");
  Bytes bytes = assemble("{}", {});
  const std::uint64_t n = kMaxHeaderSize + 1;
  for (int i = 0; i < 8; ++i) bytes[i] = std::uint8_t(n >> (8 * i));
  write_file(path, bytes);
  expect_mentions(open_error(path), {"header length: expected at most 100000000 bytes", "found 100000001"});
}

TEST_F(SafetensorsTest, HeaderNotStartingWithBrace) {
  expect_mentions(open_error(raw(" {}", {}, true)), {"header: expected JSON beginning with '{'", "found ' ' (0x20)"});
  expect_mentions(open_error(raw("[1]", {}, true)), {"expected JSON beginning with '{'", "found '[' (0x5b)"});
  expect_mentions(open_error(raw("", {}, false)), {"expected JSON beginning with '{'", "found an empty header"});
}

TEST_F(SafetensorsTest, BadJson) {
  expect_mentions(open_error(raw("{\"a\":{\"dtype\":\"U8\",", {})),
                  {"header: expected valid JSON", "found a parse error"});
  expect_mentions(open_error(raw("{} x", {})), {"header: expected valid JSON", "found a parse error"});
  expect_mentions(open_error(raw("{\"\xff\":1}", {})), {"header: expected valid JSON", "UTF-8"});
}

TEST_F(SafetensorsTest, NonStringMetadataValue) {
  const std::string w = entry("w", "U8", {1}, 0, 1);
  expect_mentions(open_error(raw("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}," + w + "}", {0})),
                  {"__metadata__: key 'step'", "expected a string value", "found 3"});
  expect_mentions(open_error(raw("{\"__metadata__\":{\"cfg\":{\"a\":\"b\"}}," + w + "}", {0})),
                  {"__metadata__: key 'cfg'", "expected a string value", "found object {\"a\":\"b\"}"});
  expect_mentions(open_error(raw("{\"__metadata__\":[\"pt\"]," + w + "}", {0})),
                  {"header: __metadata__", "expected an object of string values", "found array [\"pt\"]"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expect_mentions(open_error(raw("{" + entry("w", "F7", {1}, 0, 1) + "}", {0})),
                  {"tensor 'w'", "dtype: expected one of BOOL, F4,", "U64", "found 'F7'"});
  expect_mentions(open_error(raw("{\"w\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", {0})),
                  {"tensor 'w'", "dtype: expected a string", "found 8"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const std::string header = "{" + entry("a", "F32", {2}, 0, 8) + "," + entry("b", "F32", {2}, 4, 12) + "}";
  expect_mentions(open_error(raw(header, Bytes(12))), {"tensor 'b'", "data_offsets [4, 12]", "expected BEGIN 8",
                                                       "tensor 'a'", "found 4", "overlapping 'a' by 4 bytes"});
}

TEST_F(SafetensorsTest, HoleBetweenTensors) {
  const std::string header = "{" + entry("a", "F32", {2}, 0, 8) + "," + entry("b", "U8", {4}, 12, 16) + "}";
  expect_mentions(open_error(raw(header, Bytes(16))),
                  {"tensor 'b'", "data_offsets [12, 16]", "expected BEGIN 8", "found 12", "a hole of 4 bytes"});
}

TEST_F(SafetensorsTest, OffsetsNotStartingAtZero) {
  const std::string header = "{" + entry("a", "U8", {4}, 2, 6) + "}";
  expect_mentions(open_error(raw(header, Bytes(6))),
                  {"tensor 'a'", "data_offsets [2, 6]", "expected BEGIN 0", "found 2"});
}

TEST_F(SafetensorsTest, EndPastTheFileEnd) {
  const std::string header = "{" + entry("a", "U8", {4}, 0, 4) + "," + entry("b", "U8", {64}, 4, 68) + "}";
  expect_mentions(open_error(raw(header, Bytes(8))),
                  {"tensor 'b'", "data_offsets [4, 68]", "expected END <= 8", "found 68"});
}

TEST_F(SafetensorsTest, FileLongerThanTheLastEnd) {
  const std::string header = "{" + entry("a", "U8", {4}, 0, 4) + "}";
  const fs::path path = raw(header, Bytes(7));
  const std::uint64_t n = File(raw(header, Bytes(4), true, "good.safetensors")).header_size();
  expect_mentions(open_error(path), {"file size: expected " + std::to_string(8 + n + 4), "last tensor 'a'",
                                     "found " + std::to_string(8 + n + 7), "3 bytes after the last tensor"});
}

TEST_F(SafetensorsTest, SizeInconsistentWithShapeAndDtype) {
  expect_mentions(open_error(raw("{" + entry("w", "BF16", {2, 3}, 0, 6) + "}", Bytes(6))),
                  {"tensor 'w'", "expected END - BEGIN = 12 bytes", "[2, 3] BF16", "found 6"});
  // 3 F4 codes are 12 bits: not a whole number of bytes.
  expect_mentions(open_error(raw("{" + entry("q", "F4", {3}, 0, 2) + "}", Bytes(2))),
                  {"tensor 'q'", "shape [3] F4", "whole number of bytes", "found 12 bits"});
}

TEST_F(SafetensorsTest, NegativeOrNonIntegerOffsets) {
  auto with_offsets = [&](const std::string& offsets) {
    return open_error(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + offsets + "}}", Bytes(4)));
  };
  expect_mentions(with_offsets("[-4,0]"), {"tensor 'w'", "expected BEGIN a non-negative integer", "found -4"});
  expect_mentions(with_offsets("[0,4.0]"), {"tensor 'w'", "expected END a non-negative integer", "found 4.0"});
  expect_mentions(with_offsets("[0,4e0]"), {"tensor 'w'", "expected END a non-negative integer", "found 4.0"});
  expect_mentions(with_offsets("[0,\"4\"]"),
                  {"tensor 'w'", "expected END a non-negative integer", "found string \"4\""});
  expect_mentions(with_offsets("[0,18446744073709551616]"), {"tensor 'w'", "expected END a non-negative integer"});
  expect_mentions(with_offsets("[0]"), {"tensor 'w'", "data_offsets: expected [BEGIN, END]", "found array [0]"});
  expect_mentions(with_offsets("[4,0]"), {"tensor 'w'", "expected BEGIN <= END", "found END 0 < BEGIN 4"});
}

TEST_F(SafetensorsTest, NegativeOrNonIntegerShape) {
  auto with_shape = [&](const std::string& shape) {
    return open_error(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,4]}}", Bytes(4)));
  };
  expect_mentions(with_shape("[-1,-4]"), {"tensor 'w'", "shape[0]: expected a non-negative integer", "found -1"});
  expect_mentions(with_shape("[2,2.0]"), {"tensor 'w'", "shape[1]: expected a non-negative integer", "found 2.0"});
  expect_mentions(with_shape("4"), {"tensor 'w'", "shape: expected an array", "found 4"});
  expect_mentions(with_shape("[4294967296,4294967296,4294967296]"),
                  {"tensor 'w'", "expected numel × 8 bits to fit 64 bits", "found more"});
}

TEST_F(SafetensorsTest, MissingFieldsAndNonObjectEntries) {
  expect_mentions(open_error(raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", {0})),
                  {"tensor 'w'", "dtype: expected a dtype string", "found none"});
  expect_mentions(open_error(raw("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", {0})),
                  {"tensor 'w'", "shape: expected an array", "found none"});
  expect_mentions(open_error(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", {0})),
                  {"tensor 'w'", "data_offsets: expected [BEGIN, END]", "found none"});
  expect_mentions(open_error(raw("{\"w\":[1]}", {})),
                  {"tensor 'w'", "expected an object with dtype", "found array [1]"});
}

TEST_F(SafetensorsTest, DuplicateKeys) {
  const std::string a = entry("w", "U8", {1}, 0, 1);
  expect_mentions(open_error(raw("{" + a + "," + a + "}", {0})),
                  {"header: tensor 'w'", "expected each tensor name once", "found it twice"});
  expect_mentions(
      open_error(raw("{\"w\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {0})),
      {"header: tensor 'w'", "key 'dtype'", "expected each key once", "found it twice"});
  expect_mentions(open_error(raw("{\"__metadata__\":{\"format\":\"pt\",\"format\":\"np\"}," + a + "}", {0})),
                  {"header: key '__metadata__'", "key 'format'", "expected each key once", "found it twice"});
}

TEST_F(SafetensorsTest, RandomCorruptionsAreErrorsOrValidFiles) {
  // Byte flips and truncations of a good file: each either opens (and then every tensor lies
  // inside the data section) or throws fixtures::Error; nothing else escapes, nothing crashes.
  const Bytes good = build({patterned("a", Dtype::kF32, {2, 3}, 1),
                            patterned("b", Dtype::kBF16, {5}, 2),
                            patterned("c", Dtype::kU8, {7}, 3),
                            {"s", Dtype::kF16, {}, {0, 0x3C}}});
  std::mt19937 random(20261128);
  const fs::path path = file("fuzz.safetensors");
  int opened = 0, refused = 0;
  for (int round = 0; round < 1500; ++round) {
    Bytes bytes = good;
    if (round % 5 == 4) {
      bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(random() % bytes.size()), bytes.end());
    } else {
      const int flips = 1 + int(random() % 3);
      for (int i = 0; i < flips; ++i) {
        // Mostly the header, where the structure is.
        const std::size_t limit = round % 2 ? bytes.size() : std::min<std::size_t>(bytes.size(), 8 + 200);
        bytes[random() % limit] ^= std::uint8_t(1u << (random() % 8));
      }
    }
    write_file(path, bytes);
    try {
      const File file(path);
      for (const auto& name : file.names()) {
        const auto span = file.bytes(name);
        EXPECT_EQ(span.size(), file.info(name).byte_size());
        EXPECT_LE(file.info(name).end + 8 + file.header_size(), file.file_size());
      }
      ++opened;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 500);
  EXPECT_GT(opened, 10);  // flips inside the data or in whitespace
}

TEST_F(SafetensorsTest, NotAFile) {
  expect_mentions(open_error(dir_), {"expected a safetensors file", "found a directory"});
  expect_mentions(open_error(file("absent.safetensors")), {"expected a safetensors file", "found no such file"});
}

// ---- Missing tensors, shards and shapes ---------------------------------------------------------

TEST_F(SafetensorsTest, MissingTensorListsNamesThatExist) {
  const fs::path path = file("model.safetensors");
  write_file(path, build({patterned("model.layers.0.mlp.experts.gate_up_proj_blocks", Dtype::kU8, {1}, 0),
                          patterned("model.layers.0.mlp.experts.gate_up_proj_scales", Dtype::kU8, {1}, 0),
                          patterned("lm_head.weight", Dtype::kU8, {1}, 0)}));
  const File file(path);
  expect_mentions(error_of([&] { file.info("model.layers.0.mlp.experts.gate_up_proj"); }),
                  {path.string(), "tensor 'model.layers.0.mlp.experts.gate_up_proj'", "expected a tensor of that name",
                   "found none", "'model.layers.0.mlp.experts.gate_up_proj_blocks'"});
  expect_mentions(error_of([&] { file.bytes("nope"); }), {path.string(), "tensor 'nope'", "found none"});
  const Checkpoint checkpoint(dir_);
  expect_mentions(error_of([&] { checkpoint.read_f32("nope", {1}); }), {path.string(), "tensor 'nope'", "found none"});
  expect_mentions(error_of([&] { checkpoint.file_of("nope"); }), {path.string(), "tensor 'nope'", "found none"});
}

TEST_F(ShardedTest, TensorInNeitherWeightMapNorShards) {
  write_gpt_oss_like();
  const Checkpoint checkpoint(dir_);
  const std::string index = (dir_ / "model.safetensors.index.json").string();
  for (const std::string name : {"model.layers.0.mlp.router.weights", "model.unlisted"}) {
    EXPECT_FALSE(checkpoint.has(name));
    expect_mentions(error_of([&] { checkpoint.info(name); }),
                    {index, "tensor '" + name + "'", "expected a tensor that weight_map lists", "found none",
                     "'model.layers.0.mlp.router.weight'"});
    expect_mentions(error_of([&] { checkpoint.file_of(name); }), {index, "tensor '" + name + "'"});
  }
}

TEST_F(ShardedTest, MissingShardFile) {
  write_gpt_oss_like();
  fs::remove(file("model-00001-of-00002.safetensors"));
  const Checkpoint checkpoint(dir_);  // shards open lazily: the others still serve their tensors
  EXPECT_EQ(checkpoint.read_f32("model.layers.0.mlp.experts.gate_up_proj_bias", {4, 6}), std::vector<float>(24, 0.5f));
  const std::string index = (dir_ / "model.safetensors.index.json").string();
  const std::string shard = file("model-00001-of-00002.safetensors").string();
  for (const auto& message : {error_of([&] { checkpoint.bytes("model.layers.0.mlp.experts.gate_up_proj_scales"); }),
                              error_of([&] { checkpoint.validate_all(); })})
    expect_mentions(message,
                    {index + ": weight_map: tensor 'model.layers.0.mlp.experts.gate_up_proj_",
                     "shard 'model-00001-of-00002.safetensors'", "expected the file " + shard, "found no such file"});
  EXPECT_EQ(checkpoint.file_of("model.layers.0.mlp.experts.gate_up_proj_scales"), shard);  // from the index alone
}

TEST_F(ShardedTest, IndexNamesATensorItsShardLacks) {
  write_gpt_oss_like();
  std::map<std::string, std::string> weight_map{
      {"model.layers.0.mlp.router.weight", "model-00000-of-00002.safetensors"},
      {"model.layers.0.mlp.router.bias", "model-00001-of-00002.safetensors"}};  // it is in shard 0
  write_text(file("model.safetensors.index.json"), index_json(weight_map));
  const Checkpoint checkpoint(dir_);
  const std::string shard = file("model-00001-of-00002.safetensors").string();
  for (const auto& message : {error_of([&] { checkpoint.info("model.layers.0.mlp.router.bias"); }),
                              error_of([&] { checkpoint.validate_all(); })})
    expect_mentions(message, {shard + ": tensor 'model.layers.0.mlp.router.bias'", "expected the tensor in this shard",
                              "model.safetensors.index.json weight_map says", "found none",
                              "'model.layers.0.mlp.experts.gate_up_proj_blocks'"});
}

TEST_F(ShardedTest, MalformedIndex) {
  const fs::path index = file("model.safetensors.index.json");
  auto index_error = [&](const std::string& text) {
    write_text(index, text);
    const std::string message = error_of([&] { Checkpoint checkpoint(dir_); });
    expect_mentions(message, {index.string() + ": "});
    return message;
  };
  expect_mentions(index_error("{\"weight_map\": {\"a\": "), {"index: expected valid JSON", "found a parse error"});
  expect_mentions(index_error("{\"metadata\": {}}"), {"weight_map: expected an object", "found none"});
  expect_mentions(index_error("{\"weight_map\": [\"a\"]}"), {"weight_map: expected an object", "found array [\"a\"]"});
  expect_mentions(index_error("{\"weight_map\": {\"a\": 3}}"),
                  {"weight_map: tensor 'a'", "expected a shard file name", "found 3"});
  expect_mentions(index_error("{\"weight_map\": {\"a\": \"\"}}"), {"weight_map: tensor 'a'", "found an empty string"});
  expect_mentions(index_error("{\"weight_map\": {\"a\": \"/etc/x.safetensors\"}}"),
                  {"weight_map: tensor 'a'", "relative to the index's directory", "found the absolute path"});
  expect_mentions(index_error("{\"weight_map\": {\"a\": \"s.safetensors\", \"a\": \"t.safetensors\"}}"),
                  {"index: key 'weight_map'", "key 'a'", "expected each key once", "found it twice"});
}

TEST_F(SafetensorsTest, DirectoryWithoutACheckpoint) {
  write_text(file("config.json"), "{}");
  write_file(file("model-00001-of-00001.safetensors"), build({patterned("w", Dtype::kU8, {1}, 0)}));
  expect_mentions(error_of([&] { Checkpoint checkpoint(dir_); }),
                  {dir_.string() + ": ",
                   "expected a checkpoint directory holding model.safetensors or "
                   "model.safetensors.index.json",
                   "found neither", "'config.json', 'model-00001-of-00001.safetensors'"});
  expect_mentions(error_of([&] { Checkpoint checkpoint(dir_ / "absent"); }),
                  {(dir_ / "absent").string(), "found no such file or directory"});
}

TEST_F(SafetensorsTest, ReadF32ShapeNotTheExpectedOne) {
  const fs::path path = file("model.safetensors");
  write_file(path, build({{"w", Dtype::kF32, {2, 3}, bytes_of(std::vector<float>(6, 1.0f))}}));
  const Checkpoint checkpoint(dir_);
  expect_mentions(error_of([&] {
                    checkpoint.read_f32("w", {3, 2});
                  }),
                  {path.string(), "tensor 'w'", "shape: expected [3, 2]", "found [2, 3]"});
  expect_mentions(error_of([&] { checkpoint.read_f32("w", {kAnyDim}); }),
                  {path.string(), "tensor 'w'", "shape: expected [-1] (-1 = any)", "found [2, 3]"});
  expect_mentions(error_of([&] { checkpoint.read_u8("w", {2, 3}); }), {path.string(), "tensor 'w'", "found F32"});
}

}  // namespace
}  // namespace moecheck::fixtures::safetensors
