#include "device/registry.h"

#include <array>

#include "device/sim/sim_backend.h"
#include <vector>
#ifdef MOECHECK_WITH_CUDA_BACKEND
#include "device/cuda/cuda_backend.h"
#endif

namespace moecheck::device {

// vLLM's small-batch Triton config, and a wide-tile variant that stands for a backend with 256-wide
// tiles (CK / FlyDSL style), so tile-boundary effects are exercised twice. Function-local statics:
// safe to call from other translation units' static initializers.
// The CUDA build adds `cuda` where device 0 is usable (else unusable_backends() says why), so that
// the default backend list runs everywhere.
std::span<const Backend* const> backends() {
  static const sim::SimBackend sim_default(sim::TileConfig{"sim", 16, 64, 64});
  static const sim::SimBackend sim_tiles256(sim::TileConfig{"sim-tiles256", 64, 256, 256});
  static const std::vector<const Backend*> all = [] {
    std::vector<const Backend*> v{&sim_default, &sim_tiles256};
#ifdef MOECHECK_WITH_CUDA_BACKEND
    static const cuda::CudaBackend cuda_backend;
    if (cuda::unavailable_reason().empty()) v.push_back(&cuda_backend);
#endif
    return v;
  }();
  return all;
}

std::string unusable_backends() {
#ifdef MOECHECK_WITH_CUDA_BACKEND
  if (const std::string why = cuda::unavailable_reason(); !why.empty()) return "cuda (" + why + ")";
#endif
  return {};
}

const Backend* find_backend(std::string_view backend_name) {
  for (const Backend* b : backends())
    if (b->name() == backend_name) return b;
  return nullptr;
}

std::string backend_names() {
  std::string out;
  for (const Backend* b : backends()) {
    if (!out.empty()) out += ", ";
    out += b->name();
  }
  if (const std::string unusable = unusable_backends(); !unusable.empty()) out += "; built but not usable here: " + unusable;
  return out;
}

}  // namespace moecheck::device
