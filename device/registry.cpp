#include "device/registry.h"

#include <array>

#include "device/sim/sim_backend.h"

namespace moecheck::device {

// vLLM's small-batch Triton config, and a wide-tile variant that stands for a backend with 256-wide
// tiles (CK / FlyDSL style), so tile-boundary effects are exercised twice. Function-local statics:
// safe to call from other translation units' static initializers.
std::span<const Backend* const> backends() {
  static const sim::SimBackend sim_default(sim::TileConfig{"sim", 16, 64, 64});
  static const sim::SimBackend sim_tiles256(sim::TileConfig{"sim-tiles256", 64, 256, 256});
  static const std::array<const Backend*, 2> all{&sim_default, &sim_tiles256};
  return all;
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
  return out;
}

}  // namespace moecheck::device
