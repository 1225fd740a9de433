"""The capture for a forward torch.fx cannot trace (control flow on shapes, ``for s in x.size()[1:]``, a Python
function of a shape): ``torch.export`` runs it on an example batch (the batch size left free), and its graph of
aten operations is read back into the graph ``trace`` reads, at the level of the user's modules.

Every aten operation carries the module calls it was made in (``nn_module_stack``); the operations made inside
one call of a module that maps onto a layer become that one ``call_module`` (``self.conv1(x)``), and the rest
become the functions a forward would call (``aten.relu`` -> ``torch.relu``, ``aten.view`` -> ``x.view``). An
operation with no such function is refused with its aten name and its place in the user's code.
"""

from __future__ import annotations

import contextlib
import io
import logging
import operator
import re
import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from nnstudio.core.importer.mapping import expand_module, is_leaf

aten = torch.ops.aten
WHOLE = slice(None, None, None)
END = 2**62  # a slice's end at or past this is "to the end"


class CaptureError(Exception):
    """torch.export could not capture the forward, or captured an operation that has no function here:
    ``str()`` says which and where."""


def _same(target: Callable) -> Callable[[tuple, dict], tuple]:
    return lambda args, kwargs: ("call_function", target, args, kwargs)


def _activation(target: Callable) -> Callable[[tuple, dict], tuple]:
    return lambda args, kwargs: ("call_function", target, args[:1], {})


def _gelu(args: tuple, kwargs: dict) -> tuple:
    return "call_function", F.gelu, args[:1], {"approximate": kwargs.get("approximate", "none")}


def _elu(args: tuple, kwargs: dict) -> tuple:
    alpha, scale, input_scale = (list(args[1:]) + [1.0, 1.0, 1.0])[:3]
    if scale != 1 or input_scale != 1:
        raise CaptureError("aten.elu with a scale (SELU-like): NN Studio's ELU has alpha 1 and no scale")
    return "call_function", F.elu, args[:1], {"alpha": alpha}


def _hardtanh(args: tuple, kwargs: dict) -> tuple:
    low, high = (list(args[1:]) + [-1.0, 1.0])[:2]
    if (low, high) != (0.0, 6.0):
        raise CaptureError(f"aten.hardtanh between {low} and {high}: only ReLU6 (0 to 6) has an NN Studio layer")
    return "call_function", F.relu6, args[:1], {}


def _add(target: Callable) -> Callable[[tuple, dict], tuple]:
    return lambda args, kwargs: ("call_function", target, args[:2], dict(kwargs))


def _view(args: tuple, kwargs: dict) -> tuple:
    return "call_method", "view", (args[0], list(args[1])), {}


def _mean(args: tuple, kwargs: dict) -> tuple:
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    dims = list(args[1]) if len(args) > 1 and args[1] is not None else None
    return "call_method", "mean", (args[0], dims), ({"keepdim": True} if keepdim else {})


def _dropout(args: tuple, kwargs: dict) -> tuple:
    return "call_function", F.dropout, (args[0], float(args[1])), {}


def _max_pool(args: tuple, kwargs: dict) -> tuple:
    x, kernel, stride, padding, dilation, ceil = (list(args) + [None, [], 0, 1, False][len(args) - 1:])[:6]
    return "call_function", F.max_pool2d, (x, kernel, stride or kernel, padding, dilation), {"ceil_mode": ceil}


def _avg_pool(args: tuple, kwargs: dict) -> tuple:
    x, kernel, stride, padding, ceil, count_pad, divisor = \
        (list(args) + [None, [], 0, False, True, None][len(args) - 1:])[:7]
    return "call_function", F.avg_pool2d, (x, kernel, stride or kernel, padding), {
        "ceil_mode": ceil, "count_include_pad": count_pad, "divisor_override": divisor}


def _select(args: tuple, kwargs: dict) -> tuple:
    x, dim, index = args
    return "call_function", operator.getitem, (x, index if dim == 0 else (*([WHOLE] * dim), index)), {}


def _slice(args: tuple, kwargs: dict) -> tuple | None:
    x, dim, start, end, step = (list(args) + [0, None, None, 1][len(args) - 1:])[:5]
    if (start or 0) == 0 and (end is None or end >= END) and step == 1:
        return None  # the whole axis: the same tensor
    return "call_function", operator.getitem, (x, (*([WHOLE] * dim), slice(start, end, step))), {}


def _size(args: tuple, kwargs: dict) -> tuple:
    return "call_method", "size", args[:2], {}


TRANSLATE: dict[Any, Callable[[tuple, dict], tuple | None]] = {
    aten.relu.default: _activation(torch.relu), aten.relu_.default: _activation(torch.relu),
    aten.sigmoid.default: _activation(torch.sigmoid), aten.sigmoid_.default: _activation(torch.sigmoid),
    aten.tanh.default: _activation(torch.tanh), aten.tanh_.default: _activation(torch.tanh),
    aten.silu.default: _activation(F.silu), aten.silu_.default: _activation(F.silu),
    aten.hardswish.default: _activation(F.hardswish), aten.hardswish_.default: _activation(F.hardswish),
    aten.hardsigmoid.default: _activation(F.hardsigmoid), aten.hardsigmoid_.default: _activation(F.hardsigmoid),
    aten.gelu.default: _gelu, aten.elu.default: _elu, aten.elu_.default: _elu,
    aten.hardtanh.default: _hardtanh, aten.hardtanh_.default: _hardtanh,
    aten.add.Tensor: _add(operator.add), aten.add_.Tensor: _add(operator.add),
    aten.mul.Tensor: _add(operator.mul), aten.mul_.Tensor: _add(operator.mul),
    aten.flatten.using_ints: _same(torch.flatten), aten.cat.default: _same(torch.cat),
    aten.view.default: _view, aten.reshape.default: _view, aten._unsafe_view.default: _view,
    aten.mean.dim: _mean, aten.adaptive_avg_pool2d.default: _same(F.adaptive_avg_pool2d),
    aten.dropout.default: _dropout, aten.max_pool2d.default: _max_pool, aten.avg_pool2d.default: _avg_pool,
    aten.select.int: _select, aten.slice.Tensor: _slice, aten.sym_size.int: _size,
}
SAME_TENSOR = {aten.clone.default, aten.alias.default, aten.detach.default, aten.contiguous.default,
               aten.lift_fresh_copy.default}
# What to suggest for an operation that does not map, by its aten name.
NEAREST = {"unsqueeze": "Reshape", "squeeze": "Reshape", "softmax": "Dense with Softmax",
           "_softmax": "Dense with Softmax",
           "log_softmax": "Dense with Softmax", "matmul": "Dense", "mm": "Dense", "bmm": "Dense",
           "sub": "Add", "div": "Multiply", "conv2d": "Conv2D, as an nn.Conv2d module", "linear": "Dense, as an "
           "nn.Linear module", "batch_norm": "BatchNorm, as an nn.BatchNorm2d module", "layer_norm": "LayerNorm, "
           "as an nn.LayerNorm module", "max": "MaxPool2D or GlobalMaxPool", "sum": "GlobalAveragePool"}
RECURRENT_STATES = {aten.lstm.input: {1: (1, 0), 2: (1, 1)}, aten.gru.input: {1: (1,)},
                    aten.rnn_tanh.input: {1: (1,)}}


def capture(module: nn.Module, input_shape: tuple[int, ...], tokens: bool = False) -> fx.Graph:
    """The graph of ``module``'s forward on one example batch of per-sample ``input_shape`` (token ids where
    ``tokens``), with one ``call_module`` per call of a module that maps onto a layer. CaptureError otherwise."""
    from torch.export import Dim, export

    example = torch.zeros((2, *input_shape), dtype=torch.long if tokens else torch.float32)
    was = logging.root.manager.disable
    try:
        logging.disable(logging.WARNING)  # a failing export logs and prints its partial graph: the error says enough
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            program = export(module, (example,), dynamic_shapes=({0: Dim("batch", min=1)},), strict=False)
    except Exception as exc:  # noqa: BLE001 - export's own words say what stopped it
        why, place = first_line(exc), user_line(str(exc))
        if "data-dependent" in why:
            why = "the forward branches on a tensor's values, which cannot become a fixed graph"
        raise CaptureError(f"{why} (at {place})" if place else why) from None
    finally:
        logging.disable(was)
    return _Rebuild(module, program).graph


def first_line(exc: BaseException) -> str:
    """An exception's first line (torch's errors go on for pages), at most 300 characters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def user_line(text: str) -> str:
    """The last place in the user's code a stack trace (or an error's text) names: ``net.py:12 (in forward):
    code``; "" when it names none."""
    found = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'\s*File "(.+)", line (\d+), in (\S+)', line)
        if m and "/torch/" not in m.group(1) and "/nnstudio/" not in m.group(1):
            code = lines[i + 1].strip()[:80] if i + 1 < len(lines) else ""
            found = f"{m.group(1).rsplit('/', 1)[-1]}:{m.group(2)} (in {m.group(3)})" + (f": {code}" if code else "")
    return found


class _Rebuild:
    def __init__(self, root: nn.Module, program: Any) -> None:
        self.root = root
        signature = program.graph_signature
        self.weights = {**signature.inputs_to_parameters, **signature.inputs_to_buffers,
                        **getattr(signature, "inputs_to_lifted_tensor_constants", {})}
        self.graph = fx.Graph()
        self.env: dict[str, Any] = {}  # exported node name -> new node (or a value)
        nodes = list(program.graph.nodes)
        self.calls = {n.name: c for n in nodes if (c := self._call_of(n)) is not None}  # name -> (key, path)
        self.members: dict[str, list[fx.Node]] = {}
        for node in nodes:
            if node.name in self.calls:
                self.members.setdefault(self.calls[node.name][0], []).append(node)
        made: set[str] = set()
        for node in nodes:
            if node.op == "placeholder":
                if node.name in signature.user_inputs:
                    self._keep(node, self.graph.placeholder(node.name))
                else:
                    self.weights.setdefault(node.name, node.name)
            elif node.op == "output":
                results = [self._value(r, node) for r in node.args[0]]
                self.graph.output(results[0] if len(results) == 1 else tuple(results))
            elif node.op == "get_attr":
                raise CaptureError(f"the model reads the tensor {node.target} directly in forward ({_where(node)}): "
                                   "only layers' own weights can be imported")
            elif node.name in self.calls:
                key = self.calls[node.name][0]
                if key not in made:
                    made.add(key)
                    self._module_call(key)
            else:
                self._function(node)

    def _call_of(self, node: fx.Node) -> tuple[str, str] | None:
        """The outermost call of a layer module the node is made in: (its key, its module path)."""
        for key, (path, _) in (node.meta.get("nn_module_stack") or {}).items():
            try:
                sub = self.root.get_submodule(path) if path else self.root
            except AttributeError:
                continue
            if is_leaf(sub) or expand_module(sub) is not None:
                return key, path
        return None

    def _keep(self, old: fx.Node, new: fx.Node) -> None:
        new.meta["stack_trace"] = old.meta.get("stack_trace")
        new.meta["nn_module_stack"] = old.meta.get("nn_module_stack") or {}
        self.env[old.name] = new

    def _value(self, value: Any, user: fx.Node) -> Any:
        if isinstance(value, fx.Node):
            if value.name in self.weights:
                what = self.weights[value.name]
                what = "a constant tensor" if what.startswith("lifted_tensor") else f"the tensor {what}"
                raise CaptureError(f"the model uses {what} outside its own layer "
                                   f"({_where(user)}): only layers' own weights can be imported")
            if value.name not in self.env:
                raise CaptureError(f"{_aten(value)} ({_where(value)}) has no place on the canvas: only what one "
                                   "layer module returns can be used outside it")
            return self.env[value.name]
        if isinstance(value, (list, tuple)):
            return type(value)(self._value(v, user) for v in value)
        return value

    def _module_call(self, key: str) -> None:
        members = self.members[key]
        inside = {n.name for n in members}
        path = self.calls[members[0].name][1]
        inputs: list[fx.Node] = []
        for node in members:
            for arg in nodes_in(node.args, node.kwargs):
                if arg.name not in inside and arg.name not in self.weights and arg not in inputs \
                        and arg.target is not aten.sym_size.int:
                    inputs.append(arg)
        call = self.graph.call_module(path, tuple(self._value(a, members[0]) for a in inputs))
        self._keep(members[0], call)
        self.env.pop(members[0].name)
        outputs = [n for n in members if any(u.name not in inside for u in n.users)]
        if len(outputs) == 1 and not _is_item(outputs[0], inside):
            self.env[outputs[0].name] = call
            return
        for out in outputs:  # items of a recurrent layer's result: out, (h, c)
            indices = _item_path(out, inside)
            if indices is None:
                raise CaptureError(f"the module {path} ({_where(out)}) returns more than one tensor, which has no "
                                   "place on the canvas")
            value = call
            for index in indices:
                value = self.graph.call_function(operator.getitem, (value, index))
                value.meta["stack_trace"] = out.meta.get("stack_trace")
            self.env[out.name] = value

    def _function(self, node: fx.Node) -> None:
        if node.target in SAME_TENSOR:
            self.env[node.name] = self._value(node.args[0], node)
            return
        build = TRANSLATE.get(node.target)
        if build is None:
            name = _aten(node)
            near = NEAREST.get(name.rsplit(".", 1)[-1])
            raise CaptureError(f"{name} has no NN Studio layer{f' (the nearest is {near})' if near else ''}, at "
                               f"{_where(node)}")
        args = self._value(tuple(node.args), node)
        kwargs = {k: self._value(v, node) for k, v in node.kwargs.items()}
        made = build(args, kwargs)
        if made is None:
            self.env[node.name] = args[0]
            return
        op, target, new_args, new_kwargs = made
        new = self.graph.create_node(op, target, tuple(new_args), new_kwargs)
        self._keep(node, new)


def _is_item(node: fx.Node, inside: set[str]) -> bool:
    return node.target is operator.getitem and isinstance(node.args[0], fx.Node) and node.args[0].name in inside


def _item_path(node: fx.Node, inside: set[str]) -> tuple | None:
    """Where in the module's result an item of a recurrent operation lies: ``(0,)`` the sequence, ``(1, 0)`` an
    LSTM's final hidden state ..."""
    if not _is_item(node, inside):
        return None
    source, index = node.args
    if index == 0:
        return (0,)
    return RECURRENT_STATES.get(source.target, {}).get(index)


def nodes_in(*values: Any) -> list[fx.Node]:
    """The fx nodes in call arguments, nested in lists, tuples and dicts, in order."""
    out: list[fx.Node] = []

    def visit(value: Any) -> None:
        if isinstance(value, fx.Node):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    visit(values)
    return out


def _aten(node: fx.Node) -> str:
    name = getattr(node.target, "__name__", str(node.target))
    return f"the operation aten.{name.split('.')[0]}" if node.op == "call_function" else f"the value {node.name}"


def _where(node: fx.Node) -> str:
    from nnstudio.core.importer.trace import _where as where

    return where(node)
