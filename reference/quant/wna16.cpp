#include "reference/quant/wna16.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/formats/codecs.h"
#include "reference/quant/blocks.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

namespace {

void check_bits(int bits, std::string_view what) {
  if (bits != 4 && bits != 8) detail::fail(std::string(what) + ".bits", "4 or 8", bits);
}

void check_group(std::int64_t cols, std::int64_t group_size, std::string_view what) {
  if (group_size <= 0 || cols % group_size != 0)
    detail::fail(std::string(what) + ".group_size", "a positive divisor of K = " + std::to_string(cols), group_size);
}

template <typename M>
void check_shape(const M& m, std::int64_t rows, std::int64_t cols, std::string_view what) {
  if (m.rows() != rows || m.cols() != cols) detail::fail(what, detail::shape_string({rows, cols}), detail::shape_string({m.rows(), m.cols()}));
}

int pack_factor(int bits) { return 32 / bits; }
std::uint32_t mask_of(int bits) { return (1u << bits) - 1u; }

// torch.round (half to even) then `.int()`: NaN and values outside int32 become INT_MIN on x86
// (cvttss2si's "integer indefinite").
std::int64_t round_to_int(float v) {
  const float r = std::nearbyint(v);
  if (!(std::fabs(r) < 2147483648.0f)) return INT_MIN;
  return std::int64_t(r);
}

const int kAwqInterleave4[8] = {0, 2, 4, 6, 1, 3, 5, 7};
const int kAwqInterleave8[4] = {0, 2, 1, 3};
int awq_column(int bits, int p) { return bits == 4 ? kAwqInterleave4[p] : kAwqInterleave8[p]; }

}  // namespace

void validate(const IntWeight& w) {
  check_bits(w.bits, "IntWeight");
  check_group(w.cols, w.group_size, "IntWeight");
  check_shape(w.codes, w.rows, w.cols, "IntWeight.codes shape");
  check_shape(w.scales, w.rows, w.cols / w.group_size, "IntWeight.scales shape");
  if (w.zeros) check_shape(*w.zeros, w.rows, w.cols / w.group_size, "IntWeight.zeros shape");
  if (!w.g_idx.empty()) {
    if (static_cast<std::int64_t>(w.g_idx.size()) != w.cols)
      detail::fail("IntWeight.g_idx size", std::to_string(w.cols) + " (K)", static_cast<std::int64_t>(w.g_idx.size()));
    for (const std::int32_t g : w.g_idx)
      if (g < 0 || g >= w.cols / w.group_size)
        detail::fail("IntWeight.g_idx value", "in [0, " + std::to_string(w.cols / w.group_size) + ")", g);
  }
  const std::uint32_t max_code = mask_of(w.bits);
  for (Eigen::Index i = 0; i < w.codes.size(); ++i)
    if (w.codes.data()[i] > max_code)
      detail::fail("IntWeight.codes value", "<= " + std::to_string(max_code), w.codes.data()[i]);
  if (w.zeros)
    for (Eigen::Index i = 0; i < w.zeros->size(); ++i)
      if (w.zeros->data()[i] > max_code)
        detail::fail("IntWeight.zeros value", "<= " + std::to_string(max_code), w.zeros->data()[i]);
}

int zero_point(const IntWeight& w, std::int64_t row, std::int64_t group) {
  return w.zeros ? (*w.zeros)(row, group) : (1 << (w.bits - 1));
}

RowMatrixXf dequantize(const IntWeight& w, Wna16Compute compute) {
  validate(w);
  RowMatrixXf out(w.rows, w.cols);
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t c = 0; c < w.cols; ++c) {
      const std::int64_t g = w.g_idx.empty() ? c / w.group_size : w.g_idx[static_cast<std::size_t>(c)];
      const float v = (float(w.codes(r, c)) - float(zero_point(w, r, g))) * w.scales(r, g);
      switch (compute) {
        case Wna16Compute::kFp32: out(r, c) = v; break;
        case Wna16Compute::kBf16: out(r, c) = fmt::bf16_value(fmt::bf16_rne(v)); break;
        case Wna16Compute::kFp16: out(r, c) = fmt::decode(fmt::Format::kFp16, fmt::fp16_rne(v)); break;
      }
    }
  return out;
}

IntWeight quantize(MatrixView w, const Wna16Scheme& scheme) {
  check_bits(scheme.bits, "Wna16Scheme");
  const std::int64_t g = scheme.group_size == -1 ? w.cols() : scheme.group_size;
  check_group(w.cols(), g, "Wna16Scheme");
  IntWeight q;
  q.rows = w.rows();
  q.cols = w.cols();
  q.bits = scheme.bits;
  q.group_size = g;
  q.codes.resize(q.rows, q.cols);
  q.scales.resize(q.rows, q.cols / g);
  if (scheme.zero_points) q.zeros = RowMatrixXu8(q.rows, q.cols / g);
  // The columns in quantization order: in place, or act-order's decreasing mean square.
  std::vector<std::int64_t> order(static_cast<std::size_t>(q.cols));
  for (std::int64_t c = 0; c < q.cols; ++c) order[static_cast<std::size_t>(c)] = c;
  if (scheme.act_order) {
    std::vector<double> energy(order.size(), 0.0);
    for (std::int64_t c = 0; c < q.cols; ++c)
      for (std::int64_t r = 0; r < q.rows; ++r) energy[static_cast<std::size_t>(c)] += double{w(r, c)} * w(r, c);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return energy[static_cast<std::size_t>(a)] > energy[static_cast<std::size_t>(b)];
    });
    q.g_idx.resize(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) q.g_idx[static_cast<std::size_t>(order[i])] = static_cast<std::int32_t>(i / g);
  }
  const std::int64_t half = std::int64_t(1) << (scheme.bits - 1);
  std::vector<float> group(static_cast<std::size_t>(g));
  for (std::int64_t r = 0; r < q.rows; ++r)
    for (std::int64_t j = 0; j < q.cols / g; ++j) {
      const std::int64_t* cols = order.data() + j * g;  // the group's columns
      for (std::int64_t i = 0; i < g; ++i) group[static_cast<std::size_t>(i)] = w(r, cols[i]);
      const float mx = *std::max_element(group.begin(), group.end()), mn = *std::min_element(group.begin(), group.end());
      if (scheme.zero_points) {
        const float qmax = float(mask_of(scheme.bits));
        const float s = std::max(mx - mn, 1e-5f) / qmax;
        const std::int64_t z = std::clamp<std::int64_t>(round_to_int(std::fabs(mn / s)), 0, std::int64_t(qmax));
        q.scales(r, j) = s;
        (*q.zeros)(r, j) = std::uint8_t(z);
        for (std::int64_t i = 0; i < g; ++i)
          q.codes(r, cols[i]) = std::uint8_t(
              std::clamp<std::int64_t>(round_to_int(group[static_cast<std::size_t>(i)] / s) + z, 0, std::int64_t(qmax)));
      } else {
        const float qmax = float(half - 1), qmin = float(-half);
        const float s = std::max(std::fabs(mx / qmax), std::fabs(mn / qmin));
        q.scales(r, j) = s;
        for (std::int64_t i = 0; i < g; ++i)
          q.codes(r, cols[i]) = std::uint8_t(
              std::clamp<std::int64_t>(round_to_int(group[static_cast<std::size_t>(i)] / s), -half, half - 1) + half);
      }
    }
  return q;
}

Wna16Packed pack_wna16(const IntWeight& w) {
  validate(w);
  Wna16Packed p;
  p.rows = w.rows;
  p.cols = w.cols;
  p.bits = w.bits;
  p.group_size = w.group_size;
  p.scales = w.scales;
  if (w.bits == 8) {
    p.weight = w.codes;
    p.zeros = w.zeros;
    return p;
  }
  if (w.cols % 2 != 0) detail::fail("pack_wna16: int4 K", "even", w.cols);
  p.weight.setZero(w.rows, w.cols / 2);
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t c = 0; c < w.cols; ++c) p.weight(r, c / 2) |= std::uint8_t(w.codes(r, c) << (4 * (c % 2)));
  if (w.zeros) {
    if (w.rows % 2 != 0) detail::fail("pack_wna16: int4 zero points need an even N", "N % 2 == 0", w.rows);
    RowMatrixXu8 z = RowMatrixXu8::Zero(w.rows / 2, w.zeros->cols());
    for (std::int64_t r = 0; r < w.rows; ++r)
      for (Eigen::Index g = 0; g < w.zeros->cols(); ++g) z(r / 2, g) |= std::uint8_t((*w.zeros)(r, g) << (4 * (r % 2)));
    p.zeros = z;
  }
  return p;
}

IntWeight unpack_wna16(const Wna16Packed& p) {
  check_bits(p.bits, "Wna16Packed");
  check_group(p.cols, p.group_size, "Wna16Packed");
  IntWeight w;
  w.rows = p.rows;
  w.cols = p.cols;
  w.bits = p.bits;
  w.group_size = p.group_size;
  check_shape(p.scales, p.rows, p.cols / p.group_size, "Wna16Packed.scales shape");
  w.scales = p.scales;
  const std::int64_t groups = p.cols / p.group_size;
  if (p.bits == 8) {
    check_shape(p.weight, p.rows, p.cols, "Wna16Packed.weight shape (int8: [N, K])");
    w.codes = p.weight;
    if (p.zeros) {
      check_shape(*p.zeros, p.rows, groups, "Wna16Packed.zeros shape (int8: [N, K/g])");
      w.zeros = p.zeros;
    }
    return w;
  }
  if (p.cols % 2 != 0) detail::fail("Wna16Packed: int4 K", "even", p.cols);
  check_shape(p.weight, p.rows, p.cols / 2, "Wna16Packed.weight shape (int4: [N, K/2])");
  w.codes.resize(p.rows, p.cols);
  for (std::int64_t r = 0; r < p.rows; ++r)
    for (std::int64_t c = 0; c < p.cols; ++c) w.codes(r, c) = (p.weight(r, c / 2) >> (4 * (c % 2))) & 0x0F;
  if (p.zeros) {
    if (p.rows % 2 != 0) detail::fail("Wna16Packed: int4 zero points need an even N", "N % 2 == 0", p.rows);
    check_shape(*p.zeros, p.rows / 2, groups, "Wna16Packed.zeros shape (int4: [N/2, K/g])");
    RowMatrixXu8 z(p.rows, groups);
    for (std::int64_t r = 0; r < p.rows; ++r)
      for (std::int64_t g = 0; g < groups; ++g) z(r, g) = ((*p.zeros)(r / 2, g) >> (4 * (r % 2))) & 0x0F;
    w.zeros = z;
  }
  return w;
}

GptqV1Checkpoint pack_gptq_v1(const IntWeight& w) {
  validate(w);
  const int pf = pack_factor(w.bits);
  const std::uint32_t mask = mask_of(w.bits);
  if (w.cols % pf != 0) detail::fail("pack_gptq_v1: K", "a multiple of " + std::to_string(pf), w.cols);
  if (w.rows % pf != 0) detail::fail("pack_gptq_v1: N (qzeros are packed along N)", "a multiple of " + std::to_string(pf), w.rows);
  const std::int64_t groups = w.cols / w.group_size;
  GptqV1Checkpoint c;
  c.k = w.cols;
  c.n = w.rows;
  c.bits = w.bits;
  c.group_size = w.group_size;
  c.qweight.resize(w.cols / pf, w.rows);
  for (std::int64_t r = 0; r < w.cols / pf; ++r)
    for (std::int64_t n = 0; n < w.rows; ++n) {
      std::uint32_t word = 0;
      for (int i = 0; i < pf; ++i) word |= (std::uint32_t(w.codes(n, r * pf + i)) & mask) << (w.bits * i);
      c.qweight(r, n) = std::bit_cast<std::int32_t>(word);
    }
  c.qzeros.resize(groups, w.rows / pf);
  for (std::int64_t g = 0; g < groups; ++g)
    for (std::int64_t col = 0; col < w.rows / pf; ++col) {
      std::uint32_t word = 0;
      for (int i = 0; i < pf; ++i)
        word |= (std::uint32_t(zero_point(w, col * pf + i, g) - 1) & mask) << (w.bits * i);
      c.qzeros(g, col) = std::bit_cast<std::int32_t>(word);
    }
  c.scales = w.scales.transpose();
  c.g_idx.resize(w.cols);
  for (std::int64_t k = 0; k < w.cols; ++k) c.g_idx[k] = int(k / w.group_size);
  return c;
}

IntWeight unpack_gptq_v1(const GptqV1Checkpoint& c) {
  check_bits(c.bits, "GptqV1Checkpoint");
  check_group(c.k, c.group_size, "GptqV1Checkpoint");
  const int pf = pack_factor(c.bits);
  const std::uint32_t mask = mask_of(c.bits);
  if (c.k % pf != 0) detail::fail("GptqV1Checkpoint.k", "a multiple of " + std::to_string(pf), c.k);
  if (c.n % pf != 0) detail::fail("GptqV1Checkpoint.n", "a multiple of " + std::to_string(pf), c.n);
  const std::int64_t groups = c.k / c.group_size;
  check_shape(c.qweight, c.k / pf, c.n, "GptqV1Checkpoint.qweight shape");
  check_shape(c.qzeros, groups, c.n / pf, "GptqV1Checkpoint.qzeros shape");
  check_shape(c.scales, groups, c.n, "GptqV1Checkpoint.scales shape");
  if (c.g_idx.size() != 0) {
    if (c.g_idx.size() != c.k) detail::fail("GptqV1Checkpoint.g_idx size", "K = " + std::to_string(c.k), c.g_idx.size());
    for (std::int64_t k = 0; k < c.k; ++k)
      if (c.g_idx[k] != k / c.group_size)
        detail::fail("GptqV1Checkpoint.g_idx[" + std::to_string(k) + "] (act-order is not supported)",
                     std::to_string(k / c.group_size), c.g_idx[k]);
  }
  IntWeight w;
  w.rows = c.n;
  w.cols = c.k;
  w.bits = c.bits;
  w.group_size = c.group_size;
  w.codes.resize(c.n, c.k);
  for (std::int64_t r = 0; r < c.k / pf; ++r)
    for (std::int64_t n = 0; n < c.n; ++n) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(c.qweight(r, n));
      for (int i = 0; i < pf; ++i) w.codes(n, r * pf + i) = std::uint8_t((word >> (c.bits * i)) & mask);
    }
  RowMatrixXu8 z(c.n, groups);
  for (std::int64_t g = 0; g < groups; ++g)
    for (std::int64_t col = 0; col < c.n / pf; ++col) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(c.qzeros(g, col));
      for (int i = 0; i < pf; ++i) z(col * pf + i, g) = std::uint8_t((((word >> (c.bits * i)) & mask) + 1) & mask);
    }
  w.zeros = z;
  w.scales = c.scales.transpose();
  return w;
}

AwqCheckpoint pack_awq(const IntWeight& w) {
  validate(w);
  const int pf = pack_factor(w.bits);
  const std::uint32_t mask = mask_of(w.bits);
  if (w.rows % pf != 0) detail::fail("pack_awq: N (packed along N)", "a multiple of " + std::to_string(pf), w.rows);
  const std::int64_t groups = w.cols / w.group_size;
  AwqCheckpoint c;
  c.k = w.cols;
  c.n = w.rows;
  c.bits = w.bits;
  c.group_size = w.group_size;
  c.qweight.resize(w.cols, w.rows / pf);
  c.qzeros.resize(groups, w.rows / pf);
  for (std::int64_t col = 0; col < w.rows / pf; ++col) {
    for (std::int64_t k = 0; k < w.cols; ++k) {
      std::uint32_t word = 0;
      for (int p = 0; p < pf; ++p)
        word |= (std::uint32_t(w.codes(col * pf + awq_column(w.bits, p), k)) & mask) << (w.bits * p);
      c.qweight(k, col) = std::bit_cast<std::int32_t>(word);
    }
    for (std::int64_t g = 0; g < groups; ++g) {
      std::uint32_t word = 0;
      for (int p = 0; p < pf; ++p)
        word |= (std::uint32_t(zero_point(w, col * pf + awq_column(w.bits, p), g)) & mask) << (w.bits * p);
      c.qzeros(g, col) = std::bit_cast<std::int32_t>(word);
    }
  }
  c.scales = w.scales.transpose();
  return c;
}

IntWeight unpack_awq(const AwqCheckpoint& c) {
  check_bits(c.bits, "AwqCheckpoint");
  check_group(c.k, c.group_size, "AwqCheckpoint");
  const int pf = pack_factor(c.bits);
  const std::uint32_t mask = mask_of(c.bits);
  if (c.n % pf != 0) detail::fail("AwqCheckpoint.n", "a multiple of " + std::to_string(pf), c.n);
  const std::int64_t groups = c.k / c.group_size;
  check_shape(c.qweight, c.k, c.n / pf, "AwqCheckpoint.qweight shape");
  check_shape(c.qzeros, groups, c.n / pf, "AwqCheckpoint.qzeros shape");
  check_shape(c.scales, groups, c.n, "AwqCheckpoint.scales shape");
  IntWeight w;
  w.rows = c.n;
  w.cols = c.k;
  w.bits = c.bits;
  w.group_size = c.group_size;
  w.codes.resize(c.n, c.k);
  RowMatrixXu8 z(c.n, groups);
  for (std::int64_t col = 0; col < c.n / pf; ++col) {
    for (std::int64_t k = 0; k < c.k; ++k) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(c.qweight(k, col));
      for (int p = 0; p < pf; ++p)
        w.codes(col * pf + awq_column(c.bits, p), k) = std::uint8_t((word >> (c.bits * p)) & mask);
    }
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::uint32_t word = std::bit_cast<std::uint32_t>(c.qzeros(g, col));
      for (int p = 0; p < pf; ++p) z(col * pf + awq_column(c.bits, p), g) = std::uint8_t((word >> (c.bits * p)) & mask);
    }
  }
  w.zeros = z;
  w.scales = c.scales.transpose();
  return w;
}

bool is_wna16(const SchemeSpec& scheme) {
  return spec(storage_scheme(scheme.scheme)).dequantize_rows == wna16_dequantize_rows;
}

Wna16Scheme wna16_scheme(const SchemeSpec& scheme) {
  const ComponentSpec* scales = scheme.find(Component::kScales);
  const Packing codes = scheme.elements().packing;
  if (scheme.elements().component != Component::kCodes || !scales || (codes != kFp4Bytes && codes != kUnpacked))
    throw std::logic_error(std::string(scheme.name) + " is not a WNA16 row (int4 / int8 codes and group scales)");
  // A whole-axis scale (one per output channel over all of K) is GPTQ's group_size -1.
  return Wna16Scheme{codes == kFp4Bytes ? 4 : 8, scales->packing.whole_axis() ? -1 : scales->packing.elements,
                     scheme.find(Component::kZeroPoints) != nullptr, scheme.find(Component::kGroupIndex) != nullptr};
}

void wna16_dequantize_rows(const SchemeSpec& scheme, const SchemeStorage& storage, std::int64_t rows,
                           std::int64_t cols, std::int64_t row_begin, std::int64_t row_end, float* out) {
  const Wna16Scheme q = wna16_scheme(scheme);
  if (row_begin < 0 || row_end > rows || row_begin > row_end)
    throw std::invalid_argument(std::string(scheme.name) + ": rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") outside [0, " + std::to_string(rows) + ")");
  const ComponentSpec& codes = scheme.elements();
  const ComponentSpec& scales = *scheme.find(Component::kScales);
  const std::int64_t code_cols = codes.stored_cols(cols), groups = scales.stored_cols(cols);
  // The rows as an IntWeight, so that the one dequantize() gives the values.
  IntWeight w;
  w.rows = row_end - row_begin;
  w.cols = cols;
  w.bits = q.bits;
  w.group_size = q.group_size == -1 ? cols : q.group_size;
  w.codes.resize(w.rows, cols);
  w.scales.resize(w.rows, groups);
  for (std::int64_t n = 0; n < w.rows; ++n) {
    const std::uint8_t* row = storage.codes.data() + (row_begin + n) * code_cols;
    for (std::int64_t k = 0; k < cols; ++k) w.codes(n, k) = packed_code(row, k, codes.packing);
    for (std::int64_t g = 0; g < groups; ++g) w.scales(n, g) = storage.scales[static_cast<std::size_t>((row_begin + n) * groups + g)];
  }
  if (q.zero_points) {
    // The row's zero points are one per byte, [N, K/g], for int4 as for int8 (scheme.cpp).
    RowMatrixXu8 z(w.rows, groups);
    for (std::int64_t n = 0; n < w.rows; ++n)
      for (std::int64_t g = 0; g < groups; ++g)
        z(n, g) = storage.zero_points[static_cast<std::size_t>((row_begin + n) * groups + g)];
    w.zeros = z;
  }
  if (q.act_order) {
    // One group index per column of the projection (held as exact fp32 values), for every row.
    if (static_cast<std::int64_t>(storage.group_index.size()) != cols)
      throw std::invalid_argument(std::string(scheme.name) + ": g_idx: expected " + std::to_string(cols) +
                                  " values (K), found " + std::to_string(storage.group_index.size()));
    w.g_idx.resize(static_cast<std::size_t>(cols));
    for (std::int64_t k = 0; k < cols; ++k) w.g_idx[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(storage.group_index[static_cast<std::size_t>(k)]);
  }
  const RowMatrixXf v = dequantize(w, Wna16Compute::kFp32);
  std::copy(v.data(), v.data() + v.size(), out);
}

SchemeStorage quantize_wna16_weight(const SchemeSpec& scheme, MatrixView values) {
  const IntWeight w = quantize(values, wna16_scheme(scheme));
  const Wna16Packed p = pack_wna16(w);
  SchemeStorage s;
  s.codes.assign(p.weight.data(), p.weight.data() + p.weight.size());
  s.scales.assign(p.scales.data(), p.scales.data() + p.scales.size());
  // Zero points one per byte, [N, K/g] (the row's storage; pack_wna16 packs int4 ones along N).
  if (w.zeros) s.zero_points.assign(w.zeros->data(), w.zeros->data() + w.zeros->size());
  s.group_index.assign(w.g_idx.begin(), w.g_idx.end());
  return s;
}

}  // namespace moecheck::reference::quant
