#include "properties/persist.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "fixtures/case_fixture.h"
#include "properties/gen/case.h"
#include "properties/properties.h"
#include "reference/moe/weight.h"
#include "reference/quant/scheme.h"


namespace moecheck::properties {

namespace moe = reference::moe;
namespace pd = reference::padding;
namespace fx = fixtures;
namespace fs = std::filesystem;

fs::path regressions_dir() {
  if (const char* env = std::getenv("MOECHECK_REGRESSIONS"); env && *env) return env;
  return fs::path(MOECHECK_SOURCE_DIR) / "fixtures" / "regressions";
}

std::vector<fs::path> replay_dirs() {
  if (const char* env = std::getenv("MOECHECK_REGRESSIONS"); env && *env) return {env};
  return {fs::path(MOECHECK_SOURCE_DIR) / "fixtures" / "regressions", fs::path(MOECHECK_SOURCE_DIR) / "fixtures" / "data"};
}

namespace {

// FNV-1a, 64 bits: stable, dependency-free; collisions among a few thousand fixtures are not a concern.
struct Hasher {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  }
  void text(std::string_view s) {
    const std::uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
  void num(std::int64_t v) { bytes(&v, sizeof v); }
  template <class T>
  void vec(const std::vector<T>& v) {
    num(static_cast<std::int64_t>(v.size()));
    bytes(v.data(), v.size() * sizeof(T));
  }
};

std::vector<float> hidden_values(const MoeCase& c) {
  std::vector<float> v(static_cast<std::size_t>(c.hidden_states.size()));
  if (!v.empty()) std::memcpy(v.data(), c.hidden_states.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

std::string content_hash(const MoeCase& c, const std::string& property) {
  const moe::MoeBlock& b = c.block;
  Hasher h;
  h.text("moecheck.case/1");
  h.text(property);
  h.text(moe::name(b.family));
  h.text(moe::name(b.dtype));
  h.text(device::name(c.scheme));
  h.num(b.semantics.router.top_k);
  h.text(c.target.ruleset);
  h.text(c.target.method);
  h.text(c.target.backend);
  h.text(c.target.platform);
  h.num(c.target.tp);
  h.num(c.target.rank);
  if (c.target.ep) h.text("ep");  // absent for non-EP cases, so their hashes stay as they were
  if (c.target.batch_rows > 0) {   // likewise for unpadded batches
    h.text("batch");
    h.num(c.target.batch_rows);
    h.text(reference::padding::name(c.target.pad_row_fill));
  }
  h.num(b.hidden);
  h.num(b.intermediate);
  h.num(b.num_experts());
  h.num(c.tokens());
  h.vec(hidden_values(c));
  h.vec(b.router.values);
  h.vec(b.router_bias);
  // Each expert's storage components (gate_up's, then down's), then its biases: for the existing
  // schemes exactly the arrays earlier versions hashed, so fixture names stay stable.
  const reference::quant::SchemeSpec& scheme = reference::quant::spec(c.scheme);
  for (const moe::Expert& e : b.experts) {
    for (const moe::StackedWeight* w : {&e.gate_up, &e.down})
      for (const reference::quant::ComponentSpec& comp : scheme.components) {
        if (reference::quant::holds_floats(comp.component)) {
          std::vector<float> v;
          for (const moe::Weight& part : w->parts) {
            const auto x = moe::float_component(part, comp.component);
            v.insert(v.end(), x.begin(), x.end());
          }
          h.vec(v);
        } else {
          std::vector<std::uint8_t> v;
          for (const moe::Weight& part : w->parts) {
            const auto x = moe::byte_component(part, comp.component);
            v.insert(v.end(), x.begin(), x.end());
          }
          h.vec(v);
        }
      }
    h.vec(e.gate_up_bias);
    h.vec(e.down_bias);
  }
  // The shared expert, for the blocks that have one (absent otherwise, so earlier hashes stay).
  if (b.shared_expert) {
    h.text("shared");
    for (const moe::StackedWeight* w : {&b.shared_expert->gate_up, &b.shared_expert->down}) {
      std::vector<float> v(static_cast<std::size_t>(w->rows() * w->cols()));
      moe::materialize(*w, moe::Dtype::kF32, v);
      h.vec(v);
    }
    if (b.shared_expert_gate) h.vec(b.shared_expert_gate->values);
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h.h));
  return out;
}

std::string fixture_name(const MoeCase& c, const std::string& property) {
  return "case-" + content_hash(c, property) + ".h5";
}

fs::path write_counterexample(const Counterexample& x, const fs::path& dir, bool* written) {
  const fs::path path = dir / fixture_name(x.c, x.property);
  if (written) *written = false;
  if (fs::exists(path)) return path;
  fs::create_directories(dir);  // fixtures/regressions appears with its first counterexample
  fixtures::CaseFixture f;
  f.c = x.c;
  f.property = x.property;
  f.test = x.test;
  f.reproduce = x.reproduce;
  f.message = x.message;
  f.generator_version = gen::kGeneratorVersion;
  fixtures::write_case_fixture(path, f);
  if (written) *written = true;
  return path;
}

ReplayResult replay_regressions(const std::vector<fs::path>& dirs, const Faults& faults) {
  ReplayResult result;
  std::vector<fs::path> files;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().extension() == ".h5") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    if (!is_case_fixture(f)) continue;
    ++result.fixtures;
    try {
      const CaseFixture fixture = read_case_fixture(f);
      for (const Verdict& v : check(fixture.property, fixture.c, faults)) {
        if (v.skipped) continue;
        ++result.verdicts;
        if (!v.ok) result.failures.push_back(f.string() + ": " + v.message);
      }
    } catch (const std::exception& e) {
      result.failures.push_back(f.string() + ": " + e.what());
    }
  }
  return result;
}

}  // namespace moecheck::properties
