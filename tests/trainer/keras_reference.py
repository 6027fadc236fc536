"""Keras' tokenizer and Jigsaw BiLSTM written out in numpy from the Keras 3 sources, reading the
package's h5 directly: the reference the PyTorch port is checked against."""

from pathlib import Path
from typing import Any

import h5py
import numpy as np


def keras_texts_to_ids(texts: list[str], tokenizer: dict[str, Any], maxlen: int) -> np.ndarray:
    """Tokenizer.texts_to_sequences over the full word_index, then pad_sequences(maxlen)."""
    table = str.maketrans({c: tokenizer["split"] for c in tokenizer["filters"]})
    num_words, word_index = tokenizer["num_words"], tokenizer["word_index"]
    ids = np.zeros((len(texts), maxlen), dtype=np.int64)
    for row, text in enumerate(texts):
        if tokenizer["lower"]:
            text = text.lower()
        words = [w for w in text.translate(table).split(tokenizer["split"]) if w]
        sequence = []
        for word in words:
            index = word_index.get(word)
            if index is not None and not (num_words and index >= num_words):
                sequence.append(index)
        sequence = sequence[-maxlen:]  # truncating="pre"
        if sequence:
            ids[row, -len(sequence) :] = sequence  # padding="pre"
    return ids


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class KerasJigsawReference:
    """Embedding -> Bidirectional(LSTM, return_sequences) -> GlobalMaxPooling1D -> Dense(relu)
    -> Dense(sigmoid), in float64, with the h5's weights as Keras lays them out."""

    def __init__(self, h5_path: Path) -> None:
        with h5py.File(h5_path, "r") as h5:
            self.weights = {
                name: np.asarray(dataset, dtype=np.float64)
                for name, dataset in _datasets(h5["layers"]).items()
            }

    def lstm(self, x: np.ndarray, direction: str) -> np.ndarray:
        """Keras LSTMCell over (batch, steps, features): z = x W + h U + b, gates i, f, c, o."""
        kernel, recurrent, bias = (
            self.weights[f"bidirectional/{direction}/cell/vars/{i}"] for i in range(3)
        )
        units = recurrent.shape[0]
        h = np.zeros((x.shape[0], units))
        c = np.zeros((x.shape[0], units))
        states = []
        for t in range(x.shape[1]):
            z = x[:, t] @ kernel + h @ recurrent + bias
            i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            states.append(h)
        return np.stack(states, axis=1)

    def predict(self, ids: np.ndarray) -> np.ndarray:
        x = self.weights["embedding/vars/0"][ids]
        forward = self.lstm(x, "forward_layer")
        # go_backwards: the backward layer reads the steps in reverse; Bidirectional flips its
        # outputs back so step t of both halves lines up.
        backward = self.lstm(x[:, ::-1], "backward_layer")[:, ::-1]
        pooled = np.concatenate([forward, backward], axis=-1).max(axis=1)
        hidden = np.maximum(
            pooled @ self.weights["dense/vars/0"] + self.weights["dense/vars/1"], 0.0
        )
        return sigmoid(hidden @ self.weights["dense_1/vars/0"] + self.weights["dense_1/vars/1"])


def _datasets(group: h5py.Group) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    group.visititems(
        lambda name, node: found.__setitem__(name, node) if isinstance(node, h5py.Dataset) else None
    )
    return found
