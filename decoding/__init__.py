"""Brain decoders (PyTorch): BrainFLORA, MindBridge, BraInCoRL, HiSTN, and their shared trainer.

Installed as :mod:`neurosim.decoding`. The decoders are not written yet; this subpackage is importable
without Brian2 so that it works on machines where Brian2 cannot be installed.
"""

__all__: list[str] = []
