#!/usr/bin/env python3
"""Differential test of oodflow's .npy reader against numpy.load(f, allow_pickle=False).

Every .npy input of the fuzz corpus and the variants generated below (numpy's own writer for
every real dtype, byte order, memory order and format version, and hand-written headers) is
read by numpy and by tests/tools/npy_probe.cpp. Both must accept the same array (same shape;
the same values as float64, compared bit for bit, NaN as NaN) or both must refuse it. The
documented exceptions (EXCEPTIONS) are files numpy loads and oodflow refuses on purpose; for
them that exact disagreement is required. Prints a table; exits 1 on any other disagreement.

Usage: /usr/bin/python3 npy_differential.py --probe PATH/npy_probe --corpus tests/fuzz/corpus/npy
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np

# Accepted by numpy 1.24, refused by oodflow, with the reason (docs/inputs.md).
EXCEPTIONS = {
    "complex": "complex numbers are not real scores or features",
    "string": "strings are not numbers",
    "datetime": "dates are not numbers",
    "longdouble": "long double has no portable layout",
    "structured": "a structured dtype (list descr) is a table, not an array",
    "void": "raw bytes are not numbers",
    "subarray": "a subarray descr ((descr, shape)) is refused; numpy even reshapes short data",
    "commastring": "repeat-count / comma dtype strings ('1f8', 'f8,'): no writer produces them",
    "strtol": "a sign or space in a dtype size ('f+8', 'f 8'): numpy's strtol leniency",
    "negative_shape": "a negative extent, which numpy infers from the data size",
    "uint64_huge": "uint64 above 2^63-1 does not fit the int64 oodflow reads integers as",
    "N_escape": "\\N{name} escapes in the header (no Unicode name table in oodflow)",
}


def npy_bytes(header, body=b"", version=(1, 0), pad=True):
    """A .npy file with a hand-written header (str or bytes), padded as numpy pads."""
    if isinstance(header, str):
        header = header.encode("utf8" if version == (3, 0) else "latin1")
    prefix = 10 if version == (1, 0) else 12
    if pad:
        header += b" " * ((64 - (prefix + len(header) + 1) % 64) % 64) + b"\n"
    length = struct.pack("<H" if version == (1, 0) else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header + body


def saved(array, version=None):
    """The bytes numpy's own writer produces."""
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def sample(dtype, shape, rng):
    """Values that exercise the conversion: extremes, signs, NaN/inf, subnormals."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape)) if shape else 1
    if dt.kind == "b":
        values = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        hi = min(int(info.max), 2**63 - 1)
        pool = [info.min, hi, 0, 1, -1 if dt.kind == "i" else 2, hi // 3]
        values = np.array([pool[i % len(pool)] for i in range(n)], dtype=dt)
    else:
        info = np.finfo(dt)
        pool = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, float(info.max),
                float(info.tiny) / 4, float(info.eps)]
        values = np.array([pool[i % len(pool)] for i in range(n)], dtype=dt)
    return values.reshape(shape)


def generated(rng):
    """(name, bytes, exception or None) for numpy-written and hand-written variants."""
    out = []
    real = ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"]
    shapes = [(5,), (2, 3), (2, 3, 4), (0,), (0, 3), (), (1, 1), (3, 1)]
    for code in real:
        for order in "<>":
            dtype = np.dtype(code).newbyteorder(order)
            if dtype.itemsize == 1 and order == ">":
                continue  # one byte has no byte order
            for shape in shapes:
                for fortran in (False, True):
                    a = sample(dtype, shape, rng)
                    a = np.array(a, order="F" if fortran else "C")  # 0-d stays 0-d
                    tag = f"np_{dtype.str.replace('<', 'le').replace('>', 'be').replace('|', '')}"
                    name = f"{tag}_{'x'.join(map(str, shape)) or 'scalar'}_{'F' if fortran else 'C'}"
                    out.append((name, saved(a), None))
    for version in [(1, 0), (2, 0), (3, 0)]:
        a = sample("<f8", (3, 2), rng)
        out.append((f"np_v{version[0]}", saved(a, version), None))
        out.append((f"np_v{version[0]}_fortran", saved(np.asfortranarray(a), version), None))
    out.append(("np_u8_huge", saved(np.array([1, 2**63], dtype="<u8")), "uint64_huge"))
    out.append(("np_u8_max_int64", saved(np.array([2**63 - 1], dtype=">u8")), None))
    bools = npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b"\x00\x02\xff\x01")
    out.append(("bool_nonzero_bytes", bools, None))
    for code, exc in [("<c8", "complex"), ("<c16", "complex"), ("S3", "string"), ("<U2", "string"),
                      ("<M8[s]", "datetime"), ("<m8[D]", "datetime"), ("<f16", "longdouble"),
                      ("V4", "void")]:
        a = np.zeros(2, dtype=code)
        out.append((f"np_{code.strip('<|').replace('[', '_').replace(']', '')}", saved(a), exc))
    out.append(("np_structured", saved(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])),
                "structured"))
    out.append(("np_object", npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                                       b"\x80\x04N."), None))
    out.extend(hand_written())
    return out


def hand_written():
    f4 = np.arange(4, dtype="<f4").tobytes()
    h = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }"
    cases = [
        ("key_order", "{'shape': (4,), 'fortran_order': False, 'descr': '<f4'}", f4),
        ("double_quotes", '{"descr": "<f4", "fortran_order": False, "shape": (4,)}', f4),
        ("no_trailing_comma", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("spaces", "{ 'descr' :'<f4' ,'fortran_order':False,'shape':( 2 , 2 , ) , }", f4),
        ("py2_long", h % ("'<f4'", "False", "(4L,)"), f4),
        ("py2_long_2d", h % ("'<f4'", "False", "(2L, 2L)"), f4),
        ("py2_long_space", h % ("'<f4'", "False", "(4 L,)"), f4),
        ("py2_long_twice", h % ("'<f4'", "False", "(4L L,)"), f4),
        ("py2_long_hex", h % ("'<f4'", "False", "(0x4L,)"), f4),
        ("py2_long_newline", h % ("'<f4'", "False", "(4\nL,)"), f4),
        ("py2_long_comment", h % ("'<f4'", "False", "(4#c\nL,)"), f4),
        ("py2_long_continuation", h % ("'<f4'", "False", "(4\\\nL,)"), f4),
        ("py2_lower_l", h % ("'<f4'", "False", "(4l,)"), f4),
        ("py2_long_after_name", h % ("'<f4'", "FalseL", "(4,)"), f4),
        ("py2_long_alone", h % ("'<f4'", "False", "(4L,L)"), f4),
        ("py2_long_str", h % ("'<f4'L", "False", "(4,)"), f4),
        ("true_fortran", h % ("'<f4'", "True", "(2, 2)"), f4),
        ("fortran_int", h % ("'<f4'", "0", "(4,)"), f4),
        ("fortran_none", h % ("'<f4'", "None", "(4,)"), f4),
        ("shape_list", h % ("'<f4'", "False", "[4]"), f4),
        ("shape_int", h % ("'<f4'", "False", "4"), f4),
        ("shape_bool", h % ("'<f4'", "False", "(True, 4)"), f4),
        ("shape_float", h % ("'<f4'", "False", "(4.0,)"), f4),
        ("shape_neg", h % ("'<f4'", "False", "(-1,)"), f4, "negative_shape"),
        ("shape_neg_neg", h % ("'<f4'", "False", "(-1, -1)"), f4),
        ("shape_plus", h % ("'<f4'", "False", "(+4,)"), f4),
        ("shape_minus_zero", h % ("'<f4'", "False", "(-0, 4)"), b""),
        ("shape_hex_octal_bin", h % ("'<f4'", "False", "(0x1, 0o2, 0b10)"), f4),
        ("shape_underscore", h % ("'<f4'", "False", "(1_0,)"), np.zeros(10, "<f4").tobytes()),
        ("shape_leading_zero", h % ("'<f4'", "False", "(04,)"), f4),
        ("shape_zeros", h % ("'<f4'", "False", "(00, 0_0)"), b""),
        ("shape_paren", h % ("'<f4'", "False", "((4),)"), f4),
        ("shape_nested", h % ("'<f4'", "False", "((4,),)"), f4),
        ("shape_binop", h % ("'<f4'", "False", "(2+2,)"), f4),
        ("shape_33_dims", h % ("'<f4'", "False", "(" + "1," * 33 + ")"), f4[:4]),
        ("shape_32_dims", h % ("'<f4'", "False", "(" + "1," * 32 + ")"), f4[:4]),
        ("shape_huge", h % ("'<f4'", "False", "(99999999999999999999999,)"), f4),
        ("shape_wraps", h % ("'<f4'", "False", "(4294967296, 4294967296)"), f4),
        ("zero_too_big", h % ("'<f4'", "False", "(0, 2305843009213693952)"), b""),
        ("zero_just_fits", h % ("'<f4'", "False", "(0, 2305843009213693951)"), b""),
        ("zero_u1_max", h % ("'|u1'", "False", "(0, 9223372036854775807)"), b""),
        ("zero_u1_over", h % ("'|u1'", "False", "(0, 9223372036854775808)"), b""),
        ("scalar", h % ("'<f8'", "False", "()"), struct.pack("<d", 2.5)),
        ("truncated_data", h % ("'<f4'", "False", "(5,)"), f4),
        ("trailing_bytes", h % ("'<f4'", "False", "(4,)"), f4 + b"junk"),
        ("empty_data", h % ("'<f8'", "False", "(0,)"), b""),
        ("descr_native", h % ("'=f4'", "False", "(4,)"), f4),
        ("descr_pipe", h % ("'|f4'", "False", "(4,)"), f4),
        ("descr_bare", h % ("'f4'", "False", "(4,)"), f4),
        ("descr_code_d", h % ("'<d'", "False", "(2,)"), f4),
        ("descr_code_e", h % ("'>e'", "False", "(8,)"), f4),
        ("descr_code_q", h % ("'q'", "False", "(2,)"), f4),
        ("descr_code_B", h % ("'>B'", "False", "(16,)"), f4),
        ("descr_code_bool", h % ("'?'", "False", "(16,)"), f4),
        ("descr_b1_big", h % ("'>b1'", "False", "(16,)"), f4),
        ("descr_name", h % ("'float32'", "False", "(4,)"), f4),
        ("descr_name_int", h % ("'int'", "False", "(2,)"), f4),
        ("descr_name_bool8", h % ("'bool8'", "False", "(16,)"), f4),
        ("descr_name_prefixed", h % ("'<float32'", "False", "(4,)"), f4),
        ("descr_leading_zero", h % ("'<f04'", "False", "(4,)"), f4),
        ("descr_space", h % ("' <f4'", "False", "(4,)"), f4),
        ("descr_f3", h % ("'<f3'", "False", "(4,)"), f4),
        ("descr_i3", h % ("'<i3'", "False", "(4,)"), f4),
        ("descr_b2", h % ("'b2'", "False", "(4,)"), f4),
        ("descr_empty", h % ("''", "False", "(4,)"), f4),
        ("descr_bytes", h % ("b'<f4'", "False", "(4,)"), f4),
        ("descr_int", h % ("4", "False", "(4,)"), f4),
        ("descr_repeat", h % ("'1f4'", "False", "(4,)"), f4, "commastring"),
        ("descr_comma", h % ("'>f4,'", "False", "(4,)"), f4, "commastring"),
        ("descr_plus", h % ("'f+4'", "False", "(4,)"), f4, "strtol"),
        ("descr_tuple_one", h % ("('<f4', 1)", "False", "(4,)"), f4),
        ("descr_tuple_empty", h % ("('<f4', ())", "False", "(4,)"), f4),
        ("descr_tuple_extra", h % ("('<f4', 1, 'x')", "False", "(4,)"), f4),
        ("descr_tuple_nested", h % ("(('<f4', 1), ())", "False", "(4,)"), f4),
        ("descr_tuple_short", h % ("('<f4',)", "False", "(4,)"), f4),
        ("descr_tuple_bool", h % ("('<f4', True)", "False", "(4,)"), f4),
        ("descr_tuple_neg", h % ("('<f4', -1)", "False", "(4,)"), f4),
        # numpy reads 2 pairs and reshapes them to (4,); with the pairs' full 32 bytes it fails.
        ("descr_subarray", h % ("('<f4', (2,))", "False", "(4,)"), f4, "subarray"),
        ("descr_subarray_full", h % ("('<f4', (2,))", "False", "(4,)"), f4 + f4),
        ("descr_subarray_one", h % ("('<f4', (1,))", "False", "(4,)"), f4, "subarray"),
        ("descr_object", h % ("'O'", "False", "(1,)"), b"\x80\x04N."),
        ("descr_object_field", h % ("[('a', 'O')]", "False", "(1,)"), b"\x80\x04N."),
        ("descr_list", h % ("[('a', '<f4')]", "False", "(4,)"), f4, "structured"),
        ("str_escape_x", h % ("'\\x3cf4'", "False", "(4,)"), f4),
        ("str_escape_u", h % ("'\\u003cf4'", "False", "(4,)"), f4),
        ("str_escape_octal", h % ("'\\74f4'", "False", "(4,)"), f4),
        ("str_escape_N", h % ("'\\N{LESS-THAN SIGN}f4'", "False", "(4,)"), f4, "N_escape"),
        ("str_escape_bad_x", h % ("'\\x3'", "False", "(4,)"), f4),
        ("str_prefix_u", "{u'descr': u'<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_prefix_r", "{r'descr': R'<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_prefix_f", "{f'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_prefix_ur", "{ur'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_triple", "{'''descr''': \"\"\"<f4\"\"\", 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_concat", "{'des' \"cr\": '<' 'f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_concat_lines", "{'descr': ('<'\n 'f4'), 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_bytes_mix", "{'descr': '<' b'f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_continuation", "{'descr': '<\\\nf4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_unterminated", "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}", f4),
        ("str_newline", "{'descr': '<f4\n', 'fortran_order': False, 'shape': (4,)}", f4),
        ("dup_key", "{'descr': 'zz', 'fortran_order': False, 'shape': (4,), 'descr': '<f4'}", f4),
        ("dup_key_values", "{'shape': 1.5e3, 'shape': -1+2j, 'shape': set(), 'shape': ..., "
                           "'shape': {1: [2, (3,)]}, 'shape': None, 'shape': b'x', "
                           "'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("dup_key_unhashable", "{'shape': {[1]}, 'descr': '<f4', 'fortran_order': False, "
                               "'shape': (4,)}", f4),
        ("dup_key_unary_twice", "{'shape': --1, 'descr': '<f4', 'fortran_order': False, "
                                "'shape': (4,)}", f4),
        ("dup_key_complex_chain", "{'shape': 1+2j+3j, 'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (4,)}", f4),
        ("dup_key_call", "{'shape': set([1]), 'descr': '<f4', 'fortran_order': False, "
                         "'shape': (4,)}", f4),
        ("extra_key", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", f4),
        ("missing_key", "{'descr': '<f4', 'shape': (4,)}", f4),
        ("int_key", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 1: 2}", f4),
        ("not_dict", "[('descr', '<f4')]", f4),
        ("paren_dict", "({'descr': '<f4', 'fortran_order': False, 'shape': (4,)})", f4),
        ("tuple_top", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)},", f4),
        ("two_values", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} 1", f4),
        ("semicolon", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)};", f4),
        ("comment", "{'descr': '<f4', # the type\n 'fortran_order': False, 'shape': (4,)} # end", f4),
        ("leading_newline", "\n\n{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("leading_comment_line", "# x\n{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("leading_spaces", "   \t{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("indented_line", "\n  {'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("formfeed_first_line", " \x0c{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4),
        ("crlf", "{'descr': '<f4',\r\n 'fortran_order': False, 'shape': (4,)}\r\n", f4),
        ("lone_cr", "{'descr': '<f4',\r 'fortran_order': False, 'shape': (4,)}", f4),
        ("continuation", "{'descr': '<f4', \\\n'fortran_order': False, 'shape': (4,)}", f4),
        ("nul", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\0", f4),
        ("vertical_tab", "{'descr': '<f4',\x0b'fortran_order': False, 'shape': (4,)}", f4),
        ("nbsp", "{'descr': '<f4',\xa0'fortran_order': False, 'shape': (4,)}", f4),
        ("latin1_in_string", "{'shape': 'caf\xe9', 'descr': '<f4', 'fortran_order': False, "
                             "'shape': (4,)}", f4),
        ("empty_header", "", f4),
        ("blank_header", "   ", f4),
        ("unclosed", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", f4),
        # Python's tokenizer allows 200 open brackets, the dict's included.
        ("nested_199", "{'shape': " + "(" * 199 + "1" + ")" * 199 + ", 'descr': '<f4', "
                       "'fortran_order': False, 'shape': (4,)}", f4),
        ("nested_200", "{'shape': " + "[" * 200 + "]" * 200 + ", 'descr': '<f4', "
                       "'fortran_order': False, 'shape': (4,)}", f4),
    ]
    out = []
    for case in cases:
        name, header, body = case[:3]
        exc = case[3] if len(case) > 3 else None
        out.append((name, npy_bytes(header, body), exc))
    out.extend(headers_by_version(f4))
    return out


def headers_by_version(f4):
    """Format versions, the header-length field, the encodings and numpy's size limit."""
    good = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    long_l = "{'descr': '<f4', 'fortran_order': False, 'shape': (4L,), }"
    out = []
    for version in [(1, 0), (2, 0), (3, 0)]:
        v = version[0]
        out.append((f"v{v}_good", npy_bytes(good, f4, version), None))
        out.append((f"v{v}_py2_long", npy_bytes(long_l, f4, version), None))
        out.append((f"v{v}_unpadded", npy_bytes(good, f4, version, pad=False), None))
    for version in [(1, 1), (0, 0), (4, 0), (2, 1), (3, 255)]:
        out.append((f"v{version[0]}_{version[1]}", npy_bytes(good, f4, (1, 0)).replace(
            b"NUMPY\x01\x00", b"NUMPY" + bytes(version), 1), None))
    # numpy re-spaces 1.0/2.0 headers (its `L` filter): a form feed then indents a line.
    for text in ["\n \x0c{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                 "\n\x0c{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                 "# c\n\x0c{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                 "\x0c {'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                 "\x0c\t{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}"]:
        for version in [(1, 0), (3, 0)]:
            name = f"v{version[0]}_formfeed_{len(out)}"
            out.append((name, npy_bytes(text, f4, version), None))
    utf8 = "{'shape': 'é€😀', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    out.append(("v3_utf8", npy_bytes(utf8, f4, (3, 0)), None))
    out.append(("v1_utf8_bytes_as_latin1", npy_bytes(utf8.encode("utf8"), f4, (1, 0)), None))
    out.append(("v3_bad_utf8", npy_bytes(good.encode().replace(b"'<f4'", b"'<f4\xff'"), f4,
                                         (3, 0)), None))
    out.append(("v3_bad_utf8_in_dup", npy_bytes(
        b"{'shape': '\xc0\x80', " + good[1:].encode(), f4, (3, 0)), None))
    # numpy counts characters, after decoding: 10000 is the largest header it loads.
    for total, version in [(10000, (1, 0)), (10001, (1, 0)), (10001, (2, 0))]:
        text = good + " " * (total - len(good) - 1) + "\n"
        out.append((f"header_{total}_v{version[0]}", npy_bytes(text, f4, version, pad=False), None))
    wide = "{'shape': '" + "é" * 5000 + "', " + good[1:]
    wide += " " * (10000 - len(wide) - 1) + "\n"
    out.append(("header_10000_chars_v3", npy_bytes(wide, f4, (3, 0), pad=False), None))
    raw = npy_bytes(good, f4)
    for n in [0, 5, 6, 7, 8, 9, 10, 40, len(raw) - len(f4) - 1]:
        out.append((f"prefix_{n}", raw[:n], None))
    out.append(("header_length_past_end", raw[:8] + b"\xff\xff" + raw[10:], None))
    return out


def numpy_view(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as e:  # numpy refuses with many exception types
            return {"ok": False, "error": f"{type(e).__name__}: {str(e)[:100]}"}
    if array.dtype.kind not in "biuf" or array.dtype.names is not None:
        return {"ok": True, "shape": list(array.shape), "values": None, "dtype": array.dtype.str}
    values = []
    for v in np.ascontiguousarray(array).ravel(order="C").astype("<f8"):
        values.append("nan" if np.isnan(v) else struct.pack(">d", v).hex())
    return {"ok": True, "shape": list(array.shape), "values": values, "dtype": array.dtype.str}


def header_literal(path):
    """The header dict as numpy evaluates it (for classifying the files numpy loads)."""
    import ast
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        size = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        text = f.read(size).decode("latin1" if major < 3 else "utf8")
    if major < 3:
        text = np.lib.format._filter_header(text)
    return ast.literal_eval(text), text


def documented_exception(path, array):
    """The EXCEPTIONS entry a file numpy loads falls under, or None."""
    dt = array.dtype
    if dt.names is not None:
        return "structured"
    kinds = {"c": "complex", "S": "string", "U": "string", "M": "datetime", "m": "datetime",
             "V": "void"}
    if dt.kind in kinds:
        return kinds[dt.kind]
    if dt.kind == "f" and dt.itemsize > 8:
        return "longdouble"
    if dt.kind == "u" and dt.itemsize == 8 and array.size and int(array.max()) > 2**63 - 1:
        return "uint64_huge"
    header, text = header_literal(path)
    if any(x < 0 for x in header["shape"]):
        return "negative_shape"
    if "\\N{" in text:
        return "N_escape"
    descr = header["descr"]
    while isinstance(descr, tuple):
        if not ((type(descr[1]) is int and descr[1] == 1) or descr[1] == ()):
            return "subarray"
        descr = descr[0]
    if isinstance(descr, str):
        plain = descr.lstrip("<>=|")
        if plain[:1].isdigit() or plain.startswith("()") or "," in descr:
            return "commastring"
        if re.fullmatch(r"[<>=|]?[biuf]\s*[+-]?\s*[0-9]+", descr, re.ASCII) and \
                not re.fullmatch(r"[<>=|]?[biuf][0-9]+", descr, re.ASCII):
            return "strtol"
    return None


def compare(path, expected, got, label):
    """'agree', 'exception: NAME', or why not."""
    exception = None
    if expected["ok"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exception = documented_exception(path, np.load(path, allow_pickle=False))
    if label is not None and exception != label:
        return f"expected the documented exception '{label}', classified as {exception}"
    if exception is not None:
        if got["ok"]:
            return f"documented exception '{exception}', but oodflow loads it"
        return f"exception: {exception}"
    if expected["ok"] != got["ok"]:
        if expected["ok"]:
            return "numpy loads it, oodflow refuses"
        return "oodflow loads it, numpy refuses"
    if not expected["ok"]:
        return "agree"
    if expected["shape"] != got["shape"]:
        return f"shape {got['shape']} != numpy {expected['shape']}"
    if expected["values"] != got["values"]:
        return "values differ"
    return "agree"


def mutants(rng, count):
    """Headers a few random edits away from valid ones: the edges of the literal grammar."""
    f4 = np.arange(4, dtype="<f4").tobytes()
    bases = ["{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }",
             "{\"shape\": (4,), \"fortran_order\": False, \"descr\": '<f4'}",
             "{'descr': ('<f4', 1), 'fortran_order': True, 'shape': (2, 2)}",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), "
             "'shape': (-1+2j, [1], {2}, b'x', ...)}"]
    pieces = list("(){}[],:'\"\\ \t\n\r\x0c#L0123456789-+.jexbrufTFN_;*=") + [
        "'<f4'", "True", "False", "None", "4L", "0x", "'''", "set()", "\\x3c", "1e5", "u'",
        "\n  ", "\\\n"]
    out = []
    for i in range(count):
        text = bases[int(rng.integers(len(bases)))]
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(len(text) + 1))
            piece = pieces[int(rng.integers(len(pieces)))]
            op = rng.random()
            text = text[:at] + (piece if op < 0.7 else "") + text[at + (op >= 0.4):]
        version = [(1, 0), (3, 0)][i % 2]
        out.append((f"mutant_{i}", npy_bytes(text, f4, version), None))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--mutants", type=int, default=2000, help="random header edits")
    args = parser.parse_args()
    rng = np.random.default_rng(15)
    with tempfile.TemporaryDirectory(prefix="npy_differential_") as tmp:
        files = []
        for name in sorted(os.listdir(args.corpus)):
            files.append((f"corpus/{name}", os.path.join(args.corpus, name), None))
        for name, data, exception in generated(rng) + mutants(rng, args.mutants):
            path = os.path.join(tmp, name + ".npy")
            with open(path, "wb") as f:
                f.write(data)
            files.append((name, path, exception))
        lines = subprocess.run([args.probe] + [p for _, p, _ in files], check=True,
                               capture_output=True, text=True).stdout.splitlines()
        assert len(lines) == len(files), "the probe printed one line per file"
        failures = 0
        exceptions = 0
        print(f"{'input':34} {'numpy':28} {'oodflow':10} result")
        for (name, path, label), line in zip(files, lines):
            expected = numpy_view(path)
            got = json.loads(line)
            verdict = compare(path, expected, got, label)
            documented = verdict.startswith("exception: ")
            failures += verdict != "agree" and not documented
            exceptions += documented
            numpy_text = (f"{expected['dtype']} {tuple(expected['shape'])}" if expected["ok"]
                          else expected["error"].split(":")[0])
            mark = "ok" if verdict == "agree" else "DISAGREE: " + verdict
            if documented:
                mark = "ok, documented: " + EXCEPTIONS[verdict[len("exception: "):]]
            print(f"{name[:34]:34} {numpy_text[:28]:28} {'loads' if got['ok'] else 'refuses':10} "
                  f"{mark}")
            if mark.startswith("DISAGREE"):
                print(f"    oodflow: {got.get('error', got.get('shape'))}")
        print(f"npy_differential: {len(files)} files, {failures} disagreement(s), "
              f"{exceptions} documented exception(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
