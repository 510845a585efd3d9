"""The README says what the code does: its shortcut table is the one the Keys dialog shows."""

from pathlib import Path

from napari_samlabel._napari.keys import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_shortcut_as_the_keys_dialog_does():
    assert markdown_table() in README.read_text(encoding="utf-8")


def test_the_set_up_is_two_commands_that_ci_runs_as_written():
    """scripts/fresh_machine.sh (and so CI) runs the first two bash blocks of the set-up as
    written: one makes a virtual environment, installs and launches; one runs the tests."""
    import re

    setup = README.read_text(encoding="utf-8").split("## Set-up", 1)[1].split("\n## ", 1)[0]
    install, test = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)[:2]
    assert "-m venv" in install and "pip install" in install and install.strip().endswith("samlabel")
    assert test.strip() == "bash scripts/test.sh"
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/fresh_machine.sh" in ci
