"""Frozen work computed once: the machinery under the estimators, which knows no estimator.

``cache`` (activations by content hash), ``cut`` (where the frozen part ends),
``frozen`` (running the frozen stages), ``templates`` (shared pretrained backbones),
``trainers`` (the pool of compiled trainers), ``two_rate`` (a lower learning rate for
the backbone), ``views`` (augmented views), ``network`` (the head and its layers),
``keras_pickle`` (pickling Keras models), ``backbone_info`` (what a fitted network
records about its backbone), ``shared_state`` (what one fit leaves for the
next), ``history_recorder`` (learning curves of a search). Private: its modules change
without notice; the public names are re-exported where users find them.
"""
