"""The README says what the code does: its shortcut table is the one the Keys dialog shows."""

from pathlib import Path

from napari_samlabel._napari.keys import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_shortcut_as_the_keys_dialog_does():
    assert markdown_table() in README.read_text(encoding="utf-8")
