"""Qt-free state of the DermScreen window (the napari split: state here, widgets in gui/).

Nothing in this package imports Qt: it is tested without a QApplication, and the
window only binds its widgets to the events these objects emit.
"""
