// NVIDIA's approximate reciprocal `rcp.approx.ftz.f32` (MUFU.RCP) and Triton's fp32 division
// `div.full.f32`, reproduced bit-for-bit on the host (spec/numerics.md §6; the table's format and
// the procedure: fixtures/data/README.md).
#pragma once

#include <cstdint>
#include <span>

namespace moecheck::reference::formats {

// The 2^23-entry, 2-bit delta table for mantissas in [1, 2) (measured on sm_90, CUDA 13.0).
std::span<const std::uint8_t> rcp_delta_table();
inline constexpr std::size_t kRcpDeltaTableBytes = std::size_t(1) << 21;

// Delta (-1, 0 or +1 ulp) of the hardware result against RN(1/x) for x = 1 + mantissa·2^-23.
int rcp_delta(std::uint32_t mantissa);

// rcp.approx.ftz.f32 on a bit pattern: NaN -> 0x7FFFFFFF, ±inf -> ±0, ±0 and subnormals -> ±inf
// (input flushed), results that would be subnormal -> ±0.
std::uint32_t rcp_approx_ftz_bits(std::uint32_t x_bits);
float rcp_approx_ftz(float x);

// div.full.f32 (Triton's fp32 `/`): a · rcp.approx.ftz(b) with an IEEE fp32 multiply, for
// 2^-126 <= |b| <= 2^126 (measured bit-identical on 67M pairs). Outside that range the hardware
// scales both operands by a power of two first; this reproduces that as a·s · rcp(b·s) with
// s = 2^-2 for |b| > 2^126 and s = 2^24 for subnormal b — the cuda oracle test checks it.
// A NaN result is the GPU's canonical NaN 0x7FFFFFFF.
float div_full(float a, float b);
// The same without NaN canonicalisation (the host's own NaN), for hot loops that never see NaN.
float div_full_raw(float a, float b);

}  // namespace moecheck::reference::formats
