"""Count TensorFlow traces from outside the package: the graphs in which any Keras layer runs.

A traced function runs its Python code once per trace, in a graph of its own;
every Keras layer call goes through ``keras.layers.Layer.__call__``. So the
number of distinct graphs in which a layer was called while a block ran is the
number of functions traced (training, prediction or any other) meanwhile.
"""

import contextlib


class Traces:
    def __init__(self):
        self.graphs = {}

    def __len__(self):
        return len(self.graphs)

    @property
    def names(self):
        return [name for name, _ in self.graphs.values()]


@contextlib.contextmanager
def count_traces():
    """``with count_traces() as traces: ...``; then ``len(traces)`` graphs were traced."""
    import keras
    import tensorflow as tf

    traces = Traces()
    original = keras.layers.Layer.__call__

    def counted(self, *args, **kwargs):
        if not tf.executing_eagerly():
            graph = tf.compat.v1.get_default_graph()
            # the graph itself is kept, so that its id is never reused meanwhile
            traces.graphs.setdefault(id(graph), (getattr(graph, "name", "?"), graph))
        return original(self, *args, **kwargs)

    keras.layers.Layer.__call__ = counted
    try:
        yield traces
    finally:
        keras.layers.Layer.__call__ = original
