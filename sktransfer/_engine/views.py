"""Augmentation with a frozen backbone: cached augmented views (``Augmentation(n_views=k)``).

Augmentation changes the pixels at every step, so the frozen layers cannot run
once... unless the augmented images themselves are fixed in advance. With
``n_views=k`` each training image gets ``k`` augmented views, made once with
the estimator's augmentation layers; their frozen activations are cached like
any other (one entry per image and view), and epoch ``e`` trains on view
``e mod k`` of every image, in a fresh shuffled order. Each epoch therefore
still sees one random augmentation of each image, as with the full forward
pass, but drawn from ``k`` fixed views instead of a new one every epoch: with
``k`` at least the number of epochs nothing is seen twice. Validation images
are never augmented.

A view depends only on the image's content, the view number, the
augmentation's parameters and ``random_state`` (the random layers are
re-seeded per image), so a view cached by one CV fold is the same view in
every other fold (its activations too, bitwise, with
``sktransfer.set_config(deterministic=True)``: see :mod:`sktransfer._config`).
"""

import hashlib

import numpy as np

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["ViewEpochs", "augment_per_image"]


def _image_seed(key, view, seed):
    digest = hashlib.blake2b(f"{key}:{view}:{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)


def augment_per_image(layers, pixels, keys, view, seed):
    """Apply ``layers`` (training mode) to each image with its own deterministic seed."""
    out = np.empty(pixels.shape, dtype=np.float32)
    for i, (image, key) in enumerate(zip(pixels, keys)):
        x = image[np.newaxis].astype(np.float32)
        for j, layer in enumerate(layers):
            state = layer.generator.state
            state.assign(np.array([_image_seed(key, view, seed + j), 0], dtype=state.dtype))
            x = layer(x, training=True)
        out[i] = keras.ops.convert_to_numpy(x)[0]
    return out


class ViewEpochs(keras.utils.PyDataset):
    """Batches of view ``epoch mod k`` of every image, reshuffled every epoch."""

    def __init__(self, views, y, batch_size, seed, sample_weight=None):
        super().__init__()
        self.views, self.y, self.batch_size = views, y, batch_size
        self.sample_weight = sample_weight
        self.rng = np.random.RandomState(seed)
        self.epoch = 0
        self.order = self.rng.permutation(len(y))

    def __len__(self):
        return int(np.ceil(len(self.y) / self.batch_size))

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = (self.views[self.epoch % len(self.views)][rows], self.y[rows])
        if self.sample_weight is not None:
            batch += (self.sample_weight[rows],)
        return batch

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self.rng.permutation(len(self.y))
