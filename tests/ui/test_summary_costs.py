"""The summary panel's FLOPs and activation-memory columns, its training-memory totals, and the node footer
"48 params · 1.5 kFLOPs" (issue 16)."""

from __future__ import annotations

from PySide6.QtGui import QTextDocumentFragment

from nnstudio.core import examples, memory
from nnstudio.core.costs import node_costs
from nnstudio.core.graph import Graph
from nnstudio.core.shapes import infer_shapes
from nnstudio.core.summary import training_totals
from nnstudio.ui.canvas.node_item import NodeItem
from nnstudio.ui.panels.summary import HEADERS, SummaryPanel


def _plain(html: str) -> str:
    return QTextDocumentFragment.fromHtml(html).toPlainText().replace("\u00a0", " ")


def _dense_graph() -> Graph:
    g = Graph()
    i = g.add_node("input_vector", {"features": 20})
    d = g.add_node("dense", {"units": 30, "bias": False, "activation": "none"})
    o = g.add_node("output", {"task": "regression"})
    g.connect(i.id, d.id)
    g.connect(d.id, o.id)
    return g


def test_the_panel_shows_flops_and_activation_memory_at_the_training_batch_size(qtbot):
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    g = _dense_graph()
    panel.set_training(10, "adam")
    panel.update_info(g, infer_shapes(g))
    table = panel.table
    titles = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert titles == list(HEADERS) and titles[-2:] == ["FLOPs", "Act. memory"]
    tip = _plain(table.horizontalHeaderItem(4).toolTip())
    assert "whole batch" in tip and "training batch size (10)" in tip
    row = panel.row_of("dense_1")
    assert table.item(row, 4).text() == "12 kFLOPs"  # 2 x 20 x 30 x 10
    assert table.item(row, 5).text() == "800 bytes"  # its input, 10 x 20 float32 values
    totals = _plain(panel.totals.text())
    est = memory.estimate(g, 10, "adam")
    assert "Training memory at batch size 10:" in totals
    assert f"total {memory.format_bytes(est.train_bytes)}" in totals and "Adam state 4.8 kB" in totals
    assert panel.training == training_totals(g, 10, "adam")

    panel.set_training(1000, "sgd")  # a new setting: the figures follow without a new inference
    assert table.item(panel.row_of("dense_1"), 4).text() == "1.2 MFLOPs"
    assert "SGD state 2.4 kB" in _plain(panel.totals.text())
    assert "training batch size (1,000)" in _plain(table.horizontalHeaderItem(5).toolTip())


def test_an_optimizer_name_from_a_file_is_shown_as_plain_text(qtbot):
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    g = _dense_graph()
    panel.set_training(4, "<b>x</b>&amp;")
    panel.update_info(g, infer_shapes(g))
    assert "<b>x</b>&amp; state" in _plain(panel.totals.text())


def test_a_layer_with_a_problem_has_no_costs_and_no_totals(qtbot):
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    g = _dense_graph()
    g.disconnect(g.inputs_of("dense_1")[0])
    panel.update_info(g, infer_shapes(g))
    row = panel.row_of("dense_1")
    assert panel.table.item(row, 4).text() == panel.table.item(row, 5).text() == "\u2014"
    assert panel.training is None and "Training memory" not in _plain(panel.totals.text())


def test_the_node_footer_says_params_and_flops(qtbot):
    g = examples.spiral_mlp().graph
    info = infer_shapes(g)
    item = NodeItem(g.nodes["dense_2"])
    item.set_info(info.nodes["dense_2"])
    assert item.footer_text() == "272 params"
    flops = node_costs(g, 32, info)["dense_2"].flops
    assert flops == 2 * 16 * 16 * 32
    assert item.set_flops(flops) is True and item.set_flops(flops) is False
    assert item.footer_text() == "272 params \u00b7 16 kFLOPs"
    assert item.face_text().splitlines()[-1] == "272 params \u00b7 16 kFLOPs"
    item.set_flops(None)
    assert item.footer_text() == "272 params"
    nothing = NodeItem(g.nodes["input_vector_1"])
    nothing.set_info(info.nodes["input_vector_1"])
    nothing.set_flops(0)
    assert nothing.footer_text() == "no params"
