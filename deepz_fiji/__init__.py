"""deepz-fiji: Deep-Z virtual 3D refocusing of wide-field fluorescence images.

Layers (imports only point down): ``cli`` and ``fiji`` on top; ``train``, ``refocus``,
``model`` use TensorFlow; ``data``, ``simulate``, ``dpm``, ``io``, ``metrics``, ``beads``
are numpy-only.
"""

__version__ = "0.1.0"
