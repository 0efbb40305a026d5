"""The code MLflow logs as each model (models-from-code): no pickle in the model.

MLflow runs this file when it loads the model; the weights come from the
model's ``weights`` artifact, a safetensors file whose checksum is verified.
"""

import mlflow

from fashion_mnist.serving.model import SoftmaxRegressionModel

mlflow.models.set_model(SoftmaxRegressionModel())
