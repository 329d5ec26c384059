#!/usr/bin/env python3
"""External oracle 2 for reference/formats: PyTorch's casts and decodes, written to HDF5.

Run where PyTorch is (the GPU machine): python3 tools/oracle/torch_formats.py OUT.h5
The committed result is fixtures/data/oracle/torch_formats.h5; tests/torch_oracle_test.cpp and
`moecheck check` compare the host codecs with it bit for bit. Layout: fixtures/README.md.

Inputs (uint32 fp32 bit patterns, sorted, unique): all 65536 bf16 patterns widened to fp32;
uniform random finite bit patterns; log-uniform values in [2^-30, 2^21); the special values and
ties of spec/numerics.md §2 and Appendix A; for every fp8/fp4 format the midpoint between each
pair of adjacent values and its two fp32 neighbours; the same for a sample of bf16/fp16 pairs.
Every cast is run on the CPU and, where a CUDA device is present, on it too.
"""
import datetime
import os
import sys

import h5py
import numpy as np
import torch

SCHEMA_VERSION = 1
SEED = 20261128

FP8 = [  # (torch dtype name, moecheck format, moecheck rounding that emulates torch's cast)
    ("float8_e4m3fn", "e4m3fn", "torch"),
    ("float8_e4m3fnuz", "e4m3fnuz", "torch"),
    ("float8_e5m2", "e5m2", "torch"),
    ("float8_e5m2fnuz", "e5m2fnuz", "torch"),
    ("float8_e8m0fnu", "e8m0", "torch"),
]
E2M1_VALUES = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def bits_of(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def neighbours(values):
    """Each float32 value, its next value up and its next value down, both signs."""
    v = np.asarray(values, dtype=np.float32)
    v = v[np.isfinite(v)]
    with np.errstate(over="ignore"):
        up = np.nextafter(v, np.float32(np.inf))
        down = np.nextafter(v, np.float32(-np.inf))
    allv = np.concatenate([v, up, down])
    return np.concatenate([allv, -allv])


def midpoints(sorted_values):
    s = np.asarray(sorted_values, dtype=np.float64)
    mids = (s[:-1] + s[1:]) / 2  # exact in float64; representable in float32 for these formats
    return mids.astype(np.float32)


def decode_table(dtype_name):
    dt = getattr(torch, dtype_name)
    return torch.arange(256, dtype=torch.uint8).view(dt).to(torch.float32).numpy()


def make_inputs(rng):
    parts = []
    parts.append(np.arange(65536, dtype=np.uint32) << 16)
    u = rng.integers(0, 2**32, size=1 << 16, dtype=np.uint64).astype(np.uint32)
    parts.append(u[(u & 0x7F800000) != 0x7F800000])
    sign = rng.integers(0, 2, size=1 << 16, dtype=np.uint32) << 31
    exp = rng.integers(127 - 30, 127 + 21, size=1 << 16, dtype=np.uint32) << 23
    man = rng.integers(0, 1 << 23, size=1 << 16, dtype=np.uint32)
    parts.append(sign | exp | man)
    specials = [0.0, 448.0, 449.0, 463.9, 464.0, 464.0001, 464.1, 470.0, 479.0, 480.0, 500.0, 240.0, 247.9,
                248.0, 255.0, 256.0, 224.0, 57344.0, 61439.0, 61440.0, 61441.0, 65504.0, 65519.99, 65520.0,
                1e6, 1e30, 3e38, 1.0, 1.25, 1.4999, 1.5, 1.5001, 1.75, 3.0, 0.75, 6.0, 5.0, 3.5, 2.5, 0.25,
                0.001953125, 0.0009765625, 0.00146484375, 1.52587890625e-05, 7.62939453125e-06, 0.0007,
                0.00048828125, 7e-39, 1e-45, np.finfo(np.float32).max, np.finfo(np.float32).tiny]
    specials += [2.0**k for k in range(-149, 128)]
    specials += [1.5 * 2.0**k for k in range(-127, 128)]
    specials += [1.75 * 2.0**k for k in range(-127, 128)]
    parts.append(bits_of(neighbours(np.array(specials, dtype=np.float64).astype(np.float32))))
    parts.append(np.array([0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF,
                           0xFFFFFFFF, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00400000], dtype=np.uint32))
    for name, _, _ in FP8:
        table = decode_table(name)
        fin = np.unique(np.abs(table[np.isfinite(table)]))
        parts.append(bits_of(neighbours(midpoints(fin))))
        parts.append(bits_of(neighbours(fin)))
    parts.append(bits_of(neighbours(midpoints(np.array(E2M1_VALUES, dtype=np.float32)))))
    bf = f32(np.arange(0, 0x7F80, 8, dtype=np.uint32) << 16)
    parts.append(bits_of(neighbours(midpoints(bf))))
    hf = np.arange(0, 0x7C00, 4, dtype=np.uint16).view(np.float16).astype(np.float32)
    parts.append(bits_of(neighbours(midpoints(hf))))
    return np.unique(np.concatenate(parts).astype(np.uint32))


def cast_codes(x, device, dtype):
    t = torch.from_numpy(x.copy()).to(device)
    return t.to(dtype).view(torch.uint8 if dtype.itemsize == 1 else torch.int16).cpu().numpy()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_formats.py OUT.h5")
    out_path = sys.argv[1]
    rng = np.random.default_rng(SEED)
    inputs = make_inputs(rng)
    x = f32(inputs)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    tmp = out_path + ".tmp-%d" % os.getpid()
    skipped = []
    with h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = np.int64(SCHEMA_VERSION)
        f.attrs["generator"] = "tools/oracle/torch_formats.py"
        f.attrs["seed"] = np.int64(SEED)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["cuda_device"] = str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else "none"
        f.attrs["created"] = datetime.date.today().isoformat()
        f.attrs["devices"] = ",".join(devices)

        def put(name, data, **attrs):
            kw = dict(compression="gzip", compression_opts=6, shuffle=True) if data.nbytes >= 65536 else {}
            d = f.create_dataset(name, data=data, **kw)
            for k, v in attrs.items():
                d.attrs[k] = v
            return d

        put("inputs", inputs, moecheck_dtype="u32", description="fp32 inputs as uint32 bit patterns")
        for dev in devices:
            for name, fmt, rounding in FP8:
                if not hasattr(torch, name):
                    skipped.append(name)
                    continue
                codes = cast_codes(x, dev, getattr(torch, name)).astype(np.uint8)
                put("%s/%s" % (dev, name), codes, moecheck_dtype="u8", encoder="%s:%s" % (fmt, rounding),
                    torch_op="x.to(torch.%s)" % name, nan_compare="bits", inputs="all")
            # Triton's saturating cast equals torch's cast of the clamped value (spec §2.5).
            t = torch.from_numpy(x.copy()).to(dev)
            codes = t.clamp(-448.0, 448.0).to(torch.float8_e4m3fn).view(torch.uint8).cpu().numpy()
            put("%s/float8_e4m3fn_clamped" % dev, codes, moecheck_dtype="u8", encoder="e4m3fn:satfinite",
                torch_op="x.clamp(-448, 448).to(torch.float8_e4m3fn)", nan_compare="bits", inputs="non_nan")
            for name, fmt in (("bfloat16", "bf16"), ("float16", "fp16")):
                codes = cast_codes(x, dev, getattr(torch, name)).view(np.uint16)
                # torch's NaN payload differs between its CPU scalar, CPU vector and CUDA paths;
                # the GPU intrinsics oracle pins the payload, this one the NaN-ness.
                put("%s/%s" % (dev, name), codes, moecheck_dtype="u16", encoder="%s:rne" % fmt,
                    torch_op="x.to(torch.%s)" % name, nan_compare="class", inputs="all")
        for name, fmt, _ in FP8:
            if hasattr(torch, name):
                put("decode/%s" % name, decode_table(name).astype(np.float32), moecheck_dtype="f32", format=fmt,
                    torch_op="torch.arange(256, dtype=uint8).view(torch.%s).float()" % name, nan_compare="class")
        all16 = torch.from_numpy(np.arange(65536, dtype=np.uint16).view(np.int16))
        put("decode/bfloat16", all16.view(torch.bfloat16).float().numpy(), moecheck_dtype="f32", format="bf16",
            torch_op="all 65536 int16 patterns .view(torch.bfloat16).float()", nan_compare="class")
        put("decode/float16", all16.view(torch.float16).float().numpy(), moecheck_dtype="f32", format="fp16",
            torch_op="all 65536 int16 patterns .view(torch.float16).float()", nan_compare="class")
        f.attrs["unavailable_dtypes"] = ",".join(sorted(set(skipped)))
    os.replace(tmp, out_path)
    print("wrote %s: %d inputs, devices %s, torch %s" % (out_path, len(inputs), devices, torch.__version__))


if __name__ == "__main__":
    main()
