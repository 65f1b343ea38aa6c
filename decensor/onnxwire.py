"""ONNX model bytes written directly in protobuf's wire format, for the few message kinds a network graph needs.

Importing the ``onnx`` package costs about half a second on every command
(most of it loading ``ml_dtypes``), a sixth of a page's time budget, to build a
graph ONNX Runtime reads once. The messages here are ModelProto, GraphProto,
NodeProto, AttributeProto, TensorProto and ValueInfoProto of ``onnx-ml.proto``
(field numbers as that file gives them), written in field-number order as
protobuf itself writes them: the tests hold the bytes equal to what
``onnx.helper`` makes of the same graph.
"""

import struct

import numpy as np

FLOAT, INT64 = 1, 7  # TensorProto.DataType
_ATTRIBUTE_FLOAT, _ATTRIBUTE_INT, _ATTRIBUTE_STRING, _ATTRIBUTE_INTS = 1, 2, 3, 7  # AttributeProto.AttributeType
_TENSOR_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}


def _varint(value):
    value &= (1 << 64) - 1  # (a negative int64 is written as its two's complement, ten bytes)
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire_type):
    return _varint(field << 3 | wire_type)


def _int(field, value):
    return _key(field, 0) + _varint(int(value))


def _bytes(field, value):
    if isinstance(value, str):
        value = value.encode()
    return b"".join((_key(field, 2), _varint(len(value)), value))


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _attribute(name, value):
    """AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20."""
    if isinstance(value, float):
        body, kind = _float(2, value), _ATTRIBUTE_FLOAT
    elif isinstance(value, int):
        body, kind = _int(3, value), _ATTRIBUTE_INT
    elif isinstance(value, str):
        body, kind = _bytes(4, value), _ATTRIBUTE_STRING
    elif isinstance(value, (list, tuple)) and all(isinstance(item, int) for item in value):
        body, kind = b"".join(_int(8, item) for item in value), _ATTRIBUTE_INTS
    else:
        raise TypeError(f"attribute {name}: {value!r} is not a float, int, string or list of ints")
    return _bytes(1, name) + body + _int(20, kind)


def node(op_type, inputs, outputs, **attributes):
    """NodeProto: input 1, output 2, op_type 4, attribute 5 (sorted by name, as onnx.helper.make_node does)."""
    return (b"".join(_bytes(1, name) for name in inputs) + b"".join(_bytes(2, name) for name in outputs)
            + _bytes(4, op_type) + b"".join(_bytes(5, _attribute(name, value))
                                            for name, value in sorted(attributes.items())))


def tensor(name, array):
    """TensorProto of a float32 or int64 array: dims 1, data_type 2, name 8, raw_data 9 (little-endian)."""
    array = np.asarray(array)
    data_type = _TENSOR_TYPES[array.dtype]
    data = memoryview(np.ascontiguousarray(array, array.dtype.newbyteorder("<"))).cast("B")
    return b"".join([*(_int(1, size) for size in array.shape), _int(2, data_type), _bytes(8, name),
                     _key(9, 2), _varint(len(data)), data])


def value_info(name, data_type, dimensions):
    """ValueInfoProto of a tensor; each dimension a size or a symbolic name (TensorShapeProto.Dimension 1 or 2)."""
    shape = b"".join(_bytes(1, _bytes(2, size) if isinstance(size, str) else _int(1, size)) for size in dimensions)
    tensor_type = _int(1, data_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(nodes, name, inputs, outputs, initializers, opset, ir_version):
    """ModelProto (ir_version 1, graph 7, opset_import 8: domain 1, version 2) around GraphProto (node 1,
    name 2, initializer 5, input 11, output 12), from the encoded parts above, joined once (the weights
    are most of the bytes)."""
    graph = [_bytes(1, part) for part in nodes] + [_bytes(2, name)]
    for part in initializers:
        graph += [_key(5, 2), _varint(len(part)), part]
    graph += [_bytes(11, part) for part in inputs] + [_bytes(12, part) for part in outputs]
    opset_import = _bytes(8, _bytes(1, "") + _int(2, opset))  # (the default domain, written as onnx writes it)
    return b"".join([_int(1, ir_version), _key(7, 2), _varint(sum(map(len, graph))), *graph, opset_import])
