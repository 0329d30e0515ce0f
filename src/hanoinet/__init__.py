"""hanoinet: a node for cross-border cooperation under the Hanoi and Budapest Conventions."""

__version__ = "0.1.0"
