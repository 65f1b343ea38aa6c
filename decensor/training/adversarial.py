"""Adversarial training of a correction: a patch discriminator and feature matching, no pretrained network.

The pixel losses reward the mean of what a hole could hold, which over
screentone and hatching is grey: the smudge. Here a small discriminator
judges patches of the composite (known pixels from the truth, the hole from
the network) against the truth, and the network is also asked to make the
discriminator's features of its composite match those of the truth (feature
matching, as LaMa uses instead of a perceptual VGG loss, which cannot be
downloaded here). Patches the hole does not reach count as real, so only the
fill is judged (LaMa's masked labels).

The step is written for the TensorFlow backend (the default here): a
``GradientTape`` per network. Other backends raise on the first step.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="decensor")
class PatchDiscriminator(keras.Model):
    """``[image, mask] -> (logits per patch at 1/8 scale, [features of each level])``.

    Three 4x4 convolutions of stride 2 (``widths``), then a 3x3 to one logit:
    each logit sees about 46 px, the scale of a tone's dots or a stroke.
    """

    def __init__(self, widths=(32, 64, 128), **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(int(width) for width in widths)
        self.convs = [keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"level_{index}")
                      for index, width in enumerate(self.widths)]
        self.logits = keras.layers.Conv2D(1, 3, padding="same", name="logits")

    @property
    def patch_size(self):
        """Pixels per logit along each side: one halving per strided convolution."""
        return 2 ** len(self.widths)

    def call(self, inputs):
        image, mask = inputs
        features = []
        x = ops.concatenate([image * 2.0 - 1.0, mask], axis=-1)
        for conv in self.convs:
            x = keras.activations.leaky_relu(conv(x), negative_slope=0.2)
            features.append(x)
        return self.logits(x), features

    def get_config(self):
        config = super().get_config()
        config.update({"widths": list(self.widths)})
        return config


def hole_patches(known, scale):
    """1 for each discriminator patch (``scale`` px, the discriminator's ``patch_size``) that holds any hole
    pixel, else 0."""
    return ops.max_pool(1.0 - known, pool_size=scale, strides=scale, padding="same")


def discriminator_loss(real_logits, fake_logits, fake_patches):
    """Non-saturating logistic loss: the truth is real; the composite is fake where its patch holds hole."""
    real = ops.mean(ops.softplus(-real_logits))
    fake = ops.mean(fake_patches * ops.softplus(fake_logits) + (1.0 - fake_patches) * ops.softplus(-fake_logits))
    return real + fake


def generator_terms(fake_logits, fake_features, real_features, fake_patches):
    """(adversarial, feature matching) for the network: its hole patches should pass as real, and the
    discriminator's features of its composite should be those of the truth (L1, level by level)."""
    adversarial = ops.sum(fake_patches * ops.softplus(-fake_logits)) / (ops.sum(fake_patches) + 1e-6)
    matching = sum(ops.mean(ops.abs(fake - ops.stop_gradient(real)))
                   for fake, real in zip(fake_features, real_features)) / len(fake_features)
    return adversarial, matching


class AdversarialTrainer(keras.Model):
    """Trains ``network`` (the task's pixel loss plus the adversarial terms) and ``discriminator`` in turn.

    ``fit`` takes ``(inputs, loss targets)`` as for the plain trainer; the
    targets' first four channels are the truth and its mask. Logs ``loss``
    (the network's whole loss), ``pixel``, ``adversarial``, ``matching`` and
    ``discriminator``.
    """

    def __init__(self, network, discriminator, pixel_loss, adversarial_weight, matching_weight,
                 discriminator_optimizer, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.discriminator = discriminator
        self.pixel_loss = pixel_loss
        self.adversarial_weight = float(adversarial_weight)
        self.matching_weight = float(matching_weight)
        self.discriminator_optimizer = discriminator_optimizer

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)[0]

    def train_step(self, data):
        import tensorflow as tf

        inputs, targets = data
        truth, known = targets[..., :3], targets[..., 3:4]
        patches = hole_patches(known, self.discriminator.patch_size)
        with tf.GradientTape() as network_tape, tf.GradientTape() as discriminator_tape:
            predicted = self.network(inputs, training=True)[0]
            composite = known * truth + (1.0 - known) * predicted
            real_logits, real_features = self.discriminator([truth, known], training=True)
            fake_logits, fake_features = self.discriminator([composite, known], training=True)
            pixel = self.pixel_loss(targets, predicted)
            adversarial, matching = generator_terms(fake_logits, fake_features, real_features, patches)
            loss = pixel + self.adversarial_weight * adversarial + self.matching_weight * matching
            # (The same logits serve the discriminator: each tape takes gradients for its own network only.)
            judge_loss = discriminator_loss(real_logits, fake_logits, patches)
        network_variables = self.network.trainable_variables
        self.optimizer.apply_gradients(zip(network_tape.gradient(loss, network_variables), network_variables))
        judge_variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_tape.gradient(judge_loss, judge_variables), judge_variables))
        return {"loss": loss, "pixel": pixel, "adversarial": adversarial, "matching": matching,
                "discriminator": judge_loss}
