"""The models this project trains; every per-model pipeline is built from this list."""

MODELS = ("scratch", "concise")
