"""A real save killed at random points (SIGKILL, as a power cut or a crash would):
opening afterwards always finds a complete project, never a missing or half one."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from napari_samlabel.io.project import load_project

SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from napari_samlabel.core import InstanceTable, Ontology
    from napari_samlabel.io.project import save_project

    folder, n = sys.argv[1], 0
    while True:
        n += 1
        labels = np.full((8, 512, 512), n, np.uint32)  # 8 MiB: a kill lands mid-write often
        table = InstanceTable()
        table.adopt(n, "cell")
        save_project(folder, labels, Ontology(), table, {"n": n})
        print(n, flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_saves_always_leave_a_complete_project(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "p.samlabel"
    last_done = 0
    for trial in range(12):  # each a fresh interpreter (~1 s): 12 random kill points
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(folder)], stdout=subprocess.PIPE, text=True)
        first = int(proc.stdout.readline())  # one whole save in this process at least
        time.sleep(float(rng.uniform(0.0, 0.25)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        labels, _, table, meta = load_project(folder)
        n = meta["n"]
        assert (labels == n).all(), f"trial {trial}: a half-written project was opened"
        assert [r.id for r in table] == [n] and n >= first >= 1, f"trial {trial}: an older copy than the last save"
        last_done = n
    assert last_done >= 1
    leftovers = {p.name for p in tmp_path.iterdir()} - {"p.samlabel", "p.samlabel.saving", "p.samlabel.old"}
    assert not leftovers
