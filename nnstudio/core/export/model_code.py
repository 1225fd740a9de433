"""The network as Python source: an ``nn.Module`` class whose layers carry the node ids as attribute names.

Each submodule of the compiled model is written back as the constructor call that builds it (read from the
module itself, so it is exactly what trains in the app), and ``forward`` is written from the torch.fx graph
in topological order, one line per layer, with the layer's activation applied on the same line. Layers
NN Studio adds to PyTorch (``nnstudio.core.layers.modules``) are copied into the file with their source.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import keyword
import re
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from nnstudio.core.compile import CompiledModel
from nnstudio.core.export.common import one_line
from nnstudio.core.export.formatting import comment_text, docstring_text, identifier, literal
from nnstudio.core.layers import modules as custom

# Names the generated file binds at module level: local variables must not shadow them.
RESERVED = {"self", "torch", "nn", "F", "np", "math", "os", "dist", "argparse", "csv"}

# Activation functions the compiler emits, as the generated code spells them.
FUNCTION_NAMES: dict[Callable[..., Any], str] = {
    torch.relu: "torch.relu",
    torch.sigmoid: "torch.sigmoid",
    torch.tanh: "torch.tanh",
    torch.softmax: "torch.softmax",
    F.leaky_relu: "F.leaky_relu",
    F.gelu: "F.gelu",
    F.elu: "F.elu",
    F.silu: "F.silu",
    F.relu6: "F.relu6",
    F.hardswish: "F.hardswish",
    F.hardsigmoid: "F.hardsigmoid",
}


# The longest project name the file repeats in its header and docstring.
TITLE_LIMIT = 80


class UnsupportedLayer(Exception):
    """A submodule the code writer does not know how to write (a message naming the layer)."""


# -- constructor calls -----------------------------------------------------------------------------------
def _square(value: Any) -> Any:
    """(3, 3) -> 3: a square kernel, stride or padding written as one number."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _conv(m: nn.Conv2d) -> tuple[list, dict]:
    return [m.in_channels, m.out_channels, _square(m.kernel_size)], {
        "stride": _square(m.stride), "padding": _square(m.padding), "dilation": _square(m.dilation),
        "groups": m.groups, "bias": m.bias is not None, "padding_mode": m.padding_mode}


def _conv_transpose(m: nn.ConvTranspose2d) -> tuple[list, dict]:
    return [m.in_channels, m.out_channels, _square(m.kernel_size)], {
        "stride": _square(m.stride), "padding": _square(m.padding), "output_padding": _square(m.output_padding),
        "groups": m.groups, "bias": m.bias is not None, "dilation": _square(m.dilation),
        "padding_mode": m.padding_mode}


def _upsample(m: nn.Upsample) -> tuple[list, dict]:
    return [], {"size": m.size, "scale_factor": m.scale_factor, "mode": m.mode, "align_corners": m.align_corners,
                "recompute_scale_factor": m.recompute_scale_factor}


def _pool(m: nn.Module) -> tuple[list, dict]:
    kernel = _square(m.kernel_size)
    kw = {"stride": None if _square(m.stride) == kernel else _square(m.stride),
          "padding": _square(m.padding), "ceil_mode": m.ceil_mode}
    if isinstance(m, nn.MaxPool2d):
        kw["dilation"] = _square(m.dilation)
    else:
        kw.update(count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
    return [kernel], kw


def _norm(m: nn.Module) -> tuple[list, dict]:
    return [m.num_features], {"eps": m.eps, "momentum": m.momentum, "affine": m.affine,
                              "track_running_stats": m.track_running_stats}


def _layer_norm(m: nn.LayerNorm) -> tuple[list, dict]:
    shape = m.normalized_shape
    return [shape[0] if len(shape) == 1 else list(shape)], {
        "eps": m.eps, "elementwise_affine": m.elementwise_affine,
        "bias": m.bias is not None if m.elementwise_affine else True}


def _encoder(m: nn.TransformerEncoderLayer) -> tuple[list, dict]:
    activation = {1: "relu", 2: "gelu"}.get(getattr(m, "activation_relu_or_gelu", 0))
    if activation is None:
        raise UnsupportedLayer("its feed-forward activation is neither ReLU nor GELU")
    return [m.self_attn.embed_dim, m.self_attn.num_heads], {
        "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p, "activation": activation,
        "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first, "norm_first": m.norm_first,
        "bias": m.linear1.bias is not None}


def _recurrent(m: custom.Recurrent) -> tuple[list, dict]:
    kind = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}[type(m.rnn)]
    return [kind, m.rnn.input_size, m.rnn.hidden_size], {
        "num_layers": m.rnn.num_layers, "bidirectional": m.rnn.bidirectional,
        "return_sequences": m.return_sequences, "dropout": m.input_dropout.p}


BUILDERS: dict[type, Callable[[Any], tuple[list, dict]]] = {
    nn.Linear: lambda m: ([m.in_features, m.out_features], {"bias": m.bias is not None}),
    nn.Conv2d: _conv,
    nn.Conv1d: _conv,
    nn.ConvTranspose2d: _conv_transpose,
    nn.MaxPool2d: _pool,
    nn.AvgPool2d: _pool,
    nn.AdaptiveAvgPool2d: lambda m: ([m.output_size], {}),
    nn.AdaptiveMaxPool2d: lambda m: ([m.output_size], {"return_indices": m.return_indices}),
    nn.Upsample: _upsample,
    nn.Flatten: lambda m: ([], {"start_dim": m.start_dim, "end_dim": m.end_dim}),
    nn.Dropout: lambda m: ([m.p], {}),
    nn.Embedding: lambda m: ([m.num_embeddings, m.embedding_dim], {"padding_idx": m.padding_idx}),
    nn.BatchNorm1d: _norm,
    nn.BatchNorm2d: _norm,
    nn.LayerNorm: _layer_norm,
    nn.TransformerEncoderLayer: _encoder,
    nn.Identity: lambda m: ([], {}),
    nn.ReLU: lambda m: ([], {}),
    nn.Sigmoid: lambda m: ([], {}),
    nn.Tanh: lambda m: ([], {}),
    nn.SiLU: lambda m: ([], {}),
    nn.ReLU6: lambda m: ([], {}),
    nn.Hardswish: lambda m: ([], {}),
    nn.Hardsigmoid: lambda m: ([], {}),
    nn.GELU: lambda m: ([], {"approximate": m.approximate}),
    nn.LeakyReLU: lambda m: ([m.negative_slope], {}),
    nn.ELU: lambda m: ([], {"alpha": m.alpha}),
    nn.Softmax: lambda m: ([], {"dim": m.dim}),
    custom.Reshape: lambda m: ([list(m.shape)], {}),
    custom.GlobalAveragePool: lambda m: ([], {}),
    custom.SequenceBatchNorm: lambda m: ([m.norm.num_features], {"eps": m.norm.eps,
                                                                 "momentum": m.norm.momentum}),
    custom.Recurrent: _recurrent,
    custom.SelfAttention: lambda m: ([m.qkv.in_features, m.heads, m.key_dim],
                                     {"dropout": m.dropout, "causal": m.causal}),
    custom.PositionalEncoding: lambda m: (list(m.table.shape), {"learned": m.learned}),
    custom.Add: lambda m: ([], {}),
    custom.Multiply: lambda m: ([], {}),
    custom.Concat: lambda m: ([], {"dim": m.dim}),
}


def constructor(name: str, module: nn.Module) -> str:
    """``nn.Linear(2, 16)``: the call that builds ``module`` (keyword arguments only where they differ
    from the constructor's defaults). Raises UnsupportedLayer naming ``name`` for unknown modules."""
    cls = type(module)
    build = BUILDERS.get(cls)
    if build is None:
        raise UnsupportedLayer(f"cannot write {name} ({cls.__name__}) as Python source: the exporter does "
                               "not know this module")
    try:
        args, kwargs = build(module)
    except UnsupportedLayer as exc:
        raise UnsupportedLayer(f"cannot write {name} ({cls.__name__}) as Python source: {exc}") from None
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    shown = [f"{identifier(k)}={literal(value)}" for k, value in kwargs.items()
             if not (k in defaults and _same(defaults[k], value))]
    prefix = "nn." if cls.__module__.startswith("torch.") else ""
    return f"{prefix}{cls.__name__}({', '.join([*(literal(a) for a in args), *shown])})"


def _same(default: Any, value: Any) -> bool:
    return type(default) is type(value) and default == value or (default is None and value is None)


def custom_classes(module: nn.Module) -> list[type]:
    """The classes from ``nnstudio.core.layers.modules`` that the model uses, in that file's order."""
    used = {type(m) for m in module.modules() if type(m).__module__ == custom.__name__}
    return [c for c in _custom_members() if c in used]


@functools.lru_cache(maxsize=1)
def _custom_members() -> tuple[Any, ...]:
    """The classes and functions of ``nnstudio.core.layers.modules`` in the file's order (read once: finding
    a member's source re-reads the file)."""
    members = [v for _, v in inspect.getmembers(custom)
               if (inspect.isclass(v) or inspect.isfunction(v)) and v.__module__ == custom.__name__]
    return tuple(sorted(members, key=lambda v: inspect.getsourcelines(v)[1]))


@functools.lru_cache(maxsize=None)
def _source(member: Any) -> str:
    return inspect.getsource(member)


def custom_source(classes: list[type]) -> str:
    """The source of ``classes`` and of the module-level functions they call, in their file's order."""
    members = _custom_members()
    wanted = set(classes)
    changed = True
    while changed:  # add the helpers (such as sinusoidal_table) that the wanted code names
        changed = False
        text = "\n".join(_source(m) for m in wanted)
        for m in members:
            if m not in wanted and re.search(rf"\b{m.__name__}\b", text):
                wanted.add(m)
                changed = True
    return "\n\n\n".join(_source(m).rstrip() for m in members if m in wanted)


# -- the class ----------------------------------------------------------------------------------------------
def class_name(title: str, taken: set[str]) -> str:
    """``"Spiral MLP"`` -> ``SpiralMLP``: a class name from the project's name (ASCII letters and digits
    only), never one of ``taken`` (the other names the file binds), a keyword or a builtin."""
    words = re.findall(r"[A-Za-z0-9]+", title if isinstance(title, str) else "", flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:60] or "Network"
    if name[0].isdigit():
        name = "Net" + name
    while name in taken or keyword.iskeyword(name) or hasattr(builtins, name):
        name += "Net"
    return identifier(name)


def model_class(compiled: CompiledModel, name: str, title: str) -> str:
    """The ``nn.Module`` class source for ``compiled``."""
    module = compiled.module
    doc = docstring_text(f"{one_title(title)}: {_returns(compiled)}")
    lines = [f"class {identifier(name)}(nn.Module):", f'    """{doc}"""', "",
             "    def __init__(self) -> None:", "        super().__init__()"]
    for child_name, child in module.named_children():
        lines.append(f"        self.{identifier(child_name)} = {constructor(child_name, child)}")
    params = ", ".join(f"{identifier(n)}: torch.Tensor" for n in compiled.input_names)
    lines += ["", f"    def forward(self, {params}) -> torch.Tensor:"]
    lines += ["        " + line for line in forward_lines(compiled)]
    return "\n".join(lines)


def one_title(title: str) -> str:
    """The project's name as the file shows it: one printable line (``common.one_line``), at most
    TITLE_LIMIT characters; comments and docstrings still pass it through their own helpers."""
    return one_line(" ".join(title.split()), TITLE_LIMIT) if isinstance(title, str) else ""


def _returns(compiled: CompiledModel) -> str:
    if compiled.output_activation:
        return (f"returns logits; {compiled.loss} training applies the {compiled.output_activation} "
                "itself, and predict() applies it to give probabilities.")
    return "returns the network's outputs as they are."


def forward_lines(compiled: CompiledModel) -> list[str]:
    """The body of ``forward``: one assignment per layer, named by its node id, then the return."""
    graph = compiled.module.graph
    owner = {fx_name: nid for nid, fx_name in compiled.node_outputs.items()}
    names: dict[fx.Node, str] = {}
    used: set[str] = set(RESERVED) | set(dir(builtins))
    inline: dict[fx.Node, str] = {}

    def variable(node: fx.Node) -> str:
        base = owner.get(node.name, node.name)
        if node.op == "placeholder":
            base = node.target
        candidate = identifier(base)
        while candidate in used or keyword.iskeyword(candidate):
            candidate += "_"
        used.add(candidate)
        return candidate

    def value(arg: Any) -> str:
        if isinstance(arg, fx.Node):
            return inline.get(arg) or names[arg]
        return literal(arg)

    out: list[str] = []
    for node in graph.nodes:
        if node.op == "placeholder":
            names[node] = variable(node)
            continue
        if node.op == "output":
            result = node.args[0]
            note = ""
            if compiled.output_activation:
                note = f"  # logits: predict() applies the {comment_text(compiled.output_activation)}"
            out.append(f"return {value(result)}{note}")
            continue
        if node.op == "call_module":
            target = ".".join(identifier(part) for part in str(node.target).split("."))
            expr = f"self.{target}({', '.join(value(a) for a in node.args)})"
        elif node.op == "call_function":
            fn = FUNCTION_NAMES.get(node.target)
            if fn is None:
                raise UnsupportedLayer(f"cannot write the function {node.target} as Python source")
            parts = [value(a) for a in node.args] + [f"{identifier(k)}={literal(v)}" for k, v in node.kwargs.items()]
            expr = f"{fn}({', '.join(parts)})"
        else:
            raise UnsupportedLayer(f"cannot write the graph step {node.op} {node.target} as Python source")
        users = list(node.users)
        # A layer's raw output that only its own activation reads goes on the activation's line.
        if node.name not in owner and len(users) == 1 and users[0].op == "call_function":
            inline[node] = expr
            continue
        names[node] = variable(node)
        out.append(f"{names[node]} = {expr}")
    return out
