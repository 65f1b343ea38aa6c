"""The ONNX bytes written without the onnx package are the bytes onnx.helper writes for the same graph."""

import numpy as np
import onnx
import pytest

from decensor import onnxwire


def _helper_model(helper, numpy_helper, TensorProto, weights, indices):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER", group=1),
             helper.make_node("LeakyRelu", ["y"], ["z"], alpha=0.2),
             helper.make_node("Gather", ["z", "i"], ["g"], axis=-1),
             helper.make_node("Transpose", ["g"], ["out"], perm=[0, 2, 3, 1])]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", 7])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "h", "w", 2])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(indices, "i")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_every_kind_of_part_is_written_as_onnx_helper_writes_it():
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(1).normal(size=(2, 3, 3, 3)).astype(np.float32)
    indices = np.array([1, 0, -3], np.int64)  # (a negative int64 too)
    ours = onnxwire.model(
        [onnxwire.node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER", group=1),
         onnxwire.node("LeakyRelu", ["y"], ["z"], alpha=0.2),
         onnxwire.node("Gather", ["z", "i"], ["g"], axis=-1),
         onnxwire.node("Transpose", ["g"], ["out"], perm=[0, 2, 3, 1])],
        "tiny", [onnxwire.value_info("x", onnxwire.FLOAT, ["batch", 3, "height", 7])],
        [onnxwire.value_info("out", onnxwire.FLOAT, ["batch", "h", "w", 2])],
        [onnxwire.tensor("w", weights), onnxwire.tensor("i", indices)], opset=17, ir_version=8)
    assert ours == _helper_model(helper, numpy_helper, TensorProto, weights, indices)
    parsed = onnx.load_from_string(ours)
    np.testing.assert_array_equal(numpy_helper.to_array(parsed.graph.initializer[0]), weights)
    np.testing.assert_array_equal(numpy_helper.to_array(parsed.graph.initializer[1]), indices)


def test_the_shipped_networks_graphs_pass_the_onnx_checker():
    from decensor import modelfile
    from decensor.inference import _Graph

    for name in ("bar", "mosaic"):
        config, arrays, _ = modelfile.load_arrays(name)
        onnx.checker.check_model(onnx.load_from_string(_Graph(config, arrays).serialized()), full_check=True)


def test_an_attribute_of_another_kind_is_refused():
    with pytest.raises(TypeError, match="attribute pads"):
        onnxwire.node("Pad", ["x"], ["y"], pads=[1.5, 2.0])
