// The `cuda` backend (device/cuda) on the GPU: bitwise against the sim on generated cases of the
// rows its kernels run (the same fp32 accumulation order), and every property P1–P6 on it. Skips, saying why,
// where no CUDA device is usable.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "device/cuda/cuda_backend.h"
#include "device/registry.h"
#include "properties/case.h"
#include "properties/gen/case.h"
#include "properties/properties.h"

namespace {

namespace pr = moecheck::properties;
namespace pg = moecheck::properties::gen;
namespace pd = moecheck::reference::padding;
namespace cuda = moecheck::device::cuda;
using moecheck::device::WeightScheme;

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    if (const std::string why = cuda::unavailable_reason(); !why.empty())      \
      GTEST_SKIP() << "the cuda backend needs a CUDA device: " << why;         \
  } while (0)

// The methods with rows the kernels run (dense, MXFP4 W4A16, FP8 block W8A16, Triton WNA16).
const std::vector<std::string> kMethods = {"unquantized", "mxfp4",      "gpt_oss_mxfp4", "fp8_block", "int4_wna16",
                                           "int8_wna16",  "mxfp8", "nvfp4",         "fp8_per_tensor"};

// Generated cases of those methods whose rows the backend runs, from a fixed seed sequence.
std::vector<pr::MoeCase> cases(int count, std::vector<std::string> methods) {
  pg::CaseOptions options;
  options.methods = std::move(methods);
  std::vector<pr::MoeCase> out;
  for (int i = 0; static_cast<int>(out.size()) < count && i < 50 * count; ++i) {
    const pg::CaseSpec spec =
        pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) * 7919u + 11u), 60).value();
    if (!cuda::CudaBackend().capabilities().supports(spec.scheme)) continue;
    out.push_back(pg::build_case(spec));
  }
  return out;
}

TEST(CudaBackend, IsRegisteredWhereADeviceIsUsable) {
  SKIP_WITHOUT_GPU();
  ASSERT_NE(moecheck::device::find_backend("cuda"), nullptr) << moecheck::device::backend_names();
  EXPECT_TRUE(moecheck::device::unusable_backends().empty());
  const moecheck::device::Capabilities c = cuda::CudaBackend().capabilities();
  EXPECT_TRUE(c.order_preserving);
  EXPECT_TRUE(c.supports(WeightScheme::kMxfp4W4A16));
  EXPECT_FALSE(c.supports(WeightScheme::kFp8Block128W8A8));
}

// The padded case run by both backends: the same order of every fp32 product and sum, so the
// outputs agree bit for bit (+0 and -0 apart) unless the activation's libdevice exp / erf and the
// host's differ in a double's last place before the rounding to fp32 or bf16.
TEST(CudaBackend, MatchesTheSimBitForBit) {
  SKIP_WITHOUT_GPU();
  const moecheck::device::Backend* sim = moecheck::device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  const cuda::CudaBackend gpu;
  int compared = 0, padded = 0;
  for (const pr::MoeCase& c : cases(120, kMethods)) {
    const pd::Plan plan = pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset));
    const moecheck::device::PaddedCase p = pr::make_padded_case(c, plan);
    std::vector<float> a(static_cast<std::size_t>(p.tokens * p.hidden_padded())), b(a.size());
    sim->run(p, a);
    gpu.run(p, b);
    // The real tokens' rows (a CUDA-graph pad row of NaN gives NaN on both, whose payloads x86 and
    // the GPU propagate differently); +0 = -0.
    const std::size_t real = static_cast<std::size_t>((p.tokens - p.pad_rows) * p.hidden_padded());
    std::int64_t differ = 0, first = 0;
    for (std::size_t i = 0; i < real; ++i)
      if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]) && !(a[i] == b[i])) {
        if (differ++ == 0) first = static_cast<std::int64_t>(i);
      }
    EXPECT_EQ(differ, 0) << pr::describe(c) << ": first at (t" << first / p.hidden_padded() << ", c"
                         << first % p.hidden_padded() << "): sim " << a[static_cast<std::size_t>(first)] << ", cuda "
                         << b[static_cast<std::size_t>(first)];
    ++compared;
    padded += plan.hidden_is_padded() || plan.intermediate_is_padded();
  }
  EXPECT_GE(compared, 100);
  EXPECT_GT(padded, 20);
  std::printf("[ cuda     ] %d cases bitwise against the sim, %d of them padded\n", compared, padded);
}

// P1–P6 with the GPU as the backend under test.
TEST(CudaBackend, PassesEveryProperty) {
  SKIP_WITHOUT_GPU();
  const cuda::CudaBackend gpu;
  int checked[6] = {}, skipped[6] = {};
  for (const pr::MoeCase& c : cases(80, kMethods)) {
    const pr::Verdict v[6] = {pr::check_padding_invariance(c, gpu), pr::check_golden_agreement(c, gpu),
                              pr::check_poison(c, gpu), pr::check_routing(c), pr::check_metamorphic(c, gpu),
                              pr::check_tensor_parallel(c, gpu)};
    for (int i = 0; i < 6; ++i) {
      (v[i].skipped ? skipped : checked)[i] += 1;
      EXPECT_TRUE(v[i].ok || v[i].skipped) << "P" << i + 1 << ": " << v[i].message;
    }
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_GT(checked[i], 40) << "P" << i + 1;
    std::printf("[ cuda     ] P%d: %d cases checked, %d skipped\n", i + 1, checked[i], skipped[i]);
  }
}

TEST(CudaBackend, RefusesWhatItDoesNotRun) {
  SKIP_WITHOUT_GPU();
  pg::CaseOptions options;
  options.methods = {"fp8_block"};
  for (int i = 0; i < 200; ++i) {
    const pg::CaseSpec spec = pg::case_spec(options)(rc::Random(static_cast<std::uint64_t>(i) + 5u), 40).value();
    if (cuda::CudaBackend().capabilities().supports(spec.scheme)) continue;  // W8A8: not a row the kernels run yet
    const pr::MoeCase c = pg::build_case(spec);
    const moecheck::device::PaddedCase p = pr::make_padded_case(c, pr::layer_plan(c, pr::shipped_ruleset(c.target.ruleset)));
    std::vector<float> out(static_cast<std::size_t>(p.tokens * p.hidden_padded()));
    try {
      cuda::CudaBackend().run(p, out);
      FAIL() << "no exception for " << pr::describe(c);
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("unsupported case"), std::string::npos) << e.what();
    }
    return;
  }
  FAIL() << "no fp8_block case drawn";
}

}  // namespace
