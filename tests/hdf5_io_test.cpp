// The HDF5 fixture layer: round trips of every element type, storage layout (compression only for
// large tensors), atomic commit, every read error with its message, and interoperability with
// files that h5py and h5dump see.
#include "fixtures/hdf5_io.h"
#include "tests/fixtures_test_support.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace moecheck::fixtures {
namespace {

namespace fs = std::filesystem;
using reference::formats::Format;

class Hdf5IoTest : public moecheck::test::TempDirTest {
 protected:
  Hdf5IoTest() : TempDirTest("moecheck-hdf5-") {}

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

};

using moecheck::test::error_of;
using moecheck::test::expect_mentions;

// Raw HDF5 C API, to build files moecheck's writer would never produce (h5py-style, broken).
class RawFile {
 public:
  RawFile(const fs::path& path, bool create)
      : id_(create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                   : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    EXPECT_GE(id_, 0) << path;
  }
  ~RawFile() { H5Fclose(id_); }
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  void dataset(const char* name, hid_t type, std::vector<hsize_t> dims, const void* data) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t set = H5Dcreate2(id_, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(set, 0) << name;
    const hid_t memory = H5Tget_native_type(type, H5T_DIR_DEFAULT);
    EXPECT_GE(H5Dwrite(set, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Tclose(memory);
    H5Dclose(set);
    H5Pclose(lcpl);
    H5Sclose(space);
  }

  void string_attribute(const char* object, const char* key, const char* value) {
    remove_attribute(object, key);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate_by_name(id_, object, key, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(attribute, type, &value), 0);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
  }

  void ints_attribute(const char* object, const char* key, std::vector<std::int64_t> values, bool scalar) {
    remove_attribute(object, key);
    const hsize_t dims[1] = {values.size()};
    const hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr);
    const hid_t attribute =
        H5Acreate_by_name(id_, object, key, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Awrite(attribute, H5T_NATIVE_INT64, values.data()), 0);
    H5Aclose(attribute);
    H5Sclose(space);
  }

  void remove_attribute(const char* object, const char* key) {
    if (H5Aexists_by_name(id_, object, key, H5P_DEFAULT) > 0) H5Adelete_by_name(id_, object, key, H5P_DEFAULT);
  }

 private:
  hid_t id_;
};

struct Layout {
  H5D_layout_t layout = H5D_LAYOUT_ERROR;
  std::vector<H5Z_filter_t> filters;
  std::vector<hsize_t> chunk;
};

Layout layout_of(const fs::path& path, const char* dataset) {
  Layout out;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t set = H5Dopen2(file, dataset, H5P_DEFAULT);
  const hid_t dcpl = H5Dget_create_plist(set);
  out.layout = H5Pget_layout(dcpl);
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0;
    std::size_t count = 0;
    unsigned config = 0;
    out.filters.push_back(H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &count, nullptr, 0, nullptr, &config));
  }
  if (out.layout == H5D_CHUNKED) {
    out.chunk.resize(static_cast<std::size_t>(H5Pget_chunk(dcpl, 0, nullptr)));
    H5Pget_chunk(dcpl, static_cast<int>(out.chunk.size()), out.chunk.data());
  }
  H5Pclose(dcpl);
  H5Dclose(set);
  H5Fclose(file);
  return out;
}

int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Appends rather than `"'" + s + "'"`, which trips GCC 12's -Wrestrict false positive.
std::string shell_quote(const fs::path& path) {
  std::string quoted = "'";
  quoted += path.string();
  quoted += "'";
  return quoted;
}

// The first interpreter that imports h5py: MOECHECK_PYTHON, python3 on PATH, then the system one
// (a pyenv python3 may shadow the distribution's python3-h5py).
std::string python_with_h5py() {
  std::vector<std::string> candidates;
  if (const char* chosen = std::getenv("MOECHECK_PYTHON")) candidates.emplace_back(chosen);
  candidates.emplace_back("python3");
  candidates.emplace_back("/usr/bin/python3");
  for (const auto& python : candidates)
    if (run_shell(python + " -c 'import h5py' >/dev/null 2>&1") == 0) return python;
  return {};
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(Hdf5IoTest, EveryElementTypeRoundTrips) {
  const std::vector<float> f32{1.5f, -0.0f, std::numeric_limits<float>::infinity(), 3e-38f, -7.25f, 1e30f};
  const std::vector<double> f64{0.1, -2.5, 1e-300};
  const std::vector<std::int32_t> i32{std::numeric_limits<std::int32_t>::min(), -1, 0, 7};
  const std::vector<std::int64_t> i64{std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::uint8_t> u8{0, 1, 127, 128, 255};
  const std::vector<std::uint16_t> u16{0, 65535};
  const std::vector<std::uint32_t> u32{0, 4294967295u, 65536};
  const std::vector<std::uint16_t> bf16{0x3F80, 0xFFFF, 0x8000, 0x7F80};
  const std::vector<std::uint16_t> f16{0x3C00, 0x7C00, 0xFE00};
  const std::vector<std::uint8_t> e4m3{0x00, 0x38, 0x7E, 0x7F, 0x80, 0xFE};
  const std::vector<std::uint8_t> e5m2{0x3C, 0x7C};
  const std::vector<std::uint8_t> ue4m3{0x00, 0x7E};
  // logical [2, 4]: codes 1 2 3 4 / F 8 0 7, even element in the low nibble.
  const std::vector<std::uint8_t> e2m1{0x21, 0x43, 0x8F, 0x70};
  const std::vector<std::uint8_t> e8m0{0x00, 0x7F, 0xFE, 0xFF};

  std::vector<std::pair<std::string, Tensor>> tensors{
      {"f32", Tensor::f32({2, 3}, f32)},
      {"f64", Tensor::f64({3}, f64)},
      {"i32", Tensor::i32({2, 2}, i32)},
      {"i64", Tensor::i64({2}, i64)},
      {"u8", Tensor::u8({5}, u8)},
      {"u16", Tensor::u16({1, 2}, u16)},
      {"u32", Tensor::u32({3, 1}, u32)},
      {"bf16", Tensor::bf16({2, 2}, bf16)},
      {"f16", Tensor::f16({3}, f16)},
      {"fp8_e4m3fn", Tensor::fp8(Format::kE4m3fn, {2, 3}, e4m3)},
      {"fp8_e5m2", Tensor::fp8(Format::kE5m2, {2}, e5m2)},
      {"fp8_ue4m3", Tensor::fp8(Format::kUe4m3, {2}, ue4m3)},
      {"e2m1x2", Tensor::e2m1x2({2, 4}, e2m1)},
      {"e8m0", Tensor::e8m0({2, 2}, e8m0)},
  };
  const fs::path path = file("types.h5");
  {
    Writer writer(path);
    for (const auto& [name, tensor] : tensors) writer.write(name, tensor);
    writer.commit();
  }

  const Reader reader(path);
  EXPECT_EQ(reader.schema_version(), kSchemaVersion);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    names.push_back(name);
    const Tensor back = reader.read(name);
    EXPECT_EQ(back, tensor);
    EXPECT_EQ(reader.read(name, tensor.type, tensor.logical_shape), tensor);
    EXPECT_EQ(reader.require_string_attribute(name, kDtypeAttribute), std::string(fixtures::name(tensor.type)));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(reader.datasets(), names);

  // Values through the typed views and readers, not only byte equality.
  EXPECT_EQ(reader.read_f32("f32", {2, 3}), f32);
  EXPECT_EQ(reader.read_f64("f64", {3}), f64);
  EXPECT_EQ(reader.read_i32("i32", {2, 2}), i32);
  EXPECT_EQ(reader.read_i64("i64", {2}), i64);
  const Tensor u32_back = reader.read("u32");
  EXPECT_EQ(std::vector<std::uint32_t>(u32_back.view<std::uint32_t>().begin(), u32_back.view<std::uint32_t>().end()),
            u32);
  const Tensor bf16_back = reader.read("bf16", ElementType::kBf16, {2, 2});
  EXPECT_EQ(std::vector<std::uint16_t>(bf16_back.view<std::uint16_t>().begin(), bf16_back.view<std::uint16_t>().end()),
            bf16);

  const Tensor fp8 = reader.read_fp8("fp8_e4m3fn", Format::kE4m3fn, {2, 3});
  EXPECT_EQ(fp8.format, Format::kE4m3fn);
  EXPECT_EQ(reader.require_string_attribute("fp8_e4m3fn", kFormatAttribute), "e4m3fn");
  EXPECT_EQ(reader.read("fp8_ue4m3").format, Format::kUe4m3);
  EXPECT_EQ(reader.read("fp8_e5m2").format, Format::kE5m2);

  const Tensor packed = reader.read("e2m1x2", ElementType::kE2m1x2, {2, 4});
  EXPECT_EQ(packed.shape, (Shape{2, 2}));
  EXPECT_EQ(packed.logical_shape, (Shape{2, 4}));
  EXPECT_EQ(std::vector<std::uint8_t>(packed.bytes), e2m1);
  EXPECT_EQ(reader.require_string_attribute("e2m1x2", kPackingAttribute), "low_nibble_even");
  EXPECT_EQ(reader.require_ints_attribute("e2m1x2", kLogicalShapeAttribute), (std::vector<std::int64_t>{2, 4}));
  EXPECT_FALSE(reader.read("e8m0").format.has_value());
}

TEST_F(Hdf5IoTest, ScalarsAndEmptyShapesRoundTrip) {
  const std::vector<float> one{3.5f};
  const std::vector<std::int64_t> answer{42};
  const std::vector<float> none_f32;
  const std::vector<std::int32_t> none_i32;
  const std::vector<std::uint8_t> none_u8;
  std::vector<std::pair<std::string, Tensor>> tensors{
      {"scalar_f32", Tensor::f32({}, one)},
      {"scalar_i64", Tensor::i64({}, answer)},
      {"empty_rows", Tensor::f32({0, 4}, none_f32)},
      {"empty_cols", Tensor::i32({4, 0}, none_i32)},
      {"empty_1d", Tensor::u8({0}, none_u8)},
      {"empty_e2m1x2", Tensor::e2m1x2({0, 4}, none_u8)},
      {"empty_wide", Tensor::f32({0, 1 << 20}, none_f32)},  // huge row, zero rows: still no chunking
  };
  const fs::path path = file("shapes.h5");
  {
    Writer writer(path);
    for (const auto& [name, tensor] : tensors) writer.write(name, tensor);
    writer.commit();
  }
  const Reader reader(path);
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    EXPECT_EQ(reader.read(name), tensor);
  }
  EXPECT_EQ(reader.read_f32("scalar_f32", {}), one);
  EXPECT_EQ(reader.read("scalar_i64").shape, Shape{});
  EXPECT_EQ(reader.read("empty_rows", ElementType::kF32, {0, 4}).bytes.size(), 0u);
  EXPECT_EQ(reader.read("empty_e2m1x2").shape, (Shape{0, 2}));
  EXPECT_EQ(reader.read("empty_e2m1x2").logical_shape, (Shape{0, 4}));
  EXPECT_EQ(layout_of(path, "empty_wide").layout, H5D_CONTIGUOUS);
  // A scalar is not a one-element vector.
  expect_mentions(error_of([&] { reader.read_f32("scalar_f32", {1}); }), {"expected [1], found []"});
}

TEST_F(Hdf5IoTest, NamesWithSlashesCreateGroups) {
  const std::vector<float> values{1, 2};
  const fs::path path = file("groups.h5");
  {
    Writer writer(path);
    writer.write("layer0/experts/w13", Tensor::f32({2}, values));
    writer.write("/layer0/bias", Tensor::f32({2}, values));
    writer.write("top", Tensor::f32({2}, values));
    expect_mentions(error_of([&] { writer.write("layer0/bias", Tensor::f32({2}, values)); }),
                    {"groups.h5", "dataset 'layer0/bias'", "expected a new name", "found a dataset"});
    expect_mentions(error_of([&] { writer.write("layer0/bias/z", Tensor::f32({2}, values)); }),
                    {"dataset 'layer0/bias/z'", "parent 'layer0/bias'", "expected a group, found a dataset"});
    expect_mentions(error_of([&] { writer.write("layer0", Tensor::f32({2}, values)); }), {"found a group"});
    for (const char* bad : {"", "/", "a//b", "a/./b", "a/../b", "a/"})
      expect_mentions(error_of([&] { writer.write(bad, Tensor::f32({2}, values)); }), {"groups.h5", "dataset name"});
    writer.commit();
  }
  const Reader reader(path);
  EXPECT_EQ(reader.datasets(), (std::vector<std::string>{"layer0/bias", "layer0/experts/w13", "top"}));
  EXPECT_TRUE(reader.has("layer0/experts/w13"));
  EXPECT_TRUE(reader.has("/layer0/experts/w13"));
  EXPECT_FALSE(reader.has("layer0"));  // a group, not a dataset
  EXPECT_FALSE(reader.has("layer0/experts/w2"));
  EXPECT_FALSE(reader.has("nothing/at/all"));
  EXPECT_EQ(reader.read_f32("/layer0/experts/w13", {2}), values);
}

// ---------------------------------------------------------------------------------------------
// Storage layout

TEST_F(Hdf5IoTest, LargeTensorsAreChunkedAndCompressedSmallOnesAreNot) {
  std::mt19937 random(1234);
  std::uniform_int_distribution<int> small_ints(-8, 8);
  std::vector<float> big(512 * 300);                               // 600 KiB
  for (auto& v : big) v = static_cast<float>(small_ints(random));  // compressible, exactly representable
  const std::vector<float> zeros(256 * 1024, 0.0f);                // 1 MiB of zeros
  const std::vector<float> small(16 * 16, 1.0f);
  const std::vector<float> at_threshold(kCompressMinBytes / sizeof(float), 2.0f);
  const std::vector<float> under_threshold(kCompressMinBytes / sizeof(float) - 1, 2.0f);
  const std::vector<double> long_1d(100000, 0.5);  // 800 KB along one dimension
  std::vector<std::uint8_t> packed(1024 * 128);
  for (auto& b : packed) b = static_cast<std::uint8_t>(random());

  const fs::path path = file("layout.h5");
  {
    Writer writer(path);
    writer.write("big", Tensor::f32({512, 300}, big));
    writer.write("zeros", Tensor::f32({4, 256, 256}, zeros));
    writer.write("small", Tensor::f32({16, 16}, small));
    writer.write("at_threshold", Tensor::f32({static_cast<std::int64_t>(at_threshold.size())}, at_threshold));
    writer.write("under_threshold", Tensor::f32({static_cast<std::int64_t>(under_threshold.size())}, under_threshold));
    writer.write("long_1d", Tensor::f64({100000}, long_1d));
    writer.write("packed", Tensor::e2m1x2({1024, 256}, packed));
    writer.commit();
  }

  for (const char* name : {"big", "zeros", "at_threshold", "long_1d", "packed"}) {
    SCOPED_TRACE(name);
    const Layout layout = layout_of(path, name);
    EXPECT_EQ(layout.layout, H5D_CHUNKED);
    EXPECT_EQ(layout.filters, (std::vector<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}));
  }
  for (const char* name : {"small", "under_threshold"}) {
    SCOPED_TRACE(name);
    const Layout layout = layout_of(path, name);
    EXPECT_EQ(layout.layout, H5D_CONTIGUOUS);
    EXPECT_TRUE(layout.filters.empty());
  }

  // Chunks are row-major slabs within the target size: [k, 300] of [512, 300] floats.
  const Layout big_layout = layout_of(path, "big");
  ASSERT_EQ(big_layout.chunk.size(), 2u);
  EXPECT_EQ(big_layout.chunk[1], 300u);
  EXPECT_LE(big_layout.chunk[0] * 300 * sizeof(float), kChunkTargetBytes);
  EXPECT_GE(big_layout.chunk[0] * 300 * sizeof(float), kChunkTargetBytes / 2);
  const Layout zeros_layout = layout_of(path, "zeros");
  EXPECT_EQ(zeros_layout.chunk, (std::vector<hsize_t>{1, 256, 256}));
  const Layout long_layout = layout_of(path, "long_1d");
  EXPECT_EQ(long_layout.chunk, (std::vector<hsize_t>{kChunkTargetBytes / sizeof(double)}));

  // The filters did their job: 1 MiB of zeros and 600 KiB of small integers take far less space.
  EXPECT_LT(fs::file_size(path), 600u * 1024u);

  const Reader reader(path);
  EXPECT_EQ(reader.read_f32("big", {512, 300}), big);
  EXPECT_EQ(reader.read_f32("zeros", {4, 256, 256}), zeros);
  EXPECT_EQ(reader.read_f64("long_1d", {-1}), long_1d);
  EXPECT_EQ(reader.read("packed", ElementType::kE2m1x2, {1024, 256}).bytes, packed);
}

TEST_F(Hdf5IoTest, SameContentGivesSameBytes) {
  // No timestamps in object headers, so regenerating a committed fixture leaves git clean.
  const std::vector<float> values{1, 2, 3, 4};
  auto write = [&](const fs::path& path) {
    Writer writer(path);
    writer.write("a/b", Tensor::f32({2, 2}, values));
    writer.set_string_attribute("/", "note", "same");
    writer.commit();
  };
  write(file("one.h5"));
  sleep(1);  // time stamps, if any were written, would now differ
  write(file("two.h5"));
  EXPECT_EQ(slurp(file("one.h5")), slurp(file("two.h5")));
}

// ---------------------------------------------------------------------------------------------
// Attributes

TEST_F(Hdf5IoTest, AttributesOfEveryKindOnRootGroupsAndDatasets) {
  const std::vector<float> values{1, 2};
  const std::vector<std::int64_t> ints{3, -1, std::numeric_limits<std::int64_t>::max()};
  const std::vector<double> doubles{0.1, -2.0, std::numeric_limits<double>::infinity()};
  const fs::path path = file("attributes.h5");
  {
    Writer writer(path);
    writer.write("experts/w13", Tensor::f32({2}, values));
    writer.create_group("meta");
    for (const char* object : {"/", "experts/w13", "experts", "meta"}) {
      writer.set_string_attribute(object, "text", "first");
      writer.set_string_attribute(object, "text", std::string("µs \xe2\x9c\x93 ") + object);  // replaces
      writer.set_string_attribute(object, "empty", "");
      writer.set_int_attribute(object, "int", std::numeric_limits<std::int64_t>::min());
      writer.set_double_attribute(object, "double", 0.1);
      writer.set_ints_attribute(object, "ints", ints);
      writer.set_ints_attribute(object, "no_ints", std::span<const std::int64_t>{});
      writer.set_doubles_attribute(object, "doubles", doubles);
    }
    expect_mentions(error_of([&] { writer.set_int_attribute("missing", "k", 1); }),
                    {"attributes.h5", "object 'missing'", "expected an existing object", "found none"});
    expect_mentions(error_of([&] { writer.set_string_attribute("experts/w13", "moecheck_dtype", "f64"); }),
                    {"dataset 'experts/w13'", "'moecheck_dtype'", "reserves"});
    expect_mentions(error_of([&] { writer.set_int_attribute("/", "schema_version", 7); }),
                    {"root group '/'", "'schema_version'", "reserves"});
    writer.set_string_attribute("meta", "format", "e4m3fn");  // reserved on datasets only
    writer.commit();
  }

  const Reader reader(path);
  for (const char* object : {"/", "experts/w13", "experts", "meta"}) {
    SCOPED_TRACE(object);
    EXPECT_EQ(reader.require_string_attribute(object, "text"), std::string("µs \xe2\x9c\x93 ") + object);
    EXPECT_EQ(reader.string_attribute(object, "empty"), std::string());
    EXPECT_EQ(reader.require_int_attribute(object, "int"), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(reader.require_double_attribute(object, "double"), 0.1);
    EXPECT_EQ(reader.require_ints_attribute(object, "ints"), ints);
    EXPECT_EQ(reader.require_ints_attribute(object, "no_ints"), std::vector<std::int64_t>{});
    EXPECT_EQ(reader.require_doubles_attribute(object, "doubles"), doubles);
    EXPECT_TRUE(reader.has_attribute(object, "ints"));
    EXPECT_FALSE(reader.has_attribute(object, "absent"));
    EXPECT_EQ(reader.int_attribute(object, "absent"), std::nullopt);
    EXPECT_EQ(reader.string_attribute(object, "absent"), std::nullopt);
    EXPECT_EQ(reader.doubles_attribute(object, "absent"), std::nullopt);
  }
  EXPECT_EQ(reader.attribute_names("/"), (std::vector<std::string>{"double", "doubles", "empty", "int", "ints",
                                                                   "no_ints", "schema_version", "text"}));
  EXPECT_EQ(reader.require_int_attribute("/", kSchemaVersionAttribute), kSchemaVersion);
  EXPECT_EQ(reader.string_attribute("meta", "format"), "e4m3fn");
  expect_mentions(error_of([&] { reader.has_attribute("nowhere", "k"); }),
                  {"attributes.h5", "object 'nowhere'", "expected a group or dataset, found none"});
}

TEST_F(Hdf5IoTest, AttributeErrorsNameFileObjectExpectedAndFound) {
  const std::vector<float> values{1};
  const fs::path path = file("attribute_errors.h5");
  {
    Writer writer(path);
    writer.write("w", Tensor::f32({1}, values));
    writer.set_string_attribute("/", "seed", "not a number");
    writer.set_ints_attribute("w", "shape", std::vector<std::int64_t>{1, 2, 3});
    writer.set_double_attribute("w", "scale", 2.0);
    writer.commit();
  }
  const Reader reader(path);
  expect_mentions(error_of([&] { reader.require_int_attribute("/", "missing"); }),
                  {"attribute_errors.h5", "root group '/'", "attribute 'missing'", "expected int64 scalar",
                   "found no such attribute", "seed"});
  expect_mentions(
      error_of([&] { reader.require_string_attribute("w", "note"); }),
      {"attribute_errors.h5", "dataset 'w'", "attribute 'note'", "expected string", "found no such attribute"});
  expect_mentions(
      error_of([&] { reader.require_int_attribute("/", "seed"); }),
      {"attribute_errors.h5", "root group '/'", "attribute 'seed'", "expected int64 scalar", "found string scalar"});
  // The optional getter does not hide a wrong type as "absent".
  expect_mentions(error_of([&] { reader.int_attribute("/", "seed"); }), {"expected int64 scalar, found string scalar"});
  expect_mentions(error_of([&] { reader.doubles_attribute("w", "shape"); }),
                  {"dataset 'w'", "attribute 'shape'", "expected float64 array", "found int64 array of 3"});
  expect_mentions(error_of([&] { reader.require_int_attribute("w", "shape"); }),
                  {"expected int64 scalar", "found int64 array of 3"});
  expect_mentions(error_of([&] { reader.require_ints_attribute("w", "scale"); }),
                  {"expected int64 array", "found float64 scalar"});
  expect_mentions(error_of([&] { reader.require_string_attribute("w", "scale"); }),
                  {"expected string", "found float64 scalar"});
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

TEST_F(Hdf5IoTest, NothingUnderTheFinalNameBeforeCommit) {
  const std::vector<float> values{1, 2, 3};
  const fs::path path = file("atomic.h5");
  Writer writer(path);
  writer.write("w", Tensor::f32({3}, values));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists(writer.temp_path()));
  EXPECT_EQ(writer.temp_path().parent_path(), path.parent_path());
  EXPECT_EQ(writer.path(), path);
  writer.commit();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(entries(), std::vector<std::string>{"atomic.h5"});
  expect_mentions(error_of([&] { writer.write("x", Tensor::f32({3}, values)); }), {"atomic.h5", "already committed"});
  expect_mentions(error_of([&] { writer.commit(); }), {"already committed"});
  EXPECT_EQ(Reader(path).read_f32("w", {3}), values);
}

TEST_F(Hdf5IoTest, WriterDestroyedWithoutCommitLeavesNothing) {
  const std::vector<float> values{1, 2, 3};
  const fs::path path = file("abandoned.h5");
  fs::path temp;
  {
    Writer writer(path);
    writer.write("w", Tensor::f32({3}, values));
    temp = writer.temp_path();
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_TRUE(entries().empty());

  // The same when an exception unwinds through the writer half way.
  try {
    Writer writer(path);
    writer.write("w", Tensor::f32({3}, values));
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(entries().empty());

  // And when the writer itself throws mid-way.
  EXPECT_THROW(
      {
        Writer writer(path);
        writer.write("w", Tensor::f32({3}, values));
        writer.write("w", Tensor::f32({3}, values));
      },
      Error);
  EXPECT_TRUE(entries().empty());

  // A moved-from writer owns nothing; the one moved into removes the file.
  {
    Writer first(path);
    Writer second = std::move(first);
    second.write("w", Tensor::f32({3}, values));
    expect_mentions(error_of([&] { first.write("x", Tensor::f32({3}, values)); }), {"moved from"});
  }
  EXPECT_TRUE(entries().empty());
}

TEST_F(Hdf5IoTest, CommitReplacesAnExistingFileWhole) {
  const std::vector<float> old_values{1, 2};
  const std::vector<float> new_values{3, 4, 5};
  const fs::path path = file("replace.h5");
  {
    Writer writer(path);
    writer.write("old", Tensor::f32({2}, old_values));
    writer.set_string_attribute("/", "generation", "old");
    writer.commit();
  }
  Writer writer(path);
  writer.write("new", Tensor::f32({3}, new_values));
  writer.set_int_attribute("/", "count", 3);
  {
    const Reader before(path);  // readers see the old file until the commit
    EXPECT_EQ(before.datasets(), std::vector<std::string>{"old"});
  }
  writer.commit();
  const Reader after(path);
  EXPECT_EQ(after.datasets(), std::vector<std::string>{"new"});
  EXPECT_EQ(after.read_f32("new", {3}), new_values);
  EXPECT_FALSE(after.has_attribute("/", "generation"));
  EXPECT_EQ(after.require_int_attribute("/", "count"), 3);
  EXPECT_EQ(entries(), std::vector<std::string>{"replace.h5"});
}

TEST_F(Hdf5IoTest, MissingDirectoryIsAnErrorNotCreated) {
  const fs::path path = dir_ / "no_such_dir" / "x.h5";
  expect_mentions(error_of([&] { Writer writer(path); }), {"x.h5", "no_such_dir", "expected an existing directory",
                                                           "does not create directories", "found none"});
  EXPECT_TRUE(entries().empty());
  fs::create_directory(dir_ / "a_dir");
  expect_mentions(error_of([&] { Writer writer(dir_ / "a_dir"); }), {"a_dir", "found a directory"});
}

// ---------------------------------------------------------------------------------------------
// Tensors

TEST_F(Hdf5IoTest, TensorsRefuseInconsistentContents) {
  const std::vector<float> five(5);
  const std::vector<std::uint8_t> three(3);
  expect_mentions(error_of([&] { Tensor::f32({2, 3}, five); }), {"Tensor::f32", "expected 6", "[2, 3]", "found 5"});
  expect_mentions(error_of([&] { Tensor::e2m1x2({2, 3}, three); }), {"e2m1x2", "even last dimension", "[2, 3]"});
  expect_mentions(error_of([&] { Tensor::fp8(Format::kE8m0, {3}, three); }), {"expected one of e4m3fn", "found e8m0"});
  expect_mentions(error_of([&] { Tensor::u8({-1, 3}, three); }), {"[-1, 3]", "found -1"});

  const std::vector<std::uint16_t> bits{0x3F80};
  const Tensor bf16 = Tensor::bf16({1}, bits);
  EXPECT_EQ(bf16.view<std::uint16_t>()[0], 0x3F80);
  expect_mentions(error_of([&] { bf16.view<float>(); }), {"view<float>", "found bf16", "uint16_t"});

  Tensor broken = Tensor::f32({2, 3}, std::vector<float>(6));
  broken.bytes.pop_back();
  Writer writer(file("broken.h5"));
  expect_mentions(error_of([&] { writer.write("w", broken); }),
                  {"broken.h5", "dataset 'w'", "expected 24", "found 23"});
  Tensor formatted = Tensor::f32({1}, std::vector<float>(1));
  formatted.format = Format::kE4m3fn;
  expect_mentions(error_of([&] { writer.write("w", formatted); }), {"format: expected none for f32, found e4m3fn"});
  Tensor lost_logical = Tensor::f32({2}, std::vector<float>(2));
  lost_logical.logical_shape.clear();
  expect_mentions(error_of([&] { writer.write("w", lost_logical); }), {"logical_shape: expected [2]", "found []"});
  Tensor no_format = Tensor::fp8(Format::kE4m3fn, {3}, three);
  no_format.format.reset();
  expect_mentions(error_of([&] { writer.write("w", no_format); }), {"fp8 format", "found none"});
}

// ---------------------------------------------------------------------------------------------
// Read errors: each message names the file, the dataset, the expected and the found.

TEST_F(Hdf5IoTest, MissingFileAndNonHdf5File) {
  expect_mentions(error_of([&] { Reader reader(file("absent.h5")); }),
                  {"absent.h5", "expected an HDF5 file", "found no such file"});
  std::ofstream(file("text.h5")) << "this is not HDF5\n";
  expect_mentions(error_of([&] { Reader reader(file("text.h5")); }),
                  {"text.h5", "expected an HDF5 file", "without the HDF5 signature"});
  expect_mentions(error_of([&] { Reader reader(dir_); }), {"expected an HDF5 file", "found a directory"});
}

TEST_F(Hdf5IoTest, SchemaVersionMissingWrongOrNewer) {
  const fs::path bare = file("bare.h5");
  { RawFile raw(bare, true); }
  expect_mentions(error_of([&] { Reader reader(bare); }),
                  {"bare.h5", "root group '/'", "attribute 'schema_version'", "expected the moecheck schema version",
                   "found no such attribute"});

  const fs::path text = file("text_version.h5");
  {
    RawFile raw(text, true);
    raw.string_attribute("/", "schema_version", "1");
  }
  expect_mentions(error_of([&] { Reader reader(text); }),
                  {"text_version.h5", "attribute 'schema_version'", "expected int64 scalar", "found string scalar"});

  const fs::path newer = file("newer.h5");
  {
    Writer writer(newer);
    writer.commit();
  }
  {
    RawFile raw(newer, false);
    raw.ints_attribute("/", "schema_version", {kSchemaVersion + 1}, true);
  }
  expect_mentions(error_of([&] { Reader reader(newer); }),
                  {"newer.h5", "schema_version", "expected 1..1", "found 2", "newer moecheck"});
  {
    RawFile raw(newer, false);
    raw.ints_attribute("/", "schema_version", {0}, true);
  }
  expect_mentions(error_of([&] { Reader reader(newer); }), {"newer.h5", "expected 1..1", "found 0"});
}

TEST_F(Hdf5IoTest, DatasetMissingListsWhatExists) {
  const std::vector<float> values{1};
  const fs::path path = file("some.h5");
  {
    Writer writer(path);
    writer.write("w1", Tensor::f32({1}, values));
    writer.write("group/w3", Tensor::f32({1}, values));
    writer.commit();
  }
  const Reader reader(path);
  expect_mentions(error_of([&] { reader.read("w2"); }),
                  {"some.h5", "dataset 'w2'", "expected a dataset", "found nothing", "group/w3, w1"});
  expect_mentions(error_of([&] { reader.read_f32("group", {1}); }), {"dataset 'group'", "found a group"});
}

TEST_F(Hdf5IoTest, ElementTypeAndShapeMismatch) {
  const std::vector<std::uint16_t> bits(24, 0x3F80);
  const std::vector<std::uint8_t> codes(4, 0x38);
  const fs::path path = file("mismatch.h5");
  {
    Writer writer(path);
    writer.write("w13", Tensor::bf16({4, 3, 2}, bits));
    writer.write("q", Tensor::fp8(Format::kE5m2, {4}, codes));
    writer.write("p", Tensor::e2m1x2({2, 4}, codes));
    writer.commit();
  }
  const Reader reader(path);
  expect_mentions(error_of([&] {
                    reader.read("w13", ElementType::kF32, {4, 3, 2});
                  }),
                  {"mismatch.h5", "dataset 'w13'", "expected f32, found bf16"});
  expect_mentions(error_of([&] { reader.read_f32("w13", {4, 3, 2}); }), {"dataset 'w13'", "expected f32, found bf16"});
  expect_mentions(error_of([&] { reader.read("q", ElementType::kU8, {4}); }),
                  {"dataset 'q'", "expected u8, found fp8 (e5m2)"});
  expect_mentions(error_of([&] { reader.read_fp8("q", Format::kE4m3fn, {4}); }),
                  {"mismatch.h5", "dataset 'q'", "fp8 format: expected e4m3fn, found e5m2"});
  expect_mentions(error_of([&] {
                    reader.read("w13", ElementType::kBf16, {4, -1});
                  }),
                  {"mismatch.h5", "dataset 'w13'", "shape: expected [4, -1], found [4, 3, 2]"});
  expect_mentions(error_of([&] {
                    reader.read("w13", ElementType::kBf16, {4, 3, 3});
                  }),
                  {"expected [4, 3, 3], found [4, 3, 2]"});
  EXPECT_EQ(reader.read("w13", ElementType::kBf16, {4, -1, 2}).shape, (Shape{4, 3, 2}));
  EXPECT_EQ(reader.read("w13", ElementType::kBf16, {kAnyDim, kAnyDim, kAnyDim}).bytes.size(), 48u);
  // e2m1x2 shapes are compared as logical shapes.
  expect_mentions(error_of([&] {
                    reader.read("p", ElementType::kE2m1x2, {2, 2});
                  }),
                  {"dataset 'p'", "logical shape: expected [2, 2], found [2, 4]"});
}

TEST_F(Hdf5IoTest, StorageInconsistentWithDtypeAttribute) {
  const fs::path path = file("tampered.h5");
  {
    Writer writer(path);
    writer.commit();
  }
  const std::int16_t shorts[3] = {1, 2, 3};
  const std::uint8_t bytes[4] = {1, 2, 3, 4};
  {
    RawFile raw(path, false);
    raw.dataset("/w", H5T_STD_I16LE, {3}, shorts);
    raw.string_attribute("/w", "moecheck_dtype", "f32");
    raw.dataset("/unknown", H5T_STD_U8LE, {4}, bytes);
    raw.string_attribute("/unknown", "moecheck_dtype", "fp7");
    raw.dataset("/no_format", H5T_STD_U8LE, {4}, bytes);
    raw.string_attribute("/no_format", "moecheck_dtype", "fp8");
    raw.dataset("/bad_format", H5T_STD_U8LE, {4}, bytes);
    raw.string_attribute("/bad_format", "moecheck_dtype", "fp8");
    raw.string_attribute("/bad_format", "format", "bf16");
    raw.dataset("/e2m1_format", H5T_STD_U8LE, {4}, bytes);
    raw.string_attribute("/e2m1_format", "moecheck_dtype", "fp8");
    raw.string_attribute("/e2m1_format", "format", "e2m1");
    raw.dataset("/bf16_as_u8", H5T_STD_U8LE, {4}, bytes);
    raw.string_attribute("/bf16_as_u8", "moecheck_dtype", "bf16");
    raw.dataset("/no_packing", H5T_STD_U8LE, {2, 2}, bytes);
    raw.string_attribute("/no_packing", "moecheck_dtype", "e2m1x2");
    raw.ints_attribute("/no_packing", "logical_shape", {2, 4}, false);
    raw.dataset("/bad_logical", H5T_STD_U8LE, {2, 2}, bytes);
    raw.string_attribute("/bad_logical", "moecheck_dtype", "e2m1x2");
    raw.string_attribute("/bad_logical", "packing", "low_nibble_even");
    raw.ints_attribute("/bad_logical", "logical_shape", {2, 3}, false);
    raw.dataset("/no_logical", H5T_STD_U8LE, {2, 2}, bytes);
    raw.string_attribute("/no_logical", "moecheck_dtype", "e2m1x2");
    raw.string_attribute("/no_logical", "packing", "low_nibble_even");
    raw.dataset("/high_nibble", H5T_STD_U8LE, {2, 2}, bytes);
    raw.string_attribute("/high_nibble", "moecheck_dtype", "e2m1x2");
    raw.string_attribute("/high_nibble", "packing", "high_nibble_even");
    raw.ints_attribute("/high_nibble", "logical_shape", {2, 4}, false);
    raw.dataset("/int_dtype", H5T_STD_U8LE, {4}, bytes);
    raw.ints_attribute("/int_dtype", "moecheck_dtype", {8}, true);
  }
  const Reader reader(path);
  expect_mentions(
      error_of([&] { reader.read("w"); }),
      {"tampered.h5", "dataset 'w'", "storage type: expected float32 for moecheck_dtype f32", "found int16"});
  expect_mentions(
      error_of([&] { reader.read("unknown"); }),
      {"tampered.h5", "dataset 'unknown'", "attribute 'moecheck_dtype'", "expected one of f32, f64", "found 'fp7'"});
  expect_mentions(error_of([&] { reader.read("no_format"); }),
                  {"tampered.h5", "dataset 'no_format'", "attribute 'format'", "expected an fp8 format, one of e4m3fn",
                   "found no such attribute"});
  expect_mentions(error_of([&] { reader.read("bad_format"); }),
                  {"dataset 'bad_format'", "attribute 'format'", "ue4m3", "found 'bf16'"});
  expect_mentions(error_of([&] { reader.read("e2m1_format"); }), {"dataset 'e2m1_format'", "found 'e2m1'"});
  expect_mentions(error_of([&] { reader.read("bf16_as_u8"); }),
                  {"dataset 'bf16_as_u8'", "expected uint16 for moecheck_dtype bf16", "found uint8"});
  expect_mentions(
      error_of([&] { reader.read("no_packing"); }),
      {"dataset 'no_packing'", "attribute 'packing'", "expected 'low_nibble_even'", "found no such attribute"});
  expect_mentions(
      error_of([&] { reader.read("high_nibble"); }),
      {"dataset 'high_nibble'", "attribute 'packing'", "expected 'low_nibble_even'", "found 'high_nibble_even'"});
  expect_mentions(error_of([&] { reader.read("bad_logical"); }),
                  {"dataset 'bad_logical'", "attribute 'logical_shape'", "expected [2, 4]", "found [2, 3]"});
  expect_mentions(error_of([&] { reader.read("no_logical"); }), {"dataset 'no_logical'", "attribute 'logical_shape'",
                                                                 "expected int64 array", "found no such attribute"});
  expect_mentions(error_of([&] { reader.read("int_dtype"); }),
                  {"dataset 'int_dtype'", "attribute 'moecheck_dtype'", "expected string", "found int64 scalar"});
}

TEST_F(Hdf5IoTest, NoHdf5IdLeaksOnSuccessOrFailure) {
  auto open_ids = [] {
    std::vector<hsize_t> counts;
    for (const H5I_type_t type :
         {H5I_FILE, H5I_GROUP, H5I_DATASET, H5I_ATTR, H5I_DATASPACE, H5I_DATATYPE, H5I_GENPROP_LST}) {
      hsize_t count = 0;
      H5Inmembers(type, &count);
      counts.push_back(count);
    }
    return counts;
  };
  const std::vector<float> values{1, 2, 3, 4};
  const fs::path path = file("ids.h5");
  { Writer warm_up(file("warm_up.h5")); }  // the library's own first-use ids
  const auto before = open_ids();
  {
    Writer writer(path);
    writer.write("a/b", Tensor::f32({2, 2}, values));
    writer.set_ints_attribute("a", "k", std::vector<std::int64_t>{1});
    EXPECT_THROW(writer.write("a/b", Tensor::f32({2, 2}, values)), Error);
    EXPECT_THROW(writer.set_int_attribute("nope", "k", 1), Error);
    writer.commit();
    const Reader reader(path);
    EXPECT_EQ(reader.read_f32("a/b", {2, 2}), values);
    EXPECT_THROW(reader.read("a/b", ElementType::kBf16, {2, 2}), Error);
    EXPECT_THROW(reader.read("a/c"), Error);
    EXPECT_THROW(reader.require_string_attribute("a", "k"), Error);
    EXPECT_THROW(reader.require_string_attribute("a", "missing"), Error);
    EXPECT_EQ(reader.attribute_names("a"), std::vector<std::string>{"k"});
    Writer abandoned(file("abandoned.h5"));
    abandoned.write("x", Tensor::f32({2, 2}, values));
  }
  EXPECT_EQ(open_ids(), before);
}

// ---------------------------------------------------------------------------------------------
// Files from other tools

TEST_F(Hdf5IoTest, DatasetsWithoutDtypeAttributeAreInferredFromTheHdf5Type) {
  const fs::path path = file("h5py_style.h5");
  const float f32[2] = {1.5f, -2.0f};
  const double f64[2] = {0.25, 8.0};
  const std::int32_t i32[2] = {-3, 4};
  const std::int64_t i64[2] = {-5, 1LL << 40};
  const std::uint8_t u8[2] = {0, 255};
  const std::uint16_t u16[2] = {0x3F80, 0xFFFF};
  const std::uint32_t u32[2] = {7, 4000000000u};
  const std::int16_t i16[2] = {1, 2};
  {
    RawFile raw(path, true);
    raw.ints_attribute("/", "schema_version", {1}, true);
    raw.dataset("/f32", H5T_IEEE_F32LE, {2}, f32);
    raw.dataset("/f64", H5T_IEEE_F64BE, {2}, f64);  // big-endian: HDF5 converts on read
    raw.dataset("/group/i32", H5T_STD_I32LE, {1, 2}, i32);
    raw.dataset("/i64", H5T_STD_I64LE, {2}, i64);
    raw.dataset("/u8", H5T_STD_U8LE, {2}, u8);
    raw.dataset("/u16", H5T_STD_U16LE, {2}, u16);
    raw.dataset("/u32", H5T_STD_U32LE, {2}, u32);
    raw.dataset("/i16", H5T_STD_I16LE, {2}, i16);
  }
  const Reader reader(path);
  EXPECT_EQ(reader.read_f32("f32", {2}), std::vector<float>(f32, f32 + 2));
  EXPECT_EQ(reader.read_f64("f64", {2}), std::vector<double>(f64, f64 + 2));
  EXPECT_EQ(reader.read_i32("group/i32", {1, 2}), std::vector<std::int32_t>(i32, i32 + 2));
  EXPECT_EQ(reader.read_i64("i64", {2}), std::vector<std::int64_t>(i64, i64 + 2));
  EXPECT_EQ(reader.read("u8").type, ElementType::kU8);
  EXPECT_EQ(reader.read("u8").bytes, std::vector<std::uint8_t>(u8, u8 + 2));
  const Tensor u16_back = reader.read("u16", ElementType::kU16, {2});
  EXPECT_EQ(u16_back.view<std::uint16_t>()[1], 0xFFFF);
  EXPECT_EQ(reader.read("u32").view<std::uint32_t>()[1], 4000000000u);
  expect_mentions(error_of([&] { reader.read("i16"); }),
                  {"h5py_style.h5", "dataset 'i16'", "expected float32, float64, int32, int64, uint8, uint16 or uint32",
                   "found int16"});
  // Without the attribute, uint16 is uint16: nothing guesses bf16.
  expect_mentions(error_of([&] { reader.read("u16", ElementType::kBf16, {2}); }), {"expected bf16, found u16"});
}

TEST_F(Hdf5IoTest, H5dumpReadsAWrittenFile) {
  if (run_shell("command -v h5dump >/dev/null 2>&1") != 0) GTEST_SKIP() << "h5dump is not on PATH (hdf5-tools)";
  const std::vector<std::uint16_t> bits{0x3F80, 0x4000};
  std::vector<float> big(64 * 1024);
  const fs::path path = file("dump.h5");
  {
    Writer writer(path);
    writer.write("experts/w13", Tensor::bf16({2}, bits));
    writer.write("big", Tensor::f32({256, 256}, big));  // chunked and compressed
    writer.set_string_attribute("/", "note", "hello");
    writer.commit();
  }
  const fs::path out = file("dump.txt");
  EXPECT_EQ(run_shell("h5dump -H " + shell_quote(path) + " > " + shell_quote(out) + " 2>&1"), 0) << slurp(out);
  const std::string header = slurp(out);
  expect_mentions(header,
                  {"DATASET \"w13\"", "GROUP \"experts\"", "moecheck_dtype", "schema_version", "DATASET \"big\""});
  // The compressed data decodes with no plugin.
  EXPECT_EQ(run_shell("h5dump -d /big " + shell_quote(path) + " > /dev/null 2>&1"), 0);
}

TEST_F(Hdf5IoTest, H5pyReadsAWrittenFile) {
  const std::string python = python_with_h5py();
  if (python.empty()) GTEST_SKIP() << "no python3 with h5py found (install python3-h5py or set MOECHECK_PYTHON)";
  const std::vector<std::uint16_t> bits{0x3F80, 0xC000, 0x7FC0};
  const std::vector<std::uint8_t> codes{0x38, 0xB8};
  std::vector<float> big(64 * 1024);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 97);
  const fs::path path = file("for_h5py.h5");
  {
    Writer writer(path);
    writer.write("experts/w13", Tensor::bf16({3}, bits));
    writer.write("q", Tensor::fp8(Format::kE4m3fn, {2}, codes));
    writer.write("big", Tensor::f32({256, 256}, big));
    writer.set_string_attribute("/", "note", "héllo");
    writer.set_ints_attribute("/", "dims", std::vector<std::int64_t>{2, 3});
    writer.commit();
  }
  const fs::path script = file("check.py");
  std::ofstream(script) << R"(import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
w = f["experts/w13"]
assert w.dtype == np.uint16, w.dtype
assert list(w[()]) == [0x3F80, 0xC000, 0x7FC0], list(w[()])
assert w.attrs["moecheck_dtype"] == "bf16", w.attrs["moecheck_dtype"]
note = f.attrs["note"]
assert isinstance(note, str), type(note)
assert note == "h\u00e9llo", note
assert int(f.attrs["schema_version"]) == 1
assert list(f.attrs["dims"]) == [2, 3]
q = f["q"]
assert q.dtype == np.uint8 and q.attrs["format"] == "e4m3fn"
big = f["big"][()]
assert big.dtype == np.float32 and big.shape == (256, 256)
assert float(big[1, 0]) == float(256 % 97)
print("ok")
)";
  const fs::path out = file("h5py.txt");
  EXPECT_EQ(
      run_shell(python + " " + shell_quote(script) + " " + shell_quote(path) + " > " + shell_quote(out) + " 2>&1"), 0)
      << slurp(out);
  EXPECT_EQ(slurp(out), "ok\n");
}

TEST_F(Hdf5IoTest, ReadsAFileWrittenByH5py) {
  const std::string python = python_with_h5py();
  if (python.empty()) GTEST_SKIP() << "no python3 with h5py found (install python3-h5py or set MOECHECK_PYTHON)";
  // The way the PyTorch oracle script writes: plain numpy arrays, bf16 bits as uint16 with the
  // attributes of the layout, metadata as Python str/int/float.
  const fs::path path = file("from_h5py.h5");
  const fs::path script = file("write.py");
  std::ofstream(script) << R"(import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["schema_version"] = 1
    f.attrs["generator"] = "oracle"
    f.attrs["tolerance"] = 0.5
    f.attrs["sizes"] = np.array([2880, 720], dtype=np.int64)
    f["case/x"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    f["case/topk_ids"] = np.array([[0, 3]], dtype=np.int32)
    w = f.create_dataset("case/w", data=np.array([0x3F80, 0x4000], dtype=np.uint16))
    w.attrs["moecheck_dtype"] = "bf16"
    q = f.create_dataset("case/q", data=np.array([1, 2, 3, 4], dtype=np.uint8))
    q.attrs["moecheck_dtype"] = "fp8"
    q.attrs["format"] = "e4m3fnuz"
    p = f.create_dataset("case/p", data=np.array([[0x21, 0x43]], dtype=np.uint8), compression="gzip", shuffle=True)
    p.attrs["moecheck_dtype"] = "e2m1x2"
    p.attrs["packing"] = "low_nibble_even"
    p.attrs["logical_shape"] = np.array([1, 4], dtype=np.int64)
    f["case/bytes_label"] = np.array([7], dtype=np.uint8)
    f["case/bytes_label"].attrs["label"] = np.bytes_(b"fixed")
)";
  const fs::path out = file("h5py.txt");
  ASSERT_EQ(
      run_shell(python + " " + shell_quote(script) + " " + shell_quote(path) + " > " + shell_quote(out) + " 2>&1"), 0)
      << slurp(out);
  const Reader reader(path);
  EXPECT_EQ(reader.schema_version(), 1);
  EXPECT_EQ(reader.require_string_attribute("/", "generator"), "oracle");
  EXPECT_EQ(reader.require_double_attribute("/", "tolerance"), 0.5);
  EXPECT_EQ(reader.require_ints_attribute("/", "sizes"), (std::vector<std::int64_t>{2880, 720}));
  EXPECT_EQ(reader.read_f32("case/x", {2, 3}), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(reader.read_i32("case/topk_ids", {1, 2}), (std::vector<std::int32_t>{0, 3}));
  const Tensor w = reader.read("case/w", ElementType::kBf16, {2});
  EXPECT_EQ(w.view<std::uint16_t>()[1], 0x4000);
  EXPECT_EQ(reader.read_fp8("case/q", Format::kE4m3fnuz, {4}).bytes, (std::vector<std::uint8_t>{1, 2, 3, 4}));
  const Tensor p = reader.read("case/p", ElementType::kE2m1x2, {1, 4});
  EXPECT_EQ(p.bytes, (std::vector<std::uint8_t>{0x21, 0x43}));
  EXPECT_EQ(reader.require_string_attribute("case/bytes_label", "label"), "fixed");
  EXPECT_EQ(reader.datasets(),
            (std::vector<std::string>{"case/bytes_label", "case/p", "case/q", "case/topk_ids", "case/w", "case/x"}));
}

}  // namespace
}  // namespace moecheck::fixtures
