"""The labels layer's colours and ``features`` table, kept in step with the instance table by
what changed (issue 22: with 10,000 instances every edit rebuilt both, ~96% of a commit).

Colours: napari's ``DirectLabelColormap`` rebuilds its whole lookup whenever it is replaced
(O(instances), in Python), so the colour map holds, beyond the instances, a *reserve* of the
ids the table hands out next, coloured for the class being labeled: a new instance of that
class already has its colour, and the map is replaced only when a colour really changes (a
class recoloured, an instance hidden, a new instance of another class). The reserve grows with
the table, so the replacements are rare and their cost shared among many edits.

Features: one row per present instance, rows changed in place and new rows appended. napari
keeps a private label -> row index for its status bar; it is kept up to date here, the one
place this module reaches into napari (a napari without it gets the public setter instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from napari.utils.colormaps import DirectLabelColormap

from ..core.instances import FEATURE_COLUMNS, Instance, InstanceTable, feature_row
from ..core.ontology import Ontology, hex_to_rgba

if TYPE_CHECKING:
    from napari.layers import Labels

TRANSPARENT = (0.0, 0.0, 0.0, 0.0)
GREY = (0.5, 0.5, 0.5, 1.0)  # an instance of a class the ontology no longer has
SHADES = 16  # touching instances of one class differ in shade; few distinct colours keep napari's texture small
MIN_RESERVE = 256
RESERVE_SHARE = 16  # the reserve is 1/16 of the table: napari maps every entry at each repaint
BULK = 64  # more rows removed at once (a class deleted) than this: the table is rebuilt


def instance_color(rgba: tuple, label_id: int) -> tuple:
    """The class colour, a little lighter or darker per instance so touching
    instances of one class stay distinguishable."""
    step = round(((label_id * 0.6180339887) % 1.0) * (SHADES - 1)) / (SHADES - 1)
    shade = 0.8 + 0.4 * step
    r, g, b, a = rgba
    return (min(r * shade, 1.0), min(g * shade, 1.0), min(b * shade, 1.0), a)


class LayerView:
    """Colours and features of one session's labels layer; :meth:`update` with the ids that
    changed (None: all of them)."""

    def __init__(self, layer: Labels) -> None:
        self.layer = layer
        self._colors: dict[int | None, tuple] = {}
        self._class_rgba: dict[str, tuple] = {}
        self._reserve: tuple[str | None, int, int] = (None, 0, 0)  # class, first id, past the last
        self._rows: dict[int, tuple] = {}  # label id -> its features row
        self._pos: dict[int, int] = {}  # label id -> row number in the layer's table
        self.colormap_builds = 0  # how often napari's colour lookup was rebuilt (tests, benchmarks)

    # -- the one entry ----------------------------------------------------------
    def update(self, table: InstanceTable, ontology: Ontology, ids: set[int] | None, next_class: str | None) -> None:
        """Bring colours and features up to date: ``ids`` changed (None: everything, or the
        classes changed); ``next_class``: the class new instances will most likely have."""
        if ids is None:
            self._class_rgba = {c.name: hex_to_rgba(c.color) for c in ontology}
            self._recolor_all(table, next_class)
            self._rebuild_rows(table)
            return
        records = [table.get(i) for i in ids if i in table]
        self._recolor(records, table, next_class)
        self._update_rows(records)

    # -- colours ------------------------------------------------------------------
    def color_of(self, rec: Instance) -> tuple:
        if not rec.visible:
            return TRANSPARENT
        return instance_color(self._class_rgba.get(rec.class_name, GREY), rec.id)

    def _recolor_all(self, table: InstanceTable, next_class: str | None) -> None:
        self._colors = {None: TRANSPARENT, 0: TRANSPARENT}
        self._colors.update((rec.id, self.color_of(rec)) for rec in table)
        self._build(table, next_class)

    def _recolor(self, records: list[Instance], table: InstanceTable, next_class: str | None) -> None:
        stale = False
        for rec in records:
            want = self.color_of(rec)
            if self._colors.get(rec.id) != want:
                self._colors[rec.id] = want
                stale = True
        if stale:
            self._build(table, next_class)

    def _build(self, table: InstanceTable, next_class: str | None) -> None:
        """Replace napari's colour map (O(instances)): the instances, then a reserve of the ids
        handed out next, coloured for ``next_class``."""
        cls, lo, hi = self._reserve
        for i in range(lo, hi):  # the old reserve's ids still unused
            if i not in table:
                self._colors.pop(i, None)
        if next_class is not None and next_class in self._class_rgba:
            lo = table.next_id
            hi = lo + max(MIN_RESERVE, len(table) // RESERVE_SHARE)
            rgba = self._class_rgba[next_class]
            for i in range(lo, hi):
                if i not in table:
                    self._colors[i] = instance_color(rgba, i)
            self._reserve = (next_class, lo, hi)
        else:
            self._reserve = (None, 0, 0)
        self.layer.colormap = DirectLabelColormap(color_dict=self._colors)
        self.colormap_builds += 1

    # -- features -----------------------------------------------------------------
    def _rebuild_rows(self, table: InstanceTable) -> None:
        self._rows = {r.id: feature_row(r) for r in sorted(table, key=lambda r: r.id) if r.present}
        self._pos = {i: k for k, i in enumerate(self._rows)}
        self.layer.features = pd.DataFrame.from_records(list(self._rows.values()), columns=list(FEATURE_COLUMNS))

    def _update_rows(self, records: list[Instance]) -> None:
        gone, added, cells = [], [], []
        for rec in records:
            row = feature_row(rec) if rec.present else None
            old = self._rows.get(rec.id)
            if row == old:
                continue
            if row is None:
                gone.append(rec.id)
            elif old is None:
                added.append(row)
            else:
                cells.extend((self._pos[rec.id], k, v) for k, (v, was) in enumerate(zip(row, old)) if v != was)
            if row is None:
                self._rows.pop(rec.id)
            else:
                self._rows[rec.id] = row
        if not (gone or added or cells):
            return
        features = self.layer.features
        if len(gone) > BULK or not _can_edit_in_place(self.layer, features, len(self._pos)):
            self._pos = {i: k for k, i in enumerate(self._rows)}
            self.layer.features = pd.DataFrame.from_records(list(self._rows.values()), columns=list(FEATURE_COLUMNS))
            return
        index = self.layer._label_index  # napari's status bar: label -> row (kept in step here)
        for pos, col, value in cells:
            features.iat[pos, col] = value
        for label_id in gone:  # the last row takes the removed one's place
            pos, last = self._pos.pop(label_id), len(features) - 1
            index.pop(label_id, None)
            if pos != last:
                moved = int(features.iat[last, 0])
                for col in range(len(FEATURE_COLUMNS)):
                    features.iat[pos, col] = features.iat[last, col]
                self._pos[moved] = index[moved] = pos
            features.drop(index=last, inplace=True)
        for row in added:
            pos = len(features)
            features.loc[pos] = row
            self._pos[row[0]] = index[row[0]] = pos
        self.layer.events.features()

    def close(self) -> None:
        self._colors, self._rows, self._pos = {}, {}, {}


def _can_edit_in_place(layer, features, rows: int) -> bool:
    """napari's table is the pandas frame we built (rows numbered 0..n-1), and napari keeps
    its label -> row index where this napari version does."""
    return (isinstance(getattr(layer, "_label_index", None), dict) and isinstance(features, pd.DataFrame)
            and len(features) == rows and list(features.columns) == list(FEATURE_COLUMNS)
            and (len(features) == 0 or (features.index[0] == 0 and features.index[-1] == len(features) - 1)))  # fmt: skip
