"""One preprocessing, one encoder call and one feature cache for prompting and tracking.

SAM 2's image predictor preprocesses a plane with its own transforms (torchvision:
to float, bilinear antialiased resize, ImageNet normalisation) and its video
predictor with others (PIL bicubic resize of a JPEG frame). Here both paths use
:func:`preprocess`, the image predictor's (so prompting equals ``SAM2ImagePredictor``
exactly), and both keep the encoder's output in one :class:`EmbeddingCache` as SAM 2's
backbone features (``forward_image``: the FPN maps, before the image predictor adds
its no-memory embedding). So a plane embedded while prompting is not encoded again
when tracking starts from it, frames tracked once are not encoded again when a range
is re-tracked after a correction (within the cache's budget), and prompting on a
tracked frame is instant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .torch_guard import guard_torch_import

guard_torch_import()  # before torch: see torch_guard
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ..core.planes import plane_digest  # noqa: E402
from .embeddings import EmbeddingCache  # noqa: E402
from .fast import autocast, bf16_support  # noqa: E402

log = logging.getLogger(__name__)

IMG_MEAN = (0.485, 0.456, 0.406)  # sam2's normalisation (utils/transforms.py, utils/misc.py)
IMG_STD = (0.229, 0.224, 0.225)
PIPELINE = "p1"  # bump when preprocessing or what is cached changes: old disk entries are not read


def preprocess(rgb: np.ndarray, image_size: int, device="cpu", channels_last: bool = False) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, S, S) float32, as ``SAM2ImagePredictor``'s transforms do:
    ToTensor, Resize((S, S)) (bilinear, antialiased), Normalize(mean, std)."""
    x = torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).to(device).permute(2, 0, 1)[None].float() / 255.0
    if x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, (image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMG_MEAN, device=x.device)[:, None, None]
    std = torch.tensor(IMG_STD, device=x.device)[:, None, None]
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class FeatureEncoder:
    """SAM 2's image encoder behind the cache, shared by the image and the video paths.

    ``fast``: bf16 autocast and a channels-last input (see :mod:`.fast`); features made
    in fast mode are cached under their own keys, never mixed with fp32 ones. ``weights``:
    the identity of the model's weights (:func:`.embeddings.weights_digest` of its
    checkpoint), in every key: two checkpoints under one model name never share features.
    """

    def __init__(self, model, name: str = "sam2", cache: EmbeddingCache | None = None, weights: str = "") -> None:
        self.model, self.name, self.weights = model, name, weights
        self.cache = cache if cache is not None else EmbeddingCache()
        self.fast = False
        self.encoded = 0  # encoder runs, for tests and benchmarks
        self._pos_enc: dict[bool, list] = {}  # the same for every image (per precision): kept once
        self._current: tuple[str, int, dict] | None = None  # the last plane asked for, even past the budget
        self._fpn_shapes: list[tuple[int, ...]] | None = expected_fpn_shapes(model)  # then as encoded
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def precision(self) -> str:
        return "bf16" if self.fast else "fp32"

    def set_fast(self, on: bool) -> tuple[bool, str]:
        """Turn fast mode on or off; (whether it is on, a line to show the user)."""
        if not on:
            self.fast = False
            return False, "fast mode off (fp32)"
        ok, why = bf16_support(str(self.device))
        self.fast = ok
        if not ok:
            log.warning("fast mode unavailable, running in fp32: %s", why)
        return ok, f"fast mode on: {why}" if ok else f"fast mode unavailable: {why}"

    def autocast(self, fast: bool | None = None):
        return autocast(str(self.device), self.fast if fast is None else fast)

    def key(self, rgb: np.ndarray, fast: bool | None = None) -> str:
        precision = "bf16" if (self.fast if fast is None else fast) else "fp32"
        model = f"{self.name}@{self.weights}" if self.weights else self.name
        return f"{model}-{self.model.image_size}-{precision}-{PIPELINE}-{plane_digest(rgb)}"

    def features(self, rgb: np.ndarray, key: str | None = None, keep: bool = True) -> dict:
        """{'fpn': [3 feature maps], 'hw': (H, W), 'fast': bool} of this plane: from the
        cache or encoded now (in the precision of the moment, read once). ``keep=False``: no
        later call will ask for this plane again (a one-shot run), so features encoded now
        are not kept in memory (only on disk, where the cache has a folder): the cache then
        stays flat in the number of planes such a run visits."""
        fast = self.fast
        key = key or self.key(rgb, fast)
        current = self._current
        if current is not None and current[:2] == (key, self.cache.generation):
            return current[2]
        entry = self.cache.get(key, self.unusable)
        if entry is None:
            entry = self._encode(rgb, fast)
            self.cache.put(key, entry, memory=keep)
        self._current = (key, self.cache.generation, entry)
        return entry

    def _encode(self, rgb: np.ndarray, fast: bool) -> dict:
        x = preprocess(rgb, self.model.image_size, self.device, channels_last=fast)
        with torch.inference_mode(), self.autocast(fast):
            out = self.model.forward_image(x)
        self.encoded += 1
        with self._lock:
            self._pos_enc.setdefault(fast, list(out["vision_pos_enc"]))
            self._fpn_shapes = [tuple(f.shape) for f in out["backbone_fpn"]]  # what this model makes, for sure
        return {"fpn": list(out["backbone_fpn"]), "hw": tuple(int(v) for v in rgb.shape[:2]), "fast": fast}

    def unusable(self, entry) -> str:
        """Why a cache entry read from disk is not this model's features ('' when it is):
        features of another shape (another model's, a damaged file) failed every prompt."""
        fpn = entry.get("fpn") if isinstance(entry, dict) else None
        if not isinstance(fpn, list) or not all(isinstance(f, torch.Tensor) for f in fpn):
            return "holds no feature maps"
        hw = entry.get("hw")
        if not isinstance(hw, (tuple, list)) or len(hw) != 2:
            return "holds no plane size"
        got = [tuple(f.shape) for f in fpn]
        want = self._fpn_shapes
        if want is not None and got != want:
            return f"holds features of shape {got}, this model makes {want}"
        return ""

    def pos_enc(self, entry: dict) -> list:
        """The positional encodings ``forward_image`` returns beside these features (they
        depend on the sizes only): from an encoder run, or made by the model's own module."""
        fast = bool(entry.get("fast"))
        with self._lock:
            pos = self._pos_enc.get(fast)
        if pos is None:  # features from the disk cache, no encoder run yet in this process
            neck = self.model.image_encoder.neck
            with torch.inference_mode():
                pos = [
                    neck.position_encoding(torch.empty(1, neck.d_model, *f.shape[-2:], device=f.device)).to(f.dtype)
                    for f in entry["fpn"]
                ]  # as FpnNeck.forward makes them
            with self._lock:
                pos = self._pos_enc.setdefault(fast, pos)
        return pos

    def backbone_out(self, entry: dict) -> dict:
        """The dict ``forward_image`` returns, rebuilt from a cache entry."""
        return {"backbone_fpn": list(entry["fpn"]), "vision_pos_enc": list(self.pos_enc(entry))}

    def image_features(self, entry: dict, feat_sizes) -> dict:
        """``SAM2ImagePredictor._features`` from a cache entry, as its ``set_image`` makes them."""
        model = self.model
        _, vision_feats, _, _ = model._prepare_backbone_features(self.backbone_out(entry))
        if model.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + model.no_mem_embed
        feats = [
            f.permute(1, 2, 0).reshape(1, -1, *size) for f, size in zip(vision_feats[::-1], feat_sizes[::-1])
        ][::-1]
        return {"image_embed": feats[-1], "high_res_feats": feats[:-1]}


def expected_fpn_shapes(model) -> list[tuple[int, ...]] | None:
    """The feature maps' shapes ``forward_image`` makes for one image, from the model's own
    modules (as sam2's predictors assume them: strides 4, 8, 16; the decoder's high-resolution
    convolutions' channels, then the neck's); None for a model built otherwise."""
    try:
        d = model.image_encoder.neck.d_model
        channels = [d, d, d]
        if model.use_high_res_features_in_sam:
            decoder = model.sam_mask_decoder
            channels[:2] = [decoder.conv_s0.out_channels, decoder.conv_s1.out_channels]
        size = int(model.image_size)
    except AttributeError:
        return None
    return [(1, c, size // stride, size // stride) for c, stride in zip(channels, (4, 8, 16))]


class VideoFeatures(Mapping):
    """``inference_state['cached_features']`` for SAM 2's video predictor, served by a
    :class:`FeatureEncoder`: ``_get_image_feature`` asks it for a frame and gets the
    cached (or newly encoded) features of that frame's plane. sam2 replaces this mapping
    only on a miss, and it never misses. ``keep(frame)``: whether a later run will ask for
    that frame's features again (None: every frame may be, as in the dock); the others'
    are not kept in the cache (:meth:`FeatureEncoder.features`)."""

    def __init__(self, encoder: FeatureEncoder, frames, keep: Callable[[int], bool] | None = None) -> None:
        self.encoder, self.frames, self.keep = encoder, frames, keep
        self.sources: dict[int, str] = {}  # frame -> "cache" or "encoder", when first asked for
        self._last: tuple[int, tuple] | None = None  # sam2 asks again for each object

    @property
    def reused(self) -> int:
        return sum(v == "cache" for v in self.sources.values())

    def get(self, frame_idx: int, default: Any = None):
        frame_idx = int(frame_idx)
        if self._last is not None and self._last[0] == frame_idx:
            return self._last[1]
        before = self.encoder.encoded
        entry = self.encoder.features(self.frames[frame_idx], keep=self.keep is None or bool(self.keep(frame_idx)))
        self.sources.setdefault(frame_idx, "encoder" if self.encoder.encoded > before else "cache")
        # sam2 only expands the first item (its input image) to the batch, and never reads it
        image = torch.empty(1, 3, 0, 0, device=self.encoder.device)
        self._last = (frame_idx, (image, self.encoder.backbone_out(entry)))
        return self._last[1]

    def __getitem__(self, frame_idx: int):
        return self.get(frame_idx)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0
