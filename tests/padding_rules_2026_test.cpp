// The rules of vLLM main of 2026-08-22 (vllm-2026-08, padding.md §7) and the corrections of
// vllm-2026-05 (what vLLM did at d0a100c87): one test per changed or new rule, each with the numbers
// the upstream source gives for at least two models of fixtures/data/configs. Line numbers cite
// 7ca49fbe unless they say d0a100c87; O = fused_moe/oracle/mxfp4.py, Q = quantization/quark/quark_moe.py
// (both under vllm/model_executor/layers/).
#include <gtest/gtest.h>

#include <string>

#include "fixtures/ffn_shapes.h"
#include "tests/padding_test_util.h"

using namespace padding_test;

namespace {

// The routed experts of a committed model config (fixtures/data/configs/NAME.json).
pd::Problem model(const std::string& name) {
  const auto m = moecheck::fixtures::read_model_ffns(std::filesystem::path(MOECHECK_SOURCE_DIR) / "fixtures" /
                                                     "data" / "configs" / (name + ".json"));
  return moecheck::fixtures::padding_problem(m.ffns.front(), m.model_type);
}

// (H_pad, I_pad per partition) of a plan that must be valid.
std::pair<std::int64_t, std::int64_t> padded(const pd::Plan& p) {
  EXPECT_TRUE(p.ok()) << p.error.value_or("");
  return {p.hidden_padded, p.intermediate_per_partition_padded};
}
using Sizes = std::pair<std::int64_t, std::int64_t>;

pd::BackendChoiceResult choose(const std::string& rs, const std::string& method, const pd::Problem& problem,
                               const char* plat, Parallel par = {}, pd::Settings settings = {}) {
  pd::ParallelConfig pc;
  pc.tp_size = par.tp;
  pc.enable_ep = par.ep;
  pc.all2all = par.all2all;
  return pd::select_backend(ruleset(rs), method, problem, platform(plat), pc, par.act, settings);
}

// plan() under non-default settings (environment, packages, CPU ISA).
pd::Plan plan_with(const std::string& rs, const std::string& method, const std::string& backend, const char* plat,
                   const pd::Problem& problem, Parallel par, const pd::Settings& settings) {
  pd::ParallelConfig pc;
  pc.tp_size = par.tp;
  pc.enable_ep = par.ep;
  pc.all2all = par.all2all;
  return pd::make_plan(ruleset(rs), problem, method, backend, platform(plat), pc, par.act, settings);
}

pd::Settings cpu_isa(const char* isa) {
  pd::Settings s;
  s.cpu_isa = isa;
  return s;
}

const pd::Settings kAiterOn{{{"VLLM_ROCM_USE_AITER", "1"}}, {}};
const pd::Settings kQuarkInstalled{{}, {{"amd_quark", true}}};

// ---- MXFP4 oracle (O:665-720) -----------------------------------------------------------------------

// O:692-694 (aeeb36b1f #50000, 2026-07-30): TRT-LLM MXFP4 keeps H 256 but rounds I to 128, not 256.
TEST(Padding202608, TrtllmMxfp4IntermediateTo128) {
  for (const char* backend : {"FLASHINFER_TRTLLM_MXFP4_BF16", "FLASHINFER_TRTLLM_MXFP4_MXFP8"}) {
    EXPECT_EQ(padded(plan("vllm-2026-08", "gpt_oss_mxfp4", backend, "cuda:sm100", model("gpt-oss-120b"))),
              Sizes(3072, 2944));
    EXPECT_EQ(padded(plan("vllm-2026-05", "gpt_oss_mxfp4", backend, "cuda:sm100", model("gpt-oss-120b"))),
              Sizes(3072, 3072));
    EXPECT_EQ(padded(plan("vllm-2026-08", "gpt_oss_mxfp4", backend, "cuda:sm100", model("gpt-oss-20b"), {.tp = 8})),
              Sizes(3072, 384));
    EXPECT_EQ(padded(plan("vllm-2026-05", "gpt_oss_mxfp4", backend, "cuda:sm100", model("gpt-oss-20b"), {.tp = 8})),
              Sizes(3072, 512));
  }
  // Qwen3-30B-A3B (H 2048, I 768) at TP 2: 384 stays (a multiple of 128), 512 at 256.
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "FLASHINFER_TRTLLM_MXFP4_MXFP8", "cuda:sm100", model("qwen3-30b-a3b"),
                        {.tp = 2})),
            Sizes(2048, 384));
}

// O:676-681 (f12b80c6e #43979, 2026-07-18): EMULATION rounds both sizes to the OCP MX block, 32.
TEST(Padding202608, EmulationTo32) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp4", "EMULATION", "rocm:gfx942", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(2880, 736));
  EXPECT_EQ(padded(plan("vllm-2026-08", "gpt_oss_mxfp4", "EMULATION", "cuda:sm90", model("gpt-oss-20b"), {.tp = 4})),
            Sizes(2880, 736));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "EMULATION", "rocm:gfx950", model("qwen3-30b-a3b"), {.tp = 16})),
            Sizes(2048, 64));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "EMULATION", "rocm:gfx950", model("qwen3-235b-a22b"), {.tp = 8})),
            Sizes(4096, 192));
  // At d0a100c87 the oracle had no EMULATION branch: a gpt-oss method given --moe-backend emulation
  // took the ROCm branch (256) or the last one (I to 64; O:680-688 at d0a100c87).
  EXPECT_EQ(padded(plan("vllm-2026-05", "gpt_oss_mxfp4", "EMULATION", "rocm:gfx942", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(3072, 768));
  EXPECT_EQ(padded(plan("vllm-2026-05", "gpt_oss_mxfp4", "EMULATION", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(2880, 768));
}

// O:701-710 (aeeb36b1f #50000): on ROCm, AITER_MXFP4_BF16 with SiLU or SiTU rounds 128/128, and
// only Mxfp4MoEMethod passes its activation (quantization/mxfp4.py:523-528; gpt-oss does not,
// quantization/mxfp4.py:186-188).
TEST(Padding202608, GenericMxfp4AiterSiluRounds128) {
  const pd::Problem qwen = model("qwen3-30b-a3b");  // silu
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", qwen, {.tp = 8})), Sizes(2048, 128));
  EXPECT_EQ(padded(plan("vllm-2026-08", "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", qwen, {.tp = 8})),
            Sizes(2048, 256));
  pd::Problem situ = model("deepseek-v3");
  situ.activation = "situ";
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", situ, {.tp = 32})), Sizes(7168, 128));
  pd::Problem oai = model("deepseek-v3");
  oai.activation = "swigluoai";  // not SiLU/SiTU: the generic ROCm 256
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", oai, {.tp = 32})), Sizes(7168, 256));
  // Not at d0a100c87: no activation was passed then.
  EXPECT_EQ(padded(plan("vllm-2026-05", "mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", qwen, {.tp = 8})), Sizes(2048, 256));
}

// O:672-675 (2740c817f #52018, 2026-08-21) and fused_moe/b12x.py:400-454: no rounding; b12x
// rejects biases and needs whole MXFP4 blocks per rank.
TEST(Padding202608, B12xPlansExactSizes) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "B12X_MXFP4_BF16", "cuda:sm120", model("qwen3-30b-a3b"))),
            Sizes(2048, 768));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "B12X_MXFP4_MXFP8", "cuda:sm120", model("minimax-m2"), {.tp = 4})),
            Sizes(3072, 384));
  const pd::Plan bias = plan("vllm-2026-08", "gpt_oss_mxfp4", "B12X_MXFP4_BF16", "cuda:sm120", model("gpt-oss-120b"));
  ASSERT_FALSE(bias.ok());
  EXPECT_NE(bias.error->find("b12x rejects expert biases"), std::string::npos) << *bias.error;
  const pd::Plan split = plan("vllm-2026-08", "mxfp4", "B12X_MXFP4_BF16", "cuda:sm120", model("qwen3-30b-a3b"), {.tp = 16});
  ASSERT_FALSE(split.ok());  // 48 rows per rank
  EXPECT_NE(split.error->find("(intermediate per partition 48 is not a multiple of 32)"), std::string::npos) << *split.error;
}

// HUMMING (#41083) has no branch: by branch order it takes the last one, I to 64 (O:718-719;
// inferred, its library's own padding is not modelled). CUDA only.
TEST(Padding202608, HummingTakesTheLastBranchInferred) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "gpt_oss_mxfp4", "HUMMING", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(2880, 768));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4", "HUMMING", "cuda:sm100", model("qwen3-30b-a3b"), {.tp = 16})),
            Sizes(2048, 64));
  EXPECT_FALSE(plan("vllm-2026-08", "mxfp4", "HUMMING", "rocm:gfx950", model("qwen3-30b-a3b")).ok());
  const pd::Plan h = plan("vllm-2026-08", "mxfp4", "HUMMING", "cuda:sm100", model("qwen3-30b-a3b"));
  ASSERT_FALSE(h.notes.empty());
  EXPECT_NE(h.notes.back().find("inferred"), std::string::npos);
}

// ---- backend selection: the MXFP4 methods ------------------------------------------------------

// O:321-341, 443-458, 535-593: gpt-oss's priorities, filtered to the bf16-activation backends; the
// chosen defaults are those of vllm-38043 on CUDA, XPU and ROCm without AITER, and CPU on cpu.
TEST(Padding202608, GptOssDefaultBackends) {
  for (const char* name : {"gpt-oss-20b", "gpt-oss-120b"}) {
    const pd::Problem g = model(name);
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "cuda:sm90").backend, "TRITON") << name;
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "cuda:sm100").backend, "FLASHINFER_TRTLLM_MXFP4_BF16");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "cuda:sm120").backend, "MARLIN");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "rocm:gfx942").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "rocm:gfx950").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_BF16");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "rocm:gfx942", {}, kAiterOn).backend, "TRITON");  // gfx950 only
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "xpu").backend, "XPU");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "cpu").backend, "CPU");
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", g, "cpu").step, "table");
    // The same at d0a100c87 (O:270-289, 535-572 there).
    EXPECT_EQ(choose("vllm-2026-05", "gpt_oss_mxfp4", g, "cuda:sm90").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-05", "gpt_oss_mxfp4", g, "cpu").backend, "CPU");
  }
  // Triton's matmul_ogs takes SwiGLU-OAI only: a SiLU model (Quark w_mxfp4) gets CUTLASS on SM90 and
  // EMULATION on ROCm (amd-quark ships with vLLM's ROCm requirements).
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4", model("qwen3-30b-a3b"), "cuda:sm90").backend,
            "FLASHINFER_CUTLASS_MXFP4_BF16");
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4", model("mixtral-8x7b"), "rocm:gfx942").backend, "EMULATION");
}

// TRITON_UNFUSED left the gpt-oss priorities in 4d51588e2 #40860 (O:333-335; O:282-284 at
// d0a100c87): no selection picks it for gpt-oss, though it stays a backend (--moe-backend).
TEST(Padding202608, TritonUnfusedIsNoGptOssPriority) {
  for (const char* rs : {"vllm-2026-05", "vllm-2026-08"}) {
    const pd::BackendSelection& sel = ruleset(rs).selections.at("gpt_oss_mxfp4");
    for (const pd::SelectionCandidate& c : sel.candidates) EXPECT_NE(c.backend, "TRITON_UNFUSED") << rs;
    EXPECT_NE(ruleset(rs).find_method("gpt_oss_mxfp4")->find_backend("TRITON_UNFUSED"), nullptr) << rs;
  }
  // vllm-38043 still had it, after TRITON and FLASHINFER_CUTLASS_MXFP4_BF16 (padding.md §2.2).
  const auto& prio = ruleset("vllm-38043").mxfp4_selection->priority;
  EXPECT_NE(std::find(prio.begin(), prio.end(), "TRITON_UNFUSED"), prio.end());
}

// O:344-366, 596-662: the generic Mxfp4MoEMethod's own priorities, no fallback.
TEST(Padding202608, GenericMxfp4DefaultBackends) {
  for (const char* name : {"qwen3-30b-a3b", "deepseek-v3"}) {
    const pd::Problem m = model(name);
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "cuda:sm90").backend, "MARLIN") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "cuda:sm100").backend, "FLASHINFER_TRTLLM_MXFP4_MXFP8") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "cuda:sm120").backend, "DEEPGEMM_MXFP4") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "rocm:gfx942").backend, "EMULATION") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_BF16") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", m, "xpu").backend, "XPU") << name;
    EXPECT_NE(choose("vllm-2026-08", "mxfp4", m, "cpu").error.value_or("").find("NotImplementedError"), std::string::npos);
    pd::Problem v4 = m;
    v4.routing = "deepseek_v4";
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", v4, "rocm:gfx942").backend, "TRITON_UNFUSED") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", v4, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_BF16") << name;
    EXPECT_EQ(choose("vllm-2026-08", "mxfp4", v4, "cuda:sm90").backend, "MARLIN") << name;  // ROCm only
    // At d0a100c87: TRITON_UNFUSED before AITER for DeepSeek-V4 routing (O:628-635 there).
    EXPECT_EQ(choose("vllm-2026-05", "mxfp4", v4, "rocm:gfx950", {}, kAiterOn).backend, "TRITON_UNFUSED") << name;
  }
  // GptOssMxfp4Config claims gpt-oss checkpoints (quantization/mxfp4.py:114-136).
  const pd::Plan g = plan("vllm-2026-08", "mxfp4", "MARLIN", "cuda:sm90", model("gpt-oss-120b"));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error->find("gpt-oss checkpoints are served by gpt_oss_mxfp4"), std::string::npos);
}

// Q:1094-1133, O:443-458: Quark's activation-quantized schemes try the matching AITER backend,
// then EMULATION (which needs amd-quark); w_mxfp6 is always EMULATION.
TEST(Padding202608, QuarkSchemesSelectAiterOrEmulation) {
  const pd::Problem g = model("gpt-oss-120b"), q = model("qwen3-30b-a3b");
  // W4A4: AITER_MXFP4_MXFP4 on gfx950 with AITER (the ROCm branch, 256), else EMULATION (32).
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", g, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_MXFP4");
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", "AITER_MXFP4_MXFP4", "rocm:gfx950", g)), Sizes(3072, 3072));
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", "AITER_MXFP4_MXFP4", "rocm:gfx950", q, {.tp = 2})),
            Sizes(2048, 512));
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", q, "rocm:gfx950").backend, "EMULATION");
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", "EMULATION", "rocm:gfx950", q, {.tp = 2})),
            Sizes(2048, 384));
  // On CUDA only with amd-quark (requirements/rocm.txt only), else NotImplementedError.
  EXPECT_NE(choose("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", q, "cuda:sm90").error.value_or("").find("NotImplementedError"),
            std::string::npos);
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4_a_mxfp4", q, "cuda:sm90", {}, kQuarkInstalled).backend, "EMULATION");
  // W4A8 static: AITER_MXFP4_FP8 needs SwiGLU-OAI (fused_moe/experts/aiter_mxfp4_w4a8_moe.py:302-305).
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4_a_fp8", g, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_FP8");
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp4_a_fp8", q, "rocm:gfx950", {}, kAiterOn).backend, "EMULATION");
  // At d0a100c87 neither had EMULATION in the list: NotImplementedError without AITER on ROCm.
  EXPECT_NE(choose("vllm-2026-05", "quark_w_mxfp4_a_mxfp4", q, "rocm:gfx950").error.value_or("").find("--moe-backend emulation"),
            std::string::npos);
  // MXFP6: EMULATION everywhere; XPU refuses quark (vllm/platforms/xpu.py:113-129).
  EXPECT_EQ(choose("vllm-2026-08", "quark_w_mxfp6", q, "cuda:sm100").backend, "EMULATION");
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp6", "EMULATION", "cuda:sm100", g, {.tp = 4})), Sizes(2880, 736));
  EXPECT_EQ(padded(plan("vllm-2026-08", "quark_w_mxfp6", "EMULATION", "cuda:sm100", q, {.tp = 16})), Sizes(2048, 64));
  const pd::Plan xpu = plan("vllm-2026-08", "quark_w_mxfp4", "XPU", "xpu", q);
  ASSERT_FALSE(xpu.ok());
  EXPECT_NE(xpu.error->find("does not allow the quark quantization"), std::string::npos);
}

// quantization/online/mxfp4.py:140-171 (3518110f2 #49347): AITER W4A4 (256) or EMULATION (32).
TEST(Padding202608, Mxfp4Online) {
  const pd::Problem g = model("gpt-oss-120b"), q = model("qwen3-30b-a3b");
  EXPECT_EQ(choose("vllm-2026-08", "mxfp4_online", q, "rocm:gfx950", {}, kAiterOn).backend, "AITER_MXFP4_MXFP4");
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4_online", "AITER_MXFP4_MXFP4", "rocm:gfx950", q, {.tp = 2})), Sizes(2048, 512));
  EXPECT_EQ(choose("vllm-2026-08", "mxfp4_online", g, "rocm:gfx942").backend, "EMULATION");
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp4_online", "EMULATION", "rocm:gfx942", g, {.tp = 4})), Sizes(2880, 736));
  EXPECT_EQ(choose("vllm-2026-08", "mxfp4_online", q, "cpu").backend, "CPU");
  EXPECT_NE(choose("vllm-2026-08", "mxfp4_online", q, "cuda:sm100").error.value_or("").find("NotImplementedError"),
            std::string::npos);
  EXPECT_FALSE(plan("vllm-2026-05", "mxfp4_online", "EMULATION", "rocm:gfx942", g).ok());  // not at d0a100c87
}

// ---- backend selection: every other method ------------------------------------------------------

TEST(Padding202608, OtherMethodsDefaultBackends) {
  const pd::Problem mix = model("mixtral-8x7b"), q = model("qwen3-235b-a22b");
  // Unquantized (fused_moe/oracle/unquantized.py:48-99): Triton on Hopper, TRT-LLM BF16 on SM100,
  // CUTLASS on SM120, Triton on ROCm without AITER.
  for (const pd::Problem& m : {mix, q}) {
    EXPECT_EQ(choose("vllm-2026-08", "unquantized", m, "cuda:sm90").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-08", "unquantized", m, "cuda:sm100").backend, "FLASHINFER_TRTLLM");
    EXPECT_EQ(choose("vllm-2026-08", "unquantized", m, "cuda:sm120").backend, "FLASHINFER_CUTLASS");
    EXPECT_EQ(choose("vllm-2026-08", "unquantized", m, "rocm:gfx942").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-08", "unquantized", m, "cpu").backend, "CPU");
    // At d0a100c87 Hopper preferred FlashInfer CUTLASS (#44220 moved Triton first on 2026-06-02).
    EXPECT_EQ(choose("vllm-2026-05", "unquantized", m, "cuda:sm90").backend, "FLASHINFER_CUTLASS");
  }
  // SwiGLU-OAI moves FlashInfer to the back (fused_moe/oracle/unquantized.py:87-93).
  EXPECT_EQ(choose("vllm-2026-08", "unquantized", model("gpt-oss-120b"), "cuda:sm100").backend, "TRITON");
  // FP8 per-tensor (fused_moe/oracle/fp8.py:80-131): dynamic activation scales (Fp8Config's default)
  // on Triton; static ones on FlashInfer.
  pd::Problem stat = mix;
  stat.act_scheme = "static";
  EXPECT_EQ(choose("vllm-2026-08", "fp8_per_tensor", mix, "cuda:sm100").backend, "TRITON");
  EXPECT_EQ(choose("vllm-2026-08", "fp8_per_tensor", stat, "cuda:sm100").backend, "FLASHINFER_TRTLLM");
  EXPECT_EQ(choose("vllm-2026-08", "fp8_per_tensor", stat, "cuda:sm90").backend, "FLASHINFER_CUTLASS");
  EXPECT_TRUE(choose("vllm-2026-08", "fp8_per_tensor", stat, "cpu").error.has_value());
  // FP8 per-channel weights, dynamic per-token activations (compressed-tensors; the same oracle with
  // allow_vllm_cutlass): CUTLASS where cutlass_group_gemm_supported (SM90, SM100), else Triton;
  // AITER on ROCm only with its environment; no CPU backend. It pads nothing: the plan is logical,
  // and its scale allocation is torch.ones.
  for (const pd::Problem& m : {mix, q}) {
    for (const char* rs : {"vllm-2026-08", "vllm-52915"}) {
      EXPECT_EQ(choose(rs, "fp8_per_channel", m, "cuda:sm90").backend, "VLLM_CUTLASS") << rs;
      EXPECT_EQ(choose(rs, "fp8_per_channel", m, "cuda:sm100").backend, "VLLM_CUTLASS") << rs;
      EXPECT_EQ(choose(rs, "fp8_per_channel", m, "cuda:sm120").backend, "TRITON") << rs;
      EXPECT_EQ(choose(rs, "fp8_per_channel", m, "rocm:gfx942").backend, "TRITON") << rs;
      EXPECT_TRUE(choose(rs, "fp8_per_channel", m, "cpu").error.has_value()) << rs;
    }
    const pd::Plan pc = plan("vllm-2026-08", "fp8_per_channel", "TRITON", "cuda:sm90", m, {.tp = 2});
    ASSERT_TRUE(pc.ok()) << *pc.error;
    EXPECT_EQ(pc.hidden_padded, pc.hidden);
    EXPECT_EQ(pc.intermediate_per_partition_padded, pc.intermediate_per_partition);
    EXPECT_EQ(pc.fill.scale.kind, pd::FillKind::kOne);
    EXPECT_EQ(pd::padded_shapes(pc).w2_scale, (pd::Shape{pc.local_experts, pc.hidden, 1}));
  }
  // The older rulesets predate the method.
  EXPECT_FALSE(plan("vllm-2026-05", "fp8_per_channel", "TRITON", "cuda:sm90", mix).ok());
  // FP8 blocks: Triton on SM90 (TP), FlashInfer CUTLASS with EP, TRT-LLM on SM100, DeepGEMM on SM120.
  const pd::Problem ds = model("deepseek-v3"), kimi = model("kimi-k2");
  for (const pd::Problem& m : {ds, kimi}) {
    EXPECT_EQ(choose("vllm-2026-08", "fp8_block", m, "cuda:sm90").backend, "TRITON");
    EXPECT_EQ(choose("vllm-2026-08", "fp8_block", m, "cuda:sm90", {.tp = 8, .ep = true}).backend, "FLASHINFER_CUTLASS");
    EXPECT_EQ(choose("vllm-2026-08", "fp8_block", m, "cuda:sm100").backend, "FLASHINFER_TRTLLM");
    EXPECT_EQ(choose("vllm-2026-08", "fp8_block", m, "cuda:sm120").backend, "DEEPGEMM");
    EXPECT_EQ(choose("vllm-2026-05", "fp8_block", m, "cuda:sm120").backend, "TRITON");  // no DeepGEMM on SM120 then
  }
  // NVFP4 (fused_moe/oracle/nvfp4.py:196-205): Marlin on SM90, TRT-LLM on SM100, CUTLASS on SM120,
  // EMULATION on ROCm; XPU refuses modelopt_fp4.
  for (const pd::Problem& m : {mix, q}) {
    EXPECT_EQ(choose("vllm-2026-08", "nvfp4", m, "cuda:sm90").backend, "MARLIN");
    EXPECT_EQ(choose("vllm-2026-08", "nvfp4", m, "cuda:sm100").backend, "FLASHINFER_TRTLLM");
    EXPECT_EQ(choose("vllm-2026-08", "nvfp4", m, "cuda:sm120").backend, "FLASHINFER_CUTLASS");
    EXPECT_EQ(choose("vllm-2026-08", "nvfp4", m, "rocm:gfx950").backend, "EMULATION");
  }
  EXPECT_FALSE(plan("vllm-2026-08", "nvfp4", "EMULATION", "xpu", mix).ok());
  // WNA16 (fused_moe/oracle/int_wna16.py:108-179): Marlin when H % 128 == 0 and I % group == 0,
  // else Triton; Triton on ROCm.
  EXPECT_EQ(choose("vllm-2026-08", "int4_wna16", mix, "cuda:sm90").backend, "MARLIN");
  EXPECT_EQ(choose("vllm-2026-08", "int4_wna16", model("gpt-oss-120b"), "cuda:sm90").backend, "TRITON");  // 2880 % 128
  EXPECT_EQ(choose("vllm-2026-08", "int4_wna16", mix, "rocm:gfx942").backend, "TRITON");
  // MXFP8 (fused_moe/oracle/mxfp8.py:19-31): TRT-LLM on SM100, Marlin on SM90/SM120.
  EXPECT_EQ(choose("vllm-2026-08", "mxfp8", q, "cuda:sm100").backend, "FLASHINFER_TRTLLM");
  EXPECT_EQ(choose("vllm-2026-08", "mxfp8", q, "cuda:sm90").backend, "MARLIN");
  EXPECT_EQ(choose("vllm-2026-08", "mxfp8", q, "rocm:gfx950").backend, "TRITON_MXFP8");
}

// ---- post-load alignments ------------------------------------------------------------------------

// quantization/utils/flashinfer_fp4_moe.py:385-406 (2bd895762 #46880, 2026-07-15): NVFP4 TRT-LLM
// gated I to 64 (was 16) so that 2·I_pad % 128 == 0; non-gated 128; H 256.
TEST(Padding202608, Nvfp4TrtllmGatedTo64) {
  const pd::Problem g = model("gpt-oss-120b"), q = model("qwen3-30b-a3b");
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", g, {.tp = 4})), Sizes(3072, 768));
  EXPECT_EQ(padded(plan("vllm-2026-05", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", g, {.tp = 4})), Sizes(3072, 720));
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", q, {.tp = 8})), Sizes(2048, 128));
  EXPECT_EQ(padded(plan("vllm-2026-05", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", q, {.tp = 8})), Sizes(2048, 96));
  pd::Problem plain = q;
  plain.gated = false;
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", plain, {.tp = 8})), Sizes(2048, 128));
  EXPECT_EQ(plan("vllm-2026-08", "nvfp4", "FLASHINFER_TRTLLM", "cuda:sm100", q, {.tp = 8}).post_load_w13_padding,
            pd::W13Padding::kEnd);
}

// quantization/utils/flashinfer_fp4_moe.py:418-435: the other FlashInfer / CUTLASS NVFP4 backends
// pad w13 to the 128-row swizzled scale only when non-gated; gated layers must have I % 64 == 0.
TEST(Padding202608, Nvfp4CutlassSwizzleRows) {
  const pd::Plan q8 = plan("vllm-2026-08", "nvfp4", "FLASHINFER_CUTLASS", "cuda:sm120", model("qwen3-30b-a3b"), {.tp = 8});
  ASSERT_FALSE(q8.ok());  // 96 rows per half
  EXPECT_NE(q8.error->find("NotImplementedError"), std::string::npos);
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "FLASHINFER_CUTLASS", "cuda:sm120", model("mixtral-8x7b"), {.tp = 8})),
            Sizes(4096, 1792));
  pd::Problem plain = model("qwen3-30b-a3b");
  plain.gated = false;
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "VLLM_CUTLASS", "cuda:sm100", plain, {.tp = 8})), Sizes(2048, 128));
}

// quantization/utils/b12x_moe.py:17-49, 95-105 (#52018): NVFP4 b12x pads gated I per half to 64.
TEST(Padding202608, Nvfp4B12x) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "nvfp4", "B12X", "cuda:sm120", model("gpt-oss-120b"), {.tp = 4})), Sizes(2880, 768));
  const pd::Plan q = plan("vllm-2026-08", "nvfp4", "B12X", "cuda:sm120", model("qwen3-30b-a3b"), {.tp = 8});
  EXPECT_EQ(padded(q), Sizes(2048, 128));
  EXPECT_EQ(q.post_load_w13_padding, pd::W13Padding::kPerHalf);
}

// fused_moe/oracle/unquantized.py:346-355 (8b2b566ea #43853, 2026-06-17): unquantized TRT-LLM,
// non-gated, I to 128 after loading; gated layers unchanged.
TEST(Padding202608, UnquantizedTrtllmNonGatedTo128) {
  pd::Problem g = model("gpt-oss-120b"), q = model("qwen3-30b-a3b");
  g.gated = q.gated = false;
  g.activation = q.activation = "relu2_no_mul";
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "FLASHINFER_TRTLLM", "cuda:sm100", g, {.tp = 4})), Sizes(2880, 768));
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "FLASHINFER_TRTLLM", "cuda:sm100", q, {.tp = 8})), Sizes(2048, 128));
  EXPECT_EQ(padded(plan("vllm-2026-05", "unquantized", "FLASHINFER_TRTLLM", "cuda:sm100", q, {.tp = 8})), Sizes(2048, 96));
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "FLASHINFER_TRTLLM", "cuda:sm100", model("qwen3-30b-a3b"), {.tp = 8})),
            Sizes(2048, 96));
}

// fused_moe/experts/cpu_moe.py:167-207, 296-342 (0a6446005 #50133, 2026-08-03): CPU unquantized
// experts pad I per gate/up half to 32, not for SwiGLU-OAI, and need H % 32 == 0.
TEST(Padding202608, CpuUnquantizedExpertsTo32) {
  const pd::Problem q = model("qwen3-30b-a3b");
  const pd::Plan q16 = plan("vllm-2026-08", "unquantized", "CPU", "cpu", q, {.tp = 16});
  EXPECT_EQ(padded(q16), Sizes(2048, 64));
  EXPECT_EQ(q16.post_load_w13_padding, pd::W13Padding::kPerHalf);
  EXPECT_EQ(q16.post_load_fill.weight.kind, pd::FillKind::kZero);
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "CPU", "cpu", model("mixtral-8x7b"), {.tp = 8})), Sizes(4096, 1792));
  EXPECT_EQ(padded(plan("vllm-2026-05", "unquantized", "CPU", "cpu", q, {.tp = 16})), Sizes(2048, 48));
  // gpt-oss (SwiGLU-OAI): no padding, so its I must already be a multiple of 32.
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "CPU", "cpu", model("gpt-oss-120b"), {.tp = 2})), Sizes(2880, 1440));
  const pd::Plan g4 = plan("vllm-2026-08", "unquantized", "CPU", "cpu", model("gpt-oss-120b"), {.tp = 4});
  ASSERT_FALSE(g4.ok());
  EXPECT_NE(g4.error->find("skip their padding for SwiGLU-OAI"), std::string::npos) << *g4.error;
}

// fused_moe/experts/cpu_moe.py:503-535 (61826c1c6 #51624, 2026-08-13), oracle/unquantized.py:146-160:
// the CPU classes are tried x86 AMX, Arm NEON, Power VSX, portable vector. VSX pads I to lcm(16, 2)
// = 16 and needs bf16 activations; with fp16 the portable class (32) takes the layer. The others
// all pad to 32.
TEST(Padding202608, CpuUnquantizedPerIsa) {
  const pd::Problem q30 = model("qwen3-30b-a3b");    // I 768: 48 per rank at TP 16
  const pd::Problem q235 = model("qwen3-235b-a22b");  // I 1536: 48 per rank at TP 32
  for (const char* isa : {"amx", "vec", "neon"}) {
    EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", q30, {.tp = 16}, cpu_isa(isa))),
              Sizes(2048, 64)) << isa;
    EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", q235, {.tp = 32}, cpu_isa(isa))),
              Sizes(4096, 64)) << isa;
  }
  EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", q30, {.tp = 16}, cpu_isa("vsx"))),
            Sizes(2048, 48));
  EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", q235, {.tp = 32}, cpu_isa("vsx"))),
            Sizes(4096, 48));
  EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", q30,
                             {.tp = 16, .act = pd::ActDtype::kFp16}, cpu_isa("vsx"))),
            Sizes(2048, 64));
  // gpt-oss-120b at TP 4 (SwiGLU-OAI, unpadded I 720): 720 % 16 == 0 runs on VSX, 720 % 32 != 0
  // fails everywhere else.
  const pd::Problem g = model("gpt-oss-120b");
  EXPECT_EQ(padded(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", g, {.tp = 4}, cpu_isa("vsx"))),
            Sizes(2880, 720));
  EXPECT_FALSE(plan_with("vllm-2026-08", "unquantized", "CPU", "cpu", g, {.tp = 4}, cpu_isa("neon")).ok());
  // The default ISA is amx.
  EXPECT_EQ(padded(plan("vllm-2026-08", "unquantized", "CPU", "cpu", q30, {.tp = 16})), Sizes(2048, 64));
}

// fused_moe/experts/cpu_moe.py:572-614, 730-760, 938-967: the FP8, MXFP4 and INT4 CPU experts
// need AMX tiles. Without them gpt-oss MXFP4 on a CPU has no fallback (oracle/mxfp4.py:570-579
// raises) and Qwen3's FP8-block checkpoints have no backend at all (oracle/fp8.py:413-416).
// DeepSeek-V3 has none even with AMX: CPUExpertsFp8 takes only softmax routings (cpu_moe.py:605-614).
TEST(Padding202608, CpuQuantizedKernelsNeedAmx) {
  for (const char* model_name : {"gpt-oss-20b", "gpt-oss-120b"}) {
    const pd::Problem m = model(model_name);
    EXPECT_EQ(choose("vllm-2026-08", "gpt_oss_mxfp4", m, "cpu", {}, cpu_isa("amx")).backend, "CPU") << model_name;
    for (const char* isa : {"vec", "neon", "vsx"}) {
      const auto r = choose("vllm-2026-08", "gpt_oss_mxfp4", m, "cpu", {}, cpu_isa(isa));
      ASSERT_TRUE(r.error.has_value()) << model_name << " " << isa;
      EXPECT_NE(r.error->find("needs x86 with AMX"), std::string::npos) << *r.error;
    }
  }
  for (const char* model_name : {"qwen3-30b-a3b", "qwen3-235b-a22b"}) {
    const pd::Problem m = model(model_name);
    EXPECT_EQ(choose("vllm-2026-08", "fp8_block", m, "cpu", {.tp = 8}, cpu_isa("amx")).backend, "CPU") << model_name;
    const auto r = choose("vllm-2026-08", "fp8_block", m, "cpu", {.tp = 8}, cpu_isa("neon"));
    ASSERT_TRUE(r.error.has_value()) << model_name;
    EXPECT_NE(r.error->find("no FP8 MoE backend"), std::string::npos) << *r.error;
  }
  EXPECT_TRUE(choose("vllm-2026-08", "fp8_block", model("deepseek-v3"), "cpu", {.tp = 8}, cpu_isa("amx")).error);
}

// fused_moe/oracle/int_wna16.py:603-624, quantization/utils/marlin_utils.py:334-386 (37a682d39
// #45703, 2026-06-23): Marlin pads I to lcm(64, group) per shard after loading; H % 128 == 0 and
// I % group == 0 are required; act-order keeps the strict shape I % max(64, group).
TEST(Padding202608, MarlinWna16TilePadding) {
  pd::Problem q = model("qwen3-30b-a3b");  // I 768: 48 at TP 16
  q.group_size = -1;                        // channelwise: lcm(64, 1)
  EXPECT_EQ(padded(plan("vllm-2026-08", "int4_wna16", "MARLIN", "cuda:sm90", q, {.tp = 16})), Sizes(2048, 64));
  EXPECT_EQ(padded(plan("vllm-2026-05", "int4_wna16", "MARLIN", "cuda:sm90", q, {.tp = 16})), Sizes(2048, 48));
  pd::Problem big = model("qwen3-235b-a22b");  // I 1536: 96 at TP 16
  for (std::int64_t g : {std::int64_t{32}, std::int64_t{-1}}) {
    big.group_size = g;
    EXPECT_EQ(padded(plan("vllm-2026-08", "int8_wna16", "MARLIN", "cuda:sm100", big, {.tp = 16})), Sizes(4096, 128)) << g;
  }
  big.group_size = 64;
  const pd::Plan straddle = plan("vllm-2026-08", "int4_wna16", "MARLIN", "cuda:sm100", big, {.tp = 16});
  ASSERT_FALSE(straddle.ok());
  EXPECT_NE(straddle.error->find("I % group_size == 0"), std::string::npos) << *straddle.error;
  big.group_size = 32;
  big.act_order = true;
  const pd::Plan strict = plan("vllm-2026-08", "int4_wna16", "MARLIN", "cuda:sm100", big, {.tp = 16});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.error->find("act-order keeps the strict shape"), std::string::npos) << *strict.error;
  const pd::Plan h = plan("vllm-2026-08", "int4_wna16", "MARLIN", "cuda:sm90", model("gpt-oss-120b"));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error->find("H % 128 == 0"), std::string::npos) << *h.error;
  // The selection does not pick a Marlin that would refuse: Triton instead.
  q.group_size = 128;  // 48 % 128 != 0
  EXPECT_EQ(choose("vllm-2026-08", "int4_wna16", q, "cuda:sm90", {.tp = 16}).backend, "TRITON");
  q.group_size = -1;
  EXPECT_EQ(choose("vllm-2026-08", "int4_wna16", q, "cuda:sm90", {.tp = 16}).backend, "MARLIN");
}

// quantization/utils/marlin_utils_fp8.py:222-279, 537-549 (#45703): FP8 and MXFP8 Marlin pad I to
// lcm(64, group): 64 for per-tensor FP8 (group -1) and MXFP8 (group 32), 128 for FP8 blocks.
TEST(Padding202608, MarlinFp8AndMxfp8TilePadding) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "fp8_per_tensor", "MARLIN", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(2880, 768));
  EXPECT_EQ(padded(plan("vllm-2026-08", "fp8_per_tensor", "MARLIN", "cuda:sm90", model("qwen3-30b-a3b"), {.tp = 16})),
            Sizes(2048, 64));
  EXPECT_EQ(padded(plan("vllm-2026-05", "fp8_per_tensor", "MARLIN", "cuda:sm90", model("qwen3-30b-a3b"), {.tp = 16})),
            Sizes(2048, 48));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp8", "MARLIN", "cuda:sm120", model("qwen3-235b-a22b"), {.tp = 16})),
            Sizes(4096, 128));
  EXPECT_EQ(padded(plan("vllm-2026-08", "mxfp8", "MARLIN", "cuda:sm120", model("gpt-oss-120b"), {.tp = 2})),
            Sizes(2880, 1472));
  EXPECT_EQ(padded(plan("vllm-2026-08", "fp8_block", "MARLIN", "cuda:sm90", model("deepseek-v3"), {.tp = 8})),
            Sizes(7168, 256));
}

// quantization/online/fp8.py:622-646 (547d2c40d #44763, 2026-06-23): 128/128 on every backend,
// the padded region zeroed after loading.
TEST(Padding202608, Fp8PerBlockOnlineTo128) {
  const pd::Plan g = plan("vllm-2026-08", "fp8_per_block_online", "TRITON", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4});
  EXPECT_EQ(padded(g), Sizes(2944, 768));
  EXPECT_EQ(g.fill.weight.kind, pd::FillKind::kZero);
  EXPECT_EQ(padded(plan("vllm-2026-08", "fp8_per_block_online", "DEEPGEMM", "cuda:sm120", model("deepseek-v3"), {.tp = 8})),
            Sizes(7168, 256));
  EXPECT_EQ(padded(plan("vllm-2026-05", "fp8_per_block_online", "TRITON", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4})),
            Sizes(2880, 720));
}

// quantization/fp8.py:534-546 (636-647 at d0a100c87): FP8 128x128 blocks need I % 128 == 0.
TEST(Padding202608, Fp8BlockNeedsWholeBlocks) {
  EXPECT_EQ(padded(plan("vllm-2026-08", "fp8_block", "TRITON", "cuda:sm90", model("deepseek-v3"), {.tp = 8})), Sizes(7168, 256));
  EXPECT_EQ(padded(plan("vllm-2026-05", "fp8_block", "TRITON", "cuda:sm90", model("kimi-k2"), {.tp = 16})), Sizes(7168, 128));
  const pd::Plan bad = plan("vllm-2026-08", "fp8_block", "TRITON", "cuda:sm90", model("minimax-m2"), {.tp = 8});
  ASSERT_FALSE(bad.ok());  // 1536 / 8 = 192
  EXPECT_NE(bad.error->find("intermediate per partition 192 is not a multiple of 128"), std::string::npos) << *bad.error;
}

// ---- all-to-all, kernel arguments, loaders --------------------------------------------------------

// fused_moe/all2all_utils.py:152-155, prepare_finalize/deepep_v2.py:49-57 (e2f993dc4 #41183,
// 2026-06-08): DeepEP V2 rounds the row's bytes to 512, as DeepEP HT.
TEST(Padding202608, DeepepV2) {
  const auto v2 = [](const pd::Problem& p, pd::ActDtype act) {
    return plan("vllm-2026-08", "unquantized", "TRITON", "cuda:sm90", p, {.tp = 8, .ep = true, .all2all = pd::All2All::kDeepepV2, .act = act})
        .hidden_padded;
  };
  EXPECT_EQ(v2(model("gpt-oss-120b"), pd::ActDtype::kBf16), 3072);
  EXPECT_EQ(v2(model("gpt-oss-120b"), pd::ActDtype::kFp32), 2944);
  EXPECT_EQ(v2(model("deepseek-v3"), pd::ActDtype::kBf16), 7168);
  EXPECT_EQ(v2(model("minimax-m2"), pd::ActDtype::kBf16), 3072);
  // Not in vllm-2026-05 (d0a100c87 has no deepep_v2): the all-to-all rounds nothing there.
  EXPECT_EQ(plan("vllm-2026-05", "unquantized", "TRITON", "cuda:sm90", model("gpt-oss-120b"),
                 {.tp = 8, .ep = true, .all2all = pd::All2All::kDeepepV2})
                .hidden_padded,
            2880);
}

// fused_moe/experts/rocm_aiter_moe.py:338-364 (5b6b536fd #44679, 2026-06-10): the pad arguments
// AITER gets are floored, and intermediate_pad doubled only at MoE TP 1 (tp_size: flattened, 1 with
// EP); raw for SiTU (aeeb36b1f #50000).
TEST(Padding202608, AiterPadArgumentFactor) {
  const auto args = [](const char* rs, const pd::Problem& p, Parallel par) {
    const pd::Plan pl = plan(rs, "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", p, par);
    EXPECT_TRUE(pl.ok() && pl.kernel_pad_args) << pl.error.value_or("no pad args");
    const pd::KernelPadArgs a = pl.kernel_pad_args.value_or(pd::KernelPadArgs{});
    return std::pair<std::int64_t, std::int64_t>{a.hidden_pad, a.intermediate_pad};
  };
  const pd::Problem g = model("gpt-oss-120b"), q = model("qwen3-30b-a3b");
  EXPECT_EQ(args("vllm-2026-08", g, {.tp = 1}), std::make_pair(std::int64_t{128}, std::int64_t{384}));  // 192 -> 192 x2
  EXPECT_EQ(args("vllm-2026-08", g, {.tp = 8}), std::make_pair(std::int64_t{128}, std::int64_t{128}));  // 152 -> 128 x1
  EXPECT_EQ(args("vllm-2026-05", g, {.tp = 8}), std::make_pair(std::int64_t{128}, std::int64_t{256}));  // x2 always
  EXPECT_EQ(args("vllm-2026-08", g, {.tp = 8, .ep = true}), std::make_pair(std::int64_t{128}, std::int64_t{384}));  // EP: MoE TP 1
  EXPECT_EQ(args("vllm-2026-08", q, {.tp = 2}), std::make_pair(std::int64_t{0}, std::int64_t{128}));  // 384 -> 512
  EXPECT_EQ(args("vllm-2026-05", q, {.tp = 2}), std::make_pair(std::int64_t{0}, std::int64_t{256}));
  pd::Problem situ = q;
  situ.activation = "situ";
  const pd::Plan raw = plan("vllm-2026-08", "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", situ, {.tp = 8});
  ASSERT_TRUE(raw.kernel_pad_args);
  EXPECT_EQ(raw.kernel_pad_args->intermediate_pad, 256 - 96);  // raw
}

// fused_moe/config.py:1304-1305, vllm/models/minimax_m3/amd/model.py:429 (8e394244a #46419): the
// model-specific intermediate_pad override (MiniMax-M3 on AMD passes 0).
TEST(Padding202608, IntermediatePadOverride) {
  pd::Problem m3 = model("minimax-m2");
  m3.model_type = "minimax_m3";
  for (int tp : {1, 2, 8}) {
    const pd::Plan p = plan("vllm-2026-08", "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", m3, {.tp = tp});
    ASSERT_TRUE(p.ok() && p.kernel_pad_args) << p.error.value_or("");
    EXPECT_EQ(p.kernel_pad_args->intermediate_pad, 0) << tp;
  }
  // MiniMax-M2 sets none: at TP 8 its 192 rows pad to 256, and AITER is told 64.
  const pd::Plan m2 = plan("vllm-2026-08", "gpt_oss_mxfp4", "AITER_MXFP4_BF16", "rocm:gfx950", model("minimax-m2"), {.tp = 8});
  ASSERT_TRUE(m2.kernel_pad_args);
  EXPECT_EQ(m2.kernel_pad_args->intermediate_pad, 64);
}

// fused_moe/unquantized_fused_moe_method.py:107-123 (53c2f20dd #49350, 2026-07-22): the ROCm
// stride padding is skipped under EPLB; it never changes logical sizes.
TEST(Padding202608, RocmStridePaddingSkippedUnderEplb) {
  for (const char* name : {"mixtral-8x7b", "qwen3-30b-a3b"}) {
    pd::ParallelConfig pc;
    const pd::Plan plain = pd::make_plan(ruleset("vllm-2026-08"), model(name), "unquantized", "TRITON",
                                         platform("rocm:gfx942"), pc, pd::ActDtype::kBf16);
    pc.tp_size = 2;
    pc.enable_ep = true;
    pc.enable_eplb = true;
    const pd::Plan eplb = pd::make_plan(ruleset("vllm-2026-08"), model(name), "unquantized", "TRITON",
                                        platform("rocm:gfx942"), pc, pd::ActDtype::kBf16);
    ASSERT_TRUE(plain.ok() && eplb.ok());
    EXPECT_FALSE(plain.hidden_is_padded() || plain.intermediate_is_padded() || eplb.hidden_is_padded());
    const auto has = [](const pd::Plan& p, const char* text) {
      for (const auto& n : p.notes)
        if (n.find(text) != std::string::npos) return true;
      return false;
    };
    EXPECT_TRUE(has(plain, "256 extra bytes of row stride")) << name;
    EXPECT_TRUE(has(eplb, "skipped under EPLB")) << name;
    EXPECT_FALSE(has(eplb, "256 extra bytes of row stride")) << name;
    // VLLM_ROCM_MOE_PADDING=0 turns it off.
    pd::ParallelConfig tp1;
    const pd::Plan off = pd::make_plan(ruleset("vllm-2026-08"), model(name), "unquantized", "TRITON", platform("rocm:gfx942"),
                                       tp1, pd::ActDtype::kBf16, {{{"VLLM_ROCM_MOE_PADDING", "0"}}, {}});
    EXPECT_FALSE(has(off, "256 extra bytes of row stride")) << name;
  }
}

// fused_moe/routed_experts.py:494-552 (ab12aab12 #42595, 2026-05-29) and 684-701 (ec59c1579
// #44120, 2026-07-21): the generic loader cuts I_full / tp rows per rank (no longer the padded
// shard) and copies the w2 bias to every TP rank.
TEST(Padding202608, GenericLoaderShardsAndBiases) {
  pd::Problem q = model("qwen3-30b-a3b");  // I 768, MARLIN at TP 4: 192 -> 256 allocated
  const pd::Plan p08 = plan("vllm-2026-08", "mxfp4", "MARLIN", "cuda:sm90", q, {.tp = 4});
  const pd::Plan p05 = plan("vllm-2026-05", "mxfp4", "MARLIN", "cuda:sm90", q, {.tp = 4});
  ASSERT_TRUE(p08.ok() && p05.ok());
  EXPECT_EQ(p08.intermediate_per_partition_allocated, 256);
  const pd::Partition a = pd::partition(p08), b = pd::partition(p05);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.summary(), "real rows per rank: 192 x4 (generic loader)");
  EXPECT_EQ(b.summary(), "real rows per rank: 256 x3, 0 (1 all padding) (generic loader)");
  // A model with expert biases on the generic loader (e.g. transformers' MoE backend).
  pd::Problem biased = model("mixtral-8x7b");
  biased.has_bias = true;
  const pd::Partition every = pd::partition(plan("vllm-2026-08", "unquantized", "TRITON", "cuda:sm90", biased, {.tp = 2}));
  ASSERT_TRUE(every.ok());
  EXPECT_TRUE(every.biases_loaded);
  EXPECT_TRUE(every.ranks[0].holds_w2_bias && every.ranks[1].holds_w2_bias);
  const pd::Partition none = pd::partition(plan("vllm-2026-05", "unquantized", "TRITON", "cuda:sm90", biased, {.tp = 2}));
  EXPECT_FALSE(none.biases_loaded);
  // The gpt-oss loaders keep the w2 bias on TP rank 0 only.
  const pd::Partition gpt = pd::partition(plan("vllm-2026-08", "gpt_oss_mxfp4", "TRITON", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4}));
  ASSERT_TRUE(gpt.ok());
  EXPECT_TRUE(gpt.ranks[0].holds_w2_bias);
  EXPECT_FALSE(gpt.ranks[1].holds_w2_bias);
  EXPECT_EQ(gpt.summary(), "real rows per rank: 736 x3, 672 (gpt_oss_mxfp4 loader)");
}

// vllm/model_executor/models/gpt_oss.py _load_weights_other (every shipped state): cdiv(I, tp) rows
// per rank, the w2 bias on rank 0, whole tensors copied (a padded allocation cannot take them,
// inferred).
TEST(Padding202608, GptOssOtherLoader) {
  const pd::Plan fp8 = plan("vllm-2026-08", "fp8_per_tensor", "TRITON", "cuda:sm90", model("gpt-oss-120b"), {.tp = 4});
  const pd::Partition p = pd::partition(fp8);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.loader, pd::Loader::kGptOssOther);
  EXPECT_EQ(p.summary(), "real rows per rank: 720 x4 (gpt_oss_other loader)");
  const pd::Plan online = plan("vllm-2026-08", "fp8_per_block_online", "TRITON", "cuda:sm90", model("gpt-oss-20b"), {.tp = 4});
  const pd::Partition q = pd::partition(online);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error->find("_load_weights_other copies whole checkpoint tensors"), std::string::npos) << *q.error;
}

}  // namespace

// fused_moe/experts/mxfp8_native_moe.py:189: the native MXFP8 MoE on gfx950 asserts K % 128 for
// both GEMMs and no rule rounds the sizes for it, so gpt-oss's H 2880 (22.5 x 128) fails there
// while Qwen3's 2048 runs; a TP shard of I must be whole 128s too.
TEST(Padding202608, NativeMxfp8NeedsWhole128s) {
  for (const char* rs : {"vllm-2026-08", "vllm-52915"}) {
    const pd::Plan g = plan(rs, "mxfp8", "TRITON_MXFP8", "rocm:gfx950", model("gpt-oss-120b"), {.tp = 1});
    ASSERT_FALSE(g.ok()) << rs;
    EXPECT_NE(g.error->find("K % 128"), std::string::npos) << *g.error;
    pd::Problem q = model("qwen3-30b-a3b");  // H 2048, I 768
    const pd::Plan ok = plan(rs, "mxfp8", "TRITON_MXFP8", "rocm:gfx950", q, {.tp = 2});  // I 384
    EXPECT_TRUE(ok.ok()) << ok.error.value_or("");
    EXPECT_FALSE(ok.hidden_is_padded() || ok.intermediate_is_padded());
    const pd::Plan tp4 = plan(rs, "mxfp8", "TRITON_MXFP8", "rocm:gfx950", q, {.tp = 4});  // I 192
    ASSERT_FALSE(tp4.ok()) << rs;
    EXPECT_NE(tp4.error->find("per-rank I"), std::string::npos) << *tp4.error;
  }
}
