"""The MLflow pyfunc model that serves either trained model, and its request contract.

:mod:`.model` holds the model class; :mod:`.pyfunc_model` is the file MLflow
logs as each model's code (models-from-code: no pickle); :mod:`.weights` reads
the safetensors weights without Kedro; :mod:`.contract` checks a request;
:mod:`.app` puts MLflow's scoring server behind that contract and a body-size
limit, and ``python -m fashion_mnist.serving`` (``make serve``) runs it.
"""
