// The weight-scheme table (reference/quant/scheme.h): its rows agree with the padding registry and
// the codecs, its shape rule gives the checkpoints' shapes, and every scheme's parts round-trip
// through their storage components.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "reference/moe/block.h"
#include "reference/moe/forward.h"
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
            "fp8_per_tensor_w8a16, int4_g128_zp_w4a16, int8_g128_zp_w8a16, int4_g32_w4a16, int4_g32_w4a16_marlin, "
            "fp8_per_tensor_w8a8_static, fp8_per_tensor_w8a8_dynamic, mxfp4_w4a8_qdq, nvfp4_w4a4_qdq, fp8_per_channel_w8a8, "
            "int4_g64_w4a16, int4_g64_w4a16_marlin, int4_channel_w4a16_marlin, int8_channel_w8a16_marlin, "
            "int4_g128_zp_w4a16_marlin, mxfp8_w8a8, int4_g128_act_order_w4a16_marlin");
}

// Each listed method exists in the registry, is a checkpoint method (not online), and stores what
// the row says: the packing of the element codes and the scale block. Each bound backend is a
// registry backend; a (method, backend) pair is bound by one row, unless the rows are checkpoint
// variants that the checkpoint's config tells apart: the element format (quark_w_mxfp6: e3m2 or
// e2m3), the group size or zero points (WNA16's group_size and sym / zero_point), the activation
// scheme (FP8's activation_scheme: static, with input scales, or dynamic).
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
        if (scale->packing.whole_axis())
          EXPECT_EQ(scale->stored_cols(s.size_multiple * 3), 1) << method;  // channelwise: one column for any K
        else
          EXPECT_EQ(s.size_multiple % scale->packing.elements, 0) << method;
        EXPECT_EQ(m->weight_bits, s.elements().packing == rq::kFp4Bytes ? 4 : 8) << method;
      } else if (scale && scale->per_part && m->scale == pd::ScaleKind::kPerTensor) {
        // One fp32 scale per expert and part: nothing along K, no block.
        EXPECT_EQ(m->scale_block, 0) << method;
      } else if (scale && m->scale == pd::ScaleKind::kPerChannel) {
        // One fp32 scale per output row over the whole of K, kept by padding and TP shards of K.
        EXPECT_TRUE(scale->packing.whole_axis()) << method;
        EXPECT_FALSE(scale->per_part) << method;
        EXPECT_EQ(scale->stored_cols(7), 1) << method;
        EXPECT_EQ(scale->stored_cols(4096), 1) << method;
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
          const auto act_order = [](const rq::SchemeSpec& x) { return x.find(rq::Component::kGroupIndex) != nullptr; };
          EXPECT_TRUE(other.elements().format != s.elements().format || group(other) != group(s) ||
                      other.zero_points != s.zero_points || other.activation.quant != s.activation.quant ||
                      act_order(other) != act_order(s))
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
  EXPECT_EQ(rq::scheme_for("nvfp4", "FLASHINFER_CUTLASS"), nullptr);  // native W4A4: a kernel of its own
  EXPECT_EQ(rq::scheme_for("nvfp4", "EMULATION"), &rq::spec(rq::WeightScheme::kNvfp4W4A4Qdq));
  EXPECT_EQ(rq::scheme_for("fp8_block", "DEEPGEMM"), &rq::spec(rq::WeightScheme::kFp8Block128W8A8Ue8m0));
  EXPECT_EQ(rq::scheme_for("fp8_block", "TRITON"), &rq::spec(rq::WeightScheme::kFp8Block128W8A8));
  EXPECT_EQ(rq::scheme_for("mxfp8", "MARLIN"), &rq::spec(rq::WeightScheme::kMxfp8W8A16));
  EXPECT_EQ(rq::scheme_for("mxfp8", "DEEPGEMM"), nullptr);  // W8A8 of its own kernel: no row
  EXPECT_EQ(rq::scheme_for("mxfp8", "TRITON_MXFP8"), &rq::spec(rq::WeightScheme::kMxfp8W8A8));
  // WNA16 on fused_moe_kernel_gptq_awq (TritonWNA16Experts), and on Marlin with its repack.
  EXPECT_EQ(rq::scheme_for("int4_wna16", "TRITON"), &rq::spec(rq::WeightScheme::kInt4G128W4A16));
  EXPECT_EQ(rq::scheme_for("int8_wna16", "TRITON"), &rq::spec(rq::WeightScheme::kInt8G128W8A16));
  EXPECT_EQ(rq::scheme_for("int4_wna16", "MARLIN"), &rq::spec(rq::WeightScheme::kInt4G128W4A16Marlin));
  EXPECT_EQ(rq::scheme_for("int8_wna16", "MARLIN"), &rq::spec(rq::WeightScheme::kInt8G128W8A16Marlin));
  EXPECT_EQ(rq::spec(rq::WeightScheme::kInt4G128W4A16Marlin).repack, rq::WeightRepack::kMarlin);
  EXPECT_EQ(rq::scheme_for("int4_wna16", "BATCHED_MARLIN"), nullptr);
  EXPECT_EQ(rq::scheme_for("fp8_per_tensor", "MARLIN"), &rq::spec(rq::WeightScheme::kFp8PerTensorW8A16));
  EXPECT_EQ(rq::scheme_for("fp8_per_tensor", "TRITON"), &rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static));
  EXPECT_EQ(rq::scheme_for("fp8_per_tensor", "FLASHINFER_CUTLASS"), nullptr);  // a kernel of its own
  // compressed-tensors FP8 channel / token: Triton's per-channel path; CUTLASS and AITER are their own.
  EXPECT_EQ(rq::scheme_for("fp8_per_channel", "TRITON"), &rq::spec(rq::WeightScheme::kFp8PerChannelW8A8));
  EXPECT_EQ(rq::scheme_for("fp8_per_channel", "VLLM_CUTLASS"), nullptr);
  EXPECT_EQ(rq::scheme_for("fp8_per_channel", "AITER"), nullptr);
  // Quark W4A8: the emulation quant-dequantizes the activations; CPU runs the W4A16 config; AITER's
  // W4A8 kernel is its own.
  EXPECT_EQ(rq::scheme_for("quark_w_mxfp4_a_fp8", "EMULATION"), &rq::spec(rq::WeightScheme::kMxfp4W4A8Qdq));
  EXPECT_EQ(rq::scheme_for("quark_w_mxfp4_a_fp8", "CPU"), &rq::spec(rq::WeightScheme::kMxfp4W4A16));
  EXPECT_EQ(rq::scheme_for("quark_w_mxfp4_a_fp8", "AITER_MXFP4_FP8"), nullptr);
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

// fp8_per_tensor_w8a8_static: the checkpoint carries one input scale per expert and projection; the
// layer quantizes each GEMM input with the max of them (static_scaled_fp8_quant: x · (1/s),
// saturated at ±448), and the golden does so over all of its experts.
TEST(WeightSchemes, StaticPerTensorActivationsUseTheLayersMaxInputScale) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static);
  ASSERT_TRUE(row.activation.per_tensor());
  ASSERT_TRUE(row.activation.reduced_over_local_experts());
  const rq::ComponentSpec* input = row.find(rq::Component::kInputScales);
  ASSERT_NE(input, nullptr);
  EXPECT_TRUE(input->per_part && input->per_projection);
  EXPECT_TRUE(rq::is_scale(rq::Component::kInputScales));
  EXPECT_TRUE(rq::holds_floats(rq::Component::kInputScales));
  EXPECT_EQ(rq::stacked_shape(*input, 6, 2, 64, 128), (Shape{6, 1, 1}));

  // The quantizer's stand-in calibration: 2^-7 · (8 + j) / 8, four significant bits.
  const rq::RowMatrixXf w = rq::RowMatrixXf::Constant(4, 32, 0.3f);
  const rq::SchemeStorage st = row.quantize(row, w);
  ASSERT_EQ(st.input_scales.size(), 1u);
  EXPECT_GE(st.input_scales[0], 0x1p-7f);
  EXPECT_LT(st.input_scales[0], 0x1p-6f);
  EXPECT_EQ(std::fmod(st.input_scales[0] * 1024.0f, 1.0f), 0.0f);

  // x · (1/s) with s = 2^-7 (inv = 128): 0.5 -> 64, 10 -> 1280 saturates at 448, -1/256 -> -0.5.
  rq::RowMatrixXf x(2, 3);
  x << 0.5f, 10.0f, -1.0f / 256, 0.0f, -10.0f, 0.25f;
  const rq::QuantizedActivations q = rq::quantize_activations(row.activation, x, 0x1p-7f);
  EXPECT_EQ(q.group, 3);
  ASSERT_EQ(q.scales.rows(), 2);
  ASSERT_EQ(q.scales.cols(), 1);
  EXPECT_EQ(q.scales(0, 0), 0x1p-7f);
  EXPECT_EQ(q.scales(1, 0), 0x1p-7f);
  EXPECT_EQ(q.values(0, 0), 64.0f);
  EXPECT_EQ(q.values(0, 1), 448.0f);
  EXPECT_EQ(q.values(0, 2), -0.5f);
  EXPECT_EQ(q.values(1, 1), -448.0f);
  EXPECT_EQ(q.values(1, 2), 32.0f);
  EXPECT_THROW(rq::quantize_activations(row.activation, x), std::invalid_argument);  // no scale given

  // The reduction: the max; a scale a layer could not divide by is refused, naming the expert.
  const std::vector<float> scales = {0.25f, 0.5f, 0.125f};
  EXPECT_EQ(rq::reduce_input_scales(scales, "w13_input_scale"), 0.5f);
  EXPECT_THROW(rq::reduce_input_scales({}, "w13_input_scale"), std::invalid_argument);
  const std::vector<float> bad = {0.25f, std::numeric_limits<float>::quiet_NaN()};
  try {
    rq::reduce_input_scales(bad, "w2_input_scale");
    ADD_FAILURE() << "a NaN input scale was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("w2_input_scale: input scale of expert 1"), std::string::npos) << e.what();
  }

  // The golden quantizes with the max over its experts: giving every expert that max changes nothing,
  // giving every expert the smaller one does.
  moe::MoeBlock b;
  b.family = moe::Family::kMixtral;
  b.dtype = moe::Dtype::kF32;
  b.hidden = 32;
  b.intermediate = 32;
  b.semantics = moe::semantics(b.family);
  b.semantics.router.top_k = 2;
  rq::RowMatrixXf router(2, 32), gate_up(64, 32), down(32, 32);
  for (Eigen::Index i = 0; i < router.size(); ++i) router.data()[i] = static_cast<float>((i * 7) % 11) / 16 - 0.3f;
  for (Eigen::Index i = 0; i < gate_up.size(); ++i) gate_up.data()[i] = static_cast<float>((i * 5) % 13) / 32 - 0.2f;
  for (Eigen::Index i = 0; i < down.size(); ++i) down.data()[i] = static_cast<float>((i * 3) % 17) / 32 - 0.25f;
  b.router = moe::DenseWeight{2, 32, std::vector<float>(router.data(), router.data() + router.size())};
  const auto with_input_scales = [&](float s13, float s2) {
    moe::Expert e;
    e.gate_up.parts = {moe::quantize_weight(row.scheme, gate_up)};
    e.down.parts = {moe::quantize_weight(row.scheme, down)};
    std::get<moe::SchemeWeight>(e.gate_up.parts[0]).storage.input_scales = {s13};
    std::get<moe::SchemeWeight>(e.down.parts[0]).storage.input_scales = {s2};
    return e;
  };
  rq::RowMatrixXf hidden(3, 32);
  for (Eigen::Index i = 0; i < hidden.size(); ++i) hidden.data()[i] = static_cast<float>((i * 29) % 31) / 7.3f - 1.9f;  // off the fp8 grids
  const auto output = [&](std::vector<moe::Expert> experts) {
    b.experts = std::move(experts);
    const moe::RowMatrix<float> h = hidden;
    return moe::forward(b, h, moe::Accumulate::kFp64, row.activation).output;
  };
  const auto mixed = output({with_input_scales(0x1p-7f, 0x1p-5f), with_input_scales(0x1p-6f, 0x1p-8f)});
  EXPECT_EQ(mixed, output({with_input_scales(0x1p-6f, 0x1p-5f), with_input_scales(0x1p-6f, 0x1p-5f)}));
  EXPECT_NE(mixed, output({with_input_scales(0x1p-7f, 0x1p-8f), with_input_scales(0x1p-7f, 0x1p-8f)}));
}

// A one-expert Mixtral block, H = I = 32, top-1 (every token to the expert), and the gate/up and
// down values a test quantizes its parts from (off the fp8 grids).
struct OneExpert {
  moe::MoeBlock block;
  rq::RowMatrixXf gate_up = rq::RowMatrixXf(64, 32), down = rq::RowMatrixXf(32, 32);
};
OneExpert one_expert_block(moe::Dtype dtype) {
  OneExpert o;
  moe::MoeBlock& b = o.block;
  b.family = moe::Family::kMixtral;
  b.dtype = dtype;
  b.hidden = 32;
  b.intermediate = 32;
  b.semantics = moe::semantics(b.family);
  b.semantics.router.top_k = 1;
  b.router = moe::DenseWeight{1, 32, std::vector<float>(32, 0.0f)};
  for (Eigen::Index i = 0; i < o.gate_up.size(); ++i) o.gate_up.data()[i] = static_cast<float>((i * 5) % 13) / 32 - 0.2f;
  for (Eigen::Index i = 0; i < o.down.size(); ++i) o.down.data()[i] = static_cast<float>((i * 3) % 17) / 32 - 0.25f;
  return o;
}

// The golden on a one-expert fp32 block of `row`'s scheme: token 0 beside a token 1 whose values are
// 24 times token 0's (shifted), and token 0 alone — what tells a batch-coupled activation scale
// (token 0's output moves) from a row-local one (it does not).
struct TokenBesideALargerOne {
  moe::MoeBlock block;
  moe::RowMatrix<float> hidden, both, alone;
};
TokenBesideALargerOne token_beside_a_larger_one(const rq::SchemeSpec& row) {
  OneExpert one = one_expert_block(moe::Dtype::kF32);
  TokenBesideALargerOne t;
  t.block = one.block;
  moe::Expert e;
  e.gate_up.parts = {moe::quantize_weight(row.scheme, one.gate_up)};
  e.down.parts = {moe::quantize_weight(row.scheme, one.down)};
  t.block.experts = {e};
  t.hidden.resize(2, 32);
  for (Eigen::Index i = 0; i < 32; ++i) {
    t.hidden(0, i) = static_cast<float>((i * 29) % 31) / 7.3f - 1.9f;  // off the fp8 grids
    t.hidden(1, i) = 24.0f * t.hidden(0, (i + 5) % 32);
  }
  t.both = moe::forward(t.block, t.hidden, moe::Accumulate::kFp64, row.activation).output;
  t.alone = moe::forward(t.block, t.hidden.topRows(1), moe::Accumulate::kFp64, row.activation).output;
  return t;
}

// fp8_per_tensor_w8a8_dynamic: one scale per GEMM input, amax / 448 over every row given
// (dynamic_scaled_fp8_quant: fmaxf from 0, so NaN is ignored and Inf kept), applied as the static
// quantizer applies its scale; so each row's codes depend on every other row of the batch.
TEST(WeightSchemes, DynamicPerTensorActivationsTakeOneAmaxOverTheWholeBatch) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Dynamic);
  ASSERT_TRUE(row.activation.per_tensor());
  ASSERT_TRUE(row.activation.batch_coupled());
  EXPECT_FALSE(row.activation.reduced_over_local_experts());
  EXPECT_EQ(row.find(rq::Component::kInputScales), nullptr);
  EXPECT_FALSE(rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static).activation.batch_coupled());

  // amax 7: scale 7/448 = 2^-6, x · 64.
  rq::RowMatrixXf x(2, 3);
  x << 0.5f, -3.5f, 1.0f, 7.0f, 0.25f, -0.125f;
  const rq::QuantizedActivations q = rq::quantize_activations(row.activation, x);
  EXPECT_EQ(q.group, 3);
  EXPECT_EQ(q.scales(0, 0), 0x1p-6f);
  EXPECT_EQ(q.scales(1, 0), 0x1p-6f);
  EXPECT_EQ(q.values(0, 0), 32.0f);
  EXPECT_EQ(q.values(0, 1), -224.0f);
  EXPECT_EQ(q.values(1, 0), 448.0f);
  EXPECT_EQ(q.values(1, 2), -8.0f);
  // A batch in parts: the fmax of the parts' scales.
  EXPECT_EQ(rq::batch_scale(row.activation, x), 0x1p-6f);
  EXPECT_EQ(std::fmax(rq::batch_scale(row.activation, x.topRows(1)), rq::batch_scale(row.activation, x.bottomRows(1))),
            0x1p-6f);
  // Given the batch's scale, a part is quantized with it.
  EXPECT_EQ(rq::quantize_activations(row.activation, x.topRows(1), 0x1p-6f).values(0, 1), -224.0f);
  EXPECT_THROW(rq::batch_scale(rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static).activation, x),
               std::invalid_argument);

  // Another row with a larger amax (14) coarsens every row: row 0 is now x · 32.
  rq::RowMatrixXf wider(3, 3);
  wider << x, rq::RowMatrixXf::Constant(1, 3, 14.0f);
  const rq::QuantizedActivations qw = rq::quantize_activations(row.activation, wider);
  EXPECT_EQ(qw.scales(0, 0), 0x1p-5f);
  EXPECT_EQ(qw.values(0, 0), 16.0f);
  EXPECT_EQ(qw.values(0, 1), -112.0f);
  // A NaN row leaves the amax alone (its NaN is clamped to +448); an Inf row makes the scale Inf,
  // and every finite element's code 0.
  rq::RowMatrixXf with_nan(3, 3), with_inf(3, 3);
  with_nan << x, std::numeric_limits<float>::quiet_NaN(), 1.0f, 0.0f;
  with_inf << x, std::numeric_limits<float>::infinity(), 1.0f, 0.0f;
  const rq::QuantizedActivations qn = rq::quantize_activations(row.activation, with_nan);
  EXPECT_EQ(qn.scales(0, 0), 0x1p-6f);
  EXPECT_EQ(qn.values(0, 1), -224.0f);
  EXPECT_EQ(qn.values(2, 0), 448.0f);
  const rq::QuantizedActivations qi = rq::quantize_activations(row.activation, with_inf);
  EXPECT_EQ(qi.scales(0, 0), std::numeric_limits<float>::infinity());
  EXPECT_EQ(qi.values(0, 1), 0.0f);

  // The golden quantizes with the whole batch's scale: token 0 beside a larger token 1 comes out
  // otherwise than token 0 alone.
  const TokenBesideALargerOne t = token_beside_a_larger_one(row);
  EXPECT_NE(t.both.row(0), t.alone.row(0));
  EXPECT_EQ(t.alone, moe::forward(t.block, t.hidden.topRows(1), moe::Accumulate::kFp64, row.activation).output);
}

// fp8_per_channel_w8a8 (compressed-tensors channel weights, dynamic per-token activations): each
// row of a GEMM input has a scale of its own, so the rows do not couple (an Inf row changes only
// itself), and each weight row carries its own fp32 scale over the whole of K.
TEST(WeightSchemes, PerChannelW8A8QuantizesEachRowOnItsOwn) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kFp8PerChannelW8A8);
  const rq::ActivationSpec& a = row.activation;
  EXPECT_TRUE(a.per_token());
  EXPECT_TRUE(a.scales_after_k());
  EXPECT_FALSE(a.per_tensor());
  EXPECT_FALSE(a.batch_coupled());
  EXPECT_FALSE(a.reduced_over_local_experts());
  EXPECT_TRUE(a.tp_rank_local_scales());
  EXPECT_FALSE(rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static).activation.tp_rank_local_scales());
  EXPECT_TRUE(rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Dynamic).activation.tp_rank_local_scales());
  EXPECT_FALSE(rq::spec(rq::WeightScheme::kFp8Block128W8A8).activation.scales_after_k());  // per K tile
  EXPECT_FALSE(rq::spec(rq::WeightScheme::kMxfp4W4A8Qdq).activation.scales_after_k());     // a 16-bit GEMM

  // Row amaxes 3.5 and 14: scales 2^-7 and 2^-5, each row divided by its own.
  rq::RowMatrixXf x(3, 3);
  x << 0.5f, -3.5f, 1.0f, 14.0f, 0.25f, -0.125f, 0.0f, 0.0f, 0.0f;
  const rq::QuantizedActivations q = rq::quantize_activations(a, x);
  EXPECT_EQ(q.group, 3);
  ASSERT_EQ(q.scales.cols(), 1);
  EXPECT_EQ(q.scales(0, 0), 0x1p-7f);
  EXPECT_EQ(q.scales(1, 0), 0x1p-5f);
  EXPECT_EQ(q.scales(2, 0), 1.0f / 229376.0f);  // the floor 1 / (448 · 512): an all-zero row
  EXPECT_EQ(q.values(0, 0), 64.0f);
  EXPECT_EQ(q.values(0, 1), -448.0f);
  EXPECT_EQ(q.values(1, 0), 448.0f);
  EXPECT_EQ(q.values(1, 1), 8.0f);
  EXPECT_TRUE((q.values.row(2).array() == 0.0f).all());
  // An Inf row: its own scale is Inf, the other rows keep theirs and their codes.
  rq::RowMatrixXf with_inf(4, 3);
  with_inf << x, std::numeric_limits<float>::infinity(), 1.0f, 0.0f;
  const rq::QuantizedActivations qi = rq::quantize_activations(a, with_inf);
  EXPECT_EQ(qi.scales(3, 0), std::numeric_limits<float>::infinity());
  EXPECT_EQ(qi.scales.topRows(3), q.scales);
  EXPECT_EQ(qi.values.topRows(3), q.values);
  EXPECT_THROW(rq::batch_scale(a, x), std::invalid_argument);  // no batch scale

  // The weight: one bf16 scale per row at or above its amax / 448; the dequantization reads it.
  rq::RowMatrixXf w(4, 40);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>((i * 7) % 23) / 8 - 1.4f;
  w.row(2) *= 16.0f;
  w.row(3).setZero();
  const rq::SchemeStorage st = row.quantize(row, w);
  ASSERT_EQ(st.scales.size(), 4u);
  ASSERT_EQ(st.codes.size(), 160u);
  EXPECT_EQ(st.scales[3], 1.0f);
  EXPECT_GE(st.scales[2], w.row(2).cwiseAbs().maxCoeff() / 448.0f);
  EXPECT_EQ(st.scales[2], 16.0f * st.scales[0]);  // a power-of-two row multiple scales exactly
  std::vector<float> dq(160);
  row.dequantize_rows(row, st, 4, 40, 0, 4, dq.data());
  for (Eigen::Index r = 0; r < 4; ++r)
    for (Eigen::Index k = 0; k < 40; ++k)
      EXPECT_LE(std::fabs(dq[static_cast<std::size_t>(r * 40 + k)] - w(r, k)), std::fabs(w(r, k)) / 16 + 1e-30f)
          << r << " " << k;
  rq::SchemeStorage short_scales = st;
  short_scales.scales.pop_back();
  try {
    row.dequantize_rows(row, short_scales, 4, 40, 0, 4, dq.data());
    ADD_FAILURE() << "3 scales for 4 rows passed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("weight_scale: expected 4 values (one per output channel), found 3"),
              std::string::npos)
        << e.what();
  }

  // The golden: token 0 beside a larger token 1 comes out as token 0 alone (no coupling).
  const TokenBesideALargerOne t = token_beside_a_larger_one(row);
  EXPECT_EQ(t.both.row(0), t.alone.row(0));
}

// mxfp4_w4a8_qdq (Quark w_mxfp4_a_fp8 on vLLM's OCP MX emulation): GEMM1's input quant-dequantized
// with the layer's static w13 input scale (the product in fp16), GEMM2's with a dynamic scale — the
// emulation passes a2_scale None, so w2_input_scale is loaded and never used.
TEST(WeightSchemes, QuarkW4A8EmulationQuantizesGemm1StaticallyAndGemm2Dynamically) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kMxfp4W4A8Qdq);
  const rq::ActivationSpec& a = row.activation;
  EXPECT_TRUE(a.qdq);
  EXPECT_TRUE(a.per_tensor());
  EXPECT_EQ(a.source(1), rq::ScaleSource::kStatic);
  EXPECT_EQ(a.source(2), rq::ScaleSource::kDynamic);
  EXPECT_TRUE(a.reduced_over_local_experts());
  EXPECT_TRUE(a.batch_coupled());
  EXPECT_TRUE(a.dequantizes_in_fp16(1));
  EXPECT_FALSE(a.dequantizes_in_fp16(2));
  EXPECT_FALSE(rq::spec(rq::WeightScheme::kFp8PerTensorW8A8Static).activation.dequantizes_in_fp16(1));  // W8A8

  rq::RowMatrixXf w(4, 64);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>((i * 7) % 23) / 8 - 1.4f;
  const rq::SchemeStorage st = row.quantize(row, w);
  EXPECT_EQ(st.codes.size(), 4u * 32u);
  EXPECT_EQ(st.scale_bytes.size(), 4u * 2u);
  ASSERT_EQ(st.input_scales.size(), 1u);
  EXPECT_GE(st.input_scales[0], 0x1p-7f);
  EXPECT_LT(st.input_scales[0], 0x1p-6f);
  // The weights dequantize as the gpt-oss MXFP4 rows' do.
  std::vector<float> rows(4 * 64);
  row.dequantize_rows(row, st, 4, 64, 0, 4, rows.data());
  const rq::RowMatrixXf ref = rq::dequantize_row_major(rq::quantize(w, rq::Mxfp4Rounding::kTritonRoundUpTorchRef));
  for (Eigen::Index i = 0; i < ref.size(); ++i) EXPECT_EQ(rows[static_cast<std::size_t>(i)], ref.data()[i]) << i;
  EXPECT_THROW(rq::quantize_activations(a, w), std::invalid_argument);  // the GEMM's scale is the caller's

  OneExpert one = one_expert_block(moe::Dtype::kBf16);
  moe::MoeBlock& b = one.block;
  const auto expert = [&](float s13, float s2) {
    moe::Expert e;
    e.gate_up.parts = {moe::quantize_weight(row.scheme, one.gate_up)};
    e.down.parts = {moe::quantize_weight(row.scheme, one.down)};
    std::get<moe::SchemeWeight>(e.gate_up.parts[0]).storage.input_scales = {s13};
    std::get<moe::SchemeWeight>(e.down.parts[0]).storage.input_scales = {s2};
    return e;
  };
  moe::RowMatrix<float> hidden(2, 32);
  for (Eigen::Index i = 0; i < 32; ++i) {
    hidden(0, i) = moe::round_to(b.dtype, static_cast<float>((i * 29) % 31) / 7.3f - 1.9f);
    hidden(1, i) = moe::round_to(b.dtype, 3.0f * hidden(0, (i + 5) % 32));
  }
  const auto output = [&](const moe::Expert& e, const moe::RowMatrix<float>& h) {
    b.experts = {e};
    return moe::forward(b, h, moe::Accumulate::kFp64, a).output;
  };
  const moe::RowMatrix<float> base = output(expert(0x1p-6f, 0x1p-6f), hidden);
  EXPECT_EQ(base, output(expert(0x1p-6f, 0x1p-9f), hidden));  // w2_input_scale: unused
  EXPECT_NE(base, output(expert(0x1p-7f, 0x1p-6f), hidden));  // w13_input_scale: GEMM1's scale
  // GEMM2's scale is the batch's: token 0 alone comes out otherwise.
  EXPECT_NE(base.row(0), output(expert(0x1p-6f, 0x1p-6f), hidden.topRows(1)).row(0));
}

// nvfp4_w4a4_qdq (vLLM's NVFP4 W4A4 emulation): each GEMM input quant-dequantized per 16 columns with
// gs = 1 / max(input_scale), as _nvfp4_quant_dequant_kernel computes it: block scale
// fp8(gs * amax * RN(1/6)), x * div.full(gs, scale) rounded to e2m1, times div.full(scale, gs).
TEST(WeightSchemes, Nvfp4W4A4EmulationQuantDequantizesPer16WithTheLayersGlobalScale) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kNvfp4W4A4Qdq);
  const rq::ActivationSpec& a = row.activation;
  EXPECT_TRUE(a.qdq);
  EXPECT_EQ(a.group, 16);
  EXPECT_FALSE(a.per_tensor());
  EXPECT_EQ(a.source(1), rq::ScaleSource::kStatic);
  EXPECT_EQ(a.source(2), rq::ScaleSource::kStatic);
  EXPECT_TRUE(a.reduced_over_local_experts());
  EXPECT_FALSE(a.batch_coupled());
  EXPECT_FALSE(a.dequantizes_in_fp16(1));

  // input_scale 2^-8: gs = 256; amax 1.5 gives the block scale 64, x * 4 rounded to e2m1, times 1/4.
  rq::RowMatrixXf x = rq::RowMatrixXf::Zero(2, 16);
  x.row(0).head(6) << 1.5f, 0.1f, -0.3f, 0.0f, -0.0f, 0.7f;
  const rq::QuantizedActivations q = rq::quantize_activations(a, x, 0x1p-8f);
  EXPECT_EQ(q.group, 16);
  EXPECT_EQ(q.scales(0, 0), 0.25f);
  EXPECT_EQ(q.values(0, 0), 6.0f);
  EXPECT_EQ(q.values(0, 1), 0.5f);   // 0.4 -> 0.5
  EXPECT_EQ(q.values(0, 2), -1.0f);  // -1.2 -> -1
  EXPECT_EQ(std::bit_cast<std::uint32_t>(q.values(0, 4)), 0u);  // -0 -> +0, as the kernel's sign does
  EXPECT_EQ(q.values(0, 5), 3.0f);   // 2.8 -> 3
  EXPECT_EQ(q.scales(1, 0), 0.0f);   // an all-zero block
  EXPECT_EQ(rq::fake_quantize(a, x, 0x1p-8f)(0, 5), 0.75f);
  EXPECT_THROW(rq::quantize_activations(a, x), std::invalid_argument);

  rq::RowMatrixXf w(4, 32);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>((i * 7) % 23) / 8 - 1.4f;
  const rq::SchemeStorage st = row.quantize(row, w);
  ASSERT_EQ(st.input_scales.size(), 1u);
  EXPECT_GE(st.input_scales[0], 0x1p-8f);
  EXPECT_LT(st.input_scales[0], 0x1p-7f);
  EXPECT_EQ(st.scales.size(), 1u);  // weight_scale_2, as nvfp4_w4a16
  const rq::ComponentSpec* input = row.find(rq::Component::kInputScales);
  ASSERT_NE(input, nullptr);
  EXPECT_EQ(rq::stacked_shape(*input, 3, 2, 64, 32), (Shape{3, 2, 1}));  // w13_input_scale [E, 2]
}

// mxfp8_w8a8 (fused_moe_mxfp8_native): the two GEMM inputs are quantized by different rules, GEMM2's
// fused with the SwiGLU; the scales reach the sim as E8M0 values, one per row and 32 columns.
TEST(WeightSchemes, NativeMxfp8QuantizesEachGemmInputByItsOwnRule) {
  const rq::SchemeSpec& row = rq::spec(rq::WeightScheme::kMxfp8W8A8);
  ASSERT_EQ(row.activation.quant, rq::ActivationQuant::kMxfp8Dynamic);
  EXPECT_TRUE(row.activation.fused_with_activation);
  EXPECT_FALSE(row.activation.scales_after_k() || row.activation.batch_coupled() || row.activation.qdq);
  EXPECT_EQ(rq::storage_scheme(row.scheme), rq::WeightScheme::kMxfp8W8A16);
  EXPECT_EQ(row.size_multiple, 128);  // the kernel's K % 128 assert
  rq::RowMatrixXf x = rq::RowMatrixXf::Zero(1, 64);
  x(0, 0) = 1.5f;
  x(0, 1) = 0x1.8p-12f;  // 1.5 · 2^-12
  x(0, 32) = 448.0f;
  const rq::QuantizedActivations g1 = rq::quantize_activations(row.activation, x, std::nullopt, 1);
  const rq::QuantizedActivations g2 = rq::quantize_activations(row.activation, x, std::nullopt, 2);
  ASSERT_EQ(g1.group, 32);
  ASSERT_EQ(g1.scales.cols(), 2);
  EXPECT_EQ(g1.scales(0, 0), 0x1p-8f);  // ceil(log2(1.5 / 448)) = -8
  EXPECT_EQ(g1.values(0, 0), 384.0f);
  EXPECT_EQ(g1.values(0, 1) * g1.scales(0, 0), x(0, 1));  // kept
  EXPECT_EQ(g2.scales(0, 0), 1.0f);  // floor(log2 1.5) = 0
  EXPECT_EQ(g2.values(0, 0), 1.5f);
  EXPECT_EQ(g2.values(0, 1), 0.0f);  // below half the smallest subnormal: lost
  EXPECT_EQ(g1.scales(0, 1), 1.0f);  // 448 / 448
  EXPECT_EQ(g2.scales(0, 1), 0x1p8f);  // floor(log2 448) = 8: 448 = 1.75 · 2^8
  EXPECT_EQ(g2.values(0, 32), 1.75f);
  // fake_quantize follows the GEMM too.
  EXPECT_EQ(rq::fake_quantize(row.activation, x, std::nullopt, 1)(0, 1), x(0, 1));
  EXPECT_EQ(rq::fake_quantize(row.activation, x, std::nullopt, 2)(0, 1), 0.0f);
}

// KernelContract: fused_moe_mxfp8_native has no bias operand, reads gate and up as halves,
// computes SwiGLU only and multiplies the router weight in GEMM2 always; the other rows take all.
TEST(WeightSchemes, KernelContractNamesWhatTheKernelCannotTake) {
  const rq::SchemeSpec& native = rq::spec(rq::WeightScheme::kMxfp8W8A8);
  EXPECT_TRUE(rq::kernel_problem(native, {}).empty());
  const std::pair<rq::KernelInputs, const char*> cases[] = {
      {{.biases = true}, "biases"},
      {{.interleaved_gate_up = true}, "two halves"},
      {{.gelu = true}, "GELU"},
      {{.weights_on_input = true}, "router weight"},
  };
  for (const auto& [in, word] : cases) {
    const std::string why = rq::kernel_problem(native, in);
    EXPECT_NE(why.find(word), std::string::npos) << why;
    EXPECT_NE(why.find("fused_moe_mxfp8_native"), std::string::npos) << why;
  }
  for (const rq::SchemeSpec& s : rq::weight_schemes()) {
    if (s.scheme == rq::WeightScheme::kMxfp8W8A8) continue;
    EXPECT_TRUE(rq::kernel_problem(s, {true, true, true, true}).empty()) << s.name;
    EXPECT_FALSE(s.kernel.fp32_gemm2_output) << s.name;
  }
  EXPECT_TRUE(native.kernel.fp32_gemm2_output);
}

}  // namespace
