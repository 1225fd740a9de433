"""An ONNX model onto the canvas, read with the ``onnx`` package (nothing in the file runs): each operator
mapped onto a layer, its initializers becoming the layer's weights. Operators and settings without an exact
layer are refused, naming the operator, its node and what would do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnstudio.core import block_layout
from nnstudio.core.errors import NNStudioError
from nnstudio.core.graph import Graph
from nnstudio.core.importer.trace import MAX_IMPORT_NODES, TASKS, Imported, ImportModelError, _input_node
from nnstudio.core.layers.registry import SPECS
from nnstudio.core.project.model import Project

MAX_ONNX_BYTES = 2 * 1024**3  # what one protobuf file can hold
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Elu": "elu",
               "Gelu": "gelu"}


class _Reader:
    def __init__(self, model: Any, path: Path, task: str) -> None:
        from onnx import numpy_helper

        self.path, self.task = path, task
        self.graph = Graph()
        base = str(path.resolve().parent)  # external weights must sit beside the model (onnx checks the path)
        try:
            self.values = {i.name: numpy_helper.to_array(i, base) for i in model.graph.initializer}
        except Exception as exc:  # noqa: BLE001 - a missing or out-of-folder external data file
            raise ImportModelError(f"{path}: its weights cannot be read ({str(exc).splitlines()[0][:200]})") \
                from None
        self.made: dict[str, str] = {}  # tensor name -> graph node id producing it
        self.weights: dict[str, dict[str, torch.Tensor]] = {}  # graph node id -> its module's state dict
        self.model = model

    # -- helpers -----------------------------------------------------------------------------------------
    def fail(self, node: Any, why: str) -> ImportModelError:
        name = node.name or node.output[0]
        return ImportModelError(f"{self.path.name}: cannot import the {node.op_type} node {name!r}: {why}")

    def attrs(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def const(self, name: str) -> np.ndarray | None:
        return self.values.get(name) if name else None

    def add(self, node: Any, type_id: str, params: dict[str, Any], sources: list[str],
            weights: dict[str, np.ndarray] | None = None) -> str:
        if type_id not in SPECS:
            raise self.fail(node, f"it needs the layer {type_id!r}, which this version of NN Studio does not have")
        feeds = [self.made[s] for s in sources if s in self.made]
        if len(feeds) != len(sources):
            missing = next(s for s in sources if s not in self.made)
            raise self.fail(node, f"its input {missing!r} is a constant or unknown tensor, not a layer's output")
        try:
            nid = self.graph.add_node(type_id, params, label=(node.name or "")[:60]).id
            for src in feeds:
                self.graph.connect(src, nid)
        except NNStudioError as exc:
            raise self.fail(node, str(exc)) from None
        if weights:
            self.weights[nid] = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in weights.items()}
        self.made[node.output[0]] = nid
        return nid

    # -- operators ---------------------------------------------------------------------------------------
    def read(self, node: Any) -> None:
        op, a, x = node.op_type, self.attrs(node), node.input[0] if node.input else ""
        if op == "Constant":
            from onnx import numpy_helper

            self.values[node.output[0]] = numpy_helper.to_array(a["value"]) if "value" in a else np.array(0)
        elif op in ("Identity",) or (op == "Dropout" and len(node.output) == 1):
            if x in self.made:
                self.made[node.output[0]] = self.made[x]
        elif op == "Dropout":
            self.made[node.output[0]] = self.made[x]
        elif op in ACTIVATIONS:
            if op == "Elu" and a.get("alpha", 1.0) != 1.0:
                raise self.fail(node, "an alpha other than 1: NN Studio's ELU has alpha 1")
            if op == "Gelu" and a.get("approximate", b"none") not in (b"none", "none"):
                raise self.fail(node, "the tanh approximation: NN Studio's GELU is the exact one")
            self._activation(node, ACTIVATIONS[op])
        elif op == "LeakyRelu":
            if abs(a.get("alpha", 0.01) - 0.01) > 1e-6:
                raise self.fail(node, f"the slope {a.get('alpha')}: NN Studio's leaky ReLU has the slope 0.01")
            self._activation(node, "leaky_relu")
        elif op == "Clip":
            low, high = self.const(node.input[1] if len(node.input) > 1 else ""), \
                self.const(node.input[2] if len(node.input) > 2 else "")
            low = a.get("min", low) if low is None else low
            high = a.get("max", high) if high is None else high
            if low is not None and high is not None and float(low) == 0.0 and float(high) == 6.0:
                self._activation(node, "relu6")
            else:
                raise self.fail(node, f"Clip({low}, {high}) has no layer: only Clip(0, 6), ReLU6, maps")
        elif op == "Softmax":
            self._activation(node, "softmax")
        elif op == "Conv":
            self._conv(node, a)
        elif op in ("MaxPool", "AveragePool"):
            self._pool(node, a)
        elif op == "GlobalAveragePool":
            self.add(node, "adaptive_avg_pool2d", {"output_size": 1}, [x])
        elif op == "Flatten":
            if a.get("axis", 1) != 1:
                raise self.fail(node, f"axis {a.get('axis')}: NN Studio's Flatten keeps the batch axis (axis 1)")
            self.add(node, "flatten", {}, [x])
        elif op == "Reshape":
            shape = self.const(node.input[1])
            if shape is None or len(shape) != 2:
                raise self.fail(node, "only a reshape to (batch, features) maps (onto Flatten)")
            self.add(node, "flatten", {}, [x])
        elif op == "Gemm":
            self._gemm(node, a)
        elif op == "BatchNormalization":
            self._batchnorm(node, a)
        elif op in ("Add", "Mul"):
            self._elementwise(node, "add" if op == "Add" else "multiply")
        elif op == "Concat":
            axis = a.get("axis", 1)
            if axis == 0:
                raise self.fail(node, "a concatenation along the batch axis")
            self.add(node, "concat", {"axis": axis - 1 if axis > 0 else axis}, list(node.input))
        else:
            raise self.fail(node, "the operator has no NN Studio layer")

    def _activation(self, node: Any, function: str) -> None:
        if function not in SPECS["activation"].param("function").choices:
            raise self.fail(node, f"it needs the activation {function!r}, which this version does not have")
        self.add(node, "activation", {"function": function}, [node.input[0]])

    def _square(self, node: Any, values: Any, what: str, default: int) -> int:
        values = list(values) if values is not None else [default, default]
        if len(set(values)) != 1:
            raise self.fail(node, f"a {what} of {values}: NN Studio's layers take the same number for height and "
                            "width")
        return int(values[0])

    def _pads(self, node: Any, a: dict[str, Any]) -> int:
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise self.fail(node, f"auto_pad {a['auto_pad']!r}: export it with explicit pads")
        return self._square(node, a.get("pads"), "padding", 0)

    def _conv(self, node: Any, a: dict[str, Any]) -> None:
        weight = self.const(node.input[1])
        if weight is None or weight.ndim != 4:
            raise self.fail(node, "only 2-D convolutions with weights stored in the file map (onto Conv2D)")
        bias = self.const(node.input[2]) if len(node.input) > 2 else None
        params = {"filters": int(weight.shape[0]), "kernel_size": self._square(node, a.get("kernel_shape",
                  weight.shape[2:]), "kernel", 1), "stride": self._square(node, a.get("strides"), "stride", 1),
                  "padding": self._pads(node, a), "bias": bias is not None, "activation": "none"}
        dilation = self._square(node, a.get("dilations"), "dilation", 1)
        if dilation != 1 or a.get("group", 1) != 1:
            params.update(dilation=dilation, groups=int(a.get("group", 1)))
        weights = {"weight": weight, **({"bias": bias} if bias is not None else {})}
        self.add(node, "conv2d", params, [node.input[0]], weights)

    def _pool(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("ceil_mode", 0) or self._square(node, a.get("dilations"), "dilation", 1) != 1:
            raise self.fail(node, "ceil_mode or dilation: NN Studio's pools have neither")
        if node.op_type == "AveragePool" and not a.get("count_include_pad", 0) and self._pads(node, a):
            raise self.fail(node, "an average that leaves the padding out: NN Studio's AvgPool2D counts it")
        kernel = self._square(node, a.get("kernel_shape"), "kernel", 1)
        stride = self._square(node, a.get("strides"), "stride", 1)
        self.add(node, "maxpool2d" if node.op_type == "MaxPool" else "avgpool2d",
                 {"pool_size": kernel, "stride": 0 if stride == kernel else stride, "padding": self._pads(node, a)},
                 [node.input[0]])

    def _gemm(self, node: Any, a: dict[str, Any]) -> None:
        weight = self.const(node.input[1])
        bias = self.const(node.input[2]) if len(node.input) > 2 else None
        if weight is None or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            raise self.fail(node, "only x @ W.T + b with W stored in the file maps (onto Dense)")
        weight = weight if a.get("transB", 0) else weight.T
        weights = {"weight": weight, **({"bias": bias.reshape(-1)} if bias is not None else {})}
        self.add(node, "dense", {"units": int(weight.shape[0]), "bias": bias is not None, "activation": "none"},
                 [node.input[0]], weights)

    def _batchnorm(self, node: Any, a: dict[str, Any]) -> None:
        scale, shift, mean, var = (self.const(n) for n in node.input[1:5])
        if any(v is None for v in (scale, shift, mean, var)):
            raise self.fail(node, "its statistics are not stored in the file")
        momentum = 1.0 - float(a.get("momentum", 0.9))  # ONNX keeps the share of the old statistic
        self.add(node, "batchnorm", {"momentum": round(momentum, 6), "eps": float(a.get("epsilon", 1e-5))},
                 [node.input[0]], {"weight": scale, "bias": shift, "running_mean": mean, "running_var": var,
                                   "num_batches_tracked": np.array(0, dtype=np.int64)})

    def _elementwise(self, node: Any, type_id: str) -> None:
        if any(i not in self.made for i in node.input):
            raise self.fail(node, "one input is a stored constant: only two layers' outputs can be combined")
        self.add(node, type_id, {}, list(node.input))


def import_onnx(path: str | os.PathLike[str], task: str = "multiclass") -> Imported:
    """The project of the ONNX model at ``path`` (one image or vector input, one output), with its weights."""
    import onnx

    p = Path(path)
    if task not in TASKS:
        raise ImportModelError(f"the task must be one of {', '.join(TASKS)}, not {task!r}")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImportModelError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if not p.is_file() or size > MAX_ONNX_BYTES:
        raise ImportModelError(f"{p}: not a regular ONNX file of at most 2 GB")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - not a protobuf, or a damaged one
        raise ImportModelError(f"{p}: not an ONNX model ({str(exc).splitlines()[0][:200] if str(exc) else exc})") \
            from None
    if len(model.graph.node) > MAX_IMPORT_NODES:
        raise ImportModelError(f"{p}: {len(model.graph.node):,} operators; NN Studio imports at most "
                               f"{MAX_IMPORT_NODES:,}")
    reader = _Reader(model, p, task)
    inputs = [i for i in model.graph.input if i.name not in reader.values]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise ImportModelError(f"{p}: NN Studio imports models with one input and one output, not {len(inputs)} "
                               f"and {len(model.graph.output)}")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
    shape = tuple(dims[1:])
    if not shape or any(d is None or d < 1 for d in shape):
        raise ImportModelError(f"{p}: the input's per-sample shape {shape} is not fixed")
    reader.made[inputs[0].name] = _input_node(reader.graph, tuple(int(d) for d in shape))
    for node in model.graph.node:
        reader.read(node)
    result = model.graph.output[0].name
    if result not in reader.made:
        raise ImportModelError(f"{p}: the model's output is not computed by any layer")
    graph = reader.graph
    out = graph.add_node("output", {"task": task}).id
    graph.connect(reader.made[result], out)
    block_layout.lay_out(graph)
    project = Project(graph=graph, name=p.stem, description=f"Imported from the ONNX model {p.name}.",
                      training={"optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 10})
    project.weights = _weights(graph, reader.weights, p)
    from nnstudio.core.fingerprint import fingerprint

    project.weights_fingerprint = fingerprint(graph)  # the weights are this very network's
    return Imported(project, [], None)


def _weights(graph: Graph, weights: dict[str, dict[str, torch.Tensor]], path: Path) -> dict[str, torch.Tensor]:
    from nnstudio.core.compile import compile_graph

    try:
        compiled = compile_graph(graph, seed=0)
    except NNStudioError as exc:
        raise ImportModelError(f"{path}: the imported network does not compile: {exc}") from None
    for nid, state in weights.items():
        module = compiled.module.get_submodule(nid)
        own = module.state_dict()
        state = {k: v.to(own[k].dtype).reshape(own[k].shape) if k in own and v.numel() == own[k].numel() else v
                 for k, v in state.items()}
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise ImportModelError(f"{path}: the weights of {nid} do not fit its layer: "
                                   f"{str(exc).splitlines()[0][:200]}") from None
    return {k: v.detach().cpu().clone() for k, v in compiled.module.state_dict().items()}
