"""Data augmentation as a small parameter object turned into Keras layers.

:class:`Augmentation` only stores numbers; :meth:`Augmentation.build_layers`
turns them into Keras' ``Random*`` preprocessing layers. Those layers sit at the
very start of the trained model, act on raw 0..255 pixels, and are active only
while training: ``predict``, ``predict_proba`` and ``transform`` never augment.

Because :class:`Augmentation` is a scikit-learn estimator-like object (it
derives from ``BaseEstimator`` for ``get_params`` / ``set_params`` / ``repr``),
its fields can be searched like any nested parameter::

    GridSearchCV(clf, {"augmentation__zoom": [0.0, 0.1, 0.2]})

With augmentation on, the frozen part of the backbone sees different pixels at
every step, so it cannot be computed once: the estimator then runs the full
forward pass in every epoch (slower, and said in its ``backbone_info_``),
unless ``n_views`` is set, which computes the frozen activations of that many
augmented views of each image once (cached) and trains on one view per epoch.
"""

import numbers

from sklearn.base import BaseEstimator

__all__ = ["Augmentation"]

_FLIPS = ("horizontal", "vertical", "horizontal_and_vertical")


class Augmentation(BaseEstimator):
    """Random image transformations applied while training only.

    Factors follow Keras' preprocessing layers, so a value means what it
    means in ``keras.layers.Random*``.

    Parameters
    ----------
    flip : {"horizontal", "vertical", "horizontal_and_vertical"} or None, default="horizontal"
        Random mirror flips (``keras.layers.RandomFlip``).
    rotation : float, default=0.0
        Maximum rotation as a fraction of a full turn (0.1 = +-36 degrees).
    shift : float, default=0.0
        Maximum translation as a fraction of height and width.
    zoom : float, default=0.0
        Maximum zoom in or out as a fraction of the size.
    shear : float, default=0.0
        Maximum shear factor along both axes (``keras.layers.RandomShear``).
    contrast : float, default=0.0
        Contrast is multiplied by a factor in ``[1 - contrast, 1 + contrast]``.
    brightness : float, default=0.0
        Brightness shifts by up to this fraction of the 0..255 range.
    n_views : int or None, default=None
        How a fine-tuner with frozen layers trains with augmentation.
        ``None``: the full forward pass, with a new random augmentation of
        every image at every step (frozen layers rerun every epoch: slow).
        ``k``: ``k`` augmented views per image are made once and their frozen
        activations cached; epoch ``e`` trains on view ``e mod k`` (see
        :doc:`/guide/augmentation`). Much faster; with ``k >= epochs`` no view
        repeats. Ignored by estimators without frozen layers.

    See Also
    --------
    FineTunedClassifier : uses it through its ``augmentation`` parameter.

    Examples
    --------
    >>> from sktransfer import Augmentation
    >>> aug = Augmentation(flip="horizontal", rotation=0.1, zoom=0.1)
    >>> [type(layer).__name__ for layer in aug.build_layers(seed=0)]
    ['RandomFlip', 'RandomRotation', 'RandomZoom']
    """

    def __init__(
        self,
        flip="horizontal",
        rotation=0.0,
        shift=0.0,
        zoom=0.0,
        shear=0.0,
        contrast=0.0,
        brightness=0.0,
        n_views=None,
    ):
        self.flip = flip
        self.rotation = rotation
        self.shift = shift
        self.zoom = zoom
        self.shear = shear
        self.contrast = contrast
        self.brightness = brightness
        self.n_views = n_views

    def _check(self):
        if self.flip is not None and self.flip not in _FLIPS:
            raise ValueError(f"Augmentation flip must be one of {_FLIPS} or None, got {self.flip!r}.")
        for name in ("rotation", "shift", "zoom", "shear", "contrast", "brightness"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
                raise ValueError(f"Augmentation {name} must be a number in [0, 1), got {value!r}.")
        views = self.n_views
        if views is not None and (
            not isinstance(views, numbers.Integral) or isinstance(views, bool) or views < 1
        ):
            raise ValueError(f"Augmentation n_views must be None or an int >= 1, got {views!r}.")

    def is_active(self):
        """Whether any transformation is switched on."""
        self._check()
        return self.flip is not None or any(
            getattr(self, n) > 0 for n in ("rotation", "shift", "zoom", "shear", "contrast", "brightness")
        )

    def build_layers(self, seed=None):
        """Return the Keras preprocessing layers, in a fixed order.

        Parameters
        ----------
        seed : int or None
            Base seed; layer ``i`` gets ``seed + i`` so that a fit is repeatable.

        Returns
        -------
        layers : list of keras.layers.Layer
        """
        from .._utils.compat import import_keras

        keras = import_keras()
        self._check()
        layers = []

        def add(cls, *args, **kwargs):
            kwargs["seed"] = None if seed is None else seed + len(layers)
            layers.append(cls(*args, **kwargs))

        if self.flip is not None:
            add(keras.layers.RandomFlip, self.flip)
        if self.rotation:
            add(keras.layers.RandomRotation, self.rotation, fill_mode="reflect")
        if self.shift:
            add(keras.layers.RandomTranslation, self.shift, self.shift, fill_mode="reflect")
        if self.zoom:
            add(keras.layers.RandomZoom, self.zoom, fill_mode="reflect")
        if self.shear:
            add(keras.layers.RandomShear, x_factor=self.shear, y_factor=self.shear, fill_mode="reflect")
        if self.contrast:
            add(keras.layers.RandomContrast, self.contrast, value_range=(0, 255))
        if self.brightness:
            add(keras.layers.RandomBrightness, self.brightness, value_range=(0, 255))
        return layers
