#include "device/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "device/cuda/driver.h"
#include "device/cuda/host_pipeline.h"
#include "device/cuda/pipeline.h"

namespace moecheck::device::cuda {

namespace {

namespace pl = pipeline;

// Each kernel: its thread's indices, then pipeline.h's per-thread function (shared with the host
// executor, host_pipeline.cpp).
__global__ void align_kernel(const std::int32_t* ids, std::int64_t pairs, std::int64_t experts, std::int32_t* sorted,
                             std::int64_t capacity, std::int32_t* expert_ids, std::int32_t* num_post) {
  if (blockIdx.x == 0 && threadIdx.x == 0) pl::align(ids, pairs, experts, sorted, capacity, expert_ids, num_post);
}
__global__ void weight_input_kernel(const float* x, const float* w, std::int64_t k, std::int64_t width, bool bf16,
                                    float* a1, std::int64_t count) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) pl::weight_input(x, w, k, width, bf16, a1, i);
}
// Grid (aligned blocks, N tiles), block (BLOCK_N columns, BLOCK_M rows).
__global__ void gemm_kernel(pl::GemmArgs g) {
  pl::gemm_element(g, blockIdx.x, threadIdx.y, static_cast<std::int64_t>(blockIdx.y) * pl::kBlockN + threadIdx.x);
}
__global__ void activation_kernel(const float* cache1, std::int64_t half, int act, bool interleaved, bool bf16,
                                  float* cache2, std::int64_t count) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) pl::activation_element(cache1, half, act, interleaved, bf16, cache2, i);
}
__global__ void sum_kernel(const float* cache3, const std::int32_t* ids, std::int64_t k, std::int64_t width, bool bf16,
                           float* out, std::int64_t count, pl::SumFaults f) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) pl::sum_element(cache3, ids, k, width, bf16, out, i, f);
}

constexpr unsigned kThreads = 256;
unsigned grid_of(std::int64_t n, std::int64_t threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// Device buffers for driver.h (freed with the executor); every call and launch checked, an error
// naming the stage and the case's shape.
class DeviceExec {
 public:
  explicit DeviceExec(std::string shape) : shape_(std::move(shape)) {}
  DeviceExec(const DeviceExec&) = delete;
  DeviceExec& operator=(const DeviceExec&) = delete;
  ~DeviceExec() {
    for (void* p : owned_) cudaFree(p);
  }
  template <class T>
  T* buffer(std::int64_t count, const char* what) {
    if (count == 0) return nullptr;
    void* p = nullptr;
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    check(cudaMalloc(&p, bytes), "cudaMalloc", what);
    owned_.push_back(p);
    check(cudaMemset(p, 0xFF, bytes), "cudaMemset", what);
    return static_cast<T*>(p);
  }
  template <class T>
  const T* upload(const std::vector<T>& host, const char* what) {
    if (host.empty()) return nullptr;
    T* p = buffer<T>(static_cast<std::int64_t>(host.size()), what);
    check(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy", what);
    return p;
  }
  void align(const std::int32_t* ids, std::int64_t pairs, std::int64_t experts, std::int32_t* sorted,
             std::int64_t capacity, std::int32_t* expert_ids, std::int32_t* num_post) {
    align_kernel<<<1, 1>>>(ids, pairs, experts, sorted, capacity, expert_ids, num_post);
    launched("moe_align_block_size");
  }
  void weight_input(const float* x, const float* w, std::int64_t k, std::int64_t width, bool bf16, float* a1,
                    std::int64_t count) {
    weight_input_kernel<<<grid_of(count, kThreads), kThreads>>>(x, w, k, width, bf16, a1, count);
    launched("apply_router_weight_on_input");
  }
  void gemm(const pl::GemmArgs& g, std::int64_t blocks, std::int64_t n_tiles, const char* what) {
    gemm_kernel<<<dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(n_tiles)), dim3(pl::kBlockN, pl::kBlockM)>>>(g);
    launched(what);
  }
  void activation(const float* cache1, std::int64_t half, int act, bool interleaved, bool bf16, float* cache2,
                  std::int64_t count) {
    activation_kernel<<<grid_of(count, kThreads), kThreads>>>(cache1, half, act, interleaved, bf16, cache2, count);
    launched("activation");
  }
  void sum(const float* cache3, const std::int32_t* ids, std::int64_t k, std::int64_t width, bool bf16, float* out,
           std::int64_t count, const pl::SumFaults& f) {
    sum_kernel<<<grid_of(count, kThreads), kThreads>>>(cache3, ids, k, width, bf16, out, count, f);
    launched("moe_sum");
  }
  void download(float* dst, const float* src, std::int64_t count) {
    check(cudaMemcpy(dst, src, static_cast<std::size_t>(count) * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy",
          "output");
  }

 private:
  void check(cudaError_t err, const char* call, const char* what) const {
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("backend cuda: ") + call + " (" + what + ") failed: " + cudaGetErrorName(err) +
                               " (" + cudaGetErrorString(err) + "); case " + shape_);
  }
  // A launch: its configuration error now, its execution error at the synchronize.
  void launched(const char* kernel) const {
    check(cudaGetLastError(), "launch", kernel);
    check(cudaDeviceSynchronize(), "kernel", kernel);
  }
  std::string shape_;
  std::vector<void*> owned_;
};

}  // namespace

std::string unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(err);
  if (count == 0) return "no CUDA device on this machine";
  return {};
}

Capabilities CudaBackend::capabilities() const { return pipeline_capabilities(); }

void CudaBackend::run(const PaddedCase& input, std::span<float> output) const {
  check_pipeline_input(input);
  if (const std::string why = unavailable_reason(); !why.empty()) throw std::runtime_error("backend cuda: " + why);
  DeviceExec x("T" + std::to_string(input.tokens) + " E" + std::to_string(input.experts) + " k" +
               std::to_string(input.top_k) + " H_pad " + std::to_string(input.plan.hidden_padded) + " I_pad " +
               std::to_string(input.plan.intermediate_per_partition_padded) + " " + std::string(device::name(input.scheme)) +
               " " + std::string(reference::moe::name(input.dtype)));
  run_pipeline(x, input, output);
}

}  // namespace moecheck::device::cuda
