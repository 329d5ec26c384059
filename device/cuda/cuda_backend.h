// The `cuda` backend: vLLM's fused-MoE pipeline as CUDA kernels on the GPU (built with the `cuda`
// preset, -DMOECHECK_CUDA=ON). The structure the engines use, one kernel per stage:
//   moe_align_block_size (on the device) → GEMM1 with the epilogue (bias, cast) → the activation →
//   GEMM2 (bias, router weight, cast) → the top-k reduction (moe_sum's rounding).
// This first kernel set runs the rows of driver.h's kPipelineSchemes — dense, MXFP4 / MXFP8 /
// NVFP4 weight-only, FP8 128 × 128 blocks and per-tensor W8A16, Triton WNA16 (int4 / int8, groups
// 32 / 64 / 128, zero points) — in fp32
// and bf16 models, each B element dequantized in the tile as the sim does: one thread per output element
// of a BLOCK_M × BLOCK_N tile, its fp32 sum over K in ascending order with every product and sum
// rounded apart (__fmul_rn, __fadd_rn: no FMA contraction), which is the golden model's
// Accumulate::kFp32 order and the sim's. It is order-preserving — the zero products that padding
// appends leave every sum bitwise unchanged — so P1 demands bit identity, and on these rows its
// output equals the sim's bit for bit wherever the activation's double-precision exp / erf agree
// with the host's in the last place (libdevice's are within 1-2 double ulps; the result is rounded
// to fp32 or bf16 after). Each kernel is its thread's indices around a per-thread function of
// pipeline.h, and driver.h runs the stages once for both the GPU executor here and the host one
// (host_pipeline.h), which the CPU test suite checks against the sim. It injects the kernel faults
// of driver.h's kPipelineFaults and refuses the others; tensor cores and the remaining rows are later
// steps of issue 11 (device/README.md).
#pragma once

#include <string>
#include <string_view>

#include "device/backend.h"

namespace moecheck::device::cuda {

// Why no kernel can run here (no device, no driver, an architecture the binary was not built
// for), or empty when device 0 is usable.
std::string unavailable_reason();

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  Capabilities capabilities() const override;
  // std::invalid_argument for a case outside the capabilities; std::runtime_error naming the
  // kernel and the case's shape for a failed CUDA call or launch.
  void run(const PaddedCase& padded_case, std::span<float> output) const override;
};

}  // namespace moecheck::device::cuda
