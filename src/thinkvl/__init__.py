"""thinkvl: GLM-4.1V-Thinking as open software."""

__version__ = "0.1.0"
