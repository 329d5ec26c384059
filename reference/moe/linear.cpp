#include "reference/moe/linear.h"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace moecheck::reference::moe {
namespace {

// One SSE register of Acc lanes (GCC/Clang vector extension: + and * act lane by lane, a scalar
// operand is broadcast). Each lane is one token's running sum, so vectorizing across tokens never
// reorders a sum.
template <class Acc>
struct Register;
template <>
struct Register<float> {
  using type = float __attribute__((vector_size(16)));
};
template <>
struct Register<double> {
  using type = double __attribute__((vector_size(16)));
};
template <class Acc>
using Lanes = typename Register<Acc>::type;
template <class Acc>
constexpr int kLanes = 16 / sizeof(Acc);

// Register tile: kTokenVectors registers of tokens times kRows weight rows = 8 accumulator
// registers of the 16 that x86-64 has. Tiling changes the speed, never a result: each accumulator
// still sees its k terms one after another.
constexpr int kTokenVectors = 2;
constexpr int kRows = 4;
template <class Acc>
constexpr int kTokens = kLanes<Acc> * kTokenVectors;

// acc[r][v] = Σ_k xt[k][lanes of v] · w[r][k], sequentially in k. xt is one block of kTokens
// tokens, transposed ([K][kTokens]) so that each step reads kTokens contiguous values.
template <class Acc, int Rows>
void tile(const Acc* xt, const float* const* w, std::int64_t K, Lanes<Acc> (&acc)[Rows][kTokenVectors]) {
  for (auto& row : acc)
    for (Lanes<Acc>& a : row) a = Lanes<Acc>{};
  for (std::int64_t k = 0; k < K; ++k) {
    Lanes<Acc> x[kTokenVectors];
    std::memcpy(x, xt + k * kTokens<Acc>, sizeof x);
    for (int r = 0; r < Rows; ++r) {
      const Acc wk = w[r][k];
      for (int v = 0; v < kTokenVectors; ++v) acc[r][v] += wk * x[v];  // a product, then a sum
    }
  }
}

template <class Acc, int Rows>
void rows_of_y(const std::vector<Acc>& xt, std::int64_t tokens, const float* w, std::int64_t n0, std::int64_t K,
               RowMatrix<double>& y) {
  constexpr int kT = kTokens<Acc>;
  const float* wr[Rows];
  for (int r = 0; r < Rows; ++r) wr[r] = w + (n0 + r) * K;
  Lanes<Acc> acc[Rows][kTokenVectors];
  for (std::int64_t b = 0; b * kT < tokens; ++b) {
    tile<Acc, Rows>(xt.data() + b * K * kT, wr, K, acc);
    for (int j = 0; j < kT && b * kT + j < tokens; ++j)
      for (int r = 0; r < Rows; ++r) y(b * kT + j, n0 + r) = acc[r][j / kLanes<Acc>][j % kLanes<Acc>];
  }
}

template <class Acc>
RowMatrix<double> linear_sequential(const RowMatrix<float>& x, const float* w, std::int64_t n) {
  constexpr int kT = kTokens<Acc>;
  const std::int64_t tokens = x.rows(), K = x.cols(), blocks = (tokens + kT - 1) / kT;
  // Tokens in blocks of kT, transposed; the tail block's missing tokens are zeros whose sums are
  // computed and dropped.
  std::vector<Acc> xt(static_cast<std::size_t>(blocks * K * kT), Acc{0});
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t k = 0; k < K; ++k) xt[static_cast<std::size_t>(((t / kT) * K + k) * kT + t % kT)] = x(t, k);
  RowMatrix<double> y(tokens, n);
  // Weight rows outermost: a tile's rows stay in cache while every token block passes by.
  std::int64_t n0 = 0;
  for (; n0 + kRows <= n; n0 += kRows) rows_of_y<Acc, kRows>(xt, tokens, w, n0, K, y);
  for (; n0 < n; ++n0) rows_of_y<Acc, 1>(xt, tokens, w, n0, K, y);
  return y;
}

}  // namespace

RowMatrix<double> linear(Accumulate accumulate, const RowMatrix<float>& x, std::span<const float> w, std::int64_t n) {
  const std::int64_t K = x.cols();
  if (n < 0 || w.size() != static_cast<std::size_t>(n * K))
    throw std::invalid_argument("linear: expected a weight of " + std::to_string(n) + " x " + std::to_string(K) +
                                " = " + std::to_string(n * K) + " values, found " + std::to_string(w.size()));
  return accumulate == Accumulate::kFp32 ? linear_sequential<float>(x, w.data(), n)
                                         : linear_sequential<double>(x, w.data(), n);
}

}  // namespace moecheck::reference::moe
