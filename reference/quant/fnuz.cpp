#include "reference/quant/fnuz.h"

#include "reference/formats/codecs.h"

namespace moecheck::reference::quant {

namespace fmt = formats;

void normalize_e4m3fn_to_e4m3fnuz(std::span<std::uint8_t> codes, std::span<float> scales) {
  for (std::uint8_t& c : codes) c = fmt::e4m3fn_to_fnuz_code(c);
  for (float& s : scales) s *= fmt::kFnToFnuzScaleFactor;
}

float normalize_input_scale_to_fnuz(float input_scale) { return input_scale * fmt::kFnToFnuzScaleFactor; }

Fp8Quantized normalize_e4m3fn_to_e4m3fnuz(const Fp8Quantized& q) {
  validate(q);
  if (q.format != fmt::Format::kE4m3fn) detail::fail("normalize_e4m3fn_to_e4m3fnuz: Fp8Quantized.format", "e4m3fn", fmt::name(q.format));
  Fp8Quantized out = q;
  out.format = fmt::Format::kE4m3fnuz;
  normalize_e4m3fn_to_e4m3fnuz(std::span(out.codes.data(), std::size_t(out.codes.size())),
                               std::span(out.scales.data(), std::size_t(out.scales.size())));
  return out;
}

Fp8BlockWeight normalize_e4m3fn_to_e4m3fnuz(const Fp8BlockWeight& w) {
  validate(w);
  if (w.format != fmt::Format::kE4m3fn) detail::fail("normalize_e4m3fn_to_e4m3fnuz: Fp8BlockWeight.format", "e4m3fn", fmt::name(w.format));
  Fp8BlockWeight out = w;
  out.format = fmt::Format::kE4m3fnuz;
  normalize_e4m3fn_to_e4m3fnuz(out.codes, out.scale_inv);
  return out;
}

}  // namespace moecheck::reference::quant
