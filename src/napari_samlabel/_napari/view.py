"""What the viewer shows a session's model: the plane on screen, and the image as the model
sees it (its full-resolution data, windowed by the contrast limits the user set, RGB or not).

Qt-free; one place for what prompting, tracking and label-all each read (they had four
copies of the same three lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..core.annotation import AnnotationError
from ..core.planes import Plane
from ..core.prompts import PromptError

if TYPE_CHECKING:
    from napari.layers import Image

    from .session import AnnotationSession


class ModelImage(NamedTuple):
    data: Any  # read lazily, a plane at a time
    contrast_limits: tuple[float, float]
    rgb: bool


def image_data(image) -> Any:
    """The full-resolution array of an image layer (level 0 of a multiscale one)."""
    return image.data[0] if getattr(image, "multiscale", False) else image.data


def model_image(session: AnnotationSession) -> ModelImage:
    image = session.image
    return ModelImage(image_data(image), tuple(image.contrast_limits), bool(getattr(image, "rgb", False)))


def current_plane(session: AnnotationSession) -> Plane:
    """The plane the working view shows (the viewer, or the linked view the mouse is on):
    its displayed data axes at the current position."""
    image = session.image
    shape = labels_shape(image)
    viewer = session.working_viewer
    if viewer is None:  # headless: the last two axes at the first index
        return Plane(shape, (len(shape) - 2, len(shape) - 1), (0,) * len(shape))
    offset = viewer.dims.ndim - len(shape)
    displayed = [ax - offset for ax in viewer.dims.displayed[-2:]]
    if any(ax < 0 for ax in displayed):
        raise PromptError("the displayed axes are not axes of this image")
    point = image.world_to_data(viewer.dims.point)
    return Plane.from_point(shape, displayed, point[-len(shape) :])


def labels_shape(image: Image) -> tuple[int, ...]:
    data = image.data[0] if getattr(image, "multiscale", False) else image.data
    shape = tuple(data.shape)
    return shape[:-1] if getattr(image, "rgb", False) else shape


def tracking_axis(session: AnnotationSession, plane: Plane, axis: int | None = None) -> int:
    """The slider axis to track along: the session's frame axis if not displayed, else the first free one."""
    free = [a for a in range(len(plane.shape)) if a not in plane.displayed]
    if axis is not None:
        if axis not in free:
            raise AnnotationError(f"axis {axis} is displayed: track along one of {free}")
        return axis
    if not free:
        raise AnnotationError("a 2D image has no time or slice axis to track along")
    return session.frame_axis if session.frame_axis in free else free[0]
