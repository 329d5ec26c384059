// Shared vocabulary of the quant schemes: row-major Eigen aliases (every tensor here is row-major,
// as on the device and in checkpoints) and the error helper that names the field, the expected and
// the found value (ARCHITECTURE.md: errors name what was wrong; never an abort).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace moecheck::reference::quant {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXf = RowMatrix<float>;
using RowMatrixXu8 = RowMatrix<std::uint8_t>;
using RowMatrixXi32 = RowMatrix<std::int32_t>;

// Input of every quantizer: a row-major float matrix or a row block of one, without a copy. A
// column-major argument binds too (Eigen makes a row-major temporary).
using MatrixView = Eigen::Ref<const RowMatrixXf>;

namespace detail {

// Throws std::invalid_argument("<what>: expected <expected>, found <found>").
[[noreturn]] void fail(std::string_view what, std::string_view expected, std::string_view found);
[[noreturn]] void fail(std::string_view what, std::string_view expected, std::int64_t found);

// "[a, b, ...]" for error messages.
std::string shape_string(std::initializer_list<std::int64_t> dims);

// CUDA's fminf/fmaxf (and std::fmin/fmax) return the other operand when one is NaN, so the
// order of the two clamps decides where a NaN lands.
// `fmaxf(-hi, fminf(v, hi))` (vLLM common.cuh, flashinfer MXFP8): NaN -> +hi.
inline float clamp_fmin_first(float v, float hi) { return std::fmax(-hi, std::fmin(v, hi)); }
// `fminf(fmaxf(v, -hi), hi)` (vLLM per_token_group_quant.cu): NaN -> -hi.
inline float clamp_fmax_first(float v, float hi) { return std::fmin(std::fmax(v, -hi), hi); }

// log2 of an fp32 value rounded to fp32, as torch's and CUDA's `log2f` give it (correctly
// rounded here; the vendor functions are within 1 ulp, which matters only when the exact log2 is
// within half an ulp of an integer — unverified that they round those cases the same way).
inline float log2_fp32(float x) { return static_cast<float>(std::log2(static_cast<double>(x))); }

}  // namespace detail

}  // namespace moecheck::reference::quant
