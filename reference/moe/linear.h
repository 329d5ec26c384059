// y = x · wᵀ for a linear layer, in one of the two accumulation modes (dtype.h). The result is the
// unrounded sum (widened to double); the caller rounds it at the family's cast point.
#pragma once

#include <span>

#include "reference/moe/dtype.h"
#include "reference/moe/routing.h"  // RowMatrix

namespace moecheck::reference::moe {

// x [rows, K] row-major; w [N, K] row-major (out × in). Returns [rows, N], each element the sum
//   s = (((0 + x[t,0]·w[n,0]) + x[t,1]·w[n,1]) + ...)   in ascending k,
// with every product and sum in double (kFp64: the fp32 × fp32 products are exact) or in fp32
// (kFp32: each product and each sum rounded to fp32). No FMA: the build uses -ffp-contract=off.
// Both modes are order-preserving, so zero columns appended to x and w (padding) leave every
// sum bitwise unchanged.
RowMatrix<double> linear(Accumulate accumulate, const RowMatrix<float>& x, std::span<const float> w, std::int64_t n);

}  // namespace moecheck::reference::moe
