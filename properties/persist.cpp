#include "properties/persist.h"

#include <rapidcheck.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "fixtures/hdf5_io.h"
#include "properties/gen/case.h"
#include "properties/properties.h"
#include "properties/rc_reproduce.h"
#include "reference/padding/platform.h"
#include "reference/padding/registry.h"
#include "reference/quant/fp8_block.h"


namespace moecheck::properties {

namespace moe = reference::moe;
namespace pd = reference::padding;
namespace fx = fixtures;
namespace fs = std::filesystem;
using device::WeightScheme;

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

struct Mx {
  std::vector<std::uint8_t> blocks, scales;
};

// Every part of a stacked weight: dense values or MXFP4 bytes, rows concatenated.
std::vector<float> dense_values(const moe::StackedWeight& w) {
  std::vector<float> v;
  for (const moe::Weight& part : w.parts) {
    const auto* d = std::get_if<moe::DenseWeight>(&part);
    if (!d) throw std::invalid_argument("persist: a dense case holds a non-dense weight part");
    v.insert(v.end(), d->values.begin(), d->values.end());
  }
  return v;
}
Mx mx_bytes(const moe::StackedWeight& w) {
  Mx m;
  for (const moe::Weight& part : w.parts) {
    const auto* q = std::get_if<reference::quant::Mxfp4Weight>(&part);
    if (!q) throw std::invalid_argument("persist: an MXFP4 case holds a non-MXFP4 weight part");
    m.blocks.insert(m.blocks.end(), q->blocks.begin(), q->blocks.end());
    m.scales.insert(m.scales.end(), q->scales.begin(), q->scales.end());
  }
  return m;
}

// FP8 128×128 block weights: codes and weight_scale_inv of every part, parts concatenated (w13:
// the gate part, then the up part — vLLM's per-half grid).
struct Fp8 {
  std::vector<std::uint8_t> codes;
  std::vector<float> scale_inv;
};
Fp8 fp8_parts(const moe::StackedWeight& w) {
  Fp8 f;
  for (const moe::Weight& part : w.parts) {
    const auto* q = std::get_if<reference::quant::Fp8BlockWeight>(&part);
    if (!q) throw std::invalid_argument("persist: an FP8 block case holds a non-FP8 weight part");
    f.codes.insert(f.codes.end(), q->codes.begin(), q->codes.end());
    f.scale_inv.insert(f.scale_inv.end(), q->scale_inv.begin(), q->scale_inv.end());
  }
  return f;
}

bool has_biases(const moe::MoeBlock& b) { return !b.experts.empty() && !b.experts.front().gate_up_bias.empty(); }

template <class T, class F>
std::vector<T> gather(const moe::MoeBlock& b, F per_expert) {
  std::vector<T> out;
  for (const moe::Expert& e : b.experts) {
    const std::vector<T> v = per_expert(e);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<float> hidden_values(const MoeCase& c) {
  std::vector<float> v(static_cast<std::size_t>(c.hidden_states.size()));
  if (!v.empty()) std::memcpy(v.data(), c.hidden_states.data(), v.size() * sizeof(float));
  return v;
}

struct LastFailure {
  bool has = false;
  Counterexample x;
};
LastFailure& last_failure() {
  static LastFailure f;
  return f;
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
  h.num(b.hidden);
  h.num(b.intermediate);
  h.num(b.num_experts());
  h.num(c.tokens());
  h.vec(hidden_values(c));
  h.vec(b.router.values);
  h.vec(b.router_bias);
  for (const moe::Expert& e : b.experts) {
    if (c.scheme == WeightScheme::kDense) {
      h.vec(dense_values(e.gate_up));
      h.vec(dense_values(e.down));
    } else if (c.scheme == WeightScheme::kFp8Block128W8A16) {
      const Fp8 gu = fp8_parts(e.gate_up), dn = fp8_parts(e.down);
      h.vec(gu.codes);
      h.vec(gu.scale_inv);
      h.vec(dn.codes);
      h.vec(dn.scale_inv);
    } else {
      const Mx gu = mx_bytes(e.gate_up), dn = mx_bytes(e.down);
      h.vec(gu.blocks);
      h.vec(gu.scales);
      h.vec(dn.blocks);
      h.vec(dn.scales);
    }
    h.vec(e.gate_up_bias);
    h.vec(e.down_bias);
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h.h));
  return out;
}

std::string fixture_name(const MoeCase& c, const std::string& property) {
  return "case-" + content_hash(c, property) + ".h5";
}

fs::path write_counterexample(const Counterexample& x, const fs::path& dir, bool* written) {
  const MoeCase& c = x.c;
  const moe::MoeBlock& b = c.block;
  const fs::path path = dir / fixture_name(c, x.property);
  if (written) *written = false;
  if (fs::exists(path)) return path;
  fs::create_directories(dir);  // fixtures/regressions appears with its first counterexample
  const std::int64_t T = c.tokens(), H = b.hidden, I = b.intermediate, E = b.num_experts(),
                     k = b.semantics.router.top_k;

  fx::Writer w(path);
  w.set_string_attribute("/", "kind", kCaseFixtureKind);
  w.set_string_attribute("/", "property", x.property);
  w.set_string_attribute("/", "test", x.test);
  w.set_string_attribute("/", "reproduce", x.reproduce);
  w.set_string_attribute("/", "message", x.message);
  w.set_int_attribute("/", "generator_version", gen::kGeneratorVersion);
  w.set_string_attribute("/", "description", describe(c));
  w.set_string_attribute("/", "family", moe::name(b.family));
  w.set_string_attribute("/", "dtype", moe::name(b.dtype));
  w.set_string_attribute("/", "scheme", device::name(c.scheme));
  w.set_int_attribute("/", "top_k", k);
  w.set_string_attribute("/", "ruleset", c.target.ruleset);
  w.set_string_attribute("/", "method", c.target.method);
  w.set_string_attribute("/", "backend", c.target.backend);
  w.set_string_attribute("/", "platform", c.target.platform);
  w.set_int_attribute("/", "tp", c.target.tp);
  w.set_int_attribute("/", "rank", c.target.rank);
  w.set_int_attribute("/", "ep", c.target.ep ? 1 : 0);

  const std::vector<float> x_values = hidden_values(c);
  w.write("inputs/hidden_states", fx::Tensor::f32({T, H}, x_values));
  w.write("weights/router", fx::Tensor::f32({E, H}, b.router.values));
  if (!b.router_bias.empty()) w.write("weights/router_bias", fx::Tensor::f32({E}, b.router_bias));
  if (c.scheme == WeightScheme::kDense) {
    w.write("weights/w13", fx::Tensor::f32({E, 2 * I, H}, gather<float>(b, [](const moe::Expert& e) { return dense_values(e.gate_up); })));
    w.write("weights/w2", fx::Tensor::f32({E, H, I}, gather<float>(b, [](const moe::Expert& e) { return dense_values(e.down); })));
  } else if (c.scheme == WeightScheme::kMxfp4W4A16) {
    w.write("weights/w13_blocks", fx::Tensor::e2m1x2({E, 2 * I, H}, gather<std::uint8_t>(b, [](const moe::Expert& e) { return mx_bytes(e.gate_up).blocks; })));
    w.write("weights/w13_scales", fx::Tensor::e8m0({E, 2 * I, H / 32}, gather<std::uint8_t>(b, [](const moe::Expert& e) { return mx_bytes(e.gate_up).scales; })));
    w.write("weights/w2_blocks", fx::Tensor::e2m1x2({E, H, I}, gather<std::uint8_t>(b, [](const moe::Expert& e) { return mx_bytes(e.down).blocks; })));
    w.write("weights/w2_scales", fx::Tensor::e8m0({E, H, I / 32}, gather<std::uint8_t>(b, [](const moe::Expert& e) { return mx_bytes(e.down).scales; })));
  } else {
    const std::int64_t gi = pd::cdiv(I, reference::quant::kFp8WeightBlock), gh = pd::cdiv(H, reference::quant::kFp8WeightBlock);
    w.write("weights/w13_codes", fx::Tensor::fp8(reference::formats::Format::kE4m3fn, {E, 2 * I, H},
                                                 gather<std::uint8_t>(b, [](const moe::Expert& e) { return fp8_parts(e.gate_up).codes; })));
    w.write("weights/w13_scale_inv", fx::Tensor::f32({E, 2 * gi, gh}, gather<float>(b, [](const moe::Expert& e) {
                                                         return fp8_parts(e.gate_up).scale_inv;
                                                       })));
    w.write("weights/w2_codes", fx::Tensor::fp8(reference::formats::Format::kE4m3fn, {E, H, I},
                                                gather<std::uint8_t>(b, [](const moe::Expert& e) { return fp8_parts(e.down).codes; })));
    w.write("weights/w2_scale_inv", fx::Tensor::f32({E, gh, gi}, gather<float>(b, [](const moe::Expert& e) {
                                                        return fp8_parts(e.down).scale_inv;
                                                      })));
  }
  if (has_biases(b)) {
    w.write("weights/w13_bias", fx::Tensor::f32({E, 2 * I}, gather<float>(b, [](const moe::Expert& e) { return e.gate_up_bias; })));
    w.write("weights/w2_bias", fx::Tensor::f32({E, H}, gather<float>(b, [H](const moe::Expert& e) {
                                   return e.down_bias.empty() ? std::vector<float>(static_cast<std::size_t>(H), 0.0f) : e.down_bias;
                                 })));
  }

  // The padding plan the case was padded with (documentation: replay recomputes it from the ruleset).
  const pd::Plan plan = plan_for(c, shipped_ruleset(c.target.ruleset));
  w.create_group("plan");
  w.set_string_attribute("plan", "error", plan.error.value_or(""));
  w.set_int_attribute("plan", "hidden", plan.hidden);
  w.set_int_attribute("plan", "hidden_padded", plan.hidden_padded);
  w.set_int_attribute("plan", "intermediate_per_partition", plan.intermediate_per_partition);
  w.set_int_attribute("plan", "intermediate_per_partition_padded", plan.intermediate_per_partition_padded);
  w.set_int_attribute("plan", "hidden_allocated", plan.hidden_allocated);
  w.set_int_attribute("plan", "intermediate_per_partition_allocated", plan.intermediate_per_partition_allocated);
  w.set_string_attribute("plan", "fill_weight", pd::describe(plan.fill.weight));
  w.set_string_attribute("plan", "fill_scale", pd::describe(plan.fill.scale));
  w.set_string_attribute("plan", "fill_bias", pd::describe(plan.fill.bias));
  w.set_string_attribute("plan", "w13_post_load_padding", pd::name(plan.post_load_w13_padding));

  // The golden output (tp = 1: the whole block; else the fixture holds no golden).
  if (c.target.tp == 1) {
    const moe::MoeOutput g = golden(c);
    std::vector<float> y(g.output.data(), g.output.data() + g.output.size());
    std::vector<std::int32_t> ids(g.routing.ids.data(), g.routing.ids.data() + g.routing.ids.size());
    std::vector<float> wts(g.routing.weights.data(), g.routing.weights.data() + g.routing.weights.size());
    w.write("expected/output", fx::Tensor::f32({T, H}, y));
    w.write("expected/topk_ids", fx::Tensor::i32({T, k}, ids));
    w.write("expected/topk_weights", fx::Tensor::f32({T, k}, wts));
  }
  w.commit();
  if (written) *written = true;
  return path;
}

bool is_case_fixture(const fs::path& file) {
  if (file.extension() != ".h5") return false;
  try {
    const fx::Reader r(file);
    return r.string_attribute("/", "kind") == std::string(kCaseFixtureKind);
  } catch (const fx::Error&) {
    return false;
  }
}

CaseFixture read_case_fixture(const fs::path& file) {
  const fx::Reader r(file);
  const auto fail = [&](const std::string& what) -> void { throw fx::Error(file.string() + ": " + what); };
  if (r.string_attribute("/", "kind") != std::string(kCaseFixtureKind))
    fail("expected root attribute kind = \"moecheck.case\"");
  CaseFixture out;
  out.path = file;
  out.property = r.require_string_attribute("/", "property");
  out.test = r.require_string_attribute("/", "test");
  out.reproduce = r.require_string_attribute("/", "reproduce");
  out.generator_version = r.require_int_attribute("/", "generator_version");
  MoeCase& c = out.c;
  moe::MoeBlock& b = c.block;
  const auto family = moe::parse_family(r.require_string_attribute("/", "family"));
  const auto dtype = moe::parse_dtype(r.require_string_attribute("/", "dtype"));
  if (!family) fail("attribute family: expected one of " + moe::family_names());
  if (!dtype) fail("attribute dtype: expected float32 or bfloat16");
  b.family = *family;
  b.dtype = *dtype;
  b.semantics = moe::semantics(b.family);
  b.semantics.router.top_k = r.require_int_attribute("/", "top_k");
  const std::string scheme = r.require_string_attribute("/", "scheme");
  if (scheme == device::name(WeightScheme::kDense))
    c.scheme = WeightScheme::kDense;
  else if (scheme == device::name(WeightScheme::kMxfp4W4A16))
    c.scheme = WeightScheme::kMxfp4W4A16;
  else if (scheme == device::name(WeightScheme::kFp8Block128W8A16))
    c.scheme = WeightScheme::kFp8Block128W8A16;
  else
    fail("attribute scheme: expected dense, mxfp4_w4a16 or fp8_block128_w8a16, found \"" + scheme + "\"");
  c.target.ruleset = r.require_string_attribute("/", "ruleset");
  c.target.method = r.require_string_attribute("/", "method");
  c.target.backend = r.require_string_attribute("/", "backend");
  c.target.platform = r.require_string_attribute("/", "platform");
  c.target.tp = static_cast<int>(r.require_int_attribute("/", "tp"));
  c.target.rank = static_cast<int>(r.require_int_attribute("/", "rank"));
  const std::int64_t ep = r.int_attribute("/", "ep").value_or(0);
  if (ep != 0 && ep != 1) fail("attribute ep: expected 0 or 1, found " + std::to_string(ep));
  c.target.ep = ep == 1;

  const fx::Tensor x = r.read("inputs/hidden_states", fx::ElementType::kF32, {fx::kAnyDim, fx::kAnyDim});
  const std::int64_t T = x.shape[0], H = x.shape[1];
  const auto xv = x.view<float>();
  c.hidden_states = Eigen::Map<const RowMatrix<float>>(xv.data(), T, H);
  const fx::Tensor router = r.read("weights/router", fx::ElementType::kF32, {fx::kAnyDim, H});
  const std::int64_t E = router.shape[0];
  b.hidden = H;
  b.router = moe::DenseWeight{E, H, std::vector<float>(router.view<float>().begin(), router.view<float>().end())};
  if (r.has("weights/router_bias")) b.router_bias = r.read_f32("weights/router_bias", {E});
  std::int64_t I = 0;
  b.experts.resize(static_cast<std::size_t>(E));
  if (c.scheme == WeightScheme::kDense) {
    const fx::Tensor w13 = r.read("weights/w13", fx::ElementType::kF32, {E, fx::kAnyDim, H});
    I = w13.shape[1] / 2;
    const fx::Tensor w2 = r.read("weights/w2", fx::ElementType::kF32, {E, H, I});
    const auto a = w13.view<float>(), d = w2.view<float>();
    for (std::int64_t e = 0; e < E; ++e) {
      const auto gu = a.subspan(static_cast<std::size_t>(e * 2 * I * H), static_cast<std::size_t>(2 * I * H));
      const auto dn = d.subspan(static_cast<std::size_t>(e * H * I), static_cast<std::size_t>(H * I));
      b.experts[static_cast<std::size_t>(e)].gate_up.parts.push_back(moe::DenseWeight{2 * I, H, {gu.begin(), gu.end()}});
      b.experts[static_cast<std::size_t>(e)].down.parts.push_back(moe::DenseWeight{H, I, {dn.begin(), dn.end()}});
    }
  } else if (c.scheme == WeightScheme::kFp8Block128W8A16) {
    const fx::Tensor w13 = r.read("weights/w13_codes", fx::ElementType::kFp8, {E, fx::kAnyDim, H});
    if (w13.format != std::optional(reference::formats::Format::kE4m3fn)) fail("dataset weights/w13_codes: expected e4m3fn codes");
    I = w13.shape[1] / 2;
    const std::int64_t gi = pd::cdiv(I, reference::quant::kFp8WeightBlock), gh = pd::cdiv(H, reference::quant::kFp8WeightBlock);
    const fx::Tensor w13s = r.read("weights/w13_scale_inv", fx::ElementType::kF32, {E, 2 * gi, gh});
    const fx::Tensor w2 = r.read("weights/w2_codes", fx::ElementType::kFp8, {E, H, I});
    if (w2.format != std::optional(reference::formats::Format::kE4m3fn)) fail("dataset weights/w2_codes: expected e4m3fn codes");
    const fx::Tensor w2s = r.read("weights/w2_scale_inv", fx::ElementType::kF32, {E, gh, gi});
    const auto part = [](const fx::Tensor& codes, const fx::Tensor& grid, std::int64_t e, std::int64_t n_codes,
                         std::int64_t n_grid, std::int64_t rows, std::int64_t cols) {
      reference::quant::Fp8BlockWeight q;
      q.rows = rows;
      q.cols = cols;
      const auto cv = codes.view<std::uint8_t>().subspan(static_cast<std::size_t>(e * n_codes), static_cast<std::size_t>(n_codes));
      const auto gv = grid.view<float>().subspan(static_cast<std::size_t>(e * n_grid), static_cast<std::size_t>(n_grid));
      q.codes.assign(cv.begin(), cv.end());
      q.scale_inv.assign(gv.begin(), gv.end());
      return q;
    };
    for (std::int64_t e = 0; e < E; ++e) {
      auto& ex = b.experts[static_cast<std::size_t>(e)];
      // The gate part is the first I rows (and grid rows) of the expert, the up part the next.
      for (std::int64_t half = 0; half < 2; ++half) {
        reference::quant::Fp8BlockWeight q = part(w13, w13s, 2 * e + half, I * H, gi * gh, I, H);
        ex.gate_up.parts.push_back(std::move(q));
      }
      ex.down.parts.push_back(part(w2, w2s, e, H * I, gh * gi, H, I));
    }
  } else {
    const fx::Tensor w13 = r.read("weights/w13_blocks", fx::ElementType::kE2m1x2, {E, fx::kAnyDim, H});
    I = w13.logical_shape[1] / 2;
    const fx::Tensor w13s = r.read("weights/w13_scales", fx::ElementType::kE8m0, {E, 2 * I, H / 32});
    const fx::Tensor w2 = r.read("weights/w2_blocks", fx::ElementType::kE2m1x2, {E, H, I});
    const fx::Tensor w2s = r.read("weights/w2_scales", fx::ElementType::kE8m0, {E, H, I / 32});
    const auto slice = [](const fx::Tensor& t, std::int64_t e, std::int64_t n) {
      const auto v = t.view<std::uint8_t>().subspan(static_cast<std::size_t>(e * n), static_cast<std::size_t>(n));
      return std::vector<std::uint8_t>(v.begin(), v.end());
    };
    for (std::int64_t e = 0; e < E; ++e) {
      b.experts[static_cast<std::size_t>(e)].gate_up.parts.push_back(
          reference::quant::Mxfp4Weight{2 * I, H, slice(w13, e, 2 * I * H / 2), slice(w13s, e, 2 * I * H / 32)});
      b.experts[static_cast<std::size_t>(e)].down.parts.push_back(
          reference::quant::Mxfp4Weight{H, I, slice(w2, e, H * I / 2), slice(w2s, e, H * I / 32)});
    }
  }
  b.intermediate = I;
  if (r.has("weights/w13_bias")) {
    const std::vector<float> gb = r.read_f32("weights/w13_bias", {E, 2 * I});
    const std::vector<float> db = r.read_f32("weights/w2_bias", {E, H});
    for (std::int64_t e = 0; e < E; ++e) {
      auto& ex = b.experts[static_cast<std::size_t>(e)];
      ex.gate_up_bias.assign(gb.begin() + e * 2 * I, gb.begin() + (e + 1) * 2 * I);
      ex.down_bias.assign(db.begin() + e * H, db.begin() + (e + 1) * H);
    }
  }
  try {
    moe::validate(b);
  } catch (const std::invalid_argument& e) {
    fail(std::string("inconsistent block: ") + e.what());
  }
  return out;
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

void record_failure(const MoeCase& c, const std::string& property, const std::string& message) {
  LastFailure& f = last_failure();
  f.has = true;
  f.x.c = c;
  f.x.property = property;
  f.x.message = message;
}

std::optional<Counterexample> take_recorded_failure() {
  LastFailure& f = last_failure();
  std::optional<Counterexample> out;
  if (f.has) out = std::move(f.x);
  f = {};
  return out;
}

std::string run_property(const std::string& test_id, const std::function<void()>& body, const fs::path& dir) {
  last_failure() = {};
  rc::detail::TestMetadata metadata;
  metadata.id = test_id;
  metadata.description = test_id;
  const auto result = rc::detail::checkTestable(body, metadata);
  if (result.template is<rc::detail::SuccessResult>()) {
    const auto success = result.template get<rc::detail::SuccessResult>();
    if (!success.distribution.empty()) {
      rc::detail::printResultMessage(result, std::cout);
      std::cout << std::endl;
    }
    return {};
  }
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  if (result.template is<rc::detail::FailureResult>()) {
    const auto& failure = result.template get<rc::detail::FailureResult>();
    const std::string reproduce = "reproduce=" + rc::detail::reproduceMapToString({{test_id, failure.reproduce}});
    std::string filter = test_id;
    std::replace(filter.begin(), filter.end(), '/', '.');
    const std::string line = "REPRO: RC_PARAMS=\"" + reproduce + "\" <test binary> --gtest_filter=" + filter;
    std::cout << line << std::endl;
    ss << "\n" << line;
    LastFailure& last = last_failure();
    if (last.has) {
      last.x.test = test_id;
      last.x.reproduce = reproduce;
      try {
        bool written = false;
        const fs::path path = write_counterexample(last.x, dir, &written);
        ss << "\ncounterexample fixture: " << path.string() << (written ? " (new)" : " (already kept)");
      } catch (const std::exception& e) {
        ss << "\ncounterexample NOT persisted: " << e.what();
      }
    }
  }
  return ss.str();
}

}  // namespace moecheck::properties
