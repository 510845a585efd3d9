"""Every key the plugin binds, in one table, and the one object per viewer that binds and unbinds them.

No Qt. napari looks a key up in the active layer's own keymap, then its class keymap
(napari's tools), then the viewer's. A key bound only on the viewer is therefore shadowed
by a layer class that uses it (Points' Ctrl+C, Labels' Enter), and a key bound on a layer
works only while that layer is active. :class:`KeyRouter` binds each key on both and
remembers what it replaced, so ``close()`` takes back exactly what was bound.
"""

from __future__ import annotations

from typing import Any, Callable

#: (key as napari spells it, what it does, where it works). The README's table and the
#: "Keyboard shortcuts" dialog are made from this list; a test checks each is bound.
SHORTCUTS: list[tuple[str, str, str]] = [
    ("Shift-A", "SAM mode on/off (prompt layers shown or hidden)", "anywhere in the viewer"),
    ("1-9", "pick the class with that hotkey; in SAM mode, prompt for it", "anywhere in the viewer"),
    ("Left click", "include: the object is here", "SAM mode"),
    ("Right click / N then click", "exclude: background here (N toggles)", "SAM mode"),
    ("Drag", "a box around the object, whatever layer is selected", "SAM mode"),
    ("Middle drag", "pan (scroll zooms)", "SAM mode"),
    ("Enter", "save the previewed mask as an instance (finishes napari's polygon first)", "SAM mode"),
    ("Escape", "clear clicks and preview (cancels napari's polygon first)", "SAM mode"),
    ("C", "next candidate mask", "SAM mode"),
    ("M", "start a new instance of the current class", "anywhere in the viewer"),
    ("Shift-L", "Label similar (SAM 3): every object like the box drawn (else the picked instances) as Label all's "
     "class", "anywhere in the viewer"),
    ("Shift-T", "track the selected (or just-saved) instance forward over the tracking range", "anywhere in the viewer"),
    ("Shift-Alt-T", "track it backward", "anywhere in the viewer"),
    ("Shift-D", "the selected instance divides after this frame: its two pieces on the next frame become its daughters",
     "anywhere in the viewer"),
    ("Control-C", "copy the selected instance's mask on this frame", "anywhere in the viewer"),
    ("Control-V", "paste it on this frame as the same instance", "anywhere in the viewer"),
    ("Control-Shift-V", "paste it as a new instance", "anywhere in the viewer"),
    ("Control-S", "save the project in its folder (the first time: asks where)", "anywhere in the viewer"),
    ("Control-Z", "undo the last labeling action", "anywhere in the viewer"),
    ("Control-Shift-Z", "redo", "anywhere in the viewer"),
    ("Shift-N", "go to the next frame or slice without labels", "anywhere in the viewer"),
    ("Shift-F", "centre and zoom on the selected instance", "anywhere in the viewer"),
    ("T", "move the three views' slices to the point under the mouse", "3 views shown"),
]


def key_text(key: str) -> str:
    """napari's spelling of a key as people write it: Control-Shift-Z -> Ctrl+Shift+Z."""
    for mod, shown in (("Control-", "Ctrl+"), ("Shift-", "Shift+"), ("Alt-", "Alt+")):
        key = key.replace(mod, shown)
    return key


def markdown_table() -> str:
    """The README's shortcut table (tests/test_readme.py keeps the README in step)."""
    rows = ["| Key | What it does | Where |", "|---|---|---|"]
    rows += [f"| `{key_text(k)}` | {what} | {where} |" for k, what, where in SHORTCUTS]
    return "\n".join(rows)


def keybinding(key: str):
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(key)


class KeyRouter:
    """One per viewer: each plugin key bound once on the viewer and on the plugin's
    layers, and sent to whoever handles it now.

    Owners (the session list, the Segment and Track docks) ``handle`` a key and ``drop``
    it when they close; layers are ``adopt``-ed while they exist. Binding on our layers too
    is what makes a key work whatever layer is active; a key napari's own tool is using
    (Enter/Escape during a polygon or a stroke) goes to napari; a key with no handler
    falls back to napari's binding for that layer, so overriding never loses a tool.
    """

    #: asked before a bound key acts (the window's key filter says no while the user types
    #: in a text field, and to Enter/Escape away from the canvas); ``press`` does not ask
    accepts: Callable[[str], bool] = staticmethod(lambda key: True)

    def __init__(self, viewer) -> None:
        self.viewer = viewer
        self._handlers: dict[str, list[tuple[object, Callable]]] = {}  # key -> stack of (token, fn(layer))
        self._targets: list[Any] = [viewer]
        self._bound: dict[tuple[int, Any], tuple[Any, Any]] = {}  # (id(target), kb) -> (target, old)
        self._napari_help: dict[int, str] = {}  # id(layer) -> napari's hints before we trimmed them

    # -- who handles a key
    def handle(self, key: str, fn: Callable[[Any], Any]) -> object:
        """``fn(layer)`` runs on ``key`` (layer: the active one); returns a token for ``drop``."""
        token = object()
        self._handlers.setdefault(key, []).append((token, fn))
        for target in self._targets:
            self._bind(target, key)
        return token

    def drop(self, token: object) -> None:
        for key, stack in list(self._handlers.items()):
            stack[:] = [(t, fn) for t, fn in stack if t is not token]
            if not stack:
                del self._handlers[key]
                for target in list(self._targets):
                    self._unbind(target, key)

    # -- where keys are bound
    def adopt(self, layer) -> None:
        """Bind the keys on a layer too, or on a linked view (a viewer model of the three views)."""
        if all(t is not layer for t in self._targets):
            self._targets.append(layer)
            for key in self._handlers:
                self._bind(layer, key)
            if not _is_view(layer):
                layer.events.help.connect(self._trim_help)
                self._trim_help(layer=layer)

    def release(self, layer) -> None:
        if any(t is layer for t in self._targets):
            for key in self._handlers:
                self._unbind(layer, key)
            self._targets = [t for t in self._targets if t is not layer]
            if not _is_view(layer):
                self._forget_help(layer)

    def close(self) -> None:
        for target in list(self._targets):
            for key in list(self._handlers):
                self._unbind(target, key)
            if not _is_view(target):
                self._forget_help(target)
        self._handlers.clear()
        self._targets = []

    # -- napari's status-bar hints ("use <1> for activate the label eraser")
    def _trim_help(self, event=None, layer=None) -> None:
        """napari writes each layer's hints from its own shortcuts; on our layers the plugin's
        keys win (1-9 pick classes), so their hints would lie: they are left out."""
        layer = layer if layer is not None else getattr(event, "source", None)
        if layer is None:
            return
        ours = self.bindings()
        kept, dropped = [], []
        for part in (layer.help or "").split(", "):
            key = part[part.find("<") + 1 : part.find(">")] if part.startswith("use <") else None
            (dropped if key and _binding_or_none(key) in ours else kept).append(part)
        if dropped:
            self._napari_help[id(layer)] = layer.help
            if any(part[5:6].isdigit() for part in dropped):
                kept.append("use <1>...<9> to pick a class (the plugin's keys)")
            layer.help = ", ".join(p for p in kept if p)
            active = getattr(getattr(self.viewer, "layers", None), "selection", None)
            if active is not None and active.active is layer:
                self.viewer.help = layer.help

    def _forget_help(self, layer) -> None:
        layer.events.help.disconnect(self._trim_help)
        original = self._napari_help.pop(id(layer), None)
        if original is not None and layer.help != original:
            layer.help = original

    def bound_keys(self) -> set[str]:
        return set(self._handlers)

    def bindings(self, names=None) -> set:
        """The bound keys (or ``names``) as napari's key bindings, to compare with a key pressed."""
        return {keybinding(k) for k in (self._handlers if names is None else names)}

    # -- pressing
    def press(self, key: str, layer=None) -> Any:
        """What a key press does (also the entry point for scripts and tests)."""
        if layer is None:
            layer = self.viewer.layers.selection.active
        if layer is not None and napari_tool_busy(layer, key):
            return run_napari_binding(layer, key)
        stack = self._handlers.get(key)
        if stack:
            return stack[-1][1](layer)
        return layer is not None and run_napari_binding(layer, key)

    def _bind(self, target, key: str) -> None:
        kb = keybinding(key)
        slot = (id(target), kb)
        if slot not in self._bound:
            self._bound[slot] = (target, target.keymap.get(kb))
        provider_is_layer = not _is_view(target)
        target.bind_key(key, lambda t, k=key: self._pressed(k, t if provider_is_layer else None), overwrite=True)

    def _pressed(self, key: str, layer) -> Any:
        return self.press(key, layer) if self.accepts(key) else None

    def _unbind(self, target, key: str) -> None:
        kb = keybinding(key)
        entry = self._bound.pop((id(target), kb), None)
        if entry is None:
            return
        old = entry[1]
        if old is None:
            target.keymap.pop(kb, None)
        else:
            target.keymap[kb] = old


def _is_view(target) -> bool:
    """A viewer model (the viewer, a linked view), not a layer: its keys act on the active layer."""
    return hasattr(target, "layers")


def _binding_or_none(key: str):
    try:
        return keybinding(key)
    except (ValueError, KeyError, TypeError):
        return None


def napari_tool_busy(layer, key: str) -> bool:
    """Whether napari's own tool on ``layer`` is mid-gesture and ``key`` belongs to it:
    Enter finishes and Escape cancels a polygon (or a brush stroke) on a Labels layer."""
    if getattr(layer, "_type_string", None) != "labels" or key not in ("Enter", "Escape"):
        return False
    overlays = getattr(layer, "_overlays", {})
    polygon = overlays.get("polygon")
    if layer.mode == "polygon" and polygon is not None and len(polygon.points):
        return True
    stroke = overlays.get("brush_stroke")
    return key == "Escape" and stroke is not None and bool(getattr(stroke, "active", False))


def run_napari_binding(layer, key: str) -> bool:
    """Run what napari's class keymap binds to ``key`` on ``layer`` (its own tool's key)."""
    kb = keybinding(key)
    for cls in type(layer).__mro__:
        fn = getattr(cls, "class_keymap", {}).get(kb)
        if fn is not None and fn is not Ellipsis:
            fn(layer)
            return True
    return False
