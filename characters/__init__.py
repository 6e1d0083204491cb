"""Characters: self-hosted realtime conversational video avatars."""

import os

# Two users of protobuf share every process: mediapipe 0.10.21 (the face mesh, built against
# protobuf 4) and LiveKit's SDK (protobuf 5 or newer). With protobuf 5.29 both work, but only on
# protobuf's pure-Python implementation: the default one (upb) hands mediapipe's C++ graph a
# configuration it cannot parse. It must be chosen before protobuf is first imported, so here.
# The cost is small: loading a 63 MB voice model with onnx takes 0.37 s instead of 0.22 s.
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

__version__ = "0.1.0"
