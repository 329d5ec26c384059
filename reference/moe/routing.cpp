#include "reference/moe/routing.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/moe/activation.h"  // sigmoid

namespace moecheck::reference::moe {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& found) {
  throw std::invalid_argument("routing: " + what + ": expected " + expected + ", found " + found);
}

// a ranks before b: larger first, NaN above every number, lower index on ties.
bool ranks_before(std::span<const float> v, std::int32_t a, std::int32_t b) {
  const bool nan_a = std::isnan(v[a]), nan_b = std::isnan(v[b]);
  if (nan_a != nan_b) return nan_a;
  if (!nan_a && v[a] != v[b]) return v[a] > v[b];
  return a < b;
}

// Softmax of `values` in double (entries of -inf get 0), each probability rounded by `r`.
template <class Round>
std::vector<float> softmax(std::span<const float> values, Round r) {
  double max = -std::numeric_limits<double>::infinity();
  for (float v : values) max = std::max(max, double{v});
  std::vector<double> e(values.size());
  double sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += e[i] = std::exp(double{values[i]} - max);
  std::vector<float> p(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = r(e[i] / sum);
  return p;
}

// Phi-3.5-MoE `sparsemixer` (inference): the masks keep the experts whose logit is within a
// relative 2·eps of the current maximum, each op in the model dtype.
void sparse_mixer(const RouterConfig& c, Dtype model, std::span<const float> s, std::int32_t* ids, float* weights) {
  const auto r = [model](double v) { return round_to(model, v); };
  const float threshold = r(2.0 * c.jitter_eps);
  const float inf = std::numeric_limits<float>::infinity();
  const auto masked_softmax_at = [&](std::vector<float> gates, float max, std::int32_t winner) {
    for (std::size_t j = 0; j < s.size(); ++j) {
      const double factor = std::max(double{std::abs(s[j])}, double{max});
      if (r(r(double{max} - s[j]) / factor) > threshold) gates[j] = -inf;
    }
    return softmax(gates, r)[winner];
  };
  const std::vector<float> scores(s.begin(), s.end());
  ids[0] = top_k(scores, 1)[0];
  weights[0] = masked_softmax_at(scores, scores[ids[0]], ids[0]);
  std::vector<float> without_first = scores;
  without_first[ids[0]] = -inf;
  ids[1] = top_k(without_first, 1)[0];
  weights[1] = masked_softmax_at(without_first, without_first[ids[1]], ids[1]);
}

void validate(const RouterConfig& c, std::int64_t experts, std::size_t bias_size) {
  if (c.top_k < 1 || c.top_k > experts)
    fail("top_k", "1.." + std::to_string(experts) + " (the number of experts)", std::to_string(c.top_k));
  if (c.rule == RoutingRule::kSparseMixer && c.top_k != 2)
    fail("top_k of the sparsemixer", "2 (hard-wired in Phi-3.5-MoE)", std::to_string(c.top_k));
  if (c.n_group < 1 || experts % c.n_group != 0)
    fail("n_group", "a divisor of " + std::to_string(experts) + " experts", std::to_string(c.n_group));
  if (c.topk_group < 1 || c.topk_group > c.n_group)
    fail("topk_group", "1.." + std::to_string(c.n_group) + " (n_group)", std::to_string(c.topk_group));
  if (c.n_group > 1 && c.topk_group * (experts / c.n_group) < c.top_k)
    fail("topk_group", "groups holding at least top_k = " + std::to_string(c.top_k) + " experts",
         std::to_string(c.topk_group) + " groups of " + std::to_string(experts / c.n_group));
  if (c.group_score == GroupScore::kTop2Sum && c.n_group > 1 && experts / c.n_group < 2)
    fail("group size", "at least 2 experts per group for the top-2 group score", std::to_string(experts / c.n_group));
  if (bias_size != 0 && bias_size != static_cast<std::size_t>(experts))
    fail("correction bias", std::to_string(experts) + " values or none", std::to_string(bias_size));
  if (c.normalization == Normalization::kLp && !(c.lp_norm_p > 0))
    fail("L_p normalization", "p > 0", std::to_string(c.lp_norm_p));
}

}  // namespace

float round_to(Precision precision, Dtype model, double exact) {
  return round_to(precision == Precision::kF32 ? Dtype::kF32 : model, exact);
}

std::vector<std::int32_t> top_k(std::span<const float> values, std::int64_t k) {
  std::vector<std::int32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  const auto kk = static_cast<std::ptrdiff_t>(std::min<std::size_t>(static_cast<std::size_t>(k), values.size()));
  std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                    [&](std::int32_t a, std::int32_t b) { return ranks_before(values, a, b); });
  order.resize(static_cast<std::size_t>(kk));
  return order;
}

Routing route(const RouterConfig& c, Dtype model, const RowMatrix<float>& logits, std::span<const float> correction_bias) {
  const std::int64_t tokens = logits.rows(), experts = logits.cols(), k = c.top_k;
  validate(c, experts, correction_bias.size());
  const auto r_scores = [&](double v) { return round_to(c.scores, model, v); };
  Routing out{RowMatrix<std::int32_t>(tokens, k), RowMatrix<float>(tokens, k)};

  for (std::int64_t t = 0; t < tokens; ++t) {
    const std::span<const float> row(logits.row(t).data(), static_cast<std::size_t>(experts));
    std::int32_t* ids = out.ids.row(t).data();
    std::vector<float> w(static_cast<std::size_t>(k));

    if (c.rule == RoutingRule::kSparseMixer) {
      sparse_mixer(c, model, row, ids, w.data());
    } else if (c.rule == RoutingRule::kTopKThenSoftmax || c.rule == RoutingRule::kTopKThenSigmoid) {
      const std::vector<std::int32_t> best = top_k(row, k);
      std::vector<float> chosen(best.size());
      for (std::size_t j = 0; j < best.size(); ++j) chosen[j] = row[best[j]];
      const std::vector<float> p = c.rule == RoutingRule::kTopKThenSoftmax ? softmax(chosen, r_scores) : std::vector<float>{};
      for (std::size_t j = 0; j < best.size(); ++j) {
        ids[j] = best[j];
        w[j] = c.rule == RoutingRule::kTopKThenSoftmax ? p[j] : r_scores(sigmoid(chosen[j]));
      }
    } else {
      std::vector<float> scores(static_cast<std::size_t>(experts));
      if (c.scoring == Scoring::kSoftmax)
        scores = softmax(row, r_scores);
      else
        for (std::size_t e = 0; e < scores.size(); ++e) scores[e] = r_scores(sigmoid(row[e]));

      std::vector<float> choice = scores;
      if (!correction_bias.empty())
        for (std::size_t e = 0; e < choice.size(); ++e) choice[e] = r_scores(double{scores[e]} + correction_bias[e]);

      if (c.n_group > 1) {
        const std::int64_t size = experts / c.n_group;
        std::vector<float> group(static_cast<std::size_t>(c.n_group));
        for (std::int64_t g = 0; g < c.n_group; ++g) {
          const std::span<const float> members(choice.data() + g * size, static_cast<std::size_t>(size));
          const std::vector<std::int32_t> best = top_k(members, 2);
          group[g] = c.group_score == GroupScore::kMax ? members[best[0]]
                                                       : r_scores(double{members[best[0]]} + members[best[1]]);
        }
        std::vector<bool> kept(static_cast<std::size_t>(c.n_group), false);
        for (std::int32_t g : top_k(group, c.topk_group)) kept[g] = true;
        for (std::int64_t e = 0; e < experts; ++e)
          if (!kept[e / size]) choice[e] = c.masked_score;
      }

      const std::vector<std::int32_t> best = top_k(choice, k);
      for (std::size_t j = 0; j < best.size(); ++j) {
        ids[j] = best[j];
        w[j] = scores[best[j]];  // the unbiased score: the correction bias only chooses
      }

      if (c.normalization != Normalization::kNone) {
        double norm = 0;
        if (c.normalization == Normalization::kLp) {
          for (float v : w) norm += std::pow(std::abs(double{v}), c.lp_norm_p);
          norm = std::pow(norm, 1.0 / c.lp_norm_p);
        } else {
          for (float v : w) norm += v;
        }
        float denominator = r_scores(norm);
        if (c.normalization == Normalization::kSumPlusEps) denominator = r_scores(double{denominator} + double{1e-20f});
        for (float& v : w) v = r_scores(double{v} / denominator);
      }
      if (c.routed_scaling_factor != 1.0) {
        // torch multiplies by a Python float in the tensor's compute type (fp32 here).
        const double factor = static_cast<float>(c.routed_scaling_factor);
        for (float& v : w) v = r_scores(double{v} * factor);
      }
    }
    for (std::int64_t j = 0; j < k; ++j) out.weights(t, j) = round_to(c.weights, model, w[static_cast<std::size_t>(j)]);
  }
  return out;
}

}  // namespace moecheck::reference::moe
