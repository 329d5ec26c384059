// The weight-scheme table (reference/quant/scheme.h): its rows agree with the padding registry and
// the codecs, its shape rule gives the checkpoints' shapes, and every scheme's parts round-trip
// through their storage components.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "reference/moe/block.h"
#include "reference/moe/weight.h"
#include "reference/padding/registry.h"
#include "reference/quant/scheme.h"

namespace {

namespace rq = moecheck::reference::quant;
namespace moe = moecheck::reference::moe;
namespace pd = moecheck::reference::padding;
using Shape = std::vector<std::int64_t>;

TEST(WeightSchemes, RowsAreInEnumOrderWithUniqueNamesThatParse) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < rq::weight_schemes().size(); ++i) {
    const rq::SchemeSpec& s = rq::weight_schemes()[i];
    EXPECT_EQ(static_cast<std::size_t>(s.scheme), i) << s.name;
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_EQ(rq::parse_weight_scheme(s.name), s.scheme);
    EXPECT_EQ(&rq::spec(s.scheme), &s);
    ASSERT_FALSE(s.components.empty()) << s.name;
    // The element component comes first: values or codes, never a scale.
    EXPECT_FALSE(rq::is_scale(s.elements().component)) << s.name;
    EXPECT_EQ(s.quantized(), s.scale_layout != rq::ScaleLayout::kNone) << s.name;
    EXPECT_EQ(s.zero_points, s.find(rq::Component::kZeroPoints) != nullptr) << s.name;
  }
  EXPECT_FALSE(rq::parse_weight_scheme("mxfp5").has_value());
  EXPECT_EQ(rq::weight_scheme_names(),
            "dense, mxfp4_w4a16, fp8_block128_w8a16, mxfp8_w8a16, mxfp6_e3m2_w6a16, mxfp6_e2m3_w6a16, "
            "fp8_block128_w8a8, mxfp4_w4a4_qdq, int4_g128_w4a16, int8_g128_w8a16, nvfp4_w4a16, nvfp4_w4a16_swizzled, "
            "fp8_block128_w8a8_ue8m0, int4_g128_w4a16_marlin, int8_g128_w8a16_marlin, "
            "fp8_per_tensor_w8a16, int4_g128_zp_w4a16, int8_g128_zp_w8a16, int4_g32_w4a16, int4_g32_w4a16_marlin");
}

// Each listed method exists in the registry, is a checkpoint method (not online), and stores what
// the row says: the packing of the element codes and the scale block. Each bound backend is a
// registry backend; a (method, backend) pair is bound by one row, unless the rows are checkpoint
// variants that the checkpoint's config tells apart: the element format (quark_w_mxfp6: e3m2 or
// e2m3), the group size or zero points (WNA16's group_size and sym / zero_point).
TEST(WeightSchemes, MethodsAgreeWithTheRegistry) {
  std::map<std::pair<std::string_view, std::string_view>, const rq::SchemeSpec*> bound;
  for (const rq::SchemeSpec& s : rq::weight_schemes())
    for (const rq::MethodBinding& binding : s.methods) {
      const std::string_view method = binding.method;
      const pd::MethodInfo* m = pd::find_method_info(method);
      ASSERT_NE(m, nullptr) << method;
      EXPECT_FALSE(m->online) << method;
      EXPECT_EQ(m->weight_packing, s.elements().packing) << method;
      const rq::ComponentSpec* scale = s.find(rq::Component::kScaleBytes);
      if (!scale) scale = s.find(rq::Component::kScales);
      if (scale && m->scale == pd::ScaleKind::kGroup) {
        // The registry leaves the group size to the checkpoint (scale_block 0): the row's scales
        // are one per group of its size along K in every row, with the weight's bit width.
        EXPECT_EQ(m->scale_block, 0) << method;
        EXPECT_EQ(scale->row_block, 1) << method;
        EXPECT_EQ(scale->packing.units, 1) << method;
        EXPECT_EQ(s.size_multiple % scale->packing.elements, 0) << method;
        EXPECT_EQ(m->weight_bits, s.elements().packing == rq::kFp4Bytes ? 4 : 8) << method;
      } else if (scale && scale->per_part && m->scale == pd::ScaleKind::kPerTensor) {
        // One fp32 scale per expert and part: nothing along K, no block.
        EXPECT_EQ(m->scale_block, 0) << method;
      } else if (scale) {
        EXPECT_EQ(m->scale_block, scale->packing.elements) << method;
      } else
        EXPECT_EQ(m->scale, pd::ScaleKind::kNone) << method;
      const std::vector<std::string_view> backends =
          binding.backends.empty() ? std::vector<std::string_view>{"*"}
                                   : std::vector<std::string_view>(binding.backends.begin(), binding.backends.end());
      for (std::string_view b : backends) {
        if (b != "*") {
          EXPECT_NE(pd::find_backend_info(b), nullptr) << method << " " << b;
          EXPECT_TRUE(binding.binds(b));
        }
        const auto [it, fresh] = bound.emplace(std::pair{method, b}, &s);
        if (!fresh) {
          const rq::SchemeSpec& other = *it->second;
          const auto group = [](const rq::SchemeSpec& x) {
            const rq::ComponentSpec* c = x.find(rq::Component::kScales);
            return c ? c->packing.elements : 0;
          };
          EXPECT_TRUE(other.elements().format != s.elements().format || group(other) != group(s) ||
                      other.zero_points != s.zero_points)
              << method << " " << b << " in " << other.name << " and " << s.name;
          EXPECT_EQ(other.elements().packing, s.elements().packing) << method;
        }
        if (b != "*" && fresh) {
          EXPECT_EQ(rq::scheme_for(method, b), &s) << method << " " << b;
        }
      }
      EXPECT_FALSE(binding.binds("NOT_A_BACKEND") && !binding.backends.empty());
    }
  EXPECT_EQ(rq::scheme_for("nvfp4", "MARLIN"), &rq::spec(rq::WeightScheme::kNvfp4W4A16));
  EXPECT_EQ(rq::scheme_for("nvfp4", "B12X"), &rq::spec(rq::WeightScheme::kNvfp4W4A16Swizzled));
  EXPECT_EQ(rq::scheme_for("nvfp4", "FLASHINFER_CUTLASS"), nullptr);  // W4A4: no row yet
  EXPECT_EQ(rq::scheme_for("fp8_block", "DEEPGEMM"), &rq::spec(rq::WeightScheme::kFp8Block128W8A8Ue8m0));
  EXPECT_EQ(rq::scheme_for("fp8_block", "TRITON"), &rq::spec(rq::WeightScheme::kFp8Block128W8A8));
  EXPECT_EQ(rq::scheme_for("mxfp8", "MARLIN"), &rq::spec(rq::WeightScheme::kMxfp8W8A16));
  EXPECT_EQ(rq::scheme_for("mxfp8", "DEEPGEMM"), nullptr);  // W8A8: not this row
  // WNA16 on fused_moe_kernel_gptq_awq (TritonWNA16Experts), and on Marlin with its repack.
  EXPECT_EQ(rq::scheme_for("int4_wna16", "TRITON"), &rq::spec(rq::WeightScheme::kInt4G128W4A16));
  EXPECT_EQ(rq::scheme_for("int8_wna16", "TRITON"), &rq::spec(rq::WeightScheme::kInt8G128W8A16));
  EXPECT_EQ(rq::scheme_for("int4_wna16", "MARLIN"), &rq::spec(rq::WeightScheme::kInt4G128W4A16Marlin));
  EXPECT_EQ(rq::scheme_for("int8_wna16", "MARLIN"), &rq::spec(rq::WeightScheme::kInt8G128W8A16Marlin));
  EXPECT_EQ(rq::spec(rq::WeightScheme::kInt4G128W4A16Marlin).repack, rq::WeightRepack::kMarlin);
  EXPECT_EQ(rq::scheme_for("int4_wna16", "BATCHED_MARLIN"), nullptr);
  EXPECT_EQ(rq::scheme_for("fp8_per_tensor", "MARLIN"), &rq::spec(rq::WeightScheme::kFp8PerTensorW8A16));
  EXPECT_EQ(rq::scheme_for("fp8_per_tensor", "TRITON"), nullptr);  // W8A8: no row yet
}

// The shape rule gives the checkpoints' shapes: gpt-oss-120b MXFP4 (H = I = 2880) and DeepSeek-V3
// FP8 blocks (H 7168, I 2048; at TP 8, I 256), w13 as two parts of I, w2 one part of H.
TEST(WeightSchemes, StackedShapesOfRealCheckpoints) {
  const rq::SchemeSpec& mx = rq::spec(rq::WeightScheme::kMxfp4W4A16);
  EXPECT_EQ(rq::stacked_shape(*mx.find(rq::Component::kCodes), 128, 2, 2880, 2880), (Shape{128, 5760, 1440}));
  EXPECT_EQ(rq::stacked_shape(*mx.find(rq::Component::kScaleBytes), 128, 2, 2880, 2880), (Shape{128, 5760, 90}));
  EXPECT_EQ(rq::stacked_shape(*mx.find(rq::Component::kScaleBytes), 128, 1, 2880, 2880), (Shape{128, 2880, 90}));
  const rq::SchemeSpec& fp8 = rq::spec(rq::WeightScheme::kFp8Block128W8A16);
  const rq::ComponentSpec& grid = *fp8.find(rq::Component::kScales);
  EXPECT_EQ(rq::stacked_shape(*fp8.find(rq::Component::kCodes), 256, 2, 2048, 7168), (Shape{256, 4096, 7168}));
  EXPECT_EQ(rq::stacked_shape(grid, 256, 2, 2048, 7168), (Shape{256, 32, 56}));
  EXPECT_EQ(rq::stacked_shape(grid, 256, 1, 7168, 2048), (Shape{256, 56, 16}));
  // Partial edge blocks per half: I 192 is two grid rows in each half, not three for 384 rows.
  EXPECT_EQ(rq::stacked_shape(grid, 1, 2, 192, 7168), (Shape{1, 4, 56}));
  // Whole groups are required where the row says so.
  EXPECT_THROW(rq::stacked_shape(*mx.find(rq::Component::kScaleBytes), 1, 2, 64, 720), std::invalid_argument);
  EXPECT_EQ(rq::size_problem(mx, 2880, 720), "mxfp4_w4a16 needs H and I multiples of 32; found H 2880, I 720");
  EXPECT_EQ(rq::size_problem(mx, 2880, 736), "");
  EXPECT_EQ(rq::size_problem(fp8, 7168, 192), "");
}

// Every scheme: quantize, take the storage apart and put it back, bit for bit; a component of the
// wrong size is refused, naming it.
TEST(WeightSchemes, PartsRoundTripThroughTheirStorage) {
  const std::int64_t rows = 160;
  for (const rq::SchemeSpec& s : rq::weight_schemes()) {
    // K = 96 (a partial FP8 block along K, three MX blocks), rounded up to whole groups where the
    // row needs them (WNA16: 128).
    const std::int64_t cols = rq::round_up(96, s.size_multiple);
    rq::RowMatrixXf x(rows, cols);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) x(r, c) = static_cast<float>((r * 131 + c * 7) % 61 - 30) / 16.0f;
    const moe::Weight w = moe::quantize_weight(s.scheme, x);
    EXPECT_EQ(moe::scheme_of(w), rq::storage_scheme(s.scheme)) << s.name;
    moe::WeightStorage storage = moe::storage_of(w);
    for (const rq::ComponentSpec& c : s.components) {
      const std::size_t n = rq::holds_floats(c.component) ? storage.floats(c.component).size() : storage.bytes(c.component).size();
      EXPECT_EQ(static_cast<std::int64_t>(n), c.stored_rows(rows) * c.stored_cols(cols)) << s.name << " " << rq::name(c.component);
    }
    const moe::Weight back = moe::weight_from_storage(s.scheme, rows, cols, storage);
    std::vector<float> a(static_cast<std::size_t>(rows * cols)), b(a.size());
    moe::materialize(moe::StackedWeight{{w}}, moe::Dtype::kF32, a);
    moe::materialize(moe::StackedWeight{{back}}, moe::Dtype::kF32, b);
    EXPECT_EQ(a, b) << s.name;
    moe::WeightStorage short_one = storage;
    const rq::ComponentSpec& last = s.components.back();
    if (rq::holds_floats(last.component))
      short_one.floats(last.component).pop_back();
    else
      short_one.bytes(last.component).pop_back();
    try {
      (void)moe::weight_from_storage(s.scheme, rows, cols, short_one);
      ADD_FAILURE() << s.name << ": a short component was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(rq::name(last.component))), std::string::npos) << e.what();
    }
  }
}

// The block's stack of a component is what the scheme stacks: a separately stored gate_up needs its
// two parts, and parts of another scheme are refused.
TEST(WeightSchemes, BlockStacksAreCheckedAgainstTheScheme) {
  moe::MoeBlock b;
  b.hidden = 128;
  b.intermediate = 128;
  rq::RowMatrixXf gate = rq::RowMatrixXf::Constant(128, 128, 0.25f), down = rq::RowMatrixXf::Constant(128, 128, 0.5f);
  moe::Expert e;
  e.gate_up.parts = {moe::quantize_weight(rq::WeightScheme::kFp8Block128W8A16, gate),
                     moe::quantize_weight(rq::WeightScheme::kFp8Block128W8A16, gate)};
  e.down.parts = {moe::quantize_weight(rq::WeightScheme::kFp8Block128W8A16, down)};
  b.experts = {e, e};
  const rq::ComponentSpec& grid = *rq::spec(rq::WeightScheme::kFp8Block128W8A16).find(rq::Component::kScales);
  EXPECT_EQ(moe::stacked_shape(b, moe::Projection::kGateUp, grid), (Shape{2, 2, 1}));
  EXPECT_EQ(moe::stacked_floats(b, moe::Projection::kGateUp, grid).size(), 4u);
  moe::MoeBlock one_part = b;
  one_part.experts[1].gate_up.parts.pop_back();
  EXPECT_THROW(moe::stacked_floats(one_part, moe::Projection::kGateUp, grid), std::invalid_argument);
  moe::MoeBlock mixed = b;
  mixed.experts[1].down.parts = {moe::quantize_weight(rq::WeightScheme::kDense, down)};
  EXPECT_THROW(moe::stacked_bytes(mixed, moe::Projection::kDown, *rq::spec(rq::WeightScheme::kFp8Block128W8A16).find(rq::Component::kCodes)),
               std::invalid_argument);
}

}  // namespace
