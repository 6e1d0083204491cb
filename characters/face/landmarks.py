"""Face detection and the 478-point landmark fit, with mediapipe 0.10.21's legacy solutions.

Only ``mp.solutions`` of mediapipe 0.10.21 works offline (its wheel ships the tflite models);
newer releases have no face model. mediapipe is imported on first use. Its graphs are not
thread-safe, so each model is created once per process and used under a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.topology import N_LANDMARKS

MIN_SCORE = 0.5
MESH_INPUT_SIDE = 512
"""The face crop is resized to this side before the mesh fit, so small faces are upscaled."""

_lock = threading.Lock()
_models: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face in image pixels."""

    x: float
    y: float
    width: float
    height: float
    score: float

    def iou(self, other: FaceBox) -> float:
        """Intersection over union of the two boxes."""
        ix = max(0.0, min(self.x + self.width, other.x + other.width) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.height, other.y + other.height) - max(self.y, other.y))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


def _model(name: str) -> Any:
    if name not in _models:
        try:
            import mediapipe as mp  # type: ignore[import-untyped]
        except ModuleNotFoundError as e:  # pragma: no cover - install problem
            raise ModuleNotFoundError(
                "Face analysis needs mediapipe 0.10.21: pip install --no-deps mediapipe==0.10.21"
            ) from e
        from google.protobuf.internal import api_implementation

        if api_implementation.Type() != "python":  # pragma: no cover - see characters/__init__
            raise RuntimeError(
                "mediapipe's face mesh needs protobuf's pure-Python implementation: set "
                "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python before protobuf is imported"
            )
        solutions = mp.solutions
        if name == "mesh":
            _models[name] = solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=MIN_SCORE,
            )
        else:
            _models[name] = solutions.face_detection.FaceDetection(
                model_selection=1 if name == "detect_full" else 0,
                min_detection_confidence=MIN_SCORE,
            )
    return _models[name]


def detect_faces(rgb: npt.NDArray[np.uint8]) -> list[FaceBox]:
    """All faces found by the short- and full-range detectors, largest first, duplicates merged."""
    h, w = rgb.shape[:2]
    boxes: list[FaceBox] = []
    with _lock:
        for name in ("detect_full", "detect_short"):
            result = _model(name).process(np.ascontiguousarray(rgb))
            for det in result.detections or []:
                rel = det.location_data.relative_bounding_box
                box = FaceBox(
                    rel.xmin * w, rel.ymin * h, rel.width * w, rel.height * h, float(det.score[0])
                )
                if box.width > 1 and box.height > 1:
                    boxes.append(box)
    merged: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(box.iou(m) < 0.3 for m in merged):
            merged.append(box)
    return sorted(merged, key=lambda b: -b.width * b.height)


def _mesh(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64] | None:
    h, w = rgb.shape[:2]
    with _lock:
        result = _model("mesh").process(np.ascontiguousarray(rgb))
    if not result.multi_face_landmarks:
        return None
    pts = result.multi_face_landmarks[0].landmark
    if len(pts) != N_LANDMARKS:
        return None
    return np.array([(p.x * w, p.y * h, p.z * w) for p in pts], dtype=np.float64)


def fit_mesh(rgb: npt.NDArray[np.uint8], box: FaceBox | None) -> npt.NDArray[np.float64] | None:
    """478 landmarks (x, y in image pixels, z in the same units) for the face in ``box``.

    The fit runs on a square crop around the box, resized to :data:`MESH_INPUT_SIDE`, which is
    what the mesh model expects; without a box (or if the crop fails) it runs on the image padded
    to a square. Returns None when no mesh could be fitted.
    """
    h, w = rgb.shape[:2]
    attempts: list[tuple[float, float, float]] = []  # crop centre x, y and side
    if box is not None:
        cx, cy = box.x + box.width / 2, box.y + box.height / 2
        side = max(box.width, box.height)
        attempts += [(cx, cy - 0.1 * side, 2.2 * side), (cx, cy, 3.2 * side)]
    attempts.append((w / 2, h / 2, float(max(w, h))))
    for cx, cy, side in attempts:
        scale = MESH_INPUT_SIDE / side
        m = np.array([[scale, 0, MESH_INPUT_SIDE / 2 - scale * cx], [0, scale, 0.0]])
        m[1, 2] = MESH_INPUT_SIDE / 2 - scale * cy
        crop = cv2.warpAffine(
            rgb,
            m,
            (MESH_INPUT_SIDE, MESH_INPUT_SIDE),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        pts = _mesh(np.asarray(crop, dtype=np.uint8))
        if pts is None:
            continue
        pts[:, 0] = (pts[:, 0] - m[0, 2]) / scale
        pts[:, 1] = (pts[:, 1] - m[1, 2]) / scale
        pts[:, 2] = pts[:, 2] / scale
        return pts
    return None


def mouth_aperture(rgb: npt.NDArray[np.uint8]) -> float | None:
    """How open the mouth is in a frame: the inner-lip gap over the mouth's width, measured with
    the face mesh (None when no face is found). For checking rendered or received video."""
    pts = fit_mesh(rgb, None)
    if pts is None:
        return None
    gap = float(np.hypot(*(pts[13, :2] - pts[14, :2])))
    width = float(np.hypot(*(pts[61, :2] - pts[291, :2])))
    return gap / width if width > 0 else None
