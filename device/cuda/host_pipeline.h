// The `cuda` backend's pipeline on the CPU: driver.h with an executor that runs each kernel's
// per-thread function (pipeline.h) over its whole grid, in a host loop. Not a backend of the
// registry: it exists so that the kernels' indexing, dequantization and roundings are checked
// against the sim everywhere, GPU or not (tests/cuda_pipeline_host_test.cpp).
#pragma once

#include <span>

#include "device/backend.h"

namespace moecheck::device::cuda {

// What both executors run: the rows of driver.h's kPipelineSchemes, both layouts, SiLU / GELU /
// SwiGLU-OAI, fp32 and bf16, biases, the router weight on the input; order-preserving.
Capabilities pipeline_capabilities();

// What both executors check before they run: validate(input), then std::invalid_argument for a
// fault the pipeline does not inject or a case outside pipeline_capabilities().
void check_pipeline_input(const PaddedCase& input);

// check_pipeline_input, then the pipeline; output [T, H_pad].
void run_pipeline_on_host(const PaddedCase& input, std::span<float> output);

}  // namespace moecheck::device::cuda
