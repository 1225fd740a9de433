"""validate() explains in plain words what is wrong, on the node where it is wrong, and never raises."""

from __future__ import annotations

import pytest

from nnstudio.core.compile import compile_graph
from nnstudio.core.errors import GraphError
from nnstudio.core.graph import Graph


def chain(*layers: tuple[str, dict], output: dict | None = None) -> Graph:
    """The first layer is an Input; each next one is wired to the previous; an Output ends it unless None."""
    graph = Graph()
    prev = None
    for type_id, params in layers:
        node = graph.add_node(type_id, params)
        if prev is not None:
            graph.connect(prev, node.id)
        prev = node.id
    if output is not None:
        graph.connect(prev, graph.add_node("output", output).id)
    return graph


def problems(graph: Graph) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for p in graph.validate():
        out.setdefault(p.node_id, []).append(p.message)
    return out


def only_problem(graph: Graph, node_id: str | None) -> str:
    """The single problem of the graph, which must sit on ``node_id``; compile refuses the graph too."""
    found = problems(graph)
    assert list(found) == [node_id], found
    assert len(found[node_id]) == 1, found
    with pytest.raises(GraphError) as err:
        compile_graph(graph)
    assert found[node_id][0] in str(err.value)
    return found[node_id][0]


def from_dict(nodes: list[tuple[str, str, dict]], edges: list[tuple]) -> Graph:
    return Graph.from_dict({
        "nodes": [{"id": i, "type": t, "params": p} for i, t, p in nodes],
        "edges": [{"from": e[0], "to": e[1], **({"port": e[2]} if len(e) > 2 else {})} for e in edges],
    })


IMAGE = ("input_image", {"channels": 1, "height": 7, "width": 7})
VECTOR = ("input_vector", {"features": 784})
SEQUENCE = ("input_sequence", {"steps": 16, "features": 3})
TOKENS = ("input_tokens", {"length": 32, "vocab_size": 100})
REGRESSION = {"task": "regression"}


def test_dense_after_conv():
    graph = chain(IMAGE, ("conv2d", {"filters": 64}), ("dense", {}), output=REGRESSION)
    assert only_problem(graph, "dense_1") == (
        "Dense expects a flat feature vector but receives (N, 64, 5, 5): insert a Flatten before it"
    )


def test_conv_on_flat_vector():
    graph = chain(VECTOR, ("conv2d", {}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "conv2d_1") == (
        "Conv2D expects images (N, channels, height, width) but receives (N, 784): insert a Reshape to "
        "(channels, height, width) before it"
    )


def test_lstm_on_token_ids():
    graph = chain(TOKENS, ("lstm", {}), output=REGRESSION)
    assert only_problem(graph, "lstm_1") == (
        "LSTM expects vectors per step but receives token ids (N, 32): insert an Embedding before it"
    )


def test_embedding_on_floats():
    msg = only_problem(chain(SEQUENCE, ("embedding", {}), ("flatten", {}), output=REGRESSION), "embedding_1")
    assert msg.startswith("Embedding expects token ids from a token Input but receives real values (N, 16, 3):")


def test_embedding_smaller_than_the_vocabulary():
    graph = chain(TOKENS, ("embedding", {"vocab_size": 50, "dim": 4}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "embedding_1") == (
        "Embedding has a vocabulary of 50 but receives token ids up to 99 (N, 32): set its vocabulary size to "
        "at least 100"
    )


def test_dropout_on_token_ids():
    msg = only_problem(chain(TOKENS, ("dropout", {}), ("embedding", {}), ("flatten", {}), output=REGRESSION),
                       "dropout_1")
    assert "Dropout expects real-valued features but receives token ids (N, 32)" in msg


def test_cycle_is_reported_on_the_nodes_of_the_cycle_only():
    graph = from_dict(
        [("x", *VECTOR), ("a", "dense", {}), ("b", "dense", {}), ("c", "dense", {}), ("out", "output", REGRESSION)],
        [("x", "a"), ("a", "b"), ("b", "a"), ("b", "c"), ("c", "out")],
    )
    found = problems(graph)
    assert set(found) == {"a", "b"}
    assert all("cycle" in m and "remove one of the wires" in m for ms in found.values() for m in ms)
    with pytest.raises(GraphError, match="cycle"):
        compile_graph(graph)


def test_self_loop_is_a_cycle():
    graph = from_dict([("x", *VECTOR), ("a", "add", {}), ("out", "output", REGRESSION)],
                      [("x", "a"), ("a", "a"), ("a", "out")])
    assert "cycle" in only_problem(graph, "a")


def test_missing_input_wire():
    graph = chain(VECTOR, output=REGRESSION)
    graph.add_node("dense", {})
    assert only_problem(graph, "dense_1") == "Dense needs an input: connect a layer's output to it"


def test_extra_inputs():
    graph = from_dict([("x", *VECTOR), ("y", *VECTOR), ("d", "dense", {}), ("out", "output", REGRESSION)],
                      [("x", "d"), ("y", "d"), ("d", "out")])
    assert only_problem(graph, "d") == "Dense takes one input but has 2: remove the extra wires"


def test_merge_with_one_input():
    graph = from_dict([("x", *VECTOR), ("m", "add", {}), ("out", "output", REGRESSION)],
                      [("x", "m"), ("m", "out")])
    assert only_problem(graph, "m") == "Add needs at least two inputs but has 1: connect more layers to it"


def test_wire_into_an_input_and_out_of_an_output():
    graph = from_dict([("x", *VECTOR), ("y", *VECTOR), ("out", "output", REGRESSION), ("d", "dense", {})],
                      [("y", "x"), ("x", "out"), ("out", "d")])
    found = problems(graph)
    assert set(found) == {"x", "out"}
    assert found["x"] == ["an Input takes no inputs but has 1 wired in: remove them"]
    assert found["out"] == ["an Output ends the network and has no output, but is wired to d: remove those wires"]


def test_wire_on_a_port_that_does_not_exist():
    graph = from_dict([("x", *VECTOR), ("d", "dense", {}), ("out", "output", REGRESSION)],
                      [("x", "d", 2), ("d", "out")])
    msg = only_problem(graph, "d")
    assert msg == "Dense has input port 0 but a wire arrives on port 2: remove it and connect again"


def test_add_of_different_shapes():
    graph = from_dict(
        [("x", *VECTOR), ("a", "dense", {"units": 4}), ("b", "dense", {"units": 8}), ("s", "add", {}),
         ("out", "output", REGRESSION)],
        [("x", "a"), ("x", "b"), ("a", "s"), ("b", "s"), ("s", "out")],
    )
    msg = only_problem(graph, "s")
    assert msg.startswith("Add needs inputs of the same shape but receives (N, 4), (N, 8): ")


def _concat(axis: int, second: tuple[int, int]) -> Graph:
    return from_dict(
        [("a", "input_sequence", {"steps": 5, "features": 8}),
         ("b", "input_sequence", {"steps": second[0], "features": second[1]}),
         ("c", "concat", {"axis": axis}), ("f", "flatten", {}), ("out", "output", REGRESSION)],
        [("a", "c"), ("b", "c"), ("c", "f"), ("f", "out")],
    )


def test_concat_on_a_mismatched_axis():
    msg = only_problem(_concat(-1, (4, 8)), "c")
    assert msg.startswith("Concat on axis -1 needs every other axis to match but receives (N, 5, 8), (N, 4, 8): ")
    assert problems(_concat(0, (4, 8))) == {}  # joining along the steps is fine


def test_concat_on_an_axis_that_does_not_exist():
    assert only_problem(_concat(2, (5, 8)), "c") == (
        "Concat axis 2 does not exist for inputs (N, 5, 8), (N, 5, 8): use an axis from -2 to 1 (-1 is the last)"
    )


@pytest.mark.parametrize(("type_id", "params", "expected"), [
    ("dense", {"units": 0}, "Units must be at least 1, not 0"),
    ("dropout", {"rate": 1.5}, "Rate must be at most 0.99, not 1.5"),
    ("dense", {"activation": "swish"}, "Activation must be one of none, relu,"),
    ("dense", {"units": "ten"}, "Units must be a whole number, not 'ten'"),
])
def test_invalid_parameter_values_from_a_file(type_id, params, expected):
    graph = from_dict([("x", *VECTOR), ("n", type_id, params), ("out", "output", REGRESSION)],
                      [("x", "n"), ("n", "out")])
    assert only_problem(graph, "n").startswith(expected)


def test_padding_same_with_stride_2():
    graph = chain(IMAGE, ("conv2d", {"padding": "same", "stride": 2}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "conv2d_1") == (
        "Conv2D padding 'same' needs stride 1 but stride is 2: set stride to 1 or padding to 'valid' or a number"
    )


def test_kernel_larger_than_the_image():
    graph = chain(IMAGE, ("maxpool2d", {}), ("conv2d", {"kernel_size": 5}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "conv2d_1") == (
        "Conv2D kernel 5x5 is larger than the 3x3 image it receives (N, 1, 3, 3): use a smaller kernel size, add "
        "padding or remove a layer that shrinks the image before it"
    )
    padded = chain(IMAGE, ("maxpool2d", {}), ("conv2d", {"kernel_size": 5, "padding": 1}), ("flatten", {}),
                   output=REGRESSION)
    assert problems(padded) == {}


def test_pool_larger_than_the_image_and_pool_padding():
    graph = chain(IMAGE, ("maxpool2d", {"pool_size": 8}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "maxpool2d_1").startswith(
        "MaxPool2D pool 8x8 is larger than the 7x7 image it receives (N, 1, 7, 7): use a smaller pool size")
    graph = chain(IMAGE, ("avgpool2d", {"pool_size": 2, "padding": 2}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "avgpool2d_1").startswith(
        "AvgPool2D padding must be at most half the pool size (2 // 2 = 1) but is 2")


def test_reshape_to_a_different_size():
    graph = chain(VECTOR, ("reshape", {"shape": [3, 10]}), ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "reshape_1") == (
        "Reshape cannot turn (N, 784) (784 values per sample) into (N, 3, 10) (30 values): choose sizes whose "
        "product is 784"
    )


def test_transformer_heads_must_divide_the_features():
    graph = chain(("input_sequence", {"steps": 4, "features": 10}), ("transformer_encoder", {"heads": 4}),
                  ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "transformer_encoder_1") == (
        "TransformerEncoder needs the feature size 10 to be divisible by the 4 heads: change the heads or the "
        "Embedding dimension"
    )


def test_multiclass_output_on_one_column():
    graph = chain(VECTOR, ("dense", {"units": 1}), output={"task": "multiclass"})
    msg = only_problem(graph, "output_1")
    assert msg.startswith("a multi-class Output expects one score per class, (N, classes) with at least 2 classes, "
                          "but receives (N, 1): ")
    assert "binary" in msg


def test_binary_output_on_images():
    msg = only_problem(chain(IMAGE, output={"task": "binary"}), "output_1")
    assert msg == ("a binary Output expects one score per sample, (N, 1), but receives (N, 1, 7, 7): insert a "
                   "Flatten and a Dense of 1 unit")


def test_missing_input_and_output():
    graph = Graph()
    graph.add_node("dense", {})
    found = problems(graph)
    assert found[None] == ["the network has no Input node: add one from the Input/Output group",
                           "the network has no Output node: add one after the last layer"]
    assert found["dense_1"] == ["Dense needs an input: connect a layer's output to it"]
    assert problems(chain(VECTOR)) == {None: ["the network has no Output node: add one after the last layer"]}
    assert problems(Graph())[None][0].startswith("the network has no Input node")


def test_two_outputs():
    graph = chain(VECTOR, output=REGRESSION)
    graph.connect("input_vector_1", graph.add_node("output", REGRESSION).id)
    assert only_problem(graph, None) == "the network has 2 Output nodes: keep exactly one"


def test_problem_upstream_is_not_repeated_downstream():
    graph = chain(IMAGE, ("dense", {}), ("dense", {}), ("dense", {}), output=REGRESSION)
    assert list(problems(graph)) == ["dense_1"]


def test_validate_never_raises_on_a_mess():
    graph = from_dict(
        [("x", "input_tokens", {"length": 0, "vocab_size": "many"}), ("y", *IMAGE), ("a", "add", {}),
         ("c", "concat", {"axis": 99}), ("d", "dense", {"units": -3, "bogus": 1}), ("o1", "output", {"task": "x"}),
         ("o2", "output", {}), ("r", "reshape", {"shape": [-1, -1]}), ("e", "embedding", {})],
        [("x", "a"), ("y", "a"), ("a", "c"), ("c", "d"), ("d", "c"), ("y", "r", 1), ("r", "o1"), ("o1", "e"),
         ("e", "o2"), ("o2", "y"), ("y", "y")],
    )
    found = graph.validate()
    assert found and all(isinstance(p.message, str) and p.message for p in found)
    assert {p.node_id for p in found} >= {"x", "c", "d", "o1", "r"}
    with pytest.raises(GraphError, match="the network cannot be built"):
        compile_graph(graph)


def test_softmax_over_a_single_value():
    graph = chain(VECTOR, ("dense", {"units": 1, "activation": "softmax"}), output={"task": "binary"})
    assert only_problem(graph, "dense_1") == (
        "Dense applies Softmax over a single value, which always gives 1 and cannot learn: use Sigmoid for a "
        "single unit, or one unit per class"
    )
    graph = chain(("input_image", {"channels": 1, "height": 2, "width": 5}), ("activation", {"function": "softmax"}),
                  ("flatten", {}), output=REGRESSION)
    assert only_problem(graph, "activation_1").startswith("Activation applies Softmax over a single value")
    wide = chain(("input_sequence", {"steps": 1, "features": 4}), ("activation", {"function": "softmax"}),
                 ("flatten", {}), output=REGRESSION)
    assert problems(wide) == {}  # softmax over the 4 features of one step is fine
