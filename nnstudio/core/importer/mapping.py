"""What each PyTorch module and function becomes on the canvas: a layer type and its parameters, exactly (a
module with a setting NN Studio's layer cannot reproduce is refused, never approximated).

``map_module(module)`` gives a :class:`Mapped` or raises :class:`Unmapped` with the reason and the nearest layer
that would do; ``map_function(target, args, kwargs)`` does the same for the functions and tensor methods a
forward calls (``torch.relu``, ``x + y``, ``torch.flatten(x, 1)``). The type ids are those of
``nnstudio.core.layers.registry``; a layer this version does not have yet (an older catalogue) is refused with
its name.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from nnstudio.core.layers.registry import SPECS as REGISTRY


@dataclass
class Mapped:
    type_id: str
    params: dict[str, Any] = field(default_factory=dict)
    weights: bool = False  # the module's state dict goes into the layer's module (same class, same keys)
    inside: str = ""  # where in the layer's module the weights go ("rnn" for a recurrent layer)


class Unmapped(Exception):
    """An operation no layer reproduces exactly: ``str()`` says which, why, and what would do."""


def _square(value: Any, what: str, name: str) -> int:
    if isinstance(value, int):
        return value
    values = tuple(value)
    if len(set(values)) != 1:
        raise Unmapped(f"{name} has a {what} of {values}: NN Studio's layers take square {what}s (the same "
                       "number for height and width)")
    return int(values[0])


def _need(type_id: str, name: str) -> None:
    if type_id not in REGISTRY:
        raise Unmapped(f"{name} needs the layer {type_id!r}, which this version of NN Studio does not have")


def _conv(m: nn.Conv2d) -> Mapped:
    name = type(m).__name__
    if m.padding_mode != "zeros":
        raise Unmapped(f"{name} pads with {m.padding_mode!r}: NN Studio's Conv2D pads with zeros")
    padding = m.padding if isinstance(m.padding, str) else _square(m.padding, "padding", name)
    params = {"filters": m.out_channels, "kernel_size": _square(m.kernel_size, "kernel", name),
              "stride": _square(m.stride, "stride", name), "padding": padding, "bias": m.bias is not None,
              "activation": "none"}
    dilation, groups = _square(m.dilation, "dilation", name), m.groups
    if dilation != 1 or groups != 1:
        if "dilation" not in {p.name for p in REGISTRY["conv2d"].params}:
            raise Unmapped(f"{name} has dilation {dilation} and groups {groups}: this version's Conv2D has neither")
        params.update(dilation=dilation, groups=groups)
    return Mapped("conv2d", params, True)


def _linear(m: nn.Linear) -> Mapped:
    return Mapped("dense", {"units": m.out_features, "bias": m.bias is not None, "activation": "none"}, True)


def _batchnorm(m: nn.modules.batchnorm._BatchNorm) -> Mapped:
    name = type(m).__name__
    if not m.affine or not m.track_running_stats:
        raise Unmapped(f"{name} without learned scale and running statistics (affine={m.affine}, "
                       f"track_running_stats={m.track_running_stats}): NN Studio's BatchNorm has both")
    if m.momentum is None:
        raise Unmapped(f"{name} with momentum=None (a cumulative average): NN Studio's BatchNorm uses a momentum")
    return Mapped("batchnorm", {"momentum": float(m.momentum), "eps": float(m.eps)}, True)


def _pool(type_id: str) -> Callable[[nn.Module], Mapped]:
    def build(m: nn.Module) -> Mapped:
        name = type(m).__name__
        if getattr(m, "ceil_mode", False):
            raise Unmapped(f"{name} with ceil_mode=True: NN Studio's pools round down")
        if _square(getattr(m, "dilation", 1), "dilation", name) != 1:
            raise Unmapped(f"{name} with dilation: NN Studio's pools have none")
        if isinstance(m, nn.AvgPool2d) and (not m.count_include_pad or m.divisor_override):
            raise Unmapped(f"{name} with count_include_pad=False or a divisor_override: NN Studio's AvgPool2D "
                           "counts the padding")
        kernel = _square(m.kernel_size, "kernel", name)
        stride = _square(m.stride if m.stride is not None else kernel, "stride", name)
        return Mapped(type_id, {"pool_size": kernel, "stride": 0 if stride == kernel else stride,
                                "padding": _square(m.padding, "padding", name)})
    return build


def _adaptive(type_id: str) -> Callable[[nn.Module], Mapped]:
    def build(m: nn.Module) -> Mapped:
        name = type(m).__name__
        size = m.output_size
        size = _square(size, "output size", name) if size is not None and not isinstance(size, int) else size
        if size is None:
            raise Unmapped(f"{name} with an output size of None: give it a number")
        if type_id in REGISTRY:
            return Mapped(type_id, {"output_size": int(size)})
        raise Unmapped(f"{name} needs the layer {type_id!r}, which this version of NN Studio does not have")
    return build


def _activation(function: str) -> Callable[[nn.Module], Mapped]:
    def build(m: nn.Module) -> Mapped:
        return _activation_node(function, type(m).__name__)
    return build


def _activation_node(function: str, name: str) -> Mapped:
    if function not in REGISTRY["activation"].param("function").choices:
        raise Unmapped(f"{name} needs the activation {function!r}, which this version of NN Studio does not have")
    return Mapped("activation", {"function": function})


def _leaky(m: nn.LeakyReLU) -> Mapped:
    if abs(m.negative_slope - 0.01) > 1e-12:
        raise Unmapped(f"LeakyReLU with a slope of {m.negative_slope}: NN Studio's leaky ReLU has the slope 0.01")
    return _activation_node("leaky_relu", "LeakyReLU")


def _elu(m: nn.ELU) -> Mapped:
    if m.alpha != 1.0:
        raise Unmapped(f"ELU with alpha {m.alpha}: NN Studio's ELU has alpha 1")
    return _activation_node("elu", "ELU")


def _gelu(m: nn.GELU) -> Mapped:
    if m.approximate != "none":
        raise Unmapped(f"GELU with approximate={m.approximate!r}: NN Studio's GELU is the exact one")
    return _activation_node("gelu", "GELU")


def _flatten(m: nn.Flatten) -> Mapped:
    if m.start_dim != 1 or m.end_dim != -1:
        raise Unmapped(f"Flatten({m.start_dim}, {m.end_dim}): NN Studio's Flatten keeps the batch axis and "
                       "flattens the rest (start_dim=1); a Reshape would do")
    return Mapped("flatten")


def _dropout(m: nn.Dropout) -> Mapped:
    return Mapped("dropout", {"rate": float(m.p)})


def _identity(m: nn.Module) -> Mapped:
    _need("identity", "Identity")
    return Mapped("identity")


def _embedding(m: nn.Embedding) -> Mapped:
    if m.padding_idx is not None or m.max_norm is not None:
        raise Unmapped("Embedding with a padding_idx or max_norm: NN Studio's Embedding has neither")
    return Mapped("embedding", {"vocab_size": m.num_embeddings, "dim": m.embedding_dim}, True)


def _layernorm(m: nn.LayerNorm) -> Mapped:
    if len(m.normalized_shape) != 1 or not m.elementwise_affine:
        raise Unmapped("LayerNorm over more than the last axis, or without its learned scale: NN Studio's "
                       "LayerNorm normalises the last axis with a learned scale and shift")
    return Mapped("layernorm", {"eps": float(m.eps)}, True)


def _upsample(m: nn.Upsample) -> Mapped:
    _need("upsample2d", "Upsample")
    scale = m.scale_factor
    if m.size is not None or scale is None:
        raise Unmapped("Upsample to a fixed size: NN Studio's Upsample2D takes a whole-number scale factor")
    scale = scale[0] if isinstance(scale, tuple) and len(set(scale)) == 1 else scale
    if not float(scale).is_integer() or m.mode not in ("nearest", "bilinear") or m.align_corners:
        raise Unmapped(f"Upsample(scale {scale}, mode {m.mode!r}, align_corners={m.align_corners}): NN Studio's "
                       "Upsample2D scales by a whole number, nearest or bilinear without align_corners")
    return Mapped("upsample2d", {"scale_factor": int(scale), "mode": m.mode})


def _recurrent(type_id: str) -> Callable[[nn.RNNBase], Mapped]:
    def build(m: nn.RNNBase) -> Mapped:
        name = type(m).__name__
        if not m.batch_first:
            raise Unmapped(f"{name} with batch_first=False: NN Studio's recurrent layers take (N, steps, features); "
                           "build it with batch_first=True")
        if not m.bias or getattr(m, "proj_size", 0) or getattr(m, "nonlinearity", "tanh") != "tanh":
            raise Unmapped(f"{name} without biases, with a projection or a ReLU nonlinearity: NN Studio's "
                           f"{name} has none of these")
        if m.dropout:
            raise Unmapped(f"{name} with dropout {m.dropout} between its layers: NN Studio's layer also drops its "
                           "input; stack one-layer recurrent layers with Dropout between them instead")
        return Mapped(type_id, {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
                                "bidirectional": bool(m.bidirectional), "return_sequences": True, "dropout": 0.0},
                      True, "rnn")
    return build


def _encoder_layer(m: nn.TransformerEncoderLayer) -> Mapped:
    if not m.self_attn.batch_first:
        raise Unmapped("TransformerEncoderLayer with batch_first=False: NN Studio's encoder takes (N, steps, "
                       "features); build it with batch_first=True")
    activation = getattr(m, "activation", None)
    name = {F.relu: "relu", F.gelu: "gelu"}.get(activation) if not isinstance(activation, nn.Module) else \
        {nn.ReLU: "relu", nn.GELU: "gelu"}.get(type(activation))
    eps = {m.norm1.eps, m.norm2.eps}
    if name is None or eps != {1e-5} or m.linear1.bias is None or m.self_attn.in_proj_bias is None:
        raise Unmapped("TransformerEncoderLayer with another activation, a layer-norm epsilon other than 1e-5 or "
                       "no biases: NN Studio's TransformerEncoder has ReLU or GELU, 1e-5 and biases")
    return Mapped("transformer_encoder", {"heads": m.self_attn.num_heads, "ff_dim": m.linear1.out_features,
                                          "dropout": float(m.dropout.p), "ff_activation": name,
                                          "norm_first": bool(m.norm_first)}, True)


MODULES: dict[type, Callable[[Any], Mapped]] = {
    nn.Conv2d: _conv, nn.Linear: _linear, nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm,
    nn.MaxPool2d: _pool("maxpool2d"), nn.AvgPool2d: _pool("avgpool2d"),
    nn.AdaptiveAvgPool2d: _adaptive("adaptive_avg_pool2d"), nn.AdaptiveMaxPool2d: _adaptive("adaptive_max_pool2d"),
    nn.ReLU: _activation("relu"), nn.Sigmoid: _activation("sigmoid"), nn.Tanh: _activation("tanh"),
    nn.SiLU: _activation("silu"), nn.ReLU6: _activation("relu6"), nn.Hardswish: _activation("hardswish"),
    nn.Hardsigmoid: _activation("hardsigmoid"), nn.LeakyReLU: _leaky, nn.ELU: _elu, nn.GELU: _gelu,
    nn.Flatten: _flatten, nn.Dropout: _dropout, nn.Identity: _identity, nn.Embedding: _embedding,
    nn.LayerNorm: _layernorm, nn.Upsample: _upsample,
    nn.LSTM: _recurrent("lstm"), nn.GRU: _recurrent("gru"), nn.RNN: _recurrent("simple_rnn"),
    nn.TransformerEncoderLayer: _encoder_layer,
}


def expand_module(module: nn.Module) -> list[tuple[Mapped, nn.Module]] | None:
    """A module that becomes a chain of layers (``nn.TransformerEncoder``: one encoder layer each, then its
    norm), each with the module its weights come from; None for any other module."""
    if not isinstance(module, nn.TransformerEncoder):
        return None
    chain = [(_encoder_layer(layer), layer) for layer in module.layers]
    if module.norm is not None:
        chain.append((_layernorm(module.norm), module.norm))
    return chain

# What to suggest for a module that does not map, by its class name.
NEAREST = {"Conv1d": "Conv1D", "ConvTranspose2d": "ConvTranspose2D", "Conv3d": "Conv2D", "LSTM": "LSTM",
           "GRU": "GRU", "MultiheadAttention": "MultiHeadSelfAttention", "InstanceNorm2d": "BatchNorm",
           "GroupNorm": "BatchNorm", "PReLU": "Activation (leaky_relu)", "Softmax": "Dense with Softmax",
           "TransformerEncoder": "TransformerEncoder", "MaxPool1d": "MaxPool2D", "AvgPool1d": "AvgPool2D"}


def map_module(module: nn.Module) -> Mapped:
    """The layer that reproduces ``module`` exactly; Unmapped (naming what and why) when none does."""
    build = MODULES.get(type(module))
    if build is None:
        name = type(module).__name__
        near = NEAREST.get(name)
        raise Unmapped(f"{name} has no NN Studio layer" + (f" (the nearest is {near})" if near else ""))
    return build(module)


def is_leaf(module: nn.Module) -> bool:
    """Modules the tracer keeps whole (they become one layer each); others are traced through."""
    return type(module) in MODULES


# -- functions and methods ----------------------------------------------------------------------------------
_ACTIVATION_FUNCTIONS = {torch.relu: "relu", F.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh",
                         F.silu: "silu", F.relu6: "relu6", F.hardswish: "hardswish", F.gelu: "gelu",
                         F.hardsigmoid: "hardsigmoid", F.elu: "elu"}
_ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
ADDS = {operator.add, operator.iadd, torch.add}
MULTIPLIES = {operator.mul, operator.imul, torch.mul}


def map_function(kind: str, target: Any, args: tuple, kwargs: dict, rank: int | None) -> Mapped | None:
    """The layer of a call the forward makes (``kind``: "call_function" or "call_method"), or None for one
    that only reads shapes (``x.size(0)``, which its user consumes). ``rank``: the per-sample rank of the
    first tensor argument, when known. Unmapped otherwise."""
    if kind == "call_method":
        if target in _ACTIVATION_METHODS:
            return _activation_node(_ACTIVATION_METHODS[target], f"Tensor.{target}")
        if target == "size":
            return None
        if target in ("view", "reshape", "flatten"):
            return _flatten_call(target, args, kwargs)
        if target in ("add", "add_"):
            return _two_tensors(args, "add", Mapped("add"))
        if target in ("mul", "mul_"):
            return _two_tensors(args, "multiply", _multiply())
        if target == "mean":
            dims = args[1] if len(args) > 1 else kwargs.get("dim")
            dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
            if kwargs.get("keepdim") or (len(args) > 2 and args[2]):
                raise Unmapped("mean(keepdim=True): NN Studio's GlobalAveragePool drops the averaged axes")
            if rank == 2 and dims in ((1,), (-2,)) or rank == 3 and set(dims) in ({2, 3}, {-1, -2}):
                return Mapped("global_avg_pool")
            raise Unmapped(f"mean over {dims} of a {rank}-axis sample: only the average over a sequence's steps "
                           "or an image's positions maps (onto GlobalAveragePool)")
        raise Unmapped(f"the tensor method {target}() has no NN Studio layer")
    if target in _ACTIVATION_FUNCTIONS:
        if kwargs.get("inplace") is not None and target not in (F.relu, F.relu6, F.hardswish, F.elu, F.silu,
                                                               F.hardsigmoid):
            raise Unmapped(f"{_name(target)} with {kwargs}")
        if target is F.gelu and kwargs.get("approximate", "none") != "none":
            raise Unmapped("GELU with approximate='tanh': NN Studio's GELU is the exact one")
        if target is F.elu and kwargs.get("alpha", 1.0) != 1.0:
            raise Unmapped("ELU with an alpha other than 1: NN Studio's ELU has alpha 1")
        return _activation_node(_ACTIVATION_FUNCTIONS[target], _name(target))
    if target in ADDS:
        if kwargs.get("alpha", 1) != 1:
            raise Unmapped("torch.add with an alpha: NN Studio's Add adds its inputs as they are")
        return _two_tensors(args, "add", Mapped("add"))
    if target in MULTIPLIES:
        return _two_tensors(args, "multiply", _multiply())
    if target is torch.flatten:
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        if start != 1 or end != -1:
            raise Unmapped(f"torch.flatten(x, {start}, {end}): NN Studio's Flatten keeps the batch axis "
                           "(start_dim=1)")
        return Mapped("flatten")
    if target is torch.cat:
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if not isinstance(dim, int) or dim == 0:
            raise Unmapped("torch.cat along the batch axis: NN Studio's Concat joins along a feature axis")
        return Mapped("concat", {"axis": dim - 1 if dim > 0 else dim})
    if target is F.adaptive_avg_pool2d:
        size = args[1] if len(args) > 1 else kwargs.get("output_size")
        _need("adaptive_avg_pool2d", "F.adaptive_avg_pool2d")
        return Mapped("adaptive_avg_pool2d", {"output_size": _square(size, "output size", "adaptive_avg_pool2d")})
    if target is F.dropout:
        return Mapped("dropout", {"rate": float(args[1] if len(args) > 1 else kwargs.get("p", 0.5))})
    if target in POOLS:
        return _pool_call(target, args, kwargs)
    raise Unmapped(f"the function {_name(target)} has no NN Studio layer")


POOLS = {F.max_pool2d: ("maxpool2d", nn.MaxPool2d), F.avg_pool2d: ("avgpool2d", nn.AvgPool2d)}
POOL_ARGS = {F.max_pool2d: ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
             F.avg_pool2d: ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")}


def _pool_call(target: Any, args: tuple, kwargs: dict) -> Mapped:
    """``F.max_pool2d(x, 2)`` is the layer ``nn.MaxPool2d(2)`` would be: mapped as that module."""
    type_id, module = POOLS[target]
    settings = dict(zip(POOL_ARGS[target], args[1:]), **kwargs)
    if settings.get("return_indices"):
        raise Unmapped("max_pool2d with return_indices=True: NN Studio's MaxPool2D returns the pooled values only")
    settings.pop("return_indices", None)
    if not settings.get("stride"):
        settings["stride"] = None
    try:
        return _pool(type_id)(module(**settings))
    except TypeError as exc:
        raise Unmapped(f"{_name(target)} with {settings}: {exc}") from None


def _two_tensors(args: tuple, verb: str, mapped: Mapped) -> Mapped:
    """Add and Multiply take two layers' outputs; a number (``x + 1``, ``2 * x``) is no layer's."""
    if len(args) < 2 or not all(isinstance(a, fx.Node) for a in args[:2]):
        number = next((a for a in args[:2] if not isinstance(a, fx.Node)), None)
        raise Unmapped(f"to {verb} the number {number!r} has no NN Studio layer: {verb.capitalize()} combines "
                       "two layers' outputs (fold a constant into the layer before it)")
    return mapped


def _multiply() -> Mapped:
    _need("multiply", "multiplication")
    return Mapped("multiply")


def _flatten_call(target: str, args: tuple, kwargs: dict) -> Mapped:
    """``x.view(x.size(0), -1)``, ``x.reshape(n, -1)`` and ``x.flatten(1)`` keep the batch and flatten the rest."""
    rest = list(args[1:])
    if target == "flatten":
        start = rest[0] if rest else kwargs.get("start_dim", 0)
        if start == 1 and (len(rest) < 2 or rest[1] == -1):
            return Mapped("flatten")
        raise Unmapped(f"x.flatten({start}): NN Studio's Flatten keeps the batch axis (start_dim=1)")
    if len(rest) == 1 and isinstance(rest[0], (tuple, list)):
        rest = list(rest[0])
    if len(rest) == 2 and rest[1] == -1 and not isinstance(rest[0], int):  # (x.size(0), -1) or (n, -1)
        return Mapped("flatten")
    if rest and rest[0] == -1 or (rest and not isinstance(rest[0], int)):
        shape = [r for r in rest[1:]]
        if all(isinstance(s, int) for s in shape) and shape:
            return Mapped("reshape", {"shape": shape})
    raise Unmapped(f"x.{target}{tuple(args[1:])}: a reshape that does not keep the batch axis first")


def _name(target: Any) -> str:
    module = getattr(target, "__module__", "") or ""
    return f"{module}.{getattr(target, '__name__', repr(target))}".lstrip(".")
