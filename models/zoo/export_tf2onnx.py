"""Train a Keras 3 CNN on the TensorFlow backend and export it with tf2onnx, at batch 1 and symbolic.

Run from the repository root: `python -m models.zoo.export_tf2onnx` (needs the `train` extra:
tensorflow-cpu, tf2onnx). A separate script from `models.zoo.export` because Keras picks its backend once
per process (TensorFlow here, torch there). Writes next to this file: tf2onnx_cnn_{b1,dyn}.onnx, from the
same calibration and training data as the other zoo models (channels-last input (N, 8, 8, 1)).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (the backend is chosen by the environment at import)
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from models.zoo import digits  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 12
OPSET = 17


def build() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(max_value=6.0),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def export(model: keras.Model, path: Path, *, symbolic: bool) -> None:
    spec = (tf.TensorSpec((None if symbolic else 1, 8, 8, 1), tf.float32, name="x"),)

    @tf.function(input_signature=spec)
    def forward(x):
        return model(x, training=False)

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def main() -> None:
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, _, _ = digits.split()
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(digits.nhwc(x_train), y_train, batch_size=64, epochs=40, verbose=0, shuffle=True)
    for symbolic, tag in ((False, "b1"), (True, "dyn")):
        export(model, HERE / f"tf2onnx_cnn_{tag}.onnx", symbolic=symbolic)


if __name__ == "__main__":
    main()
