"""Writes the .npz/.npy fixtures for tests/npz into argv[1] and prints a JSON manifest.

Every fixture is written by numpy itself (np.save / np.savez / np.savez_compressed /
np.lib.format.write_array), or derived from numpy's bytes by a documented corruption.
The manifest gives, per archive and key, numpy's dtype name, shape and C-order values as
strings (repr for floats, str for ints), which the Deno tests compare exactly.
"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

out = sys.argv[1]
manifest = {}


def values(a):
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.dtype.kind == "f":
        return [repr(float(v)) for v in flat]
    if flat.dtype.kind == "b":
        return [str(int(v)) for v in flat]
    return [str(int(v)) for v in flat]


def describe(arrays):
    return {
        k: {"dtype": np.dtype(v.dtype).newbyteorder("=").name, "shape": list(v.shape), "values": values(v)}
        for k, v in arrays.items()
    }


def base_values(code):
    kind, size = code[0], int(code[1:])
    if kind == "b":
        return np.array([[True, False, True, True], [False, False, True, False], [True] * 4], "?")
    if kind == "f":
        info = np.finfo(f"f{size}")
        v = [0.0, -0.0, 1.5, -2.25, np.nan, np.inf, -np.inf, float(info.max), float(info.tiny),
             float(info.smallest_subnormal), 1 / 3, -1e-3]
        return np.array(v, f"f{size}").reshape(3, 4)
    info = np.iinfo(f"{kind}{size}")
    v = [0, 1, int(info.max), int(info.min), 2, int(info.max) - 1, 7, int(info.min) + 1, 100 % (int(info.max) + 1), 3, 5, 9]
    return np.array(v, f"{kind}{size}").reshape(3, 4)


# every dtype, both byte orders
dtype_arrays = {}
for code in ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]:
    a = base_values(code)
    for order, tag in [("<", "le"), (">", "be")]:
        if a.dtype.itemsize == 1 and tag == "be":
            continue
        dtype_arrays[f"{code}_{tag}"] = a.astype(a.dtype.newbyteorder(order))
np.savez(os.path.join(out, "dtypes_stored.npz"), **dtype_arrays)
np.savez_compressed(os.path.join(out, "dtypes_compressed.npz"), **dtype_arrays)
manifest["dtypes_stored.npz"] = manifest["dtypes_compressed.npz"] = describe(dtype_arrays)

# layouts: Fortran order, 0-d, empty, names with '/' and dots
rng = np.random.default_rng(5)
layout_arrays = {
    "fortran3d": np.asfortranarray(rng.standard_normal((2, 3, 4)).astype("f4")),
    "fortran_be": np.asfortranarray(np.arange(12, dtype=">i8").reshape(3, 4)),
    "scalar": np.array(3.25, "f8"),
    "scalar_int": np.array(-7, "i8"),
    "empty": np.zeros((0,), "f4"),
    "empty2d": np.zeros((2, 0, 4), "i4"),
    "a/b.c": np.arange(5, dtype="u2"),
    "dir/sub/x.y.z": np.array([[1.5, np.nan]], "f8"),
}
np.savez(os.path.join(out, "layouts_stored.npz"), **layout_arrays)
np.savez_compressed(os.path.join(out, "layouts_compressed.npz"), **layout_arrays)
manifest["layouts_stored.npz"] = manifest["layouts_compressed.npz"] = describe(layout_arrays)

# .npy format versions 1.0 / 2.0 / 3.0, as bare files and inside a zip
ver_array = np.arange(6, dtype="<f4").reshape(2, 3) / 7
ver_members = {}
for ver in [(1, 0), (2, 0), (3, 0)]:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, ver_array, version=ver)
    name = f"v{ver[0]}"
    with open(os.path.join(out, f"{name}.npy"), "wb") as f:
        f.write(buf.getvalue())
    ver_members[name] = buf.getvalue()
with zipfile.ZipFile(os.path.join(out, "versions.npz"), "w") as z:
    for name, b in ver_members.items():
        z.writestr(name + ".npy", b)
manifest["versions.npz"] = describe({k: ver_array for k in ver_members})
manifest["v1.npy"] = manifest["v2.npy"] = manifest["v3.npy"] = describe({"x": ver_array})

# unsupported: strings, bytes, objects (pickle), structured
np.savez(os.path.join(out, "unicode.npz"), names=np.array(["ab", "c"]))
np.savez(os.path.join(out, "bytes.npz"), raw=np.array([b"ab", b"c"]))
np.savez(os.path.join(out, "object.npz"), objs=np.array([{"a": 1}, None], dtype=object))
np.savez(os.path.join(out, "structured.npz"), rec=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
np.savez(os.path.join(out, "complex.npz"), z=np.zeros(2, dtype="c8"))

# header shape needing more bytes than present: numpy's header for (300,) over 3 values
small = io.BytesIO()
np.lib.format.write_array(small, np.arange(3, dtype="<i4"))
b = bytearray(small.getvalue())
hl = struct.unpack("<H", b[8:10])[0]
head = b[10 : 10 + hl].decode("latin1").replace("(3,)", "(300,)")
head = head.rstrip().ljust(hl - 1) + "\n"
b[10 : 10 + hl] = head.encode("latin1")
with zipfile.ZipFile(os.path.join(out, "short_data.npz"), "w") as z:
    z.writestr("arr.npy", bytes(b))
with open(os.path.join(out, "short_data.npy"), "wb") as f:
    f.write(bytes(b))

# zip64 everywhere (central-directory extras, zip64 end records), as in files over 4 GB:
# lower zipfile's zip64 threshold so that small members take the same code paths
zip64_arrays = {
    "x": np.arange(100, dtype="f8") / 3,
    "y/z.w": np.arange(30, dtype=">i2"),
    "k": np.ones((3, 4), "f4"),
}
saved_limit = zipfile.ZIP64_LIMIT
zipfile.ZIP64_LIMIT = 64
np.savez(os.path.join(out, "zip64_stored.npz"), **zip64_arrays)
np.savez_compressed(os.path.join(out, "zip64_compressed.npz"), **zip64_arrays)
zipfile.ZIP64_LIMIT = saved_limit
for name in ["zip64_stored.npz", "zip64_compressed.npz"]:
    with open(os.path.join(out, name), "rb") as f:
        assert f.read().count(b"PK\x06\x06") == 1, "zip64 end record written"
    manifest[name] = describe(zip64_arrays)

# a zip whose member is not a .npy (bad magic inside the archive)
with zipfile.ZipFile(os.path.join(out, "bad_member_magic.npz"), "w") as z:
    z.writestr("notnpy.npy", b"hello, this is not numpy data")

# the sizes used by corruption tests (offsets computed from numpy's own archive)
with zipfile.ZipFile(os.path.join(out, "layouts_stored.npz")) as z:
    info = z.getinfo("a/b.c.npy")
    manifest["_a_b_c_header_offset"] = info.header_offset
print(json.dumps(manifest))
