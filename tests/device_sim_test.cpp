// device/: the Backend registry, moe_align_block_size, and the sim backend against the golden
// forward (reference::moe::forward, Accumulate::kFp32), padding invariance (P1's bitwise form)
// and the fault switches the fault catalog relies on.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device/backend.h"
#include "device/registry.h"
#include "device/sim/align.h"
#include "device/sim/sim_backend.h"
#include "reference/moe/forward.h"
#include "reference/padding/plan.h"
#include "reference/padding/poison.h"
#include "reference/quant/swizzle.h"
#include "reference/quant/fp8_block.h"
#include "reference/quant/mxfp4.h"

namespace {

using namespace moecheck;
using device::PaddedCase;
using device::WeightScheme;
using reference::moe::Activation;
using reference::moe::Dtype;
using reference::moe::GateUpLayout;
using reference::moe::RowMatrix;
using reference::padding::Tensor;

// Seed from the environment (MOECHECK_SEED), printed, as the house style asks.
std::uint32_t test_seed() {
  static const std::uint32_t seed = [] {
    const char* s = std::getenv("MOECHECK_SEED");
    const std::uint32_t v = s ? static_cast<std::uint32_t>(std::strtoul(s, nullptr, 0)) : 20261128u;
    std::printf("device_sim_test: MOECHECK_SEED=%u\n", v);
    return v;
  }();
  return seed;
}

// ---------------------------------------------------------------------------------------------
// moe_align_block_size

Tensor<std::int32_t> ids(std::int64_t t, std::int64_t k, std::vector<std::int32_t> v) {
  Tensor<std::int32_t> out({t, k}, 0);
  out.data = std::move(v);
  return out;
}

TEST(MoeAlignBlockSize, HandCaseWithEmptyExperts) {
  // Pairs (flat t·k + j): 0→e0, 1→e2, 2→e2, 3→e0, 4→e2, 5→e3; experts 1 and 4 get nothing.
  const auto ab = device::sim::moe_align_block_size(ids(3, 2, {0, 2, 2, 0, 2, 3}), 5, 4, 7);
  const std::int32_t s = 6;
  EXPECT_EQ(ab.sentinel, s);
  EXPECT_EQ(ab.num_tokens_post_padded, 12);
  EXPECT_EQ(ab.num_blocks(), 3);
  EXPECT_EQ(ab.tokens_per_expert, (std::vector<std::int64_t>{2, 0, 3, 1, 0}));
  ASSERT_EQ(ab.sorted_token_ids.size(), 6u + 5u * 3u);  // T·k + E·(BLOCK_M − 1)
  const std::vector<std::int32_t> head(ab.sorted_token_ids.begin(), ab.sorted_token_ids.begin() + 12);
  EXPECT_EQ(head, (std::vector<std::int32_t>{0, 3, s, s, 1, 2, 4, s, 5, s, s, s}));
  for (std::size_t i = 12; i < ab.sorted_token_ids.size(); ++i) EXPECT_EQ(ab.sorted_token_ids[i], s) << i;
  EXPECT_EQ(ab.expert_ids[0], 0);
  EXPECT_EQ(ab.expert_ids[1], 2);
  EXPECT_EQ(ab.expert_ids[2], 3);
}

TEST(MoeAlignBlockSize, BlockOfOneAndExactMultiples) {
  const auto ab = device::sim::moe_align_block_size(ids(4, 1, {1, 1, 0, 1}), 2, 1, 7);
  EXPECT_EQ(ab.num_tokens_post_padded, 4);
  EXPECT_EQ(std::vector<std::int32_t>(ab.sorted_token_ids.begin(), ab.sorted_token_ids.begin() + 4),
            (std::vector<std::int32_t>{2, 0, 1, 3}));
  EXPECT_EQ(std::vector<std::int32_t>(ab.expert_ids.begin(), ab.expert_ids.begin() + 4),
            (std::vector<std::int32_t>{0, 1, 1, 1}));
  const auto ab2 = device::sim::moe_align_block_size(ids(4, 1, {1, 1, 0, 0}), 2, 2, 7);
  EXPECT_EQ(ab2.num_tokens_post_padded, 4);  // two full blocks, no sentinel inside
  EXPECT_EQ(std::vector<std::int32_t>(ab2.sorted_token_ids.begin(), ab2.sorted_token_ids.begin() + 4),
            (std::vector<std::int32_t>{2, 3, 0, 1}));
}

// EP: a -1 id (an expert of another rank) is in no expert's segment.
TEST(MoeAlignBlockSize, ExpertOfAnotherRankIsSkipped) {
  const auto ab = device::sim::moe_align_block_size(ids(2, 2, {1, -1, -1, 1}), 2, 4, 7);
  EXPECT_EQ(ab.tokens_per_expert, (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(ab.num_tokens_post_padded, 4);
  EXPECT_EQ(ab.expert_ids[0], 1);
  EXPECT_EQ(std::vector<std::int32_t>(ab.sorted_token_ids.begin(), ab.sorted_token_ids.begin() + 4),
            (std::vector<std::int32_t>{0, 3, 4, 4}));
  EXPECT_THROW(device::sim::moe_align_block_size(ids(1, 1, {-2}), 2, 4, 7), std::invalid_argument);
}

TEST(MoeAlignBlockSize, NoTokensAndBadIds) {
  const auto ab = device::sim::moe_align_block_size(Tensor<std::int32_t>({0, 2}, 0), 3, 16, 7);
  EXPECT_EQ(ab.num_tokens_post_padded, 0);
  EXPECT_EQ(ab.num_blocks(), 0);
  EXPECT_THROW(device::sim::moe_align_block_size(ids(1, 1, {3}), 3, 16, 7), std::invalid_argument);
  EXPECT_THROW(device::sim::moe_align_block_size(ids(1, 1, {0}), 3, 0, 7), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Registry

TEST(DeviceRegistry, ListsSimBackends) {
  ASSERT_GE(device::backends().size(), 2u);
  EXPECT_EQ(device::backends()[0]->name(), "sim");
  ASSERT_NE(device::find_backend("sim-tiles256"), nullptr);
  EXPECT_EQ(device::find_backend("sim-tiles256")->capabilities().block_n, 256);
  EXPECT_EQ(device::find_backend("cuda"), nullptr);
  const auto caps = device::find_backend("sim")->capabilities();
  EXPECT_TRUE(caps.order_preserving);
  EXPECT_EQ(caps.ulp_bound, 0);
  EXPECT_TRUE(caps.supports(WeightScheme::kMxfp4W4A16));
  EXPECT_EQ(device::name(WeightScheme::kFp8Block128W8A16), "fp8_block128_w8a16");
}

TEST(DeviceRegistry, KernelFaultsByName) {
  ASSERT_EQ(device::kernel_faults().size(), 12u);
  for (const auto& f : device::kernel_faults()) {
    SCOPED_TRACE(std::string(f.name));
    device::FaultSwitches s;
    EXPECT_FALSE(s.any());
    s.*f.flag = true;
    EXPECT_TRUE(s.any());
    EXPECT_EQ(device::find_kernel_fault(f.name), &f);
    EXPECT_FALSE(f.bug.empty());
  }
  EXPECT_EQ(device::find_kernel_fault("uninit_pad_weights"), nullptr);  // a padding-path fault
}

// ---------------------------------------------------------------------------------------------
// Cases: a logical block (golden) and its padded device form.

struct Spec {
  WeightScheme scheme = WeightScheme::kDense;
  GateUpLayout layout = GateUpLayout::kConcatenated;
  Dtype dtype = Dtype::kF32;
  std::int64_t hidden = 64, intermediate = 64, experts = 4, top_k = 2, tokens = 5;
  bool bias = false;
  bool weights_on_input = false;
  std::uint32_t seed = 1;
};

std::string describe(const Spec& s) {
  return std::string(device::name(s.scheme)) + (s.layout == GateUpLayout::kInterleaved ? "_interleaved" : "_concat") +
         "_" + std::string(reference::moe::name(s.dtype)) + "_H" + std::to_string(s.hidden) + "_I" +
         std::to_string(s.intermediate) + "_E" + std::to_string(s.experts) + "_k" + std::to_string(s.top_k) + "_T" +
         std::to_string(s.tokens) + (s.bias ? "_bias" : "") + (s.weights_on_input ? "_wi" : "");
}

float to_dtype(Dtype d, float v) { return reference::moe::round_to(d, double{v}); }

RowMatrix<float> random_matrix(std::mt19937& rng, std::int64_t rows, std::int64_t cols, float scale, Dtype d) {
  std::normal_distribution<float> dist(0.0f, scale);
  RowMatrix<float> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = to_dtype(d, dist(rng));
  return m;
}

reference::moe::Weight make_weight(const Spec& s, const RowMatrix<float>& m) {
  switch (s.scheme) {
    case WeightScheme::kDense:
      return reference::moe::DenseWeight{m.rows(), m.cols(), std::vector<float>(m.data(), m.data() + m.size())};
    case WeightScheme::kMxfp4W4A16:
      return reference::quant::quantize(m, reference::quant::Mxfp4Rounding::kTritonRoundUp);
    case WeightScheme::kFp8Block128W8A16:
      return reference::quant::quantize(m, reference::quant::Fp8BlockQuantizer::kPerBlockCast);
    default:  // a table-driven scheme: its row's quantizer
      return reference::moe::quantize_weight(s.scheme, m);
  }
}

reference::moe::MoeBlock make_block(const Spec& s) {
  std::mt19937 rng(test_seed() + s.seed);
  reference::moe::MoeBlock b;
  b.family = s.layout == GateUpLayout::kInterleaved ? reference::moe::Family::kGptOss : reference::moe::Family::kMixtral;
  b.dtype = s.dtype;
  b.hidden = s.hidden;
  b.intermediate = s.intermediate;
  b.semantics = reference::moe::semantics(b.family);
  b.semantics.router.top_k = s.top_k;
  b.semantics.weights_on_input = s.weights_on_input;
  const RowMatrix<float> router = random_matrix(rng, s.experts, s.hidden, 1.0f, s.dtype);
  b.router = {s.experts, s.hidden, std::vector<float>(router.data(), router.data() + router.size())};
  if (b.family == reference::moe::Family::kGptOss) {
    const RowMatrix<float> rb = random_matrix(rng, 1, s.experts, 0.1f, s.dtype);
    b.router_bias.assign(rb.data(), rb.data() + rb.size());
  }
  const float wscale = 1.0f / std::sqrt(static_cast<float>(s.hidden));
  for (std::int64_t e = 0; e < s.experts; ++e) {
    reference::moe::Expert x;
    const RowMatrix<float> gu = random_matrix(rng, 2 * s.intermediate, s.hidden, wscale, s.dtype);
    if (reference::quant::spec(s.scheme).gate_up == reference::quant::GateUpParts::kSeparate) {
      // Per-half 128-row scale grids, as vLLM stores w13_weight_scale_inv: two parts [gate; up]
      // (NVFP4: a weight_scale_2 per part).
      x.gate_up.parts = {make_weight(s, gu.topRows(s.intermediate)), make_weight(s, gu.bottomRows(s.intermediate))};
    } else {
      x.gate_up.parts = {make_weight(s, gu)};
    }
    x.down.parts = {make_weight(s, random_matrix(rng, s.hidden, s.intermediate, wscale, s.dtype))};
    if (s.bias) {
      const RowMatrix<float> b1 = random_matrix(rng, 1, 2 * s.intermediate, 0.1f, s.dtype);
      const RowMatrix<float> b2 = random_matrix(rng, 1, s.hidden, 0.1f, s.dtype);
      x.gate_up_bias.assign(b1.data(), b1.data() + b1.size());
      x.down_bias.assign(b2.data(), b2.data() + b2.size());
    }
    b.experts.push_back(std::move(x));
  }
  return b;
}

// The padded row of logical w13 row r (block layout): per-half for concatenated, tail for interleaved.
std::int64_t padded_w13_row(GateUpLayout layout, std::int64_t r, std::int64_t i, std::int64_t ip) {
  return layout == GateUpLayout::kInterleaved || r < i ? r : ip + (r - i);
}

// The device form at (hp, ip), built independently of reference/padding's pad functions: zeros in
// every padded region (weights, codes, scale bytes 0x00, block scales 0, biases, activations).
PaddedCase make_padded(const Spec& s, const reference::moe::MoeBlock& b, const RowMatrix<float>& hidden,
                       const reference::moe::Routing& routing, std::int64_t hp, std::int64_t ip) {
  PaddedCase c;
  const std::int64_t h = s.hidden, i = s.intermediate, e = s.experts, t = hidden.rows();
  c.plan.hidden = h;
  c.plan.hidden_padded = hp;
  c.plan.intermediate_full = i;
  c.plan.intermediate_per_partition = i;
  c.plan.intermediate_per_partition_padded = ip;
  c.scheme = s.scheme;
  c.activation = b.semantics.activation;
  c.layout = b.semantics.layout;
  c.dtype = s.dtype;
  c.weights_on_input = s.weights_on_input;
  c.tokens = t;
  c.experts = e;
  c.top_k = s.top_k;
  const auto cdiv = [](std::int64_t a, std::int64_t d) { return (a + d - 1) / d; };
  switch (reference::quant::storage_scheme(s.scheme)) {
    case WeightScheme::kDense:
      c.w13.values = Tensor<float>({e, 2 * ip, hp}, 0.0f);
      c.w2.values = Tensor<float>({e, hp, ip}, 0.0f);
      break;
    case WeightScheme::kMxfp4W4A16:
      c.w13.codes = Tensor<std::uint8_t>({e, 2 * ip, hp / 2}, 0);
      c.w2.codes = Tensor<std::uint8_t>({e, hp, ip / 2}, 0);
      c.w13.scale_bytes = Tensor<std::uint8_t>({e, 2 * ip, hp / 32}, 0);
      c.w2.scale_bytes = Tensor<std::uint8_t>({e, hp, ip / 32}, 0);
      break;
    case WeightScheme::kFp8Block128W8A16:
      c.w13.codes = Tensor<std::uint8_t>({e, 2 * ip, hp}, 0);
      c.w2.codes = Tensor<std::uint8_t>({e, hp, ip}, 0);
      c.w13.scales = Tensor<float>({e, 2 * cdiv(ip, 128), cdiv(hp, 128)}, 0.0f);
      c.w2.scales = Tensor<float>({e, cdiv(hp, 128), cdiv(ip, 128)}, 0.0f);
      break;
    default:  // every table-driven row (MXFP8, MXFP6, WNA16, NVFP4, FP8 per-tensor): each component by the
              // shape rule, plain (NVFP4's swizzled scales are laid out below); a per-part scalar is
              // [E, parts, 1], a per-projection one [E, 1, 1]
      for (const reference::quant::ComponentSpec& comp : reference::quant::spec(s.scheme).components) {
        const auto w13 = reference::quant::stacked_shape(comp, e, 2, ip, hp);
        const auto w2 = reference::quant::stacked_shape(comp, e, 1, hp, ip);
        if (reference::quant::holds_floats(comp.component)) {
          c.w13.floats(comp.component) = Tensor<float>(w13, 0.0f);
          c.w2.floats(comp.component) = Tensor<float>(w2, 0.0f);
        } else {
          c.w13.bytes(comp.component) = Tensor<std::uint8_t>(w13, 0);
          c.w2.bytes(comp.component) = Tensor<std::uint8_t>(w2, 0);
        }
      }
      break;
  }
  for (std::int64_t x = 0; x < e; ++x) {
    const auto& ex = b.experts[static_cast<std::size_t>(x)];
    if (s.scheme == WeightScheme::kDense) {
      const auto& gu = std::get<reference::moe::DenseWeight>(ex.gate_up.parts[0]);
      const auto& dn = std::get<reference::moe::DenseWeight>(ex.down.parts[0]);
      for (std::int64_t r = 0; r < 2 * i; ++r)
        for (std::int64_t k = 0; k < h; ++k)
          c.w13.values.at(x, padded_w13_row(c.layout, r, i, ip), k) = gu.values[static_cast<std::size_t>(r * h + k)];
      for (std::int64_t r = 0; r < h; ++r)
        for (std::int64_t k = 0; k < i; ++k) c.w2.values.at(x, r, k) = dn.values[static_cast<std::size_t>(r * i + k)];
    } else if (s.scheme == WeightScheme::kMxfp4W4A16) {
      const auto& gu = std::get<reference::quant::Mxfp4Weight>(ex.gate_up.parts[0]);
      const auto& dn = std::get<reference::quant::Mxfp4Weight>(ex.down.parts[0]);
      for (std::int64_t r = 0; r < 2 * i; ++r) {
        const std::int64_t pr = padded_w13_row(c.layout, r, i, ip);
        for (std::int64_t k = 0; k < h / 2; ++k) c.w13.codes.at(x, pr, k) = gu.blocks[static_cast<std::size_t>(r * h / 2 + k)];
        for (std::int64_t k = 0; k < h / 32; ++k) c.w13.scale_bytes.at(x, pr, k) = gu.scales[static_cast<std::size_t>(r * h / 32 + k)];
      }
      for (std::int64_t r = 0; r < h; ++r) {
        for (std::int64_t k = 0; k < i / 2; ++k) c.w2.codes.at(x, r, k) = dn.blocks[static_cast<std::size_t>(r * i / 2 + k)];
        for (std::int64_t k = 0; k < i / 32; ++k) c.w2.scale_bytes.at(x, r, k) = dn.scales[static_cast<std::size_t>(r * i / 32 + k)];
      }
    } else if (reference::quant::spec(s.scheme).gate_up == reference::quant::GateUpParts::kFused) {  // MXFP8, MXFP6, WNA16, FP8 per-tensor
      const auto& gu = std::get<reference::moe::SchemeWeight>(ex.gate_up.parts[0]);
      const auto& dn = std::get<reference::moe::SchemeWeight>(ex.down.parts[0]);
      for (const reference::quant::ComponentSpec& comp : reference::quant::spec(s.scheme).components) {
        const auto copy = [&](auto& to, const auto& from, std::int64_t rows, std::int64_t cols, bool w13) {
          if (comp.per_part) {  // one scalar per projection (FP8 per-tensor)
            to.at(x, 0, 0) = from.at(0);
            return;
          }
          const std::int64_t n = comp.stored_cols(cols);
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t k = 0; k < n; ++k)
              to.at(x, w13 ? padded_w13_row(c.layout, r, i, ip) : r, k) = from[static_cast<std::size_t>(r * n + k)];
        };
        if (reference::quant::holds_floats(comp.component)) {
          copy(c.w13.floats(comp.component), gu.storage.floats(comp.component), 2 * i, h, true);
          copy(c.w2.floats(comp.component), dn.storage.floats(comp.component), h, i, false);
        } else {
          copy(c.w13.bytes(comp.component), gu.storage.bytes(comp.component), 2 * i, h, true);
          copy(c.w2.bytes(comp.component), dn.storage.bytes(comp.component), h, i, false);
        }
      }
    } else if (reference::quant::storage_scheme(s.scheme) != WeightScheme::kFp8Block128W8A16) {  // gate, up apart
      for (const reference::quant::ComponentSpec& comp : reference::quant::spec(s.scheme).components) {
        // Rows [0, rows) of a part's component into stored row `first + r` of expert x; a per-part
        // scalar is one stored row of one value.
        const auto copy = [&](auto& to, const auto& from, std::int64_t first, std::int64_t rows, std::int64_t cols) {
          const std::int64_t n = comp.stored_cols(cols), stored = comp.stored_rows(rows);
          for (std::int64_t r = 0; r < stored; ++r)
            for (std::int64_t k = 0; k < n; ++k) to.at(x, first + r, k) = from[static_cast<std::size_t>(r * n + k)];
        };
        const auto part_of = [&](const reference::moe::StackedWeight& w, std::size_t p) -> const auto& {
          return std::get<reference::moe::SchemeWeight>(w.parts[p]).storage;
        };
        for (std::int64_t half = 0; half < 2; ++half) {
          const auto& part = part_of(ex.gate_up, static_cast<std::size_t>(half));
          const std::int64_t first = comp.per_part ? half : half * ip;
          if (reference::quant::holds_floats(comp.component))
            copy(c.w13.floats(comp.component), part.floats(comp.component), first, i, h);
          else
            copy(c.w13.bytes(comp.component), part.bytes(comp.component), first, i, h);
        }
        const auto& down = part_of(ex.down, 0);
        if (reference::quant::holds_floats(comp.component))
          copy(c.w2.floats(comp.component), down.floats(comp.component), 0, h, i);
        else
          copy(c.w2.bytes(comp.component), down.bytes(comp.component), 0, h, i);
      }
    } else {
      for (std::int64_t half = 0; half < 2; ++half) {
        const auto& part = std::get<reference::quant::Fp8BlockWeight>(ex.gate_up.parts[static_cast<std::size_t>(half)]);
        for (std::int64_t r = 0; r < i; ++r)
          for (std::int64_t k = 0; k < h; ++k)
            c.w13.codes.at(x, half * ip + r, k) = part.codes[static_cast<std::size_t>(r * h + k)];
        const std::int64_t gr = cdiv(i, 128), gc = cdiv(h, 128);
        for (std::int64_t r = 0; r < gr; ++r)
          for (std::int64_t k = 0; k < gc; ++k)
            c.w13.scales.at(x, half * cdiv(ip, 128) + r, k) = part.scale_inv[static_cast<std::size_t>(r * gc + k)];
      }
      const auto& dn = std::get<reference::quant::Fp8BlockWeight>(ex.down.parts[0]);
      for (std::int64_t r = 0; r < h; ++r)
        for (std::int64_t k = 0; k < i; ++k) c.w2.codes.at(x, r, k) = dn.codes[static_cast<std::size_t>(r * i + k)];
      const std::int64_t gr = cdiv(h, 128), gc = cdiv(i, 128);
      for (std::int64_t r = 0; r < gr; ++r)
        for (std::int64_t k = 0; k < gc; ++k) c.w2.scales.at(x, r, k) = dn.scale_inv[static_cast<std::size_t>(r * gc + k)];
    }
    if (s.bias) {
      if (c.w13_bias.shape.empty()) {
        c.w13_bias = Tensor<float>({e, 2 * ip}, 0.0f);
        c.w2_bias = Tensor<float>({e, hp}, 0.0f);
      }
      for (std::int64_t r = 0; r < 2 * i; ++r)
        c.w13_bias.at(x, padded_w13_row(c.layout, r, i, ip)) = ex.gate_up_bias[static_cast<std::size_t>(r)];
      for (std::int64_t r = 0; r < h; ++r) c.w2_bias.at(x, r) = ex.down_bias[static_cast<std::size_t>(r)];
    }
  }
  // The swizzled layout: each expert's padded scales into whole 128x4 tiles, zero-filled (vLLM's
  // swizzle_blockscale), indexed by swizzled_offset.
  if (reference::quant::spec(s.scheme).scale_layout == reference::quant::ScaleLayout::kSwizzled128x4)
    for (Tensor<std::uint8_t>* t : {&c.w13.scale_bytes, &c.w2.scale_bytes}) {
      const std::int64_t rows = t->dim(1), cols = t->dim(2);
      const reference::quant::SwizzledExtents x = reference::quant::swizzled_extents(rows, cols);
      Tensor<std::uint8_t> out({e, x.rows, x.cols}, 0);
      for (std::int64_t n = 0; n < e; ++n)
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t k = 0; k < cols; ++k)
            out.data[static_cast<std::size_t>(n * x.size() + reference::quant::swizzled_offset(r, k, x.cols))] =
                t->at(n, r, k);
      *t = std::move(out);
    }
  c.hidden_states_padded = Tensor<float>({t, hp}, 0.0f);
  for (std::int64_t r = 0; r < t; ++r)
    for (std::int64_t k = 0; k < h; ++k) c.hidden_states_padded.at(r, k) = to_dtype(s.dtype, hidden(r, k));
  c.topk_ids = Tensor<std::int32_t>({t, s.top_k}, 0);
  c.topk_weights = Tensor<float>({t, s.top_k}, 0.0f);
  for (std::int64_t r = 0; r < t; ++r)
    for (std::int64_t j = 0; j < s.top_k; ++j) {
      c.topk_ids.at(r, j) = routing.ids(r, j);
      c.topk_weights.at(r, j) = routing.weights(r, j);
    }
  return c;
}

// Runs a backend into a poisoned [T, H_pad] buffer and slices [T, H].
std::vector<float> run_sliced(const device::Backend& backend, const PaddedCase& c) {
  Tensor<float> out = reference::padding::poisoned<float>({c.tokens, c.plan.hidden_padded}, 99);
  backend.run(c, out.data);
  std::vector<float> sliced;
  for (std::int64_t t = 0; t < c.tokens; ++t)
    for (std::int64_t h = 0; h < c.plan.hidden; ++h) sliced.push_back(out.at(t, h));
  return sliced;
}

// ULP distance in fp32 (or in bf16 steps for a bf16 model); +0 and −0 are equal; NaN anywhere is
// "infinitely far".
std::int64_t ulp_distance(float a, float b, Dtype d) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::int64_t>::max();
  const auto ordered = [](float x) {
    const auto i = static_cast<std::int64_t>(std::bit_cast<std::int32_t>(x));
    return i < 0 ? std::int64_t{std::numeric_limits<std::int32_t>::min()} - i : i;
  };
  const std::int64_t dist = std::llabs(ordered(a) - ordered(b));
  return d == Dtype::kBf16 ? dist >> 16 : dist;
}

struct Diff {
  std::int64_t max_ulp = 0;
  std::size_t differing = 0;
  float worst_a = 0, worst_b = 0;
  bool finite = true;
  double norm = 0;  // of the first argument: "wrote nothing" never passes
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b, Dtype d) {
  Diff r;
  EXPECT_EQ(a.size(), b.size());
  for (std::size_t n = 0; n < std::min(a.size(), b.size()); ++n) {
    const std::int64_t u = ulp_distance(a[n], b[n], d);
    if (u > r.max_ulp) {
      r.max_ulp = u;
      r.worst_a = a[n];
      r.worst_b = b[n];
    }
    r.differing += u != 0;
    r.finite = r.finite && std::isfinite(a[n]);
    r.norm += double{a[n]} * a[n];
  }
  return r;
}

struct Built {
  reference::moe::MoeBlock block;
  RowMatrix<float> hidden;
  reference::moe::MoeOutput golden;
};
Built build(const Spec& s) {
  Built out{make_block(s), {}, {}};
  std::mt19937 rng(test_seed() + 1000 + s.seed);
  out.hidden = random_matrix(rng, s.tokens, s.hidden, 1.0f, s.dtype);
  out.golden = reference::moe::forward(out.block, out.hidden, reference::moe::Accumulate::kFp32);
  return out;
}
std::vector<float> golden_values(const Built& b) {
  return std::vector<float>(b.golden.output.data(), b.golden.output.data() + b.golden.output.size());
}

// ---------------------------------------------------------------------------------------------
// Golden agreement (P2's unit form) and padding invariance (P1's bitwise form).

struct GoldenCase {
  Spec spec;
  // 0: bitwise (±0 equal); else the bound on |sim − golden| in ULPs of the token row's max |golden|.
  double max_row_ulps;
};

class SimGolden : public ::testing::TestWithParam<GoldenCase> {};

// |a − b| in units of the ULP (fp32, or bf16 for a bf16 model) of `scale`: the error measure for
// reordered sums, whose per-element ULP distance is unbounded under cancellation.
double scaled_ulps(float a, float b, float scale, Dtype d) {
  if (a == b) return 0;
  if (!std::isfinite(a) || !std::isfinite(b)) return std::numeric_limits<double>::infinity();
  int exp = 0;
  std::frexp(std::max(scale, std::numeric_limits<float>::min()), &exp);
  const double ulp = std::ldexp(1.0, exp - (d == Dtype::kBf16 ? 8 : 24));
  return std::fabs(double{a} - double{b}) / ulp;
}

TEST_P(SimGolden, MatchesGoldenWithinStatedBound) {
  const Spec& s = GetParam().spec;
  const Built b = build(s);
  const std::vector<float> want = golden_values(b);
  for (const device::Backend* backend : device::backends()) {
    SCOPED_TRACE(std::string(backend->name()) + " " + describe(s));
    // Unpadded, and padded by +64 on H and I (different tiles see different tails).
    for (const std::int64_t pad : {0, 64}) {
      const PaddedCase c = make_padded(s, b.block, b.hidden, b.golden.routing, s.hidden + pad, s.intermediate + pad);
      const std::vector<float> got = run_sliced(*backend, c);
      const Diff d = diff(got, want, s.dtype);
      EXPECT_TRUE(d.finite);
      EXPECT_GT(d.norm, 0.0);
      if (GetParam().max_row_ulps == 0) {
        EXPECT_EQ(d.max_ulp, 0) << "pad " << pad << ": " << d.differing << " of " << want.size()
                                << " elements differ; worst " << d.worst_a << " vs " << d.worst_b;
        continue;
      }
      double worst = 0;
      for (std::int64_t t = 0; t < s.tokens; ++t) {
        float row_max = 0;
        for (std::int64_t h = 0; h < s.hidden; ++h) row_max = std::max(row_max, std::fabs(want[static_cast<std::size_t>(t * s.hidden + h)]));
        for (std::int64_t h = 0; h < s.hidden; ++h) {
          const auto n = static_cast<std::size_t>(t * s.hidden + h);
          worst = std::max(worst, scaled_ulps(got[n], want[n], row_max, s.dtype));
        }
      }
      std::printf("  %s %s pad %lld: max error %.3f ULP of the row's max |value| (bound %.1f)\n",
                  std::string(backend->name()).c_str(), describe(s).c_str(), static_cast<long long>(pad), worst,
                  GetParam().max_row_ulps);
      EXPECT_LE(worst, GetParam().max_row_ulps) << "pad " << pad;
    }
  }
}

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  std::uint32_t seed = 1;
  // fp32 model, k ≤ 2: the sim's fp32 order is the golden's Accumulate::kFp32 order, and a
  // two-slot moe_sum equals the golden's ascending-expert index_add (+ is commutative): bitwise.
  for (const WeightScheme scheme : {WeightScheme::kDense, WeightScheme::kMxfp4W4A16, WeightScheme::kFp8Block128W8A16,
                                    WeightScheme::kNvfp4W4A16, WeightScheme::kNvfp4W4A16Swizzled,
                                    WeightScheme::kFp8PerTensorW8A16})
    for (const GateUpLayout layout : {GateUpLayout::kConcatenated, GateUpLayout::kInterleaved}) {
      // FP8 blocks and NVFP4 come with per-half parts (vLLM), which the golden's interleaved single
      // part cannot express.
      if (reference::quant::spec(scheme).gate_up == reference::quant::GateUpParts::kSeparate &&
          layout == GateUpLayout::kInterleaved)
        continue;
      for (const std::int64_t k : {1, 2}) {
        Spec s;
        s.scheme = scheme;
        s.layout = layout;
        s.top_k = k;
        s.bias = layout == GateUpLayout::kInterleaved;
        s.seed = seed++;
        out.push_back({s, 0});
        s.hidden = 96;
        s.intermediate = 160;
        s.tokens = 9;
        s.seed = seed++;
        out.push_back({s, 0});
      }
    }
  // Router weight on the input (Llama-4 style, k = 1): bitwise.
  {
    Spec s;
    s.top_k = 1;
    s.weights_on_input = true;
    s.seed = seed++;
    out.push_back({s, 0});
  }
  // k = 3, 4: moe_sum adds in slot order, the golden in ascending expert id, so sums with
  // cancellation differ; per-element ULP distance is unbounded there, so the bound is in ULPs of
  // the token row's max |value|: measured max 2 (MOECHECK_SEED 1..40), stated 4.
  for (const std::int64_t k : {3, 4}) {
    Spec s;
    s.top_k = k;
    s.experts = 6;
    s.tokens = 11;
    s.seed = seed++;
    out.push_back({s, 4});
  }
  // bf16 model: the Triton epilogue rounds acc + bias once (eager: twice), and those intermediate
  // differences pass through GEMM2; measured max 3 bf16 ULPs of the row's max |value|
  // (MOECHECK_SEED 1..40), stated 6.
  for (const WeightScheme scheme : {WeightScheme::kDense, WeightScheme::kMxfp4W4A16}) {
    Spec s;
    s.scheme = scheme;
    s.dtype = Dtype::kBf16;
    s.layout = GateUpLayout::kInterleaved;
    s.bias = true;
    s.seed = seed++;
    out.push_back({s, 6});
  }
  // bf16 FP8 blocks (concatenated, no bias) and bf16 k = 4 (bf16 adds in slot vs expert order).
  {
    Spec s;
    s.scheme = WeightScheme::kFp8Block128W8A16;
    s.dtype = Dtype::kBf16;
    s.seed = seed++;
    out.push_back({s, 6});
    s.scheme = WeightScheme::kDense;
    s.top_k = 4;
    s.experts = 6;
    s.tokens = 11;
    s.seed = seed++;
    out.push_back({s, 6});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, SimGolden, ::testing::ValuesIn(golden_cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) { return describe(info.param.spec); });

class SimPaddingInvariance : public ::testing::TestWithParam<Spec> {};

TEST_P(SimPaddingInvariance, PaddedSlicedEqualsUnpaddedBitwise) {
  const Spec& s = GetParam();
  const Built b = build(s);
  // Same order, different tiles: every sim backend gives the same bits.
  const PaddedCase padded = make_padded(s, b.block, b.hidden, b.golden.routing, s.hidden + 64, s.intermediate + 96);
  const std::vector<float> first = run_sliced(*device::backends()[0], padded);
  for (const device::Backend* backend : device::backends())
    EXPECT_EQ(diff(run_sliced(*backend, padded), first, s.dtype).max_ulp, 0) << backend->name();
  for (const device::Backend* backend : device::backends()) {
    ASSERT_TRUE(backend->capabilities().order_preserving);
    SCOPED_TRACE(std::string(backend->name()) + " " + describe(s));
    const std::vector<float> base =
        run_sliced(*backend, make_padded(s, b.block, b.hidden, b.golden.routing, s.hidden, s.intermediate));
    for (const auto& [hp, ip] : std::vector<std::pair<std::int64_t, std::int64_t>>{
             {s.hidden + 32, s.intermediate}, {s.hidden, s.intermediate + 32}, {s.hidden + 192, s.intermediate + 352}}) {
      const Diff d = diff(run_sliced(*backend, make_padded(s, b.block, b.hidden, b.golden.routing, hp, ip)), base, s.dtype);
      EXPECT_TRUE(d.finite);
      EXPECT_GT(d.norm, 0.0);
      EXPECT_EQ(d.max_ulp, 0) << "H_pad " << hp << " I_pad " << ip << ": " << d.differing << " elements differ";
    }
  }
}

std::vector<Spec> invariance_cases() {
  std::vector<Spec> out;
  std::uint32_t seed = 100;
  for (const WeightScheme scheme : {WeightScheme::kDense, WeightScheme::kMxfp4W4A16, WeightScheme::kFp8Block128W8A16,
                                    WeightScheme::kNvfp4W4A16, WeightScheme::kNvfp4W4A16Swizzled,
                                    WeightScheme::kFp8PerTensorW8A16, WeightScheme::kFp8PerTensorW8A8Static,
                                    WeightScheme::kFp8PerTensorW8A8Dynamic, WeightScheme::kMxfp4W4A8Qdq,
                                    WeightScheme::kNvfp4W4A4Qdq, WeightScheme::kFp8PerChannelW8A8})
    for (const Dtype dtype : {Dtype::kF32, Dtype::kBf16}) {
      Spec s;
      s.scheme = scheme;
      s.dtype = dtype;
      s.hidden = 96;
      s.intermediate = 160;
      s.experts = 5;
      s.top_k = 3;  // bf16 moe_sum adds too
      s.tokens = 7;
      s.seed = seed++;
      out.push_back(s);
      if (reference::quant::spec(scheme).gate_up == reference::quant::GateUpParts::kFused) {
        s.layout = GateUpLayout::kInterleaved;
        s.bias = true;
        s.seed = seed++;
        out.push_back(s);
      }
    }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, SimPaddingInvariance, ::testing::ValuesIn(invariance_cases()),
                         [](const ::testing::TestParamInfo<Spec>& info) { return describe(info.param); });

TEST(SimBackend, NoTokensWritesNothingAndBadCasesThrow) {
  Spec s;
  s.tokens = 0;
  const Built b = build(s);
  const PaddedCase c = make_padded(s, b.block, b.hidden, b.golden.routing, 128, 128);
  std::vector<float> out;
  EXPECT_NO_THROW(device::find_backend("sim")->run(c, out));
  PaddedCase bad = c;
  bad.w2.values = Tensor<float>({s.experts, 128, 64}, 0.0f);
  EXPECT_THROW(device::validate(bad), std::invalid_argument);
  // A component the scheme does not have must stay empty, and the error names it.
  PaddedCase extra = c;
  extra.w13.codes = Tensor<std::uint8_t>({s.experts, 256, 64}, 0);
  try {
    device::validate(extra);
    ADD_FAILURE() << "a dense case with w13 codes passed validate";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("PaddedCase.w13.codes: expected empty (dense has no codes)"), std::string::npos)
        << e.what();
  }
  std::vector<float> wrong(3);
  Spec s1;
  const Built b1 = build(s1);
  PaddedCase c1 = make_padded(s1, b1.block, b1.hidden, b1.golden.routing, 64, 64);
  EXPECT_THROW(device::find_backend("sim")->run(c1, wrong), std::invalid_argument);
  c1.topk_ids.data[0] = static_cast<std::int32_t>(s1.experts);
  std::vector<float> right(static_cast<std::size_t>(s1.tokens * 64));
  EXPECT_THROW(device::find_backend("sim")->run(c1, right), std::invalid_argument);
}

// Marlin's write-out — the cast to the model dtype, then the bias added and the router weight
// multiplied in that dtype — is all that tells the int4 g128 Marlin row from the Triton row whose
// storage it shares (the scale permutation round-trips): in fp32 each extra rounding is a no-op and
// the two agree bitwise; in bf16 some outputs move, by a few bf16 ulps.
TEST(SimBackend, MarlinWritesOutInTheModelDtype) {
  const device::Backend* sim = device::find_backend("sim");
  ASSERT_NE(sim, nullptr);
  for (const Dtype dtype : {Dtype::kF32, Dtype::kBf16}) {
    Spec s;
    s.scheme = WeightScheme::kInt4G128W4A16;
    s.dtype = dtype;
    s.hidden = 128;
    s.intermediate = 128;
    s.experts = 4;
    s.top_k = 2;
    s.tokens = 9;
    s.bias = true;
    const Built b = build(s);
    const PaddedCase triton = make_padded(s, b.block, b.hidden, b.golden.routing, 128, 128);
    PaddedCase marlin = triton;
    marlin.scheme = WeightScheme::kInt4G128W4A16Marlin;
    const std::vector<float> ym = run_sliced(*sim, marlin), yt = run_sliced(*sim, triton);
    const Diff d = diff(ym, yt, dtype);
    EXPECT_TRUE(d.finite);
    EXPECT_GT(d.norm, 0.0);
    if (dtype == Dtype::kF32) {
      EXPECT_EQ(d.max_ulp, 0) << d.differing << " elements differ";
    } else {
      EXPECT_GT(d.differing, 0u) << "bf16: the write-out's roundings changed nothing";
      // A few bf16 roundings of the row's values: within 2^-6 of the largest output (ULPs mean
      // little at outputs near zero, where the two roundings of a cancelling sum land far apart).
      float largest = 0.0f, worst = 0.0f;
      for (std::size_t n = 0; n < yt.size(); ++n) {
        largest = std::max(largest, std::fabs(yt[n]));
        worst = std::max(worst, std::fabs(ym[n] - yt[n]));
      }
      EXPECT_LE(worst, largest / 64) << worst << " of " << largest;
    }
  }
}

// The sim has a tile function for every row of the weight-scheme table.
TEST(SimBackend, RunsEverySchemeOfTheTable) {
  for (const device::Backend* backend : device::backends())
    for (const reference::quant::SchemeSpec& spec : reference::quant::weight_schemes())
      EXPECT_TRUE(backend->capabilities().supports(spec.scheme)) << backend->name() << " " << spec.name;
}

// EP: a slot routed to another rank's expert (id -1) contributes exactly zero: with slot 1 = -1 for
// every token the output equals, bitwise, the top-1 run of slot 0 alone (fp32: x + 0 is x).
TEST(SimBackend, SlotsOfOtherRanksContributeZero) {
  Spec s;
  s.top_k = 2;
  const Built b = build(s);
  PaddedCase two = make_padded(s, b.block, b.hidden, b.golden.routing, 64, 64);
  for (std::int64_t t = 0; t < two.tokens; ++t) two.topk_ids.at(t, 1) = -1;
  PaddedCase one = two;
  one.top_k = 1;
  one.topk_ids = Tensor<std::int32_t>({two.tokens, 1}, 0);
  one.topk_weights = Tensor<float>({two.tokens, 1}, 0.0f);
  for (std::int64_t t = 0; t < two.tokens; ++t) {
    one.topk_ids.at(t, 0) = two.topk_ids.at(t, 0);
    one.topk_weights.at(t, 0) = two.topk_weights.at(t, 0);
  }
  for (const device::Backend* backend : device::backends()) {
    SCOPED_TRACE(std::string(backend->name()));
    const std::vector<float> a = run_sliced(*backend, two), c = run_sliced(*backend, one);
    ASSERT_EQ(a.size(), c.size());
    for (std::size_t n = 0; n < a.size(); ++n) ASSERT_EQ(a[n], c[n]) << n;
  }
}

TEST(SimBackend, WritesEveryOutputElementPaddedColumnsZero) {
  Spec s;
  s.hidden = 96;
  s.intermediate = 64;
  const Built b = build(s);
  const PaddedCase c = make_padded(s, b.block, b.hidden, b.golden.routing, 256, 128);
  for (const device::Backend* backend : device::backends()) {
    SCOPED_TRACE(std::string(backend->name()));
    Tensor<float> out = reference::padding::poisoned<float>({c.tokens, 256}, 5);
    backend->run(c, out.data);
    for (std::int64_t t = 0; t < c.tokens; ++t)
      for (std::int64_t h = 0; h < 256; ++h) {
        ASSERT_TRUE(std::isfinite(out.at(t, h))) << t << ", " << h;
        if (h >= s.hidden) {
          ASSERT_EQ(out.at(t, h), 0.0f) << t << ", " << h;  // zero weights, no bias
        }
      }
  }
}

// The device shapes are the padding plan's (reference::padding::padded_shapes), so PaddedCases built
// with reference/padding's pad functions validate.
TEST(SimBackend, ShapesAgreeWithPaddingPlan) {
  for (const auto& [scheme, method] : std::vector<std::pair<WeightScheme, std::string>>{
           {WeightScheme::kDense, "unquantized"}, {WeightScheme::kMxfp4W4A16, "mxfp4"}, {WeightScheme::kFp8Block128W8A16, "fp8_block"}}) {
    SCOPED_TRACE(method);
    Spec s;
    s.scheme = scheme;
    s.hidden = 96;
    s.intermediate = 160;
    const Built b = build(s);
    PaddedCase c = make_padded(s, b.block, b.hidden, b.golden.routing, 256, 288);
    c.plan.method = method;
    c.plan.local_experts = s.experts;
    c.plan.problem.gated = true;
    const auto shapes = reference::padding::padded_shapes(c.plan);
    if (scheme == WeightScheme::kDense) {
      EXPECT_EQ(c.w13.values.shape, shapes.w13);
      EXPECT_EQ(c.w2.values.shape, shapes.w2);
    } else {
      EXPECT_EQ(c.w13.codes.shape, shapes.w13);
      EXPECT_EQ(c.w2.codes.shape, shapes.w2);
      EXPECT_EQ(scheme == WeightScheme::kMxfp4W4A16 ? c.w13.scale_bytes.shape : c.w13.scales.shape, shapes.w13_scale);
      EXPECT_EQ(scheme == WeightScheme::kMxfp4W4A16 ? c.w2.scale_bytes.shape : c.w2.scales.shape, shapes.w2_scale);
    }
    EXPECT_EQ((reference::padding::Shape{s.experts, 2 * 288}), shapes.w13_bias);
    EXPECT_EQ((reference::padding::Shape{s.experts, 256}), shapes.w2_bias);
    EXPECT_NO_THROW(device::validate(c));
  }
}

// ---------------------------------------------------------------------------------------------
// Fault switches: each one, on a case built to expose it, changes the sliced output or makes it
// non-finite; off, the same case matches the unpadded run (covered above).

struct FaultCase {
  std::string name;
  device::FaultSwitches faults;
  Spec spec;
  std::int64_t hp, ip;
  void (*adjust)(PaddedCase&) = nullptr;  // routing the fault needs (a -1 slot, a repeated id)
};

class SimFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(SimFault, ChangesOutputOnExposingCase) {
  const FaultCase& fc = GetParam();
  const Built b = build(fc.spec);
  for (const device::Backend* backend : device::backends()) {
    SCOPED_TRACE(std::string(backend->name()) + " " + fc.name + " " + describe(fc.spec));
    PaddedCase c = make_padded(fc.spec, b.block, b.hidden, b.golden.routing, fc.hp, fc.ip);
    if (fc.adjust) fc.adjust(c);
    const std::vector<float> clean = run_sliced(*backend, c);
    c.faults = fc.faults;
    ASSERT_TRUE(c.faults.any());
    try {
      const Diff d = diff(run_sliced(*backend, c), clean, fc.spec.dtype);
      EXPECT_TRUE(!d.finite || d.differing > 0) << "fault " << fc.name << " left the output unchanged";
    } catch (const std::out_of_range& e) {  // the sim's bounds check: an illegal access on a GPU
      EXPECT_NE(std::string(e.what()).find("illegal access"), std::string::npos) << e.what();
    } catch (const std::runtime_error& e) {  // a device assert the sim checks (B15)
      EXPECT_NE(std::string(e.what()).find("device assert"), std::string::npos) << e.what();
    }
  }
}

std::vector<FaultCase> fault_cases() {
  std::vector<FaultCase> out;
  Spec dense;
  dense.hidden = 64;
  dense.intermediate = 96;
  Spec mx = dense;
  mx.scheme = WeightScheme::kMxfp4W4A16;
  Spec fp8 = dense;
  fp8.scheme = WeightScheme::kFp8Block128W8A16;
  device::FaultSwitches f;

  f = {};
  f.skip_last_output_tile = true;  // B3: I = 128 → grid of 2·128 rows; I_pad = 256 → up half unwritten
  Spec b3 = dense;
  b3.intermediate = 128;
  out.push_back({"B3_skip_last_output_tile", f, b3, 64, 256});
  f = {};
  f.uninitialized_k_tail_lanes = true;  // B4
  out.push_back({"B4_uninitialized_k_tail_lanes", f, dense, 64, 128});
  f = {};
  f.read_padded_scales = true;  // B1
  out.push_back({"B1_read_padded_scales_mxfp4", f, mx, 64, 128});
  out.push_back({"B1_read_padded_scales_fp8", f, fp8, 64, 256});  // rows 95 and 255: different grid rows
  f = {};
  f.e8m0_scale_misindex = true;  // B2: I_pad = 128, not a multiple of 256
  out.push_back({"B2_e8m0_scale_misindex", f, mx, 64, 128});
  f = {};
  f.nan_for_empty_experts = true;  // B10: one token, top-1, four experts: three are empty
  Spec b10 = dense;
  b10.tokens = 1;
  b10.top_k = 1;
  out.push_back({"B10_nan_for_empty_experts", f, b10, 64, 96});
  f = {};
  f.w13_end_padded = true;  // B12
  out.push_back({"B12_w13_end_padded", f, dense, 64, 128});
  out.push_back({"B12_w13_end_padded_mxfp4", f, mx, 64, 128});
  f = {};
  f.scale_tile_rank_local = true;  // B16: a shard 64 rows into its first block, 160 rows: straddles a block
  Spec b16 = fp8;
  b16.intermediate = 160;
  out.push_back({"B16_scale_tile_rank_local", f, b16, 64, 160, [](PaddedCase& c) {
                   c.w13.scale_grid_offset = 64;
                   c.w2.scale_grid_offset = 64;
                 }});
  // An unpadded case of `scheme` at H x I.
  const auto unpadded = [&](WeightScheme scheme, std::int64_t h, std::int64_t i) {
    Spec s = dense;
    s.scheme = scheme;
    s.hidden = h;
    s.intermediate = i;
    return s;
  };
  f = {};
  f.swizzle_stride_from_logical_extents = true;  // B14: w2's 96 scale rows, 2 of 4 tile columns; experts 1-3
  out.push_back({"B14_swizzle_stride_from_logical_extents", f, unpadded(WeightScheme::kNvfp4W4A16Swizzled, 96, 64), 96, 64});
  f = {};
  f.activation_scale_padding_unwritten = true;  // B15: 5 tokens x 2 slots over 4 experts: padded blocks
  out.push_back({"B15_activation_scale_padding_unwritten", f, unpadded(WeightScheme::kFp8Block128W8A8Ue8m0, 128, 128),
                 128, 128});
  f = {};
  f.marlin_scales_keyed_on_intermediate = true;  // B17: I = 128 = group, H = 256: two scale rows
  out.push_back({"B17_marlin_scales_keyed_on_intermediate", f, unpadded(WeightScheme::kInt4G128W4A16Marlin, 256, 128),
                 256, 128});
  f = {};
  f.unwritten_slots_reduced = true;  // B18: token 0's first slot routed to another EP rank
  out.push_back({"B18_unwritten_slots_reduced", f, dense, 64, 96, [](PaddedCase& c) { c.topk_ids.at(0, 0) = -1; }});
  f = {};
  f.sort_keeps_first_duplicate = true;  // B20: token 0's two slots name one expert (a NaN row's top-k)
  out.push_back({"B20_sort_keeps_first_duplicate", f, dense, 64, 96,
                 [](PaddedCase& c) { c.topk_ids.at(0, 1) = c.topk_ids.at(0, 0); }});
  return out;
}

// Marlin's scale permutation keyed on the GEMM's K is undone by the kernel's read: a Marlin row
// gives the Triton WNA16 row's output bit for bit on the same storage, at I below, at and above the
// group and with one or several scale rows along K.
TEST(SimMarlin, PreparedScalesReadBackAsTheCheckpoints) {
  const device::Backend& sim = *device::find_backend("sim");
  for (const auto& [triton, marlin] : {std::pair{WeightScheme::kInt4G128W4A16, WeightScheme::kInt4G128W4A16Marlin},
                                       std::pair{WeightScheme::kInt8G128W8A16, WeightScheme::kInt8G128W8A16Marlin}})
    for (const auto& [h, i] : {std::pair<std::int64_t, std::int64_t>{128, 128}, {256, 128}, {512, 256}, {384, 384}}) {
      Spec s;
      s.scheme = triton;
      s.hidden = h;
      s.intermediate = i;
      SCOPED_TRACE(describe(s));
      const Built b = build(s);
      PaddedCase c = make_padded(s, b.block, b.hidden, b.golden.routing, h, i);
      const std::vector<float> expected = run_sliced(sim, c);
      c.scheme = marlin;
      const Diff d = diff(run_sliced(sim, c), expected, s.dtype);
      EXPECT_EQ(d.differing, 0u) << "max " << d.max_ulp << " ulp";
      EXPECT_GT(d.norm, 0.0);
    }
}

TEST(SimFaultCatalog, EveryKernelFaultHasAnExposingCase) {
  for (const auto& f : device::kernel_faults()) {
    bool found = false;
    for (const FaultCase& fc : fault_cases()) {
      found = found || (fc.faults.*f.flag && fc.name.find(f.name) != std::string::npos &&
                        fc.name.rfind(std::string(f.bug) + "_", 0) == 0);
    }
    EXPECT_TRUE(found) << f.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SimFault, ::testing::ValuesIn(fault_cases()),
                         [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

}  // namespace
