"""Nothing from a file renders, and every node of a file that opens is drawn and reachable.

Rich text: a project whose name, description and node labels are HTML (an image, bold, a link to a local file,
an entity) shows them literally everywhere -- window title, canvas faces and tooltips, inspector, summary,
Problems, dialogs -- and a sweep over every label and tooltip of the window finds none rendered as markup.
Canvas: hostile positions (1e300, -1e308, 1e15, every node on one spot), 100,000-character labels, labels with
line breaks, right-to-left text, zero-width and combining characters, lone surrogates and control characters,
and 2,000 nodes all open with one item per node, a finite fit and every node inside the scrollable area.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import math  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import Qt as GuiQt  # noqa: E402 - Qt.mightBeRichText lives in QtGui
from PySide6.QtGui import QTextDocument  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QLabel,
    QListWidget,
    QMessageBox,
    QTableWidget,
    QTreeWidget,
    QWidget,
)

from nnstudio.core.graph import Graph  # noqa: E402
from nnstudio.core.project import Project, save_project  # noqa: E402
from nnstudio.ui.canvas import style  # noqa: E402
from nnstudio.ui.main_window import MainWindow  # noqa: E402
from nnstudio.ui.recovery import Recoverable  # noqa: E402

HOSTILE = ["<img src=x>", "<b>bold</b>", '<a href="file:///etc/passwd">x</a>', "&amp;"]
TAGS = HOSTILE[:3]  # the markup that, left raw in rich text, would render
Button = QMessageBox.StandardButton


def rendered(markup: str) -> str:
    doc = QTextDocument()
    doc.setHtml(markup)
    return doc.toPlainText()


def seen(text: str) -> str:
    """What a tooltip shows: rendered when Qt takes it for rich text, as it is otherwise."""
    return rendered(text) if GuiQt.mightBeRichText(text) else text


def chain(labels: list[str], positions: list[tuple[float, float]] | None = None) -> Graph:
    """Input -> Dense ... -> Output, one Dense per label."""
    g = Graph()
    prev = g.add_node("input_vector", {"features": 4}, position=(0.0, 0.0)).id
    for i, label in enumerate(labels):
        node = g.add_node("dense", {"units": 4}, position=(240.0 * (i + 1), 0.0), label=label)
        g.connect(prev, node.id)
        prev = node.id
    out = g.add_node("output", {"task": "regression"}, position=(240.0 * (len(labels) + 1), 0.0))
    g.connect(prev, out.id)
    if positions is not None:
        for nid, pos in zip(list(g.nodes), positions):
            g.nodes[nid].position = pos  # as a file may hold them (the loader takes any finite number)
    return g


def write(tmp_path: Path, graph: Graph, name: str = "", description: str = "", file: str = "net") -> Path:
    path = tmp_path / f"{file}.nnstudio"
    save_project(Project(graph=graph, name=name, description=description), path)
    return path


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_folder=tmp_path / "autosave")
    w.errors = []
    w.show_error = lambda title, message: w.errors.append((title, message))
    w.ask_unsaved_changes = lambda: Button.Discard
    w.ask_recover = lambda item: False
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def boxes(monkeypatch):
    """Message boxes that would have been shown (exec records them instead of blocking)."""
    shown: list[QMessageBox] = []

    def record(box):
        shown.append(box)
        return int(Button.Yes)

    monkeypatch.setattr(QMessageBox, "exec", record)
    return shown


def assert_plain_box(box: QMessageBox, expected: str) -> None:
    assert expected in box.text()
    assert box.textFormat() == Qt.TextFormat.PlainText
    for label in box.findChildren(QLabel):
        if label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText and not label.openExternalLinks()


def assert_nothing_renders_markup(window: MainWindow) -> None:
    """No label shown as rich text and no tooltip holds raw markup (which Qt would render)."""
    for label in window.findChildren(QLabel):
        text = label.text()
        rich = label.textFormat() == Qt.TextFormat.RichText or (
            label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text))
        if rich:
            assert not any(tag in text for tag in TAGS), (label.objectName(), text)
    tips = [w.toolTip() for w in window.findChildren(QWidget)]
    for view in window.findChildren(QTableWidget):
        tips += [view.item(r, c).toolTip() for r in range(view.rowCount()) for c in range(view.columnCount())
                 if view.item(r, c) is not None]
    for view in window.findChildren(QListWidget):
        tips += [view.item(i).toolTip() for i in range(view.count())]
    for view in window.findChildren(QTreeWidget):
        for i in range(view.topLevelItemCount()):
            top = view.topLevelItem(i)
            tips += [top.toolTip(0)] + [top.child(j).toolTip(0) for j in range(top.childCount())]
    tips += [item.toolTip() for item in window.scene.items()]
    for tip in tips:
        if GuiQt.mightBeRichText(tip):
            assert not any(tag in tip for tag in TAGS), tip


# -- rich text ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_project_shows_its_strings_literally(window, tmp_path, text):
    labels = [text, f"{text} 2"]  # two layers never share a label
    path = write(tmp_path, chain(labels), name=text, description=text)
    window.choose_example = lambda: path  # opened as an untitled copy: the title shows the project's name
    assert window.open_example()
    assert window.windowTitle() == f"{text}[*] — NN Studio"

    dense = [nid for nid, n in window.document.graph.nodes.items() if n.label in labels]
    assert len(dense) == 2
    for nid, label in zip(dense, labels):
        item = window.scene.node_item(nid)
        assert item.title == label  # the face draws the label itself (elided to the card when long)
        assert item._title == label or (item._title.endswith("\u2026") and label.startswith(item._title[:-1]))
        assert label in item.face_text().splitlines()
        assert GuiQt.mightBeRichText(item.toolTip())  # rendered as rich text, so the escape is undone ...
        assert seen(item.toolTip()).splitlines()[0].startswith(label)  # ... and the person reads the label

    window.focus_node(dense[0])
    inspector = window.inspector
    assert inspector.title.text() == text and inspector.title.textFormat() == Qt.TextFormat.PlainText
    assert inspector.label_edit.text() == text
    row = window.summary.row_of(dense[0])
    assert window.summary.table.item(row, 0).text() == text
    window.grab()  # every face painted
    assert_nothing_renders_markup(window)


@pytest.mark.parametrize("text", HOSTILE)
def test_problems_and_load_errors_name_a_hostile_file_literally(window, tmp_path, boxes, text):
    file = text.replace("/", "_")  # a file name cannot hold a slash
    path = write(tmp_path, chain(["a", "b"], [(0.0, 0.0)] * 4), file=file)  # every node on one spot
    assert window.load_file(path)
    items = [window.problems.list.item(i) for i in range(window.problems.list.count())]
    warning = next(i for i in items if i.text().startswith("File: "))
    assert f"{file}.nnstudio" in warning.text()
    assert seen(warning.toolTip()) == window.document.warnings[0]
    assert_nothing_renders_markup(window)

    broken = tmp_path / f"{file} broken.nnstudio"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    MainWindow.show_error(window, "Cannot open project", f"{broken.name}: the file is damaged")
    window.show_error = lambda title, message: MainWindow.show_error(window, title, message)
    assert not window.load_file(broken)
    assert len(boxes) == 2
    for box in boxes:
        assert_plain_box(box, broken.name)
        assert "\n" not in box.text()


@pytest.mark.parametrize("text", HOSTILE)
def test_questions_and_panels_show_hostile_text_plainly(window, tmp_path, boxes, text):
    from nnstudio.ui import export_dialog
    from nnstudio.ui.panels.examples_dialog import ExamplesDialog

    window.document.project.name = text
    MainWindow.ask_unsaved_changes(window)
    MainWindow.ask_recover(window, Recoverable(tmp_path / "session-x.nnstudio", None, text, 0.0))
    export_dialog.show_message(window, QMessageBox.Icon.Critical, "Export failed", f"Cannot export to {text}.",
                               f"{text} quoted in the reason")
    assert len(boxes) == 3
    for box in boxes:
        assert_plain_box(box, text)

    folder = tmp_path / "examples"
    folder.mkdir()
    write(folder, chain(["a"]), name=text, description=f"{text}\nsecond line")
    gallery = ExamplesDialog(window, folder)
    for label in (gallery.title, gallery.description):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert gallery.title.text() == text and gallery.description.text() == f"{text}\nsecond line"
    assert gallery.list.item(0).text() == text

    training = window.training.training_panel
    window.session.replace(Project(training={"optimizer": text}))
    problem = training.forms[0].problems["optimizer"]
    assert text in problem.text() and problem.textFormat() == Qt.TextFormat.PlainText

    dashboard = window.training.dashboard
    window.session.replace(Project(history={"epochs": [{"epoch": 1, "train_loss": 0.5}], "stop_reason": text}))
    assert text in dashboard.status.text() and dashboard.status.textFormat() == Qt.TextFormat.PlainText
    dashboard.boundary.set_classes([text, "other"], "multiclass")
    _sample, legend_label = dashboard.boundary.legend.items[0]
    assert legend_label.item.toPlainText() == text  # pyqtgraph's legend renders HTML

    predict = window.training.predict_panel
    predict._show_message(f"Cannot run the network: {text}")
    assert predict.message.textFormat() == Qt.TextFormat.PlainText and text in predict.message.text()


def test_recent_files_keep_ampersands_and_tabs_literal(window, tmp_path):
    path = write(tmp_path, chain(["a"]), file="R&D\tnet")
    assert window.load_file(path)
    window.update_recent_menu()
    action = window.acts.recent_menu.actions()[0]
    assert "R&&D net.nnstudio" in action.text() and "\t" not in action.text()


def test_window_title_keeps_the_unsaved_placeholder_literal(window, tmp_path):
    window.document.project.name = "draft [*] one\nline two"
    window.update_title()
    assert window.windowTitle() == "draft [*][*] one line two[*] — NN Studio"  # Qt shows "[*]" once, literally


def test_malformed_history_opens_without_it_and_says_so(window, tmp_path):
    path = write(tmp_path, chain(["a"]))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("history.json", json.dumps(["not", "an", "object"]))
    assert window.load_file(path)
    assert window.document.project.history is None
    assert window.document.warnings and window.document.warnings == window.document.project.load_warnings
    assert "warning" in window.statusBar().currentMessage() and "Problems" in window.statusBar().currentMessage()
    texts = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert texts[0] == f"File: {window.document.warnings[0]}"
    assert window.docks["dock_problems"].isVisible()
    assert window.errors == []
    window.new_project()  # the next project has no warnings left over
    assert not any(window.problems.list.item(i).text().startswith("File: ")
                   for i in range(window.problems.list.count()))


def test_a_history_of_any_shape_draws_or_says_it_cannot(window):
    dashboard = window.training.dashboard
    for history in ({"epochs": "x"}, {"epochs": [1, "a", None]}, {"epochs": [{"epoch": "one"}, {"epoch": 1e308}]},
                    {"epochs": [{"epoch": 1, "train_loss": "low"}], "stop_reason": ["a"]}, [], "text", 5):
        window.session.replace(Project(history=history))  # what a loader let through, or worse
        assert dashboard.status.text()


def test_a_hostile_clipboard_is_refused_with_a_message(window):
    for clip in ({"nodes": 5}, {"nodes": ["x"]}, {"nodes": [{"type": "dense", "id": "d", "position": ["a", 1]}]},
                 {"nodes": [{"type": "dense", "id": "d", "position": [math.inf, 1]}]}):
        assert window.scene.paste(clip) == []
    far = {"nodes": [{"type": "dense", "id": "d", "params": {"units": 2}, "position": [1e300, -1e300]}]}
    (new,) = window.scene.paste(far)
    x, y = window.document.graph.nodes[new].position
    assert abs(x) <= style.POSITION_LIMIT and abs(y) <= style.POSITION_LIMIT


# -- the canvas -------------------------------------------------------------------------------------------------
def assert_all_drawn_and_reachable(window: MainWindow) -> None:
    graph = window.document.graph
    items = window.scene.node_items()
    assert len(items) == len(graph.nodes)
    assert {i.node_id for i in items} == set(graph.nodes)
    area = window.view.sceneRect()
    for item in items:
        box = item.sceneBoundingRect()
        assert all(math.isfinite(v) for v in (box.x(), box.y()))
        assert area.contains(box), (item.node_id, box, area)  # the view can scroll to it
    window.view.fit()
    t = window.view.transform()
    assert all(math.isfinite(v) for v in (t.m11(), t.m22(), t.dx(), t.dy())) and t.m11() > 0
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert math.isfinite(centre.x()) and math.isfinite(centre.y())
    window.grab()


HOSTILE_LAYOUTS = {
    "far": [(1e300, 0.0), (-1e308, 5.0), (1e15, -1e15), (0.0, 0.0)],
    "one spot": [(7.0, 7.0)] * 4,
    "huge and stacked": [(1e300, 1e300)] * 4,
}


@pytest.mark.parametrize("name", list(HOSTILE_LAYOUTS))
def test_hostile_positions_open_drawn_and_arranged(window, tmp_path, name):
    path = write(tmp_path, chain(["a", "b"], HOSTILE_LAYOUTS[name]))
    assert window.load_file(path)
    assert window.errors == []
    graph = window.document.graph
    positions = [n.position for n in graph.nodes.values()]
    assert len(set(positions)) == len(positions)  # arranged again: no two layers on one spot ...
    assert all(abs(v) <= style.POSITION_LIMIT for p in positions for v in p)  # ... all near the centre
    assert window.isWindowModified()  # what is shown is not what the file says: saving keeps it
    assert any("arranged again" in w for w in window.document.warnings)
    assert_all_drawn_and_reachable(window)
    window.auto_layout()  # Ctrl+L still works
    assert_all_drawn_and_reachable(window)


def test_nodes_far_out_but_within_limits_are_reachable(window, tmp_path):
    path = write(tmp_path, chain(["a", "b"], [(0.0, 0.0), (900_000.0, 0.0), (-400_000.0, 800_000.0), (5.0, 5.0)]))
    assert window.load_file(path)
    assert window.document.warnings == [] and not window.isWindowModified()  # a usable layout is left alone
    assert_all_drawn_and_reachable(window)
    window.focus_node(list(window.document.graph.nodes)[1])
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert abs(centre.x() - 900_000.0 - style.NODE_W / 2) <= 2 / window.view.zoom()  # a pixel or two off at most


def test_an_item_never_takes_a_position_beyond_the_limit(window):
    node = window.document.graph.add_node("dense", {"units": 2}, position=(0.0, 0.0))
    window.document.graph.move_node(node.id, (1e300, -math.inf))
    pos = window.scene.node_item(node.id).pos()
    assert (pos.x(), pos.y()) == (style.POSITION_LIMIT, -style.POSITION_LIMIT)


STRANGE_LABELS = [
    "x" * 100_000,
    "first line\nsecond line\r\nthird\u2028fourth",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u202eevil",  # Hebrew, then a right-to-left override
    "zero\u200bwidth\u200d\ufeffjoiners",
    "e" + "\u0301" * 500,  # 500 combining accents on one letter
    "lone \ud800 surrogate \udfff",
    "nul\x00 and bell\x07 and U+009C\x9c here",
]


def test_strange_labels_open_and_every_face_fits(window, tmp_path):
    path = write(tmp_path, chain(STRANGE_LABELS), name="\ud800" * 3)
    assert window.load_file(path)
    assert window.errors == []
    assert_all_drawn_and_reachable(window)
    from nnstudio.ui.canvas import node_item

    f = style.fonts()
    room = style.NODE_W - node_item._HEADER_X - node_item._PAD  # the header right of the glyph badge
    for nid, node in window.document.graph.nodes.items():
        item = window.scene.node_item(nid)
        if not node.label:
            continue
        assert not any(c in item.title for c in "\n\r\u2028\ud800\udfff\x00\x9c\u202e")  # no override
        assert len(item.title) <= 200
        assert f.m_title.horizontalAdvance(item._title) <= room + 0.5  # elided to the card
        window.focus_node(nid)
        assert len(window.inspector.title.text()) <= 500
        row = window.summary.row_of(nid)
        assert "\n" not in window.summary.table.item(row, 0).text()
    long_one = next(nid for nid, n in window.document.graph.nodes.items() if len(n.label) == 100_000)
    window.focus_node(long_one)
    assert window.inspector.label_edit.text() == "x" * 100_000  # not cut at QLineEdit's 32,767
    assert window.inspector.width() < 2000  # a long label wraps or is cut; it does not widen the dock
    assert "\ufffd" in window.scene.node_item(
        next(nid for nid, n in window.document.graph.nodes.items() if "surrogate" in n.label)).title
    hebrew = next(nid for nid, n in window.document.graph.nodes.items() if "evil" in n.label)
    assert window.scene.node_item(hebrew).title.startswith("\u05e9\u05dc\u05d5\u05dd")  # a script stays as it is


def test_lone_surrogates_reach_qt_as_a_visible_replacement():
    from nnstudio.ui.safe_text import clean, one_line

    label = QLabel()
    label.setText("a\ud800b")  # what PySide6 does with a lone surrogate: dropped silently, no exception
    assert label.text() == "ab"
    label.setText(clean("a\ud800b"))
    assert label.text() == "a\ufffdb"
    assert one_line("a\udfff\nb\x9cc") == "a\ufffd b\ufffdc"


def test_two_thousand_nodes_open_and_fit(window, tmp_path):
    labels = [f"layer {i}" for i in range(1998)]
    path = write(tmp_path, chain(labels))
    assert window.load_file(path)
    assert window.errors == []
    assert window.summary.row_count() == 2000
    assert_all_drawn_and_reachable(window)
    last = list(window.document.graph.nodes)[-1]
    window.focus_node(last)
    assert window.view.mapToScene(window.view.viewport().rect()).boundingRect().intersects(
        window.scene.node_item(last).sceneBoundingRect())  # the far end is on screen after Focus
