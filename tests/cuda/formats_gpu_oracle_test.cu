// External oracle 1: the GPU's own conversions on all 2^32 fp32 inputs, against the host codecs of
// reference/formats, bit for bit. Runs on a CUDA device (sm_90); skips, saying so, without one.
//
// GPU side: CUDA intrinsics (__nv_cvt_float_to_fp8 SATFINITE/NOSAT for e4m3 and e5m2,
// __nv_cvt_float_to_e8m0 with cudaRoundPosInf and cudaRoundZero, __nv_cvt_float_to_fp4,
// __nv_cvt_float_to_fp6 for e3m2 and e2m3 (on sm_90 the header's software path; sm_100+ family
// targets would use cvt.rn.satfinite.e3m2x2/e2m3x2), __float2bfloat16_rn, __float2half_rn) and
// inline PTX for rcp.approx.ftz.f32 and div.full.f32.
// Host side: the codecs, run on every CPU core. Results are summarised per conversion; the record
// of a run is kept in fixtures/README.md.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp4.h>
#include <cuda_fp6.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reference/formats.h"

namespace fmt = moecheck::reference::formats;

namespace {

#define MOECHECK_CUDA_OK(call)                                                                    \
  do {                                                                                            \
    const cudaError_t err_ = (call);                                                              \
    if (err_ != cudaSuccess)                                                                      \
      throw std::runtime_error(std::string(#call) + " failed: " + cudaGetErrorString(err_));      \
  } while (0)

// Skip (with the reason) where there is no usable CUDA device.
std::string gpu_absent_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(err);
  if (count == 0) return "no CUDA device on this machine";
  return {};
}

std::string device_summary() {
  cudaDeviceProp prop{};
  int runtime = 0, driver = 0;
  cudaGetDeviceProperties(&prop, 0);
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d), CUDA runtime %d.%d, driver API %d.%d", prop.name, prop.major,
                prop.minor, runtime / 1000, (runtime % 1000) / 10, driver / 1000, (driver % 1000) / 10);
  return buf;
}

__device__ float rcp_approx_ftz_device(float x) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
}

__device__ float div_full_device(float a, float b) {
  float r;
  asm("div.full.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}

// One conversion under test: its name, code width, and the host codec it must equal.
struct Conversion {
  const char* name;
  int bytes;
  std::uint32_t (*host)(float);
};

const Conversion kConversions[] = {
    {"e4m3fn satfinite  __nv_cvt_float_to_fp8(SATFINITE, E4M3)", 1, [](float x) -> std::uint32_t { return fmt::e4m3fn_satfinite(x); }},
    {"e4m3fn nosat      __nv_cvt_float_to_fp8(NOSAT, E4M3)", 1, [](float x) -> std::uint32_t { return fmt::e4m3fn_nosat(x); }},
    {"e5m2 satfinite    __nv_cvt_float_to_fp8(SATFINITE, E5M2)", 1, [](float x) -> std::uint32_t { return fmt::e5m2_satfinite(x); }},
    {"e5m2 nosat        __nv_cvt_float_to_fp8(NOSAT, E5M2)", 1, [](float x) -> std::uint32_t { return fmt::e5m2_nosat(x); }},
    {"e8m0 ceil         __nv_cvt_float_to_e8m0(SATFINITE, RoundPosInf)", 1, [](float x) -> std::uint32_t { return fmt::e8m0_ceil(x); }},
    {"e8m0 ceil_nosat   __nv_cvt_float_to_e8m0(NOSAT, RoundPosInf)", 1, [](float x) -> std::uint32_t { return fmt::e8m0_ceil_nosat(x); }},
    {"e8m0 floor        __nv_cvt_float_to_e8m0(SATFINITE, RoundZero)", 1, [](float x) -> std::uint32_t { return fmt::e8m0_floor(x); }},
    {"e2m1 satfinite    __nv_cvt_float_to_fp4(E2M1, RoundNearest)", 1, [](float x) -> std::uint32_t { return fmt::e2m1_satfinite(x); }},
    {"e3m2 satfinite    __nv_cvt_float_to_fp6(E3M2, RoundNearest)", 1, [](float x) -> std::uint32_t { return fmt::e3m2_satfinite(x); }},
    {"e2m3 satfinite    __nv_cvt_float_to_fp6(E2M3, RoundNearest)", 1, [](float x) -> std::uint32_t { return fmt::e2m3_satfinite(x); }},
    {"bf16 rne          __float2bfloat16_rn", 2, [](float x) -> std::uint32_t { return fmt::bf16_rne(x); }},
    {"fp16 rne          __float2half_rn", 2, [](float x) -> std::uint32_t { return fmt::fp16_rne(x); }},
    {"rcp.approx.ftz.f32 (inline PTX)", 4, [](float x) -> std::uint32_t { return fmt::rcp_approx_ftz_bits(std::bit_cast<std::uint32_t>(x)); }},
};
constexpr int kNumConversions = int(std::size(kConversions));
// kConversions in order: the byte-coded ones, then the two 16-bit ones, then rcp (32-bit).
constexpr int kByteOutputs = 10, kHalfOutputs = 2;
static_assert(kByteOutputs + kHalfOutputs + 1 == kNumConversions);

struct DeviceOutputs {
  std::uint8_t* b[kByteOutputs];
  std::uint16_t* h[kHalfOutputs];
  std::uint32_t* w;
};

__global__ void convert_all(std::uint64_t base, std::uint32_t n, DeviceOutputs out) {
  const std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = __uint_as_float(std::uint32_t(base + i));
  out.b[0][i] = __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
  out.b[1][i] = __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E4M3);
  out.b[2][i] = __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2);
  out.b[3][i] = __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2);
  out.b[4][i] = __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundPosInf);
  out.b[5][i] = __nv_cvt_float_to_e8m0(x, __NV_NOSAT, cudaRoundPosInf);
  out.b[6][i] = __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundZero);
  out.b[7][i] = __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundNearest);
  out.b[8][i] = __nv_cvt_float_to_fp6(x, __NV_E3M2, cudaRoundNearest);
  out.b[9][i] = __nv_cvt_float_to_fp6(x, __NV_E2M3, cudaRoundNearest);
  out.h[0][i] = __bfloat16_as_ushort(__float2bfloat16_rn(x));
  out.h[1][i] = __half_as_ushort(__float2half_rn(x));
  out.w[i] = __float_as_uint(rcp_approx_ftz_device(x));
}

struct Tally {
  std::atomic<std::uint64_t> mismatches{0};
  std::mutex mu;
  std::vector<std::string> examples;
};

void note(Tally& t, const char* what, std::uint32_t input, std::uint32_t gpu, std::uint32_t host) {
  t.mismatches.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(t.mu);
  if (t.examples.size() >= 6) return;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: x=0x%08X (%.9g) gpu=0x%X host=0x%X", what, input, std::bit_cast<float>(input),
                gpu, host);
  t.examples.push_back(buf);
}

unsigned host_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

TEST(GpuOracle, ConversionsOnAllFp32Inputs) {
  if (const std::string why = gpu_absent_reason(); !why.empty()) GTEST_SKIP() << why;
  std::printf("device: %s\n", device_summary().c_str());

  constexpr std::uint32_t kChunk = 1u << 26;
  DeviceOutputs dev{};
  for (auto& p : dev.b) MOECHECK_CUDA_OK(cudaMalloc(&p, kChunk));
  for (auto& p : dev.h) MOECHECK_CUDA_OK(cudaMalloc(&p, kChunk * 2));
  MOECHECK_CUDA_OK(cudaMalloc(&dev.w, std::size_t(kChunk) * 4));
  std::uint8_t* host_b[kByteOutputs];
  std::uint16_t* host_h[kHalfOutputs];
  std::uint32_t* host_w;
  for (auto& p : host_b) MOECHECK_CUDA_OK(cudaMallocHost(&p, kChunk));
  for (auto& p : host_h) MOECHECK_CUDA_OK(cudaMallocHost(&p, kChunk * 2));
  MOECHECK_CUDA_OK(cudaMallocHost(&host_w, std::size_t(kChunk) * 4));

  Tally tallies[kNumConversions];
  const unsigned threads = host_threads();
  for (std::uint64_t base = 0; base < (1ull << 32); base += kChunk) {
    convert_all<<<kChunk / 256, 256>>>(base, kChunk, dev);
    MOECHECK_CUDA_OK(cudaGetLastError());
    for (int k = 0; k < kByteOutputs; ++k)
      MOECHECK_CUDA_OK(cudaMemcpy(host_b[k], dev.b[k], kChunk, cudaMemcpyDeviceToHost));
    for (int k = 0; k < kHalfOutputs; ++k)
      MOECHECK_CUDA_OK(cudaMemcpy(host_h[k], dev.h[k], kChunk * 2, cudaMemcpyDeviceToHost));
    MOECHECK_CUDA_OK(cudaMemcpy(host_w, dev.w, std::size_t(kChunk) * 4, cudaMemcpyDeviceToHost));
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::uint32_t i = t; i < kChunk; i += threads) {
          const std::uint32_t u = std::uint32_t(base + i);
          const float x = std::bit_cast<float>(u);
          for (int k = 0; k < kNumConversions; ++k) {
            const std::uint32_t gpu = k < kByteOutputs                  ? host_b[k][i]
                                      : k < kByteOutputs + kHalfOutputs ? host_h[k - kByteOutputs][i]
                                                                        : host_w[i];
            const std::uint32_t host = kConversions[k].host(x);
            if (gpu != host) note(tallies[k], kConversions[k].name, u, gpu, host);
          }
        }
      });
    }
    for (auto& th : pool) th.join();
  }
  std::printf("%-64s %12s %12s\n", "conversion", "inputs", "mismatches");
  for (int k = 0; k < kNumConversions; ++k) {
    std::printf("%-64s %12llu %12llu\n", kConversions[k].name, 1ull << 32,
                static_cast<unsigned long long>(tallies[k].mismatches.load()));
    for (const auto& e : tallies[k].examples) std::printf("    %s\n", e.c_str());
    EXPECT_EQ(tallies[k].mismatches.load(), 0u) << kConversions[k].name;
  }
  for (auto p : dev.b) cudaFree(p);
  for (auto p : dev.h) cudaFree(p);
  cudaFree(dev.w);
  for (auto p : host_b) cudaFreeHost(p);
  for (auto p : host_h) cudaFreeHost(p);
  cudaFreeHost(host_w);
}

namespace {

__global__ void div_full_kernel(const float* a, const float* b, float* out, std::uint32_t n) {
  const std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = div_full_device(a[i], b[i]);
}

// A finite fp32 with a random sign and mantissa and a biased exponent field in [lo, hi].
float random_float(std::mt19937_64& rng, std::uint32_t lo, std::uint32_t hi) {
  const std::uint32_t sign = std::uint32_t(rng() & 1u) << 31;
  const std::uint32_t exp = lo + std::uint32_t(rng() % (hi - lo + 1));
  const std::uint32_t man = std::uint32_t(rng()) & 0x7FFFFFu;
  return std::bit_cast<float>(sign | (exp << 23) | man);
}

}  // namespace

TEST(GpuOracle, DivFullOnRandomAndSpecialPairs) {
  if (const std::string why = gpu_absent_reason(); !why.empty()) GTEST_SKIP() << why;
  const std::uint64_t seed = 20261128;
  std::printf("device: %s, seed %llu\n", device_summary().c_str(), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  struct Group {
    const char* name;
    std::vector<float> a, b;
  };
  std::vector<Group> groups(4);
  groups[0].name = "a any finite, 2^-126 <= |b| <= 2^126";
  groups[1].name = "a any finite, |b| > 2^126";
  groups[2].name = "a any finite, b subnormal";
  groups[3].name = "special values x special values";
  for (int i = 0; i < (1 << 24); ++i) {
    groups[0].a.push_back(random_float(rng, 0, 254));
    float b = random_float(rng, 1, 253);
    if (std::fabs(b) > std::ldexp(1.0f, 126)) b = std::ldexp(1.0f, 126);
    groups[0].b.push_back(b);
  }
  for (int i = 0; i < (1 << 22); ++i) {
    groups[1].a.push_back(random_float(rng, 0, 254));
    float b = random_float(rng, 253, 254);
    if (std::fabs(b) <= std::ldexp(1.0f, 126)) b = std::nextafter(std::ldexp(1.0f, 126), 1e38f);
    groups[1].b.push_back(b);
    groups[2].a.push_back(random_float(rng, 0, 254));
    groups[2].b.push_back(std::bit_cast<float>((std::uint32_t(rng() & 1u) << 31) | (std::uint32_t(rng() % 0x7FFFFFu) + 1)));
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, inf, -inf, std::bit_cast<float>(0x7FC00000u), 1.0f, -1.0f, 3.0f, 6.0f,
                            448.0f, std::ldexp(1.0f, -126), std::ldexp(1.0f, 126), std::ldexp(1.0f, 127),
                            std::ldexp(1.0f, -127), std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::denorm_min(), std::ldexp(1.5f, 126)};
  for (float a : specials)
    for (float b : specials) {
      groups[3].a.push_back(a);
      groups[3].b.push_back(b);
    }

  for (Group& g : groups) {
    const std::uint32_t n = std::uint32_t(g.a.size());
    float *da, *db, *dout;
    MOECHECK_CUDA_OK(cudaMalloc(&da, n * 4ull));
    MOECHECK_CUDA_OK(cudaMalloc(&db, n * 4ull));
    MOECHECK_CUDA_OK(cudaMalloc(&dout, n * 4ull));
    MOECHECK_CUDA_OK(cudaMemcpy(da, g.a.data(), n * 4ull, cudaMemcpyHostToDevice));
    MOECHECK_CUDA_OK(cudaMemcpy(db, g.b.data(), n * 4ull, cudaMemcpyHostToDevice));
    div_full_kernel<<<(n + 255) / 256, 256>>>(da, db, dout, n);
    MOECHECK_CUDA_OK(cudaGetLastError());
    std::vector<float> gpu(n);
    MOECHECK_CUDA_OK(cudaMemcpy(gpu.data(), dout, n * 4ull, cudaMemcpyDeviceToHost));
    cudaFree(da);
    cudaFree(db);
    cudaFree(dout);
    Tally tally;
    std::uint64_t ieee_differs = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t hw = std::bit_cast<std::uint32_t>(gpu[i]);
      const std::uint32_t host = std::bit_cast<std::uint32_t>(fmt::div_full(g.a[i], g.b[i]));
      if (hw != host) {
        char what[160];
        std::snprintf(what, sizeof what, "div.full a=0x%08X b=0x%08X", std::bit_cast<std::uint32_t>(g.a[i]),
                      std::bit_cast<std::uint32_t>(g.b[i]));
        note(tally, what, std::bit_cast<std::uint32_t>(g.a[i]), hw, host);
      }
      if (hw != std::bit_cast<std::uint32_t>(g.a[i] / g.b[i])) ++ieee_differs;
    }
    std::printf("div.full.f32 %-40s pairs %9u  mismatches %llu  (differs from IEEE a/b: %llu)\n", g.name, n,
                static_cast<unsigned long long>(tally.mismatches.load()),
                static_cast<unsigned long long>(ieee_differs));
    for (const auto& e : tally.examples) std::printf("    %s\n", e.c_str());
    EXPECT_EQ(tally.mismatches.load(), 0u) << g.name;
  }
}
