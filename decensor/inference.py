"""The partial-convolution U-Net run by ONNX Runtime, built from the model file's arrays.

The tool runs its networks here, not in TensorFlow: the same weights and the
same layers (:mod:`decensor.network` is the reference, and the tests hold the
two to the same output), but no framework to import, start and trace before
the first page (4 s a run on TensorFlow) and a faster CPU runtime. Training
stays in Keras.

The graph is written with standard ONNX operators, layer by layer as
:mod:`decensor.pconv` defines them: a partial convolution multiplies its input
by its mask, counts the valid entries of each window with a convolution of
ones, rescales, adds the bias where anything was valid and returns the
updated mask. After a concatenation each part keeps its own one-channel mask
and channel count, which is what MaskedConcatenate's repeated masks amount
to. "Same" padding puts the extra row or column after, as TensorFlow does.
"""

import os
import threading

import numpy as np

from . import onnxwire


class OnnxNetwork:
    """``(images, masks, guess input) -> (images, reached)`` on NHWC float32 batches."""

    def __init__(self, config, arrays):
        self.config = config
        self._arrays = arrays
        self._session = None
        self._lock = threading.Lock()

    def prepare(self):
        """Build the graph and its ONNX Runtime session now, not on the first batch (from any thread)."""
        with self._lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                # (DECENSOR_THREADS: set by --jobs for its workers, one core each)
                options.intra_op_num_threads = int(os.environ.get("DECENSOR_THREADS", 0)) or os.cpu_count() or 1
                options.log_severity_level = 3
                graph = _Graph(self.config, {path: np.asarray(value, np.float32) for path, value in self._arrays.items()})
                self._session = onnxruntime.InferenceSession(graph.serialized(), options,
                                                             providers=["CPUExecutionProvider"])
                self._arrays = None  # (the session holds the weights)
        return self._session

    def __call__(self, images, masks, guesses):
        feeds = {"image": np.asarray(images, np.float32), "mask": np.asarray(masks, np.float32),
                 "guess": np.asarray(guesses, np.float32)}
        output, reached = self.prepare().run(["output", "reached"], feeds)
        return output, reached


class _Graph:
    """The ONNX graph of one :class:`decensor.design.NetworkConfig`, node by node."""

    def __init__(self, config, weights):
        self.config = config
        self.weights = weights
        self.nodes, self.initializers = [], []
        self._names = 0
        self._build()

    def serialized(self):
        """The ModelProto's bytes (opset 17, IR version 8)."""
        def io(name, channels):
            return onnxwire.value_info(name, onnxwire.FLOAT, ["batch", "height", "width", channels])

        return onnxwire.model(self.nodes, self.config.name,
                              [io("image", 3), io("mask", 1), io("guess", self.config.guess_channels)],
                              [io("output", 3), io("reached", 1)], self.initializers, opset=17, ir_version=8)

    # Graph-writing helpers: each returns the name of its output.
    def _name(self, stem):
        self._names += 1
        return f"{stem}_{self._names}"

    def _node(self, op, inputs, stem=None, **attributes):
        output = self._name(stem or op.lower())
        self.nodes.append(onnxwire.node(op, inputs, [output], **attributes))
        return output

    def _constant(self, value, stem="constant"):
        name = self._name(stem)
        self.initializers.append(onnxwire.tensor(name, np.asarray(value, np.float32)))
        return name

    def _pconv(self, layer, parts, per_channel, stride=1, activation=True):
        """A partial convolution of ``parts`` [(features, mask, channels)]: (features, mask, channels)."""
        kernel = self.weights[f"{layer}/kernel"]
        bias = self.weights[f"{layer}/bias"]
        k = kernel.shape[0]
        windows = dict(strides=[stride, stride], auto_pad="SAME_UPPER")
        ones = self._constant(np.ones((1, 1, k, k)), "ones")
        masked = [self._node("Mul", [features, mask]) for features, mask, _ in parts]
        joined = masked[0] if len(masked) == 1 else self._node("Concat", masked, axis=1)
        if per_channel:  # a concatenation's mask counts channel by channel
            counts = [self._node("Mul", [self._node("Conv", [mask, ones], **windows), self._constant(channels)])
                      for _, mask, channels in parts]
            valid = counts[0]
            for count in counts[1:]:
                valid = self._node("Add", [valid, count])
            window = k * k * sum(channels for _, _, channels in parts)
        else:
            valid = self._node("Conv", [parts[0][1], ones], **windows)
            window = k * k
        updated = self._node("Cast", [self._node("Greater", [valid, self._constant(0.5)])], to=1)
        scale = self._node("Mul", [self._node("Div", [self._constant(window), self._node(
            "Max", [valid, self._constant(1.0)])]), updated])
        weights = self._constant(kernel.transpose(3, 2, 0, 1), f"{layer}_kernel")
        raw = self._node("Conv", [joined, weights], stem=layer, **windows)
        out = self._node("Add", [self._node("Mul", [raw, scale]),
                                 self._node("Mul", [self._constant(bias.reshape(1, -1, 1, 1), f"{layer}_bias"), updated])])
        if activation:
            out = self._node("LeakyRelu", [out], alpha=0.2)
        return out, updated, kernel.shape[3]

    def _upsample(self, name):
        scales = self._constant([1.0, 1.0, 2.0, 2.0], "scales")
        return self._node("Resize", [name, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="floor")

    def _build(self):
        config = self.config
        to_nchw = dict(perm=[0, 3, 1, 2])
        image = self._node("Transpose", ["image"], **to_nchw)
        mask = self._node("Transpose", ["mask"], **to_nchw)
        guess = self._node("Transpose", ["guess"], **to_nchw)
        known_everywhere = self._node("Add", [self._node("Mul", [mask, self._constant(0.0)]), self._constant(1.0)])
        image_part = (image, mask, 3)
        parts, per_channel = [image_part, (guess, known_everywhere, config.guess_channels)], True
        skips = []
        deepest = len(config.widths) - 1
        for level in range(len(config.widths)):
            parts, per_channel = [self._pconv(f"encode_{level}", parts, per_channel, 1 if level == 0 else 2)], False
            if level >= deepest - 1:
                for extra in range(config.extra_deep_convs):
                    parts = [self._pconv(f"encode_{level}_extra_{extra}", parts, False)]
            skips.append(parts[0])
        for level in range(deepest - 1, -1, -1):
            features, mask_up, channels = parts[0]
            up = (self._upsample(features), self._upsample(mask_up), channels)
            parts = [self._pconv(f"decode_{level}", [up, skips[level]], True)]
        correction, reached, _ = self._pconv("to_image", [parts[0], image_part], True, activation=False)
        first_guess = self._node("Slice", [guess, self._int64([0]), self._int64([3]), self._int64([1])])
        output = self._node("Add", [first_guess, correction])
        to_nhwc = dict(perm=[0, 2, 3, 1])
        self.nodes.append(onnxwire.node("Transpose", [output], ["output"], **to_nhwc))
        self.nodes.append(onnxwire.node("Transpose", [reached], ["reached"], **to_nhwc))

    def _int64(self, values):
        name = self._name("index")
        self.initializers.append(onnxwire.tensor(name, np.asarray(values, np.int64)))
        return name
