"""``samlabel``: the command line.

``samlabel`` (or ``samlabel gui``) opens napari with the plugin's docks and a
sample, ready to label. Later subcommands (segment, track, export) run headless.
"""

from __future__ import annotations

import argparse
import sys

DEMO_CLASSES = {
    "classes": [
        {"name": "nucleus", "color": "#ff8800", "kind": "thing", "hotkey": "1"},
        {"name": "mitotic", "color": "#e6194b", "kind": "thing", "hotkey": "2"},
        {"name": "debris", "color": "#42d4f4", "kind": "stuff", "hotkey": "3"},
    ]
}


def open_viewer(sample: str | None = "timelapse", files: list[str] | None = None, ontology: str | None = None):
    """A napari viewer with the samlabel docks, a sample or files, and a session started."""
    import napari

    from .api import start_session
    from .core.ontology import Ontology

    viewer = napari.Viewer(title="napari-samlabel")
    if files:
        viewer.open(files)
    elif sample:
        viewer.open_sample("napari-samlabel", sample)
    for name in ("Classes", "Segment", "Instances"):
        viewer.window.add_plugin_dock_widget("napari-samlabel", name)
    images = [layer for layer in viewer.layers if layer._type_string == "image"]
    if images:
        onto = Ontology.load(ontology) if ontology else Ontology.from_dict(DEMO_CLASSES)
        session = start_session(viewer, images[0], ontology=onto)
        viewer.layers.selection.active = session.labels
        session.labels.mode = "paint"
    return viewer


SUBCOMMANDS = ("gui",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samlabel", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open napari with the samlabel docks (the default)")
    gui.add_argument("files", nargs="*", help="images to open instead of the sample")
    gui.add_argument("--sample", default="timelapse", choices=["timelapse", "volume", "none"])
    gui.add_argument("--ontology", help="classes JSON file to start with")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["gui", *argv]  # plain `samlabel [FILES]` opens the viewer
    args = build_parser().parse_args(argv)
    if args.command == "gui":
        import napari

        open_viewer(None if args.sample == "none" else args.sample, args.files, args.ontology)
        napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
