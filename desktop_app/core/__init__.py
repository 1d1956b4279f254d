"""Qt-free and TensorFlow-free core shared by the app, training and export.

Everything here depends only on numpy, OpenCV, Pillow and ONNX Runtime so the
desktop app never needs the training stack, and training never re-implements
a rule the app applies (preprocessing, label mapping, score statistics).
"""
