"""decensor: fill marked regions of drawn images with a partial-convolution U-Net.

Importing the package is cheap; TensorFlow loads only when a model is built.
"""

__version__ = "0.1.0"
__all__ = ["Decensor", "fill", "__version__"]


def __getattr__(name):
    if name in ("Decensor", "fill"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(name)
