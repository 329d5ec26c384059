// tools/run bench formats: values per second of every decoder and encoder, next to a plain float
// copy loop measured in the same run. Targets (issue #2): decode of fp8/e2m1 >= 0.5x copy,
// encoders >= 0.1x copy. Exit status 1 if a target is missed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "reference/formats.h"

namespace fmt = moecheck::reference::formats;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kValues = std::size_t(1) << 21;  // 8 MiB of fp32: past the L2 of this machine
constexpr int kRepeats = 7;

// Median seconds per pass of `body` over kValues values.
double median_seconds(const std::function<void()>& body) {
  body();  // warm-up: page faults and caches out of the measurement
  std::vector<double> times;
  for (int r = 0; r < kRepeats; ++r) {
    const auto t0 = Clock::now();
    int passes = 0;
    double elapsed = 0;
    do {
      body();
      ++passes;
      elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (elapsed < 0.05);
    times.push_back(elapsed / passes);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

volatile std::uint64_t g_sink;  // keeps the outputs observable

template <class T>
void consume(const std::vector<T>& v) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < v.size(); i += 4099) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v[i], sizeof(T));
    s += bits;
  }
  g_sink = g_sink + s;
}

struct Row {
  std::string name;
  double values_per_second;
  double target;  // as a fraction of copy speed; 0 = no target
};

}  // namespace

int main() {
  std::mt19937 rng(20261128);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-8, 8);
  std::vector<float> values(kValues), out_f(kValues);
  for (float& v : values) v = std::ldexp(normal(rng), exponent(rng));  // spread over 16 binades
  std::vector<std::uint8_t> bytes(kValues);
  std::vector<std::uint16_t> halves(kValues);

  const double copy_s = median_seconds([&] {
    const float* __restrict src = values.data();
    float* __restrict dst = out_f.data();
    for (std::size_t i = 0; i < kValues; ++i) dst[i] = src[i];
    consume(out_f);
  });
  const double copy_rate = double(kValues) / copy_s;

  std::vector<Row> rows;
  rows.push_back({"float copy (baseline)", copy_rate, 0});

  const fmt::Format byte_formats[] = {fmt::Format::kE4m3fn, fmt::Format::kE4m3fnuz, fmt::Format::kE5m2,
                                      fmt::Format::kE5m2fnuz, fmt::Format::kE2m1, fmt::Format::kE8m0,
                                      fmt::Format::kUe4m3};
  for (fmt::Format f : byte_formats) {
    const std::uint32_t mask = f == fmt::Format::kE2m1 ? 0x0F : f == fmt::Format::kUe4m3 ? 0x7F : 0xFF;
    for (std::size_t i = 0; i < kValues; ++i) bytes[i] = std::uint8_t(rng() & mask);
    const double s = median_seconds([&] {
      fmt::decode(f, bytes, out_f);
      consume(out_f);
    });
    const bool fp8_or_fp4 = f != fmt::Format::kE8m0;
    rows.push_back({"decode " + std::string(fmt::name(f)), double(kValues) / s, fp8_or_fp4 ? 0.5 : 0.0});
  }
  for (fmt::Format f : {fmt::Format::kBf16, fmt::Format::kFp16}) {
    for (std::size_t i = 0; i < kValues; ++i) halves[i] = std::uint16_t(rng());
    const double s = median_seconds([&] {
      fmt::decode(f, halves, out_f);
      consume(out_f);
    });
    rows.push_back({"decode " + std::string(fmt::name(f)), double(kValues) / s, 0});
  }
  for (const fmt::EncoderInfo& e : fmt::encoders()) {
    double s;
    if (fmt::code_bits(e.format) == 16) {
      s = median_seconds([&] {
        fmt::encode(e.format, e.rounding, values, halves);
        consume(halves);
      });
    } else {
      s = median_seconds([&] {
        fmt::encode(e.format, e.rounding, values, bytes);
        consume(bytes);
      });
    }
    rows.push_back({"encode " + std::string(fmt::name(e.format)) + ":" + std::string(fmt::name(e.rounding)),
                    double(kValues) / s, 0.1});
  }

  std::printf("bench formats: %zu values per pass, median of %d, baseline measured in this run\n\n", kValues,
              kRepeats);
  std::printf("%-28s %14s %10s %8s %s\n", "operation", "Mvalues/s", "x copy", "target", "");
  int missed = 0;
  for (const Row& r : rows) {
    const double ratio = r.values_per_second / copy_rate;
    const bool ok = r.target == 0 || ratio >= r.target;
    missed += ok ? 0 : 1;
    char target[16] = "-";
    if (r.target > 0) std::snprintf(target, sizeof target, ">=%.1f", r.target);
    std::printf("%-28s %14.1f %10.3f %8s %s\n", r.name.c_str(), r.values_per_second / 1e6, ratio, target,
                r.target == 0 ? "" : ok ? "ok" : "MISSED");
  }
  std::printf("\n%s: %d of %zu targets missed\n", missed ? "FAIL" : "PASS", missed, rows.size());
  return missed ? 1 : 0;
}
