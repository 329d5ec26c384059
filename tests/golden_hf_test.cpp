// The golden model against transformers 5.17 (eager experts) on the fixtures of fixtures/data/hf:
// every directory there is one test; a directory that does not match fails. fp32 models:
// max|Δ| / max|ref| ≤ 1e-5; bf16 models: ≤ 2 bf16 ulps on ≥ 99.9 % of elements, none beyond 8.
// Both accumulation modes are held to the same bounds. The observed errors are printed (the table
// in reference/README.md comes from this output).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fixtures/from_model.h"
#include "fixtures/hdf5_io.h"
#include "reference/formats/codecs.h"
#include "reference/moe.h"

namespace fx = moecheck::fixtures;
namespace moe = moecheck::reference::moe;
namespace fmt = moecheck::reference::formats;

namespace {

const std::filesystem::path kHfDir = std::filesystem::path(MOECHECK_SOURCE_DIR) / "fixtures" / "data" / "hf";

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  if (std::filesystem::is_directory(kHfDir))
    for (const auto& entry : std::filesystem::directory_iterator(kHfDir))
      if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Distance in bf16 steps between two bf16 values (±0 are the same point).
int bf16_ulps(float a, float b) {
  const auto key = [](float v) {
    const std::uint16_t bits = fmt::bf16_rne(v);
    return (bits & 0x8000) ? -static_cast<int>(bits & 0x7FFF) : static_cast<int>(bits);
  };
  return std::abs(key(a) - key(b));
}

class GoldenHf : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenHf, MatchesTransformersEager) {
  const std::filesystem::path dir = kHfDir / GetParam();
  const fx::Reader in(dir / "moe_block.h5");
  const std::string model_type = in.require_string_attribute("/", "model_type");
  const std::string dtype = in.require_string_attribute("/", "dtype");
  const std::int64_t layer = in.require_int_attribute("/", "layer");
  const std::vector<float> x = in.read_f32("hidden_states", {fx::kAnyDim, fx::kAnyDim});
  const fx::Tensor ref_tensor = in.read("output", fx::ElementType::kF32, {fx::kAnyDim, fx::kAnyDim});
  const std::vector<float> ref(ref_tensor.view<float>().begin(), ref_tensor.view<float>().end());

  const fx::MoeLayer golden = fx::load_moe_layer(dir, layer);
  EXPECT_EQ(golden.config.model_type, model_type);
  EXPECT_EQ(moe::name(golden.block.dtype), dtype) << "the model dtype golden reads from config.json";
  const std::int64_t tokens = ref_tensor.shape[0], hidden = golden.block.hidden;
  ASSERT_EQ(ref_tensor.shape[1], hidden);
  ASSERT_EQ(x.size(), ref.size());
  const moe::RowMatrix<float> hs = Eigen::Map<const moe::RowMatrix<float>>(x.data(), tokens, hidden);

  double max_ref = 0;
  for (float v : ref) max_ref = std::max(max_ref, double{std::abs(v)});
  ASSERT_GT(max_ref, 0.0) << "the reference output is all zeros";

  for (moe::Accumulate acc : {moe::Accumulate::kFp64, moe::Accumulate::kFp32}) {
    const moe::MoeOutput out = moe::forward(golden.block, hs, acc);
    const std::string tag = GetParam() + " " + dtype + " accumulate " + std::string(moe::name(acc));
    if (golden.block.dtype == moe::Dtype::kF32) {
      double max_diff = 0;
      for (std::size_t i = 0; i < ref.size(); ++i)
        max_diff = std::max(max_diff, std::abs(double{out.output.data()[i]} - ref[i]));
      std::printf("[ golden ] %-16s %-9s %s: max|d|/max|ref| = %.3g (max|ref| %.3g)\n", GetParam().c_str(),
                  dtype.c_str(), std::string(moe::name(acc)).c_str(), max_diff / max_ref, max_ref);
      EXPECT_LE(max_diff / max_ref, 1e-5) << tag;
    } else {
      std::map<int, std::size_t> histogram;
      int worst = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        ASSERT_EQ(fmt::bf16_value(fmt::bf16_rne(ref[i])), ref[i]) << "reference value " << i << " is not bf16";
        const int u = bf16_ulps(out.output.data()[i], ref[i]);
        ++histogram[std::min(u, 3)];
        worst = std::max(worst, u);
      }
      const std::size_t within2 = histogram[0] + histogram[1] + histogram[2];
      std::printf("[ golden ] %-16s %-9s %s: bf16 ulps 0: %zu, 1: %zu, 2: %zu, >2: %zu (worst %d) of %zu\n",
                  GetParam().c_str(), dtype.c_str(), std::string(moe::name(acc)).c_str(), histogram[0], histogram[1],
                  histogram[2], histogram[3], worst, ref.size());
      EXPECT_GE(static_cast<double>(within2), 0.999 * static_cast<double>(ref.size())) << tag;
      EXPECT_LE(worst, 8) << tag;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenHf, ::testing::ValuesIn(fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenHf);

// Guards against a silently empty suite: the fixtures are committed, so they must be found.
TEST(GoldenHfFixtures, AreFound) {
  if (!std::filesystem::is_directory(kHfDir)) GTEST_SKIP() << kHfDir << " does not exist (fixtures not generated)";
  EXPECT_GE(fixture_names().size(), 1u) << kHfDir;
}

}  // namespace
