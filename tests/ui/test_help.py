"""Help > Getting Started (the guide: Markdown pages in resources/guide, links between them, into the app and
out of it) and Help > Report a Problem (the log folder opened through a replaceable function)."""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QUrl  # noqa: E402

from nnstudio.core.layers.registry import SPECS  # noqa: E402
from nnstudio.core.training.config import PARAMS  # noqa: E402
from nnstudio.ui import help as guide_help  # noqa: E402
from nnstudio.ui.help import GUIDE, PAGES, GuideWindow  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def guide(qtbot, window):
    g = GuideWindow(window)
    qtbot.addWidget(g)
    g.show()
    qtbot.waitExposed(g)
    return g


@pytest.fixture
def outside(monkeypatch):
    """Records what would have been opened outside the app, and what the person was asked."""
    record = {"asked": [], "opened": [], "answer": False, "opens": True}

    def ask(parent, url):
        record["asked"].append(url.toString())
        return record["answer"]

    def open_url(url):
        record["opened"].append(url)
        return record["opens"]

    monkeypatch.setattr(guide_help, "ask_open_external", ask)
    monkeypatch.setattr(guide_help, "open_url", open_url)
    return record


def links(guide: GuideWindow) -> list[str]:
    """Every link target of the page shown."""
    out, block = [], guide.browser.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isAnchor() and fmt.anchorHref():
                out.append(fmt.anchorHref())
            it += 1
        block = block.next()
    return out


def test_every_page_is_in_the_contents_and_every_file_is_a_page():
    assert sorted(p.name for p in GUIDE.glob("*.md")) == sorted(PAGES)
    for name in ("building.md", "training.md", "dashboard.md", "activations.md", "backpropagation.md",
                 "optimizers.md", "regularisation.md", "metrics.md"):
        assert name in PAGES


def test_every_page_renders_and_every_link_leads_somewhere(guide, window):
    settings = {p.name for p in PARAMS}
    for name, title in PAGES.items():
        assert guide.show_page(name) and guide.page() == name
        text = guide.browser.toPlainText()
        assert text.startswith(title), (name, text[:40])  # the heading, rendered: no "#" left
        assert "](" not in text and "**" not in text, name
        targets = links(guide)
        assert targets or name == "index.md", name
        for href in targets:
            url = QUrl(href)
            if url.scheme() == "nnstudio":
                kind, _, what = url.path().partition("/")
                assert (kind == "layer" and what in SPECS) or (kind == "setting" and what in settings) or \
                       (kind == "panel" and what in window.docks), (name, href)
            else:
                assert url.isRelative() and (GUIDE / url.path()).is_file(), (name, href)
    assert guide.show_page("index.md")
    assert {h for h in links(guide) if h.endswith(".md")} == set(PAGES) - {"index.md"}  # contents: every page


def test_the_reference_pages_link_to_the_layers_and_settings_that_show_them(guide):
    expected = {"activations.md": "nnstudio:layer/activation", "backpropagation.md": "nnstudio:setting/grad_clip",
                "optimizers.md": "nnstudio:setting/optimizer", "regularisation.md": "nnstudio:layer/dropout",
                "metrics.md": "nnstudio:setting/monitor"}
    for name, href in expected.items():
        guide.show_page(name)
        assert href in links(guide), name


def test_a_link_to_another_page_stays_in_the_guide(guide, outside):
    assert guide.page() == "index.md"
    guide.browser.anchorClicked.emit(QUrl("training.md"))
    assert guide.page() == "training.md" and guide.contents.currentItem().text() == "Training"
    assert guide.back.isEnabled()
    guide.back.click()
    assert guide.page() == "index.md"
    guide.contents.setCurrentRow(list(PAGES).index("metrics.md"))
    assert guide.page() == "metrics.md"
    guide.browser.anchorClicked.emit(QUrl("../../README.md"))  # out of the guide's folder: not followed
    assert guide.page() == "metrics.md" and "no page" in guide.note.text()
    assert outside["asked"] == [] and outside["opened"] == []


def test_an_external_link_opens_nothing_without_asking(guide, outside):
    guide.browser.anchorClicked.emit(QUrl("https://pytorch.org/docs"))
    assert outside["asked"] == ["https://pytorch.org/docs"] and outside["opened"] == []
    assert guide.page() == "index.md" and "Not opened" in guide.note.text()
    outside["answer"] = True
    guide.browser.anchorClicked.emit(QUrl("https://pytorch.org/docs"))
    assert [u.toString() for u in outside["opened"]] == ["https://pytorch.org/docs"]
    assert guide.page() == "index.md"


def test_links_into_the_app(guide, window, outside):
    guide.browser.anchorClicked.emit(QUrl("nnstudio:layer/dropout"))
    assert window.palette_panel.search.text() == "Dropout"
    assert window.palette_panel.selected_type_id() == "dropout"
    assert window.docks["dock_palette"].isVisible()
    window.docks["dock_training"].hide()
    guide.browser.anchorClicked.emit(QUrl("nnstudio:setting/lr"))
    assert window.docks["dock_training"].isVisible() and guide.note.text() == ""
    guide.browser.anchorClicked.emit(QUrl("nnstudio:setting/warp_drive"))
    assert guide.note.text() == "There is no training setting warp_drive."
    assert outside["asked"] == [] and outside["opened"] == []


def test_help_menu_opens_the_guide(window, qtbot):
    texts = [a.text() for a in window.acts.menus["help"].actions() if a.text()]
    assert texts == ["&Getting Started", "&Keyboard Shortcuts", "&Report a Problem", "&About NN Studio"]
    window.acts.guide.trigger()
    guide = window._guide_window
    assert isinstance(guide, GuideWindow) and guide.isVisible() and guide.page() == "index.md"
    window.acts.guide.trigger()
    assert window._guide_window is guide  # one guide per window


def test_report_a_problem_opens_the_log_folder(window, qapp, tmp_path, outside):
    from nnstudio.ui.error_report import ErrorReporter

    reporter = ErrorReporter(tmp_path / "logs" / "here", parent=qapp)
    try:
        window.acts.report_problem.trigger()
        folder = tmp_path / "logs" / "here"
        assert folder.is_dir()
        assert outside["opened"] == [QUrl.fromLocalFile(str(folder))] and outside["asked"] == []
        message = window.statusBar().currentMessage()
        assert str(folder) in message and "nothing has been logged yet" in message
        reporter.write_log("something")
        outside["opens"] = False
        window.acts.report_problem.trigger()
        assert window.statusBar().currentMessage() == f"Cannot open the log folder: it is {folder}"
        outside["opens"] = True
        window.acts.report_problem.trigger()
        assert "attach nnstudio.log" in window.statusBar().currentMessage()
    finally:
        reporter.setParent(None)


def test_the_guide_is_packaged():
    """The wheel (setup.py's package data) and the bundle (the PyInstaller spec) both carry the guide."""
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert re.search(r'"guide/\*\.md"', setup), "setup.py: add \"guide/*.md\" to the nnstudio.resources data"
    spec = (ROOT / "packaging" / "nnstudio.spec").read_text(encoding="utf-8")
    subs = re.search(r"for sub in \(([^)]*)\)", spec)
    assert subs and '"guide"' in subs.group(1), "packaging/nnstudio.spec: add \"guide\" to resource_files()"
