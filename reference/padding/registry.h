// The registry: the quant methods and kernel backends moecheck knows, with the facts about them
// that do not change between vLLM versions (storage format, where a backend can run). What a
// method does to sizes in a given version is in the rulesets (ruleset.h, rulesets/*.json).
// Sources: padding.md §1.5–§1.6 (storage, fills), §2.1–§2.3 (backends), models.md §4.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/padding/platform.h"
#include "reference/padding/ruleset.h"
#include "reference/padding/tensor.h"

namespace moecheck::reference::padding {

// Where the block scales of a weight live and how many bytes they take.
enum class ScaleKind : std::uint8_t {
  kNone,          // bf16 weights
  kPerTensor,     // one fp32 scale per expert and tensor (no padded region)
  kPerRowBlock,   // one byte per `scale_block` elements along the reduction axis (MX: 32, NVFP4: 16)
  kBlock2d,       // fp32 per scale_block x scale_block tile (FP8 block 128x128), ceil-divided grid
  kGroup,         // WNA16 group scales; the group size is a checkpoint setting, not modelled
  kPerChannel,    // one fp32 scale per expert and output row, over the whole reduction axis (FP8 channel)
};

struct MethodInfo {
  std::string_view name;
  std::string_view vllm_class;  // the vLLM class (and scheme) it models
  int weight_bits;              // 16 bf16, 8 fp8/int8, 6 fp6, 4 fp4/int4
  Packing weight_packing;       // along the reduction axis, in bytes (kUnpacked for 16- and 8-bit)
  ScaleKind scale;
  int scale_block;              // elements per scale (kPerRowBlock, kBlock2d)
  Packing scale_packing;        // kPerRowBlock only
  // Padded sizes must be whole scale blocks / packing groups (MX, NVFP4): else the plan is invalid.
  bool requires_whole_blocks;
  // The gpt-oss checkpoint loader of this method slices the intermediate dim in 32-element blocks
  // (§1.7: gpt_oss.py _load_weights_mxfp4; Quark with weight dtype mxfp4).
  bool gpt_oss_block_loader;
  bool gpt_oss_quark_loader;  // gpt_oss.py _load_weights_quark
  // The checkpoint holds unquantized weights that vLLM quantizes after loading (the online methods):
  // no checkpoint of this scheme exists to load, pad and compare.
  bool online;
  std::string_view description;
};

std::span<const MethodInfo> methods();
const MethodInfo* find_method_info(std::string_view name);
std::string method_names();

struct BackendInfo {
  std::string_view name;
  std::vector<std::string_view> platforms;  // platform patterns where it can run
  std::string_view legacy_name;             // pre-#37128 Mxfp4Backend name (§2.1), if any
  std::string_view description;
};

std::span<const BackendInfo> backends();
const BackendInfo* find_backend_info(std::string_view name);
std::string backend_names();

// Where `choice` runs: the ruleset's platform list if it gives one, else the registry's.
bool backend_runs_on(const BackendChoice& choice, const Platform& platform);
std::string backend_platforms(const BackendChoice& choice);  // comma-separated patterns

}  // namespace moecheck::reference::padding
