// The padding rules as the shipped rulesets state them: the worked gpt-oss numbers of
// padding.md §2.4 (every backend/platform/TP row), what #34285, #38043 and the 2026-05 state
// changed, the all-to-all rounding (§1.1), the post-load alignments (§2.3), the CK kernel pad
// arguments (§2.5), plan errors, shapes and overheads.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/padding_test_util.h"

using namespace padding_test;

namespace {

// ---- padding.md §2.4: gpt-oss (H = I = 2880), I_pad per TP degree --------------------------------

struct WorkedRow {
  std::string ruleset, method, backend, platform;
  std::int64_t hidden_padded;
  std::int64_t intermediate_padded[4];  // TP 1, 2, 4, 8
};

std::string case_name(const WorkedRow& r) {
  std::string s = r.ruleset + "_" + r.method + "_" + r.backend + "_" + r.platform + "_H2880_I2880";
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// gtest prints a parameter with this (CTest shows it in each test's name); the default is a byte dump.
void PrintTo(const WorkedRow& r, std::ostream* os) { *os << case_name(r); }

const std::vector<WorkedRow> kWorked = {
    // TRITON / TRITON_UNFUSED (CUDA), XPU: 2880 | 2880 1472 768 384
    {"vllm-38043", "mxfp4", "TRITON", "cuda:sm90", 2880, {2880, 1472, 768, 384}},
    {"vllm-38043", "mxfp4", "TRITON", "cuda:sm100", 2880, {2880, 1472, 768, 384}},
    {"vllm-38043", "mxfp4", "TRITON_UNFUSED", "cuda:sm90", 2880, {2880, 1472, 768, 384}},
    {"vllm-38043", "mxfp4", "TRITON_UNFUSED", "cuda:sm100", 2880, {2880, 1472, 768, 384}},
    {"vllm-38043", "mxfp4", "XPU", "xpu", 2880, {2880, 1472, 768, 384}},
    // FI TRTLLM BF16 / MXFP8: 3072 | 3072 1536 768 512
    {"vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_MXFP8", "cuda:sm100", 3072, {3072, 1536, 768, 512}},
    // FI CUTLASS BF16 (SM90) / MXFP8 (SM100): 2944 | 2944 1536 768 384
    {"vllm-38043", "mxfp4", "FLASHINFER_CUTLASS_MXFP4_BF16", "cuda:sm90", 2944, {2944, 1536, 768, 384}},
    {"vllm-38043", "mxfp4", "FLASHINFER_CUTLASS_MXFP4_MXFP8", "cuda:sm100", 2944, {2944, 1536, 768, 384}},
    // MARLIN (non-XPU): 3072 | 2944 1536 768 384
    {"vllm-38043", "mxfp4", "MARLIN", "cuda:sm90", 3072, {2944, 1536, 768, 384}},
    {"vllm-38043", "mxfp4", "MARLIN", "cuda:sm100", 3072, {2944, 1536, 768, 384}},
    {"vllm-38043", "mxfp4", "MARLIN", "cuda:sm120", 3072, {2944, 1536, 768, 384}},
    {"vllm-38043", "mxfp4", "BATCHED_MARLIN", "cuda:sm90", 3072, {2944, 1536, 768, 384}},
    // MARLIN (XPU): 2944 | 2944 1536 768 384
    {"vllm-38043", "mxfp4", "MARLIN", "xpu", 2944, {2944, 1536, 768, 384}},
    {"vllm-38043", "mxfp4", "BATCHED_MARLIN", "xpu", 2944, {2944, 1536, 768, 384}},
    // any ROCm non-Marlin/FI backend (#38043 onward): 3072 | 3072 1536 768 512
    {"vllm-38043", "mxfp4", "CK", "rocm:gfx950", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "mxfp4", "TRITON", "rocm:gfx942", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "mxfp4", "TRITON", "rocm:gfx950", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "mxfp4", "TRITON_UNFUSED", "rocm:gfx942", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "quark_w_mxfp4_a_mxfp4", "NONE", "rocm:gfx942", 3072, {3072, 1536, 768, 512}},
    {"vllm-2026-05", "gpt_oss_mxfp4", "TRITON", "rocm:gfx942", 3072, {3072, 1536, 768, 512}},
    {"vllm-2026-08", "gpt_oss_mxfp4", "TRITON", "rocm:gfx942", 3072, {3072, 1536, 768, 512}},
    {"vllm-2026-08", "gpt_oss_mxfp4", "TRITON", "cuda:sm90", 2880, {2880, 1472, 768, 384}},
    {"vllm-2026-08", "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", 3072, {3072, 1536, 768, 512}},
    // #50000: TRT-LLM MXFP4 keeps H 256 but I to 128 (fused_moe/oracle/mxfp4.py:692-694 at 7ca49fbe).
    {"vllm-2026-08", "gpt_oss_mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", 3072, {2944, 1536, 768, 384}},
    {"vllm-2026-05", "gpt_oss_mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", 3072, {3072, 1536, 768, 512}},
    // ROCm gfx942 at #34285 only (alignment 128): 2944 | 2944 1536 768 384
    {"vllm-34285", "mxfp4", "TRITON", "rocm:gfx942", 2944, {2944, 1536, 768, 384}},
    {"vllm-34285", "mxfp4", "TRITON_UNFUSED", "rocm:gfx942", 2944, {2944, 1536, 768, 384}},
    {"vllm-pre-34285", "mxfp4", "TRITON", "rocm:gfx942", 2944, {2944, 1536, 768, 384}},
    // Quark w_mxfp4 takes the selected MXFP4 backend's row (§2.3).
    {"vllm-38043", "quark_w_mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", 3072, {3072, 1536, 768, 512}},
    {"vllm-38043", "quark_w_mxfp4", "TRITON", "cuda:sm90", 2880, {2880, 1472, 768, 384}},
    {"vllm-38043", "quark_w_mxfp4_a_fp8", "NONE", "cuda:sm90", 2880, {2880, 1472, 768, 384}},
};

class PaddingWorkedNumbers : public ::testing::TestWithParam<WorkedRow> {};

TEST_P(PaddingWorkedNumbers, MatchesSpecTable) {
  const WorkedRow& w = GetParam();
  const int tps[4] = {1, 2, 4, 8};
  const std::int64_t per_partition[4] = {2880, 1440, 720, 360};
  for (int i = 0; i < 4; ++i) {
    const pd::Plan p = plan(w.ruleset, w.method, w.backend, w.platform, gpt_oss(), {.tp = tps[i]});
    ASSERT_TRUE(p.ok()) << "tp " << tps[i] << ": " << p.error.value_or("");
    EXPECT_EQ(p.hidden, 2880);
    EXPECT_EQ(p.intermediate_per_partition, per_partition[i]) << "tp " << tps[i];
    EXPECT_EQ(p.hidden_padded, w.hidden_padded) << "tp " << tps[i];
    EXPECT_EQ(p.intermediate_per_partition_padded, w.intermediate_padded[i]) << "tp " << tps[i];
  }
}

INSTANTIATE_TEST_SUITE_P(PaddingGptOss, PaddingWorkedNumbers, ::testing::ValuesIn(kWorked),
                         [](const ::testing::TestParamInfo<WorkedRow>& info) { return case_name(info.param); });

// §2.4: "With DeepEP HT/LL (bf16) the base rounding first gives H = 3072; the MXFP4 rounding keeps 3072."
TEST(PaddingAll2All, DeepepFirstThenMxfp4KeepsH3072) {
  for (auto a2a : {pd::All2All::kDeepepHt, pd::All2All::kDeepepLl, pd::All2All::kNixl}) {
    for (const char* backend : {"TRITON", "FLASHINFER_CUTLASS_MXFP4_MXFP8", "FLASHINFER_TRTLLM_MXFP4_BF16", "MARLIN"}) {
      const pd::Plan p = plan("vllm-38043", "mxfp4", backend, "cuda:sm100", gpt_oss(), {.tp = 8, .ep = true, .all2all = a2a});
      ASSERT_TRUE(p.ok()) << backend << ": " << p.error.value_or("");
      EXPECT_EQ(p.hidden_after_all2all, 3072) << backend;
      EXPECT_EQ(p.hidden_padded, 3072) << backend;
      EXPECT_EQ(p.intermediate_per_partition, 2880) << "EP: full intermediate";
    }
  }
}

TEST(PaddingAll2All, DeepepHtRoundsRowBytesTo512) {
  // bf16/fp16: 2 bytes, so multiples of 256; fp32: 4 bytes, multiples of 128 (§1.1).
  const auto ht = [](std::int64_t h, pd::ActDtype act) {
    return plan("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", sizes(h, 1024),
                {.ep = true, .all2all = pd::All2All::kDeepepHt, .act = act})
        .hidden_padded;
  };
  EXPECT_EQ(ht(2880, pd::ActDtype::kBf16), 3072);
  EXPECT_EQ(ht(2880, pd::ActDtype::kFp16), 3072);
  EXPECT_EQ(ht(2880, pd::ActDtype::kFp32), 2944);
  EXPECT_EQ(ht(2048, pd::ActDtype::kBf16), 2048);  // already 512-byte rows
  EXPECT_EQ(ht(7168, pd::ActDtype::kBf16), 7168);
}

TEST(PaddingAll2All, DeepepLlAndNixlTakeTheSizeListAndFailAbove8192) {
  for (auto a2a : {pd::All2All::kDeepepLl, pd::All2All::kNixl}) {
    const auto ll = [&](std::int64_t h) {
      return plan("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", sizes(h, 1024), {.ep = true, .all2all = a2a});
    };
    EXPECT_EQ(ll(1000).hidden_padded, 2048);
    EXPECT_EQ(ll(2048).hidden_padded, 2048);
    EXPECT_EQ(ll(2049).hidden_padded, 2560);
    EXPECT_EQ(ll(5120).hidden_padded, 5120);
    EXPECT_EQ(ll(7169).hidden_padded, 8192);
    EXPECT_EQ(ll(8192).hidden_padded, 8192);
    const pd::Plan bad = ll(8193);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error->find("8193 is above the largest supported size 8192"), std::string::npos) << *bad.error;
  }
}

TEST(PaddingAll2All, NoneLeavesUnquantizedAlone) {
  const pd::Plan p = plan("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", gpt_oss(), {.tp = 4});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.hidden_padded, 2880);
  EXPECT_EQ(p.intermediate_per_partition_padded, 720);
}

// ---- what each ruleset changed -------------------------------------------------------------------

// Every combination of a method in both rulesets, for gpt-oss at tp 1..8.
template <class F>
void for_each_common(const std::string& a, const std::string& b, const std::string& method, F&& f) {
  const pd::MethodRules* ma = ruleset(a).find_method(method);
  ASSERT_NE(ma, nullptr);
  for (const auto& choice : ma->backends)
    for (const auto& p : pd::platforms())
      if (pd::backend_runs_on(choice, p))
        for (int tp : {1, 2, 4, 8}) {
          const pd::Plan x = plan(a, method, choice.name, p.name, gpt_oss(), {.tp = tp});
          const pd::Plan y = plan(b, method, choice.name, p.name, gpt_oss(), {.tp = tp});
          f(choice.name, p, tp, x, y);
        }
}

TEST(PaddingRulesets, Pre34285To34285LeavesMxfp4Unchanged) {
  // pre-#34285 (0ae89f18f~1) ran the same oracle in Mxfp4MoEMethod.__init__ (§3.1).
  int compared = 0;
  for_each_common("vllm-pre-34285", "vllm-34285", "mxfp4", [&](auto&, auto&, int, const pd::Plan& x, const pd::Plan& y) {
    EXPECT_EQ(x.hidden_padded, y.hidden_padded);
    EXPECT_EQ(x.intermediate_per_partition_padded, y.intermediate_per_partition_padded);
    ++compared;
  });
  EXPECT_GT(compared, 40);
}

TEST(PaddingRulesets, Pre34285QuarkRoundsGptOssOnly) {
  // §3.1 Quark baseline: gpt-oss only; ROCm I 256 (H 256 unless emulating); elsewhere I 64.
  const auto q = [](const char* rs, const char* backend, const char* plat, pd::Problem pr, int tp = 1) {
    return plan(rs, "quark_w_mxfp4", backend, plat, pr, {.tp = tp});
  };
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", gpt_oss()).hidden_padded, 3072);
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", gpt_oss()).intermediate_per_partition_padded, 3072);
  EXPECT_EQ(q("vllm-pre-34285", "EMULATION", "rocm:gfx942", gpt_oss()).hidden_padded, 2880);
  EXPECT_EQ(q("vllm-pre-34285", "EMULATION", "rocm:gfx942", gpt_oss()).intermediate_per_partition_padded, 3072);
  EXPECT_EQ(q("vllm-pre-34285", "EMULATION", "cuda:sm90", gpt_oss(), 2).intermediate_per_partition_padded, 1472);
  EXPECT_EQ(q("vllm-pre-34285", "EMULATION", "cuda:sm90", gpt_oss(), 2).hidden_padded, 2880);
  // Same sizes, model unknown: no rounding before #34285, the MXFP4 rule from #34285.
  const pd::Problem other = gpt_oss(false);
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", other).hidden_padded, 2880);
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", other).intermediate_per_partition_padded, 2880);
  EXPECT_EQ(q("vllm-34285", "CK", "rocm:gfx950", other).hidden_padded, 3072);
  // #34285 changed Quark weights from torch.empty to torch.zeros (§1.6); scales stay 0x01.
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", other).fill.weight.kind, pd::FillKind::kUninitialized);
  EXPECT_EQ(q("vllm-34285", "CK", "rocm:gfx950", other).fill.weight.kind, pd::FillKind::kZero);
  EXPECT_EQ(q("vllm-pre-34285", "CK", "rocm:gfx950", other).fill.scale.byte, 0x01);
}

TEST(PaddingRulesets, Pr38043ChangesOnlyGfx942) {
  int changed = 0, same = 0;
  for (const char* method : {"mxfp4", "quark_w_mxfp4", "quark_w_mxfp4_a_mxfp4"}) {
    for_each_common("vllm-34285", "vllm-38043", method,
                    [&](const std::string& backend, const pd::Platform& p, int tp, const pd::Plan& x, const pd::Plan& y) {
                      const bool differs = x.hidden_padded != y.hidden_padded ||
                                           x.intermediate_per_partition_padded != y.intermediate_per_partition_padded;
                      if (p.name == "rocm:gfx942") {
                        EXPECT_TRUE(differs) << method << " " << backend << " tp " << tp;
                        EXPECT_EQ(x.hidden_padded, 2944);
                        EXPECT_EQ(y.hidden_padded, 3072);
                        ++changed;
                      } else {
                        EXPECT_FALSE(differs) << method << " " << backend << " " << p.name << " tp " << tp;
                        ++same;
                      }
                    });
  }
  EXPECT_EQ(changed, 2 * 2 * 4 + 4);  // TRITON and TRITON_UNFUSED of 2 methods, NONE of the variant; x4 TP
  EXPECT_GT(same, 100);
}

TEST(PaddingRulesets, State202605Additions) {
  // DEEPGEMM_MXFP4 128/128 (#40860; fused_moe/oracle/mxfp4.py:661-664 at d0a100c87).
  const pd::Plan dg = plan("vllm-2026-05", "gpt_oss_mxfp4", "DEEPGEMM_MXFP4", "cuda:sm100", gpt_oss(), {.tp = 8});
  ASSERT_TRUE(dg.ok()) << dg.error.value_or("");
  EXPECT_EQ(dg.hidden_padded, 2944);
  EXPECT_EQ(dg.intermediate_per_partition_padded, 384);
  EXPECT_FALSE(plan("vllm-38043", "mxfp4", "DEEPGEMM_MXFP4", "cuda:sm100", gpt_oss()).ok());
  // CPU 32/32 (#41922): 720 -> 736, 360 -> 384.
  const pd::Plan cpu4 = plan("vllm-2026-05", "gpt_oss_mxfp4", "CPU", "cpu", gpt_oss(), {.tp = 4});
  ASSERT_TRUE(cpu4.ok());
  EXPECT_EQ(cpu4.hidden_padded, 2880);
  EXPECT_EQ(cpu4.intermediate_per_partition_padded, 736);
  EXPECT_EQ(plan("vllm-2026-05", "gpt_oss_mxfp4", "CPU", "cpu", gpt_oss(), {.tp = 8}).intermediate_per_partition_padded, 384);
  // NONE on cpu keeps the last branch (I to 64) before #41922; at d0a100c87 NONE is no backend of
  // the gpt-oss method (the CPU fallback is CPU, O:563-572).
  EXPECT_EQ(plan("vllm-38043", "mxfp4", "NONE", "cpu", gpt_oss(), {.tp = 4}).intermediate_per_partition_padded, 768);
  EXPECT_FALSE(plan("vllm-2026-05", "gpt_oss_mxfp4", "NONE", "cpu", gpt_oss()).ok());
  // NVFP4 TRTLLM hidden 256 at load (#39510): 2688 -> 2816, the spec's test case.
  const pd::Plan nv = plan("vllm-2026-05", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", sizes(2688, 1024));
  ASSERT_TRUE(nv.ok()) << nv.error.value_or("");
  EXPECT_EQ(nv.hidden_allocated, 2688);
  EXPECT_EQ(nv.hidden_padded, 2816);
  EXPECT_EQ(plan("vllm-38043", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", sizes(2688, 1024)).hidden_padded, 2688);
  // Fp8PerBlockOnlineMoEMethod exists at d0a100c87 (#38138) but rounds nothing: its 128/128 rule
  // is #44763 (2026-06-23), in vllm-2026-08 (quantization/online/fp8.py:622-640 at 7ca49fbe).
  const pd::Plan online05 = plan("vllm-2026-05", "fp8_per_block_online", "TRITON", "cuda:sm90", gpt_oss());
  ASSERT_TRUE(online05.ok()) << online05.error.value_or("");
  EXPECT_EQ(online05.hidden_padded, 2880);
  EXPECT_EQ(online05.intermediate_per_partition_padded, 2880);
  const pd::Plan online08 = plan("vllm-2026-08", "fp8_per_block_online", "TRITON", "cuda:sm90", gpt_oss());
  EXPECT_EQ(online08.hidden_padded, 2944);
  EXPECT_EQ(online08.intermediate_per_partition_padded, 2944);
  const pd::Plan absent = plan("vllm-38043", "fp8_per_block_online", "DEFAULT", "cuda:sm90", gpt_oss());
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error->find("does not exist in ruleset vllm-38043"), std::string::npos);
}

TEST(PaddingRulesets, QuarkMxfp6IsEmulationNotRoundedAtD0a100c87AndRounded32From43979) {
  // bugs.md B13: at #34285+#38043 MXFP6 is not rounded; #38774 (04-02) gave it the NONE rule, and
  // from #35737 (04-22) its backend is EMULATION, excluded from rounding (quantization/quark/
  // quark_moe.py:1074-1076, 1097-1107 at d0a100c87); #43979 rounds EMULATION to 32 (7ca49fbe
  // fused_moe/oracle/mxfp4.py:676-681).
  const pd::Problem p = sizes(2880, 2880);
  const pd::Plan before = plan("vllm-38043", "quark_w_mxfp6", "NONE", "rocm:gfx950", p);
  const pd::Plan at05 = plan("vllm-2026-05", "quark_w_mxfp6", "EMULATION", "rocm:gfx950", p, {.tp = 2});
  const pd::Plan at08 = plan("vllm-2026-08", "quark_w_mxfp6", "EMULATION", "rocm:gfx950", p, {.tp = 2});
  ASSERT_TRUE(before.ok() && at05.ok() && at08.ok());
  EXPECT_EQ(before.hidden_padded, 2880);
  EXPECT_EQ(at05.hidden_padded, 2880);
  EXPECT_EQ(at05.intermediate_per_partition_padded, 1440);
  EXPECT_EQ(at08.hidden_padded, 2880);  // already 32-aligned
  EXPECT_EQ(at08.intermediate_per_partition_padded, 1440);
  EXPECT_FALSE(plan("vllm-2026-05", "quark_w_mxfp6", "NONE", "rocm:gfx950", p).ok());  // no NONE backend any more
  // Qwen3-30B-A3B sizes (H 2048, I 768) at TP 16: I 48 is not whole blocks unrounded; 64 at 32/32.
  const pd::Plan q05 = plan("vllm-2026-05", "quark_w_mxfp6", "EMULATION", "rocm:gfx942", sizes(2048, 768), {.tp = 16});
  const pd::Plan q08 = plan("vllm-2026-08", "quark_w_mxfp6", "EMULATION", "rocm:gfx942", sizes(2048, 768), {.tp = 16});
  EXPECT_FALSE(q05.ok());
  ASSERT_TRUE(q08.ok()) << q08.error.value_or("");
  EXPECT_EQ(q08.intermediate_per_partition_padded, 64);
}

TEST(PaddingRulesets, Pr35737EmulationIsNotRoundedAndBreaksGptOssTp4) {
  const pd::Plan tp1 = plan("vllm-2026-05", "quark_w_mxfp4", "EMULATION", "rocm:gfx950", gpt_oss());
  ASSERT_TRUE(tp1.ok());
  EXPECT_EQ(tp1.hidden_padded, 2880);
  EXPECT_EQ(tp1.intermediate_per_partition_padded, 2880);
  // TP4: the buffer has 720 rows per half while MXFP4 needs whole 32-blocks (#43979's failure).
  const pd::Plan tp4 = plan("vllm-2026-05", "quark_w_mxfp4", "EMULATION", "rocm:gfx950", gpt_oss(), {.tp = 4});
  ASSERT_FALSE(tp4.ok());
  EXPECT_NE(tp4.error->find("intermediate 720 is not a whole number of 32-element scale blocks"), std::string::npos);
  // #43979 (f12b80c6e, 2026-07-18): EMULATION rounds to 32, 720 -> 736, and the gpt-oss loader's
  // 736-row slices fit.
  const pd::Plan fixed = plan("vllm-2026-08", "quark_w_mxfp4", "EMULATION", "rocm:gfx950", gpt_oss(), {.tp = 4});
  ASSERT_TRUE(fixed.ok()) << fixed.error.value_or("");
  EXPECT_EQ(fixed.intermediate_per_partition_padded, 736);
  EXPECT_TRUE(pd::partition(fixed).ok());
}

TEST(PaddingRulesets, CkKernelPadArgumentsPerVersion) {
  // §2.5 and bugs.md B11: gpt-oss TP8 on ROCm, I = 360, I_pad = 512, H 2880 -> 3072.
  const auto args = [](const char* rs, const char* method, const char* backend, int tp = 8) {
    const pd::Plan p = plan(rs, method, backend, "rocm:gfx950", gpt_oss(), {.tp = tp});
    EXPECT_TRUE(p.ok()) << p.error.value_or("");
    EXPECT_TRUE(p.kernel_pad_args.has_value());
    return p.kernel_pad_args.value_or(pd::KernelPadArgs{});
  };
  EXPECT_EQ(args("vllm-38043", "mxfp4", "CK").hidden_pad, 192);
  EXPECT_EQ(args("vllm-38043", "mxfp4", "CK").intermediate_pad, 152);   // raw (#34285)
  // The CK backend is AITER_MXFP4_BF16 at d0a100c87 (#38774, #39136).
  EXPECT_EQ(args("vllm-2026-05", "gpt_oss_mxfp4", "AITER_MXFP4_BF16").hidden_pad, 128);       // 192 // 128 * 128 (#42098)
  EXPECT_EQ(args("vllm-2026-05", "gpt_oss_mxfp4", "AITER_MXFP4_BF16").intermediate_pad, 256); // 152 // 64 * 64 * 2
  EXPECT_EQ(args("vllm-pre-34285", "mxfp4", "CK").hidden_pad, 0);       // never supplied
  EXPECT_EQ(args("vllm-pre-34285", "mxfp4", "CK").intermediate_pad, 152);
  EXPECT_EQ(args("vllm-pre-34285", "quark_w_mxfp4", "CK").intermediate_pad, 0);  // Quark CK passed 0 / 0
  EXPECT_FALSE(plan("vllm-38043", "mxfp4", "TRITON", "rocm:gfx950", gpt_oss()).kernel_pad_args.has_value());
  EXPECT_FALSE(plan("vllm-2026-05", "gpt_oss_mxfp4", "CK", "rocm:gfx950", gpt_oss()).ok());  // renamed
}

// ---- post-load alignments (§2.3) -----------------------------------------------------------------

TEST(PaddingPostLoad, Fp8FlashInferAlignsIntermediateAfterLoading) {
  pd::Problem gated = sizes(2048, 1416);
  const pd::Plan g = plan("vllm-38043", "fp8_per_tensor", "FLASHINFER_CUTLASS", "cuda:sm90", gated);
  ASSERT_TRUE(g.ok()) << g.error.value_or("");
  EXPECT_EQ(g.intermediate_per_partition_allocated, 1416);  // the loader's shard size stays I
  EXPECT_EQ(g.intermediate_per_partition_padded, 1424);     // round_up(I, 16), gated
  EXPECT_EQ(g.post_load_w13_padding, pd::W13Padding::kEnd);  // bugs.md B12
  EXPECT_EQ(g.post_load_fill.weight.kind, pd::FillKind::kZero);
  EXPECT_EQ(g.fill.weight.kind, pd::FillKind::kUninitialized);
  pd::Problem plain = gated;
  plain.gated = false;
  EXPECT_EQ(plan("vllm-38043", "fp8_per_tensor", "FLASHINFER_TRTLLM", "cuda:sm100", plain).intermediate_per_partition_padded,
            1536);  // round_up(I, 128), non-gated
  EXPECT_EQ(plan("vllm-38043", "fp8_per_tensor", "DEFAULT", "cuda:sm90", gated).intermediate_per_partition_padded, 1416);
  EXPECT_EQ(plan("vllm-38043", "fp8_block", "DEFAULT", "cuda:sm90", gated).intermediate_per_partition_padded, 1416);
}

TEST(PaddingPostLoad, Nvfp4TrtllmIntermediate16) {
  const pd::Plan p = plan("vllm-38043", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", sizes(2048, 1424 * 2), {.tp = 2});
  ASSERT_TRUE(p.ok()) << p.error.value_or("");
  EXPECT_EQ(p.intermediate_per_partition_padded, 1424);
  const pd::Plan q = plan("vllm-38043", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", sizes(2048, 1008 * 2), {.tp = 2});
  EXPECT_EQ(q.intermediate_per_partition_padded, 1008);
  const pd::Plan partial = plan("vllm-38043", "nvfp4", "DEFAULT", "cuda:sm100", sizes(2048, 1000));
  ASSERT_FALSE(partial.ok());  // 1000 is not whole 16-element NVFP4 blocks
  EXPECT_NE(partial.error->find("16-element scale blocks"), std::string::npos);
}

TEST(PaddingMxfp4Rules, SkipForwardPaddingOnlyForTrtllmMxfp8) {
  for (const auto& choice : ruleset("vllm-38043").find_method("mxfp4")->backends)
    for (const auto& p : pd::platforms())
      if (pd::backend_runs_on(choice, p)) {
        const pd::Plan plan_ = plan("vllm-38043", "mxfp4", choice.name, p.name, gpt_oss());
        EXPECT_EQ(plan_.skip_forward_padding, choice.name == "FLASHINFER_TRTLLM_MXFP4_MXFP8") << choice.name;
        if (plan_.skip_forward_padding) {
          EXPECT_EQ(plan_.kernel_activation_alignment, 256);
        }
      }
}

TEST(PaddingMxfp4Rules, FillsAreZeroWeightsAndScaleByte) {
  const pd::Plan mx = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss());
  EXPECT_EQ(mx.fill.weight.kind, pd::FillKind::kZero);
  EXPECT_EQ(mx.fill.scale.kind, pd::FillKind::kByte);
  EXPECT_EQ(mx.fill.scale.byte, 0x00);  // E8M0 2^-127
  EXPECT_EQ(mx.fill.bias.kind, pd::FillKind::kZero);
  const pd::Plan quark = plan("vllm-38043", "quark_w_mxfp4", "TRITON", "cuda:sm90", gpt_oss());
  EXPECT_EQ(quark.fill.scale.byte, 0x01);  // E8M0 2^-126
  const pd::Plan unq = plan("vllm-38043", "unquantized", "DEFAULT", "cuda:sm90", gpt_oss());
  EXPECT_EQ(unq.fill.weight.kind, pd::FillKind::kUninitialized);  // torch.empty (§1.5)
  EXPECT_EQ(unq.fill.scale.kind, pd::FillKind::kNotApplicable);
}

// ---- errors ------------------------------------------------------------------------------------

TEST(PaddingPlanErrors, NameWhatIsWrong) {
  const auto err = [](const pd::Plan& p) { return p.error.value_or("(no error)"); };
  EXPECT_NE(err(plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", sizes(2880, 2880), {.tp = 7}))
                .find("intermediate size 2880 is not divisible by the MoE TP size 7"),
            std::string::npos);
  EXPECT_NE(err(plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm90", gpt_oss()))
                .find("does not run on cuda:sm90 (runs on: cuda:sm100)"),
            std::string::npos);
  EXPECT_NE(err(plan("vllm-38043", "unquantized", "TRITON", "cuda:sm90", gpt_oss()))
                .find("backend TRITON is not available to unquantized in ruleset vllm-38043 (available: DEFAULT)"),
            std::string::npos);
  EXPECT_NE(err(plan("vllm-38043", "no_such", "TRITON", "cuda:sm90", gpt_oss())).find("not registered"),
            std::string::npos);
  EXPECT_NE(err(plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", sizes(0, 2880))).find("must be positive"),
            std::string::npos);
}

// ---- shapes and overheads ------------------------------------------------------------------------

TEST(PaddingShapes, Mxfp4TrtllmGptOss) {
  const pd::Plan p = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", gpt_oss());
  const pd::ExpertShapes s = pd::padded_shapes(p);
  EXPECT_EQ(s.w13, (pd::Shape{128, 6144, 1536}));  // [E, 2·I_pad, H_pad/2] bytes (§1.5)
  EXPECT_EQ(s.w13_scale, (pd::Shape{128, 6144, 96}));
  EXPECT_EQ(s.w2, (pd::Shape{128, 3072, 1536}));
  EXPECT_EQ(s.w2_scale, (pd::Shape{128, 3072, 96}));
  EXPECT_EQ(s.w13_bias, (pd::Shape{128, 6144}));
  EXPECT_EQ(s.w2_bias, (pd::Shape{128, 3072}));
  const pd::ExpertShapes l = pd::logical_shapes(p);
  EXPECT_EQ(l.w13, (pd::Shape{128, 5760, 1440}));
  EXPECT_EQ(l.w2_scale, (pd::Shape{128, 2880, 90}));  // the checkpoint's 90 blocks
}

TEST(PaddingShapes, ActivationsPerForwardPath) {
  const pd::Plan bf16 = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", gpt_oss());
  const pd::ActivationShapes a = pd::activation_shapes(bf16, 5);
  EXPECT_EQ(a.router, (pd::Shape{5, 2880}));
  EXPECT_EQ(a.runner_output, (pd::Shape{5, 3072}));
  EXPECT_EQ(a.kernel_input, (pd::Shape{5, 3072}));
  EXPECT_EQ(a.output, (pd::Shape{5, 2880}));
  const pd::Plan mxfp8 = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_MXFP8", "cuda:sm100", gpt_oss());
  const pd::ActivationShapes b = pd::activation_shapes(mxfp8, 5);
  EXPECT_EQ(b.runner_output, (pd::Shape{5, 2880}));  // skip_forward_padding
  EXPECT_EQ(b.kernel_input, (pd::Shape{5, 3072}));   // mxfp8_quantize(alignment=256)
}

TEST(PaddingOverheads, GptOssAt128And256) {
  // models.md §4: +4.49 % at 128, +13.78 % at 256 (both H and I padded).
  const pd::Plan p256 = plan("vllm-38043", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_BF16", "cuda:sm100", gpt_oss());
  EXPECT_NEAR(pd::flop_overhead(p256), 3072.0 * 3072.0 / (2880.0 * 2880.0) - 1.0, 1e-12);
  EXPECT_NEAR(pd::flop_overhead(p256), 0.1378, 5e-5);
  EXPECT_NEAR(pd::weight_bytes_overhead(p256), 0.1378, 5e-5);  // MXFP4 codes and scales scale alike
  const pd::Plan p128 = plan("vllm-38043", "mxfp4", "FLASHINFER_CUTLASS_MXFP4_BF16", "cuda:sm90", gpt_oss());
  EXPECT_NEAR(pd::flop_overhead(p128), 0.0449, 5e-5);
  const pd::Plan none = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss());
  EXPECT_EQ(pd::flop_overhead(none), 0.0);
  EXPECT_EQ(pd::weight_bytes_overhead(none), 0.0);
  // Only H padded (Triton keeps H, pads I 1440 -> 1472 at TP2): 1472/1440 - 1.
  const pd::Plan tp2 = plan("vllm-38043", "mxfp4", "TRITON", "cuda:sm90", gpt_oss(), {.tp = 2});
  EXPECT_NEAR(pd::flop_overhead(tp2), 1472.0 / 1440.0 - 1.0, 1e-12);
  // FP8 block scales (fp32 per 128x128 tile) are counted: not the same ratio as the codes.
  const pd::MethodInfo& fp8 = *pd::find_method_info("fp8_block");
  EXPECT_EQ(pd::expert_weight_bytes(fp8, 256, 128), 3.0 * 256 * 128 + 4.0 * (2 * 1 * 2 + 2 * 1));
}

// ---- backend selection (§2.2) ---------------------------------------------------------------------

pd::SelectionResult select(const char* plat, std::map<std::string, std::string, std::less<>> env = {},
                           const char* rs = "vllm-38043") {
  pd::SelectionInputs in;
  in.platform = platform(plat);
  in.env = std::move(env);
  return pd::select_mxfp4_backend(ruleset(rs), in);
}

TEST(PaddingSelection, DefaultsPerPlatform) {
  EXPECT_EQ(select("cuda:sm100").backend, "FLASHINFER_TRTLLM_MXFP4_BF16");
  EXPECT_EQ(select("cuda:sm90").backend, "TRITON");
  EXPECT_EQ(select("cuda:sm120").backend, "MARLIN");  // capability 12.0 is outside Triton's [9.0, 11.0)
  EXPECT_EQ(select("rocm:gfx942").backend, "TRITON");
  EXPECT_EQ(select("rocm:gfx950").backend, "TRITON");  // AITER is off unless VLLM_ROCM_USE_AITER=1
  EXPECT_EQ(select("xpu").backend, "XPU");
  EXPECT_EQ(select("cpu").backend, "NONE");
  EXPECT_EQ(select("cuda:sm100").step, "priority");
  EXPECT_EQ(select("cpu").step, "fallback");
}

TEST(PaddingSelection, AiterPicksCkOnGfx950Only) {
  EXPECT_EQ(select("rocm:gfx950", {{"VLLM_ROCM_USE_AITER", "1"}}).backend, "CK");
  EXPECT_EQ(select("rocm:gfx942", {{"VLLM_ROCM_USE_AITER", "1"}}).backend, "TRITON");
  EXPECT_EQ(select("rocm:gfx950", {{"VLLM_ROCM_USE_AITER", "1"}, {"VLLM_ROCM_USE_AITER_MOE", "0"}}).backend, "TRITON");
}

TEST(PaddingSelection, EnvironmentOverrides) {
  EXPECT_EQ(select("cuda:sm90", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_BF16", "1"}}).backend, "FLASHINFER_CUTLASS_MXFP4_BF16");
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_BF16", "1"}}).backend, "FLASHINFER_TRTLLM_MXFP4_BF16");
  const pd::SelectionResult bad = select("rocm:gfx950", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_BF16", "1"}});
  EXPECT_FALSE(bad.backend.has_value());
  EXPECT_NE(bad.error.value_or("").find("needs SM90 or the SM100 family"), std::string::npos);
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_BF16", "0"}}).backend, "TRITON");  // FI BF16 removed
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8", "1"}}).backend, "FLASHINFER_TRTLLM_MXFP4_MXFP8");
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8_CUTLASS", "1"}}).backend,
            "FLASHINFER_CUTLASS_MXFP4_MXFP8");
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_MXFP4_USE_MARLIN", "1"}}).backend, "MARLIN");
  EXPECT_EQ(select("cuda:sm100", {{"VLLM_MXFP4_USE_MARLIN", "1"}}).step, "env");
}

TEST(PaddingSelection, LoraAndMoeBackendFlag) {
  pd::SelectionInputs in;
  in.platform = platform("cuda:sm90");
  in.lora_enabled = true;
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "MARLIN");  // env unset -> MARLIN
  in.env = {{"VLLM_MXFP4_USE_MARLIN", "0"}};
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "TRITON_UNFUSED");
  in.platform = platform("cuda:sm120");
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "MARLIN");
  in.platform = platform("rocm:gfx950");
  EXPECT_NE(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).error.value_or("").find("NotImplementedError"),
            std::string::npos);

  pd::SelectionInputs flag;
  flag.platform = platform("cuda:sm90");
  flag.moe_backend = "flashinfer_cutlass";
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), flag).backend, "FLASHINFER_CUTLASS_MXFP4_BF16");
  flag.moe_backend = "marlin";
  flag.batched_activation_format = true;
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), flag).backend, "BATCHED_MARLIN");
  flag.moe_backend = "cutlass";
  const auto unknown = pd::select_mxfp4_backend(ruleset("vllm-38043"), flag);
  EXPECT_NE(unknown.error.value_or("").find("unknown --moe-backend 'cutlass'; valid: auto, flashinfer_trtllm"),
            std::string::npos);
}

TEST(PaddingSelection, MissingLibrariesFallThroughThePriorityList) {
  pd::SelectionInputs in;
  in.platform = platform("cuda:sm100");
  in.flashinfer_available = false;
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "TRITON");
  in.triton_kernels_available = false;
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "MARLIN");
  in.platform = platform("cuda:sm90");
  in.flashinfer_available = true;
  EXPECT_EQ(pd::select_mxfp4_backend(ruleset("vllm-38043"), in).backend, "FLASHINFER_CUTLASS_MXFP4_BF16");
}

TEST(PaddingSelection, WhichBackendHenceWhichPadding) {
  // "which backend, hence which padding, on this platform": the default choice per platform.
  const std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected = {
      {"cuda:sm90", {2880, 2880}}, {"cuda:sm100", {3072, 3072}}, {"cuda:sm120", {3072, 2944}},
      {"rocm:gfx942", {3072, 3072}}, {"rocm:gfx950", {3072, 3072}}, {"xpu", {2880, 2880}}, {"cpu", {2880, 2880}}};
  for (const auto& [name, sizes_] : expected) {
    const auto chosen = select(name.c_str());
    ASSERT_TRUE(chosen.backend) << name;
    const pd::Plan p = plan("vllm-38043", "mxfp4", *chosen.backend, name, gpt_oss());
    ASSERT_TRUE(p.ok()) << name << ": " << p.error.value_or("");
    EXPECT_EQ(p.hidden_padded, sizes_.first) << name;
    EXPECT_EQ(p.intermediate_per_partition_padded, sizes_.second) << name;
  }
}

}  // namespace
