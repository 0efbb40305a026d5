"""The MLflow pyfunc model that serves either trained model, and its request contract.

:mod:`.model` holds the model class and the contract; :mod:`.pyfunc_model` is
the file MLflow logs as each model's code (models-from-code: no pickle).
"""
