"""Built-in backends register exactly as a plugin's do: load_backend has no special cases."""

from napari_samlabel.backends import registry
from napari_samlabel.backends.seeds import SeedGrowSegmenter


class PluginBackendDouble:
    """A third-party backend stand-in: what its factory was given is kept."""

    name = "plugin-double"

    def __init__(self, checkpoint=None, device="auto") -> None:
        self.checkpoint, self.device = checkpoint, device


def test_built_ins_are_registered_factories_like_a_plugins(monkeypatch):
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    assert {"seeds", "sam2.1-tiny"} <= set(registry._FACTORIES)
    assert isinstance(registry.load_backend("seeds", fast=False), SeedGrowSegmenter)

    registry.register_backend("plugin-double", PluginBackendDouble, "a test double")
    made = registry.load_backend("plugin-double", checkpoint="w.pt", device="cpu", embeddings_on_disk=True)
    assert (made.checkpoint, made.device) == ("w.pt", "cpu")  # options it does not take are not passed
    ok, line, _ = registry.model_status("plugin-double")
    assert ok and "plugin backend" in line
    assert "plugin backend" not in registry.model_status("seeds")[1]
