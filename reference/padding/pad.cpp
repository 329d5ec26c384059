#include "reference/padding/pad.h"

#include <algorithm>

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace moecheck::reference::padding {
namespace {

std::string_view name(Role role) {
  switch (role) {
    case Role::kWeight:
      return "weight";
    case Role::kScale:
      return "scale";
    case Role::kBias:
      return "bias";
  }
  return "?";
}

const FillValue& pick(const Fill& fill, Role role) {
  return role == Role::kWeight ? fill.weight : role == Role::kScale ? fill.scale : fill.bias;
}

// The value a padded element gets, or nullopt to leave the poison (torch.empty in vLLM).
template <class T>
std::optional<T> fill_value(const Plan& plan, const FillValue& fill, Role role) {
  switch (fill.kind) {
    case FillKind::kZero:
      return T{};
    case FillKind::kUninitialized:
      return std::nullopt;
    case FillKind::kOne:
      if constexpr (std::is_same_v<T, float>) {
        return 1.0f;
      } else {
        throw std::invalid_argument("the " + std::string(name(role)) + " fill of " + plan.method +
                                    " is one (a float scale): pad those tensors as float");
      }
    case FillKind::kByte:
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        return fill.byte;
      } else {
        throw std::invalid_argument("the " + std::string(name(role)) + " fill of " + plan.method + " is the byte " +
                                    describe(fill) + ": pad those tensors as std::uint8_t");
      }
    case FillKind::kNotApplicable:
      break;
  }
  throw std::invalid_argument("method " + plan.method + " (ruleset " + plan.ruleset + ") has no " +
                              std::string(name(role)) + " tensor to pad (its fill is n/a)");
}

void require_ok(const Plan& plan, const char* what) {
  if (!plan.ok()) throw std::invalid_argument(std::string(what) + ": the plan is invalid: " + *plan.error);
}

// src [E, R, C] into a poisoned [E, R2, C2]: source row r goes to row row_map[r], columns [0, C);
// every other element gets `fill` (or keeps its poison when fill is nullopt).
template <class T>
Tensor<T> place(const Tensor<T>& src, std::int64_t rows2, std::int64_t cols2, const std::vector<std::int64_t>& row_map,
                std::optional<T> fill, std::uint64_t seed) {
  const std::int64_t experts = src.dim(0), rows = src.dim(1), cols = src.dim(2);
  if (rows2 < rows || cols2 < cols || std::int64_t(row_map.size()) != rows)
    throw std::invalid_argument("padding to " + to_string({experts, rows2, cols2}) + " from " + to_string(src.shape) +
                                ": the target is smaller");
  std::vector<std::int64_t> source_of(static_cast<std::size_t>(rows2), -1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t to = row_map[static_cast<std::size_t>(r)];
    if (to < 0 || to >= rows2 || source_of[static_cast<std::size_t>(to)] >= 0)
      throw std::logic_error("padding: row map is not injective into the target");
    source_of[static_cast<std::size_t>(to)] = r;
  }
  Tensor<T> dst = poisoned<T>({experts, rows2, cols2}, seed);
  for (std::int64_t e = 0; e < experts; ++e) {
    for (std::int64_t r2 = 0; r2 < rows2; ++r2) {
      const std::int64_t r = source_of[static_cast<std::size_t>(r2)];
      T* to = dst.data.data() + (e * rows2 + r2) * cols2;
      std::int64_t c = 0;
      if (r >= 0) {
        std::copy_n(src.data.data() + (e * rows + r) * cols, cols, to);
        c = cols;
      }
      if (fill) std::fill(to + c, to + cols2, *fill);
    }
  }
  return dst;
}

std::vector<std::int64_t> identity(std::int64_t n) {
  std::vector<std::int64_t> map(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) map[static_cast<std::size_t>(i)] = i;
  return map;
}

// Concatenated halves: rows [0, from) stay, rows [from, 2·from) move to [to, to + from).
std::vector<std::int64_t> per_half(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> map = identity(2 * from);
  for (std::int64_t i = from; i < 2 * from; ++i) map[static_cast<std::size_t>(i)] = to + (i - from);
  return map;
}

// w13-shaped [e, halves·real, c] through both stages; cols_* are the column counts per stage.
template <class T>
Tensor<T> pad_w13_impl(const Plan& plan, const Tensor<T>& t, W13Layout layout, Role role, std::int64_t cols_logical,
                       std::int64_t cols_allocated, std::int64_t cols_padded, std::uint64_t seed) {
  require_ok(plan, "pad_w13");
  const std::int64_t halves = plan.problem.gated ? 2 : 1;
  if (t.shape.size() != 3 || t.dim(1) % halves != 0 || t.dim(2) != cols_logical)
    throw std::invalid_argument("pad_w13 (" + std::string(name(role)) + "): expected [e, " +
                                std::to_string(halves) + "·real, " + std::to_string(cols_logical) + "], found " +
                                to_string(t.shape));
  const std::int64_t real = t.dim(1) / halves;
  const std::int64_t allocated = plan.intermediate_per_partition_allocated;
  const std::int64_t padded = plan.intermediate_per_partition_padded;
  if (real > allocated)
    throw std::invalid_argument("pad_w13: the rank holds " + std::to_string(real) + " real rows per half, more than " +
                                "the " + std::to_string(allocated) + " rows allocated (I_pad); vLLM's copy fails here "
                                "(padding.md §3.4, #35737/#43979)");
  const bool halves_move = plan.problem.gated && layout == W13Layout::kConcatenated;
  Tensor<T> out = place(t, halves * allocated, cols_allocated, halves_move ? per_half(real, allocated) : identity(t.dim(1)),
                        fill_value<T>(plan, pick(plan.fill, role), role), seed);
  if (!plan.has_post_load_padding()) return out;
  const bool keep_halves = halves_move && plan.post_load_w13_padding == W13Padding::kPerHalf;
  return place(out, halves * padded, cols_padded, keep_halves ? per_half(allocated, padded) : identity(out.dim(1)),
               fill_value<T>(plan, pick(plan.post_load_fill, role), role), seed ^ 0x9057);
}

// w2-shaped [e, H, cols] through both stages (rows: hidden; columns: intermediate).
template <class T>
Tensor<T> pad_w2_impl(const Plan& plan, const Tensor<T>& t, Role role, std::int64_t cols_allocated,
                      std::int64_t cols_padded, std::uint64_t seed) {
  require_ok(plan, "pad_w2");
  if (t.shape.size() != 3 || t.dim(1) != plan.hidden)
    throw std::invalid_argument("pad_w2 (" + std::string(name(role)) + "): expected [e, " + std::to_string(plan.hidden) +
                                ", columns], found " + to_string(t.shape));
  if (t.dim(2) > cols_allocated)
    throw std::invalid_argument("pad_w2: the rank holds " + std::to_string(t.dim(2)) + " columns, more than the " +
                                std::to_string(cols_allocated) + " allocated (I_pad)");
  Tensor<T> out = place(t, plan.hidden_allocated, cols_allocated, identity(t.dim(1)),
                        fill_value<T>(plan, pick(plan.fill, role), role), seed);
  if (!plan.has_post_load_padding()) return out;
  return place(out, plan.hidden_padded, cols_padded, identity(out.dim(1)),
               fill_value<T>(plan, pick(plan.post_load_fill, role), role), seed ^ 0x9057);
}

template <class T>
Tensor<T> as_rank3(const Tensor<T>& t, const char* what) {
  if (t.shape.size() != 2) throw std::invalid_argument(std::string(what) + ": expected a rank-2 tensor, found " + to_string(t.shape));
  Tensor<T> out;
  out.shape = {1, t.dim(0), t.dim(1)};
  out.data = t.data;
  return out;
}

template <class T>
Tensor<T> as_rank2(Tensor<T> t) {
  t.shape = {t.dim(1), t.dim(2)};
  return t;
}

// [M, W] -> [M, width]: copy min(W, width) columns, zero the rest.
template <class T>
Tensor<T> columns(const Tensor<T>& x, std::int64_t width, std::uint64_t seed, const char* what) {
  Tensor<T> x3 = as_rank3(x, what);
  if (x3.dim(2) > width) {  // a slice: keep the first `width` columns
    Tensor<T> out = poisoned<T>({x3.dim(1), width}, seed);
    for (std::int64_t m = 0; m < x3.dim(1); ++m)
      for (std::int64_t c = 0; c < width; ++c) out.at(m, c) = x3.at(0, m, c);
    return out;
  }
  return as_rank2(place(x3, x3.dim(1), width, identity(x3.dim(1)), std::optional<T>(T{}), seed));
}

}  // namespace

template <class T>
Tensor<T> pad_w13(const Plan& plan, const Tensor<T>& rank_w13, W13Layout layout, Role role, Packing packing,
                  std::uint64_t seed) {
  require_ok(plan, "pad_w13");
  return pad_w13_impl(plan, rank_w13, layout, role, packing.storage(plan.hidden), packing.storage(plan.hidden_allocated),
                      packing.storage(plan.hidden_padded), seed);
}

template <class T>
Tensor<T> pad_w2(const Plan& plan, const Tensor<T>& rank_w2, Role role, Packing packing, std::uint64_t seed) {
  require_ok(plan, "pad_w2");
  return pad_w2_impl(plan, rank_w2, role, packing.storage(plan.intermediate_per_partition_allocated),
                     packing.storage(plan.intermediate_per_partition_padded), seed);
}

template <class T>
Tensor<T> pad_w13_bias(const Plan& plan, const Tensor<T>& bias, W13Layout layout, std::uint64_t seed) {
  Tensor<T> b = as_rank3(bias, "pad_w13_bias");
  b.shape = {bias.dim(0), bias.dim(1), 1};
  Tensor<T> out = pad_w13_impl(plan, b, layout, Role::kBias, 1, 1, 1, seed);
  out.shape = {out.dim(0), out.dim(1)};
  return out;
}

template <class T>
Tensor<T> pad_w2_bias(const Plan& plan, const Tensor<T>& bias, std::uint64_t seed) {
  Tensor<T> b = as_rank3(bias, "pad_w2_bias");
  b.shape = {bias.dim(0), bias.dim(1), 1};  // rows: hidden
  Tensor<T> out = pad_w2_impl(plan, b, Role::kBias, 1, 1, seed);
  out.shape = {out.dim(0), out.dim(1)};
  return out;
}

template <class T>
Tensor<T> pad_activations(const Plan& plan, const Tensor<T>& x, std::uint64_t seed) {
  require_ok(plan, "pad_activations");
  if (x.shape.size() != 2 || (x.dim(1) != plan.hidden && x.dim(1) != plan.hidden_padded))
    throw std::invalid_argument("pad_activations: expected [M, " + std::to_string(plan.hidden) + "], found " +
                                to_string(x.shape));
  // Already H_pad wide (the ROCm norm-pad fusion): F.pad is skipped, the tensor passes as is.
  const std::int64_t width = plan.skip_forward_padding ? x.dim(1) : plan.hidden_padded;
  return columns(x, width, seed, "pad_activations");
}

template <class T>
Tensor<T> kernel_activations(const Plan& plan, const Tensor<T>& x, std::uint64_t seed) {
  if (!plan.skip_forward_padding) return pad_activations(plan, x, seed);
  require_ok(plan, "kernel_activations");
  if (x.shape.size() != 2 || x.dim(1) != plan.hidden)
    throw std::invalid_argument("kernel_activations: expected [M, " + std::to_string(plan.hidden) + "], found " +
                                to_string(x.shape));
  return columns(x, round_up(plan.hidden, plan.kernel_activation_alignment), seed, "kernel_activations");
}

template <class T>
Tensor<T> routing_input(const Plan& plan, const Tensor<T>& x, std::uint64_t seed) {
  if (x.shape.size() != 2 || x.dim(1) < plan.hidden)
    throw std::invalid_argument("routing_input: expected [M, W >= " + std::to_string(plan.hidden) + "], found " +
                                to_string(x.shape));
  return columns(x, plan.hidden, seed, "routing_input");
}

template <class T>
Tensor<T> slice_output(const Plan& plan, const Tensor<T>& y, std::uint64_t seed) {
  if (y.shape.size() != 2 || y.dim(1) < plan.hidden)
    throw std::invalid_argument("slice_output: expected [M, W >= " + std::to_string(plan.hidden) + "], found " +
                                to_string(y.shape));
  return columns(y, plan.hidden, seed, "slice_output");
}

Tensor<float> all_reduce_then_slice(const Plan& plan, const std::vector<Tensor<float>>& rank_outputs,
                                    std::uint64_t seed) {
  if (rank_outputs.empty()) throw std::invalid_argument("all_reduce_then_slice: no rank outputs");
  const Shape& shape = rank_outputs.front().shape;
  for (const auto& y : rank_outputs)
    if (y.shape != shape || shape.size() != 2)
      throw std::invalid_argument("all_reduce_then_slice: rank outputs must share one [M, W] shape, found " +
                                  to_string(y.shape) + " and " + to_string(shape));
  Tensor<float> sum = poisoned<float>(shape, seed ^ 0xA11);
  for (std::size_t i = 0; i < sum.data.size(); ++i) {
    float acc = rank_outputs.front().data[i];
    for (std::size_t r = 1; r < rank_outputs.size(); ++r) acc += rank_outputs[r].data[i];
    sum.data[i] = acc;
  }
  return slice_output(plan, sum, seed);
}

#define MOECHECK_PADDING_PAD_INSTANTIATE(T)                                                             \
  template Tensor<T> pad_w13<T>(const Plan&, const Tensor<T>&, W13Layout, Role, Packing, std::uint64_t); \
  template Tensor<T> pad_w2<T>(const Plan&, const Tensor<T>&, Role, Packing, std::uint64_t);             \
  template Tensor<T> pad_w13_bias<T>(const Plan&, const Tensor<T>&, W13Layout, std::uint64_t);           \
  template Tensor<T> pad_w2_bias<T>(const Plan&, const Tensor<T>&, std::uint64_t);                       \
  template Tensor<T> pad_activations<T>(const Plan&, const Tensor<T>&, std::uint64_t);                   \
  template Tensor<T> kernel_activations<T>(const Plan&, const Tensor<T>&, std::uint64_t);                \
  template Tensor<T> routing_input<T>(const Plan&, const Tensor<T>&, std::uint64_t);                     \
  template Tensor<T> slice_output<T>(const Plan&, const Tensor<T>&, std::uint64_t);
MOECHECK_PADDING_PAD_INSTANTIATE(float)
MOECHECK_PADDING_PAD_INSTANTIATE(std::uint8_t)
MOECHECK_PADDING_PAD_INSTANTIATE(std::uint16_t)

}  // namespace moecheck::reference::padding
