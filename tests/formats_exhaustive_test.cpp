// Slow: every encoder against an independent oracle on all 2^32 fp32 inputs.
//
// The oracle does not look at bits: it takes the format's finite values from the decode table,
// finds the two neighbours of |x| by binary search, compares distances in double precision (exact
// for fp32 inputs), breaks ties toward the even code, and applies each variant's overflow, NaN and
// signed-zero policy as stated in spec/numerics.md §2. The e8m0 roundings are checked against
// frexp-based statements of their rules. The fp6 encoders are checked against a search over every
// code value (computed from the OCP MX formula, not the decode table) and, for Quark, a float
// replay of its fake-quantize-then-pack pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "reference/formats.h"

namespace fmt = moecheck::reference::formats;
using fmt::Format;
using fmt::Rounding;

namespace {

struct Policy {
  std::uint32_t nan_code;
  bool nan_signed;
  std::uint32_t overflow_code;  // magnitude; with the input's sign
  bool overflow_signed;
  bool unsigned_zero;
};

class NearestOracle {
 public:
  NearestOracle(Format f, Policy p) : format_(f), policy_(p) {
    sign_bit_ = 1u << (fmt::code_bits(f) - 1);
    const std::uint32_t n = 1u << fmt::code_bits(f);
    for (std::uint32_t c = 0; c < n; ++c) {
      const float v = fmt::decode(f, c);
      if (std::isfinite(v) && !std::signbit(v)) {
        values_.push_back(v);
        codes_.push_back(c);
      }
    }
    std::vector<std::size_t> order(values_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return values_[a] < values_[b]; });
    std::vector<double> v;
    std::vector<std::uint32_t> c;
    for (auto i : order) {
      v.push_back(values_[i]);
      c.push_back(codes_[i]);
    }
    values_ = std::move(v);
    codes_ = std::move(c);
    const std::size_t top = values_.size() - 1;
    // Halfway to the next value above the largest finite one (same spacing as the top binade).
    overflow_midpoint_ = values_[top] + (values_[top] - values_[top - 1]) / 2;
  }

  std::uint32_t operator()(float x) const {
    const bool negative = std::signbit(x);
    const std::uint32_t sign = negative ? sign_bit_ : 0u;
    if (std::isnan(x)) return policy_.nan_code | (policy_.nan_signed ? sign : 0u);
    const std::uint32_t overflow = policy_.overflow_code | (policy_.overflow_signed ? sign : 0u);
    const double a = std::fabs(double(x));
    const std::size_t top = values_.size() - 1;
    std::uint32_t code;
    if (a > values_[top]) {
      if (a < overflow_midpoint_) {
        code = codes_[top];
      } else if (a == overflow_midpoint_ && (codes_[top] & 1u) == 0) {
        code = codes_[top];
      } else {
        return overflow;
      }
    } else {
      const auto it = std::lower_bound(values_.begin(), values_.end(), a);  // first >= a
      const std::size_t hi = std::size_t(it - values_.begin());
      if (values_[hi] == a) {
        code = codes_[hi];
      } else {
        const std::size_t lo = hi - 1;
        const double d_lo = a - values_[lo], d_hi = values_[hi] - a;
        if (d_lo < d_hi) code = codes_[lo];
        else if (d_hi < d_lo) code = codes_[hi];
        else code = (codes_[lo] & 1u) == 0 ? codes_[lo] : codes_[hi];
      }
    }
    if (code == 0 && policy_.unsigned_zero) return 0u;
    return code | sign;
  }

 private:
  Format format_;
  Policy policy_;
  std::uint32_t sign_bit_;
  std::vector<double> values_;
  std::vector<std::uint32_t> codes_;
  double overflow_midpoint_;
};

// k with 2^k <= a < 2^(k+1), for finite a > 0.
int floor_log2(double a) {
  int e;
  std::frexp(a, &e);
  return e - 1;
}

std::uint32_t e8m0_oracle(Rounding r, float x) {
  const double a = std::fabs(double(x));
  const bool nan = std::isnan(x), inf = std::isinf(x);
  const double min_normal = std::ldexp(1.0, -126), two_m127 = std::ldexp(1.0, -127);
  switch (r) {
    case Rounding::kCeil:
    case Rounding::kCeilNosat: {
      const bool sat = r == Rounding::kCeil;
      if (nan) return 0xFF;
      if (inf) return sat ? 0xFE : 0xFF;
      if (a == 0) return 0;
      int k = floor_log2(a);
      if (std::ldexp(1.0, k) != a) ++k;  // smallest power of two >= a
      k = std::max(k, -127);
      if (k > 127) return sat ? 0xFE : 0xFF;
      return std::uint32_t(k + 127);
    }
    case Rounding::kFloor: {
      if (nan) return 0xFF;
      if (inf) return 0xFE;
      if (a == 0) return 0;
      return std::uint32_t(std::max(floor_log2(a), -127) + 127);
    }
    case Rounding::kTorch: {
      if (nan || inf) return 0xFF;
      if (a < min_normal) return a > two_m127 ? 1 : 0;  // ties (exactly 2^-127) go down here
      const int k = floor_log2(a);
      const bool up = a >= 1.5 * std::ldexp(1.0, k);
      return std::uint32_t(k + 127 + (up ? 1 : 0));  // 1.5 * 2^127 and above give 0xFF
    }
    case Rounding::kEven: {
      // The add of 0x200000 carries a NaN with a payload >= 0x7FE00000 into the sign bit, which
      // the mask keeps (-0 -> log2 = -inf -> clamped to 0x00); smaller NaNs and inf become inf.
      if (nan) return (std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu) >= 0x7FE00000u ? 0x00 : 0xFE;
      if (inf) return 0xFE;
      if (a < min_normal) return a >= 0.75 * min_normal ? 1 : 0;
      const int k = floor_log2(a);
      const bool up = a >= 1.75 * std::ldexp(1.0, k);
      return std::uint32_t(std::min(k + 127 + (up ? 1 : 0), 254));
    }
    default: break;
  }
  ADD_FAILURE() << "no e8m0 oracle for " << fmt::name(r);
  return 0;
}

template <class Oracle>
void sweep_all_inputs(Format f, Rounding r, const Oracle& oracle) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::uint64_t> mismatches{0};
  std::atomic<std::uint64_t> first_bad{~0ull};
  std::vector<std::thread> pool;
  constexpr std::uint64_t kTotal = 1ull << 32;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::uint64_t local = 0;
      for (std::uint64_t u = t; u < kTotal; u += threads) {
        const float x = std::bit_cast<float>(std::uint32_t(u));
        if (fmt::encode(f, r, x) != oracle(x)) {
          if (local++ == 0) {
            std::uint64_t expected = ~0ull;
            first_bad.compare_exchange_strong(expected, u);
          }
        }
      }
      mismatches += local;
    });
  }
  for (auto& th : pool) th.join();
  const std::uint64_t bad = first_bad.load();
  if (mismatches) {
    const float x = std::bit_cast<float>(std::uint32_t(bad));
    ADD_FAILURE() << fmt::name(f) << "/" << fmt::name(r) << ": " << mismatches << " mismatches of 2^32; e.g. x=0x"
                  << std::hex << bad << " (" << x << "): codec 0x" << fmt::encode(f, r, x) << ", oracle 0x"
                  << oracle(x);
  }
  std::printf("%s/%s: 2^32 inputs, %llu mismatches\n", std::string(fmt::name(f)).c_str(),
              std::string(fmt::name(r)).c_str(), static_cast<unsigned long long>(mismatches.load()));
}

struct NearestCase {
  Format format;
  Rounding rounding;
  Policy policy;
};

// The policies, restated from spec/numerics.md §2.1–2.4, §2.8, §2.9 (not taken from codecs.h).
const NearestCase kNearest[] = {
    {Format::kE4m3fn, Rounding::kSatfinite, {0x7F, false, 0x7E, true, false}},
    {Format::kE4m3fn, Rounding::kNosat, {0x7F, false, 0x7F, true, false}},
    {Format::kE4m3fn, Rounding::kTorch, {0x7F, true, 0x7F, true, false}},
    {Format::kE4m3fnuz, Rounding::kTorch, {0x80, false, 0x80, false, true}},
    {Format::kE5m2, Rounding::kSatfinite, {0x7F, false, 0x7B, true, false}},
    {Format::kE5m2, Rounding::kNosat, {0x7F, false, 0x7C, true, false}},
    {Format::kE5m2, Rounding::kTorch, {0x7F, true, 0x7C, true, false}},
    {Format::kE5m2fnuz, Rounding::kTorch, {0x80, false, 0x80, false, true}},
    {Format::kE2m1, Rounding::kSatfinite, {0x7, false, 0x7, true, false}},
    {Format::kBf16, Rounding::kRne, {0x7FFF, false, 0x7F80, true, false}},
    {Format::kFp16, Rounding::kRne, {0x7FFF, false, 0x7C00, true, false}},
};

// ---- fp6 ------------------------------------------------------------------------------------

// OCP MX v1.0 §5.3.2 FP6: value = 2^(E - bias) * (1 + M / 2^m) for E > 0, 2^(1 - bias) * (M / 2^m)
// for E = 0, where m is the mantissa width; no inf or NaN. e3m2: m = 2, bias 3; e2m3: m = 3, bias 1.
struct Fp6Params {
  int man_bits, bias;
};
Fp6Params fp6_params(Format f) { return f == Format::kE3m2 ? Fp6Params{2, 3} : Fp6Params{3, 1}; }

class Fp6Oracle {
 public:
  Fp6Oracle(Format f, Rounding r) : format_(f), rounding_(r), p_(fp6_params(f)) {
    const int m = 1 << p_.man_bits;
    for (std::uint32_t c = 0; c < 32; ++c) {
      const int e = int(c) >> p_.man_bits, frac = int(c) & (m - 1);
      magnitude_[c] = e == 0 ? std::ldexp(double(frac) / m, 1 - p_.bias) : std::ldexp(1.0 + double(frac) / m, e - p_.bias);
    }
    // Outside [2^-8, 64] the nearest value cannot change: every value is 0 or in [2^-4, 28], so
    // a >= 64 is nearest the largest and a <= 2^-8 nearest 0. Only a speed-up; the search is exact.
    top_ = nearest(64.0);
    bottom_ = nearest(0.0);
  }

  // The decode table must hold the same values, or the codec and this oracle speak of different
  // formats.
  void check_against_decode() const {
    for (std::uint32_t c = 0; c < 64; ++c) {
      const double want = (c & 0x20) ? -magnitude_[c & 0x1F] : magnitude_[c];
      ASSERT_EQ(double(fmt::decode(format_, c)), want) << fmt::name(format_) << " code " << c;
      ASSERT_EQ(std::signbit(fmt::decode(format_, c)), bool(c & 0x20)) << fmt::name(format_) << " code " << c;
    }
  }

  std::uint32_t operator()(float x) const {
    return rounding_ == Rounding::kQuark ? quark(x) : cuda(x);
  }

 private:
  // The magnitude code nearest to a, trying all 32; between two candidates, the closer one is
  // decided by the side of their midpoint that a lies on (exact: the midpoint of two fp6 values
  // is a short dyadic number, a is an fp32), and a tie goes to the even code.
  std::uint32_t nearest(double a) const {
    std::uint32_t best = 0;
    for (std::uint32_t c = 1; c < 32; ++c) {
      const double v = magnitude_[c], b = magnitude_[best], mid = (v + b) / 2;
      const bool closer = v > b ? a > mid : a < mid;
      if (closer || (a == mid && (c & 1u) == 0)) best = c;
    }
    return best;
  }
  std::uint32_t nearest_clamped(double a) const {
    if (a >= 64.0) return top_;
    if (a <= 0x1p-8) return bottom_;
    return nearest(a);
  }

  // The rule cuda_fp6.h documents: out-of-range values give the largest value with their sign, NaN
  // gives the largest positive one; otherwise the input's sign bit is kept, zero included.
  std::uint32_t cuda(float x) const {
    if (std::isnan(x)) return 0x1F;
    const std::uint32_t sign = std::signbit(x) ? 0x20u : 0u;
    if (std::isinf(x)) return 0x1F | sign;
    return nearest_clamped(std::fabs(double(x))) | sign;
  }

  // Quark, replayed in floats: fake_quantize_element returns inf/NaN as they are and otherwise the
  // nearest fp6 value (clamped to quant_max, +0.0 for zero); Pack_fp6.pack divides by
  // 2^(127 - bias), views the float as int32, and takes (v >> (23 - m)) & 0x1F plus (v >> 26) & 0x20
  // (torch's int32 >> is arithmetic, like C++20's). The division is this host's IEEE division, so
  // what it does to a NaN's payload is the host's, not a rule restated here.
  std::uint32_t quark(float x) const {
    float element = x;
    if (std::isfinite(x)) {
      const std::uint32_t c = nearest_clamped(std::fabs(double(x)));
      element = c == 0 ? 0.0f : float(std::signbit(x) ? -magnitude_[c] : magnitude_[c]);
    }
    volatile float divisor = std::ldexp(1.0f, 127 - p_.bias);  // volatile: a real division at run time
    const std::int32_t v = std::bit_cast<std::int32_t>(element / divisor);
    return std::uint32_t(((v >> (23 - p_.man_bits)) & 0x1F) + ((v >> 26) & 0x20));
  }

  Format format_;
  Rounding rounding_;
  Fp6Params p_;
  double magnitude_[32];
  std::uint32_t top_ = 0, bottom_ = 0;
};

struct Fp6Case {
  Format format;
  Rounding rounding;
};
const Fp6Case kFp6[] = {
    {Format::kE3m2, Rounding::kSatfinite},
    {Format::kE3m2, Rounding::kQuark},
    {Format::kE2m3, Rounding::kSatfinite},
    {Format::kE2m3, Rounding::kQuark},
};

}  // namespace

class ExhaustiveFp6 : public ::testing::TestWithParam<Fp6Case> {};

TEST_P(ExhaustiveFp6, AllFp32Inputs) {
  const Fp6Case& c = GetParam();
  const Fp6Oracle oracle(c.format, c.rounding);
  oracle.check_against_decode();
  sweep_all_inputs(c.format, c.rounding, oracle);
}

INSTANTIATE_TEST_SUITE_P(Encoders, ExhaustiveFp6, ::testing::ValuesIn(kFp6), [](const auto& info) {
  return std::string(fmt::name(info.param.format)) + "_" + std::string(fmt::name(info.param.rounding));
});

class ExhaustiveNearest : public ::testing::TestWithParam<NearestCase> {};

TEST_P(ExhaustiveNearest, AllFp32Inputs) {
  const NearestCase& c = GetParam();
  const NearestOracle oracle(c.format, c.policy);
  sweep_all_inputs(c.format, c.rounding, oracle);
}

INSTANTIATE_TEST_SUITE_P(Encoders, ExhaustiveNearest, ::testing::ValuesIn(kNearest),
                         [](const auto& info) {
                           return std::string(fmt::name(info.param.format)) + "_" +
                                  std::string(fmt::name(info.param.rounding));
                         });

class ExhaustiveE8m0 : public ::testing::TestWithParam<Rounding> {};

TEST_P(ExhaustiveE8m0, AllFp32Inputs) {
  const Rounding r = GetParam();
  sweep_all_inputs(Format::kE8m0, r, [r](float x) { return e8m0_oracle(r, x); });
}

INSTANTIATE_TEST_SUITE_P(Encoders, ExhaustiveE8m0,
                         ::testing::Values(Rounding::kCeil, Rounding::kCeilNosat, Rounding::kFloor, Rounding::kTorch,
                                           Rounding::kEven),
                         [](const auto& info) { return "e8m0_" + std::string(fmt::name(info.param)); });

TEST(ExhaustiveCoverage, EveryEncoderHasAnOracle) {
  std::size_t covered = std::size(kNearest) + 5 + std::size(kFp6);
  EXPECT_EQ(covered, fmt::encoders().size());
}
