"""Fashion MNIST"""

__version__ = "0.1"
