"""The training loop.

Plain PyTorch: the data sit on the device as whole tensors and each epoch walks a random permutation of indices
in batches (no per-sample DataLoader). Streamed data (``Dataset.streamed``, too large to hold whole) walk the same
permutation, read batch by batch by DataLoader workers kept for the run (``training.batches``). An image
dataset's transforms (``data.transforms``: augmentations of training batches, normalisation of every batch)
are applied to the batches on the device. Callbacks hear about steps (throttled by time), epochs, layer statistics
and probes; a ControlToken pauses, resumes or stops before any step. Faults (NaN loss, out of memory, data that
does not fit) become TrainingError / DatasetError with a message naming the step or the data; the caller's
project is never touched.

Continuing. A run returns, besides the weights it kept, a ``training.resume.TrainingState``: the optimizer's
and the schedule's state, the random generators and the position. ``train(..., resume=state)`` continues from
it: ``config.epochs`` more epochs, numbered on from ``state.epoch``, the steps counted on, the best value so far
and early stopping's count carried on; the per-epoch losses are those one longer run would have given (on the
CPU, to the bit). What a changed setting does is in ``training.resume``.

The state belongs to the weights the run kept. When it keeps an earlier epoch's weights (``restore_best``, or a
stopped run), the state returned is the one taken at the end of that epoch, together with its weights: a
continued run goes on from that epoch (the history's later rows are replaced, see ``history.continue_history``),
exactly as a longer run that had stopped there would have. A run stopped in the middle of an epoch counts that
epoch as done, as its history row does.

Streamed data continue the same way: at an epoch boundary exactly as in memory (the same permutation and
generators). A run stopped in the middle of an epoch counts that epoch as done, in both paths: the continued
run starts the next epoch with a fresh permutation; the rest of the stopped epoch's batches are not replayed.

Besides the epoch rows, the history holds what redraws the dashboard (``training.history``): the task and class
names, the step-level loss (downsampled), the confusion matrix and per-class figures of the weights kept, and
the last layer statistics and activations (measured once at the end when no callback measured them).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Any, Sequence

import torch

from nnstudio.core.compile import CompiledModel
from nnstudio.core.data.base import DataSplit, Dataset
from nnstudio.core.data.stream import BatchReader, training_threads
from nnstudio.core.data.transforms import BatchTransforms
from nnstudio.core.errors import DatasetError, TrainingError
from nnstudio.core.memory import out_of_memory
from nnstudio.core.text import clip
from nnstudio.core.training import optim
from nnstudio.core.training import resume as _resume
from nnstudio.core.training.batches import PROBE, MemoryFeed, StreamFeed
from nnstudio.core.training.config import TrainConfig
from nnstudio.core.training.control import Callback, ControlToken, emit
from nnstudio.core.training.device import resolve_device
from nnstudio.core.training.history import (
    MAX_CLASSES,
    MAX_CONFUSION,
    MAX_NAME,
    StepLossTrace,
)
from nnstudio.core.training.metrics import MetricAccumulator, higher_is_better
from nnstudio.core.training.reports import EpochReport, StepReport, TrainResult
from nnstudio.core.training.resume import TrainingState, mismatch
from nnstudio.core.training.saved_reports import activations_json, layers_json
from nnstudio.core.training.targets import prepare_targets
from nnstudio.core.training.telemetry import final_reports

STEP_REPORT_INTERVAL_S = 0.05  # at most twenty step reports a second (and one at the end of each epoch)
EVAL_BATCH = 1024


def train(
    compiled: CompiledModel,
    split: DataSplit,
    config: TrainConfig,
    callbacks: Sequence[Callback] = (),
    token: ControlToken | None = None,
    resume: TrainingState | None = None,
) -> TrainResult:
    """Train ``compiled.module`` in place on ``split`` and return the history, the weights kept and the state
    to continue from. ``resume`` (a state an earlier run of these weights returned; the caller has loaded
    those weights into ``compiled``) continues that run: see the module's doc."""
    return _Run(compiled, split, config, list(callbacks), token or ControlToken(), resume).run()


class _Run:
    def __init__(self, compiled: CompiledModel, split: DataSplit, config: TrainConfig,
                 callbacks: list[Callback], token: ControlToken, resume: TrainingState | None = None) -> None:
        config.check()
        self.compiled, self.split, self.config, self.callbacks, self.token = compiled, split, config, callbacks, token
        self.resume = resume
        if resume is not None:
            problem = mismatch(resume, compiled.module)
            if problem:
                raise TrainingError(f"{problem}: the network changed since training; train again without continuing")
        self.device = resolve_device(config.device)  # a missing device is an error before anything starts
        self.model = compiled.module
        self.task = compiled.task
        self.num_classes = _num_classes(compiled)
        self._check_monitor()
        if len(compiled.input_names) != 1:
            raise TrainingError(f"the network has {len(compiled.input_names)} Input nodes; training uses one dataset "
                                "input: keep one Input")

    # -- setup -------------------------------------------------------------------------------------------
    def _check_monitor(self) -> None:
        c = self.config
        if not (c.early_stopping or c.schedule == "plateau"):
            return
        names = _reported(self.task)
        if c.monitor not in names:
            raise TrainingError(f"training setting 'monitor' is {c.monitor!r}, which a {self.task} task does not "
                                f"report; choose one of {', '.join(sorted(names))}")

    def _feed(self, part: Dataset, name: str, readers: dict[int, BatchReader]) -> MemoryFeed | StreamFeed:
        """The part as the loop reads it: its tensors on the device, or its stream (one reader per source)."""
        x = part.x
        expected = self.compiled.input_infos[0]
        if tuple(x.shape[1:]) != expected.shape or (x.dtype == torch.long) != (expected.dtype == "long"):
            kind = "token ids" if x.dtype == torch.long else "values"
            raise DatasetError(f"the {name} data are {kind} of shape (N, {', '.join(map(str, x.shape[1:]))}) but "
                               f"the Input node expects {expected.text()}")
        y = prepare_targets(part.y, self.compiled, self.num_classes, name)
        if part.streamed:
            source = part.stream.source
            if id(source) not in readers:
                reader = readers[id(source)] = BatchReader(source, self.device)
                if reader.workers:  # the decoding processes get their cores (restored after the run)
                    torch.set_num_threads(training_threads(reader.workers))
            return StreamFeed(part, y.to(self.device), readers[id(source)], self.device)
        x = x.to(self.device)
        if x.dim() == 4:  # images: channels-last is the layout oneDNN / cuDNN convolutions run fastest on
            x = x.contiguous(memory_format=torch.channels_last)
        return MemoryFeed(x, y.to(self.device))

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        readers: dict[int, BatchReader] = {}
        threads = torch.get_num_threads()
        try:
            return self._run(readers)
        finally:
            for reader in readers.values():
                reader.close()
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)

    def _run(self, readers: dict[int, BatchReader]) -> TrainResult:
        c, r = self.config, self.resume
        torch.manual_seed(c.seed)
        gen = torch.Generator().manual_seed(c.seed)
        try:
            self.model.to(self.device)
            if len(self.compiled.input_infos[0].shape) == 3:  # images (see _feed)
                self.model.to(memory_format=torch.channels_last)
            train_feed = self._feed(self.split.train, "training", readers)
            val = self._feed(self.split.val, "validation", readers) if len(self.split.val) else None
            self.prep = BatchTransforms(self.split.train.transforms, self.split.train, self.device)
            x_tr, y_tr = train_feed.head()  # what telemetry probes (normalised as every batch is)
            if self.prep.stats is not None:
                x_tr, y_tr = self.prep.eval(x_tr[:PROBE]), y_tr[:PROBE]
        except (MemoryError, RuntimeError) as exc:
            if not out_of_memory(exc):
                raise
            raise TrainingError(f"the data do not fit in the memory of {self.device}: use the CPU or less data")
        n = train_feed.n
        if n == 0:
            raise DatasetError("the training part of the dataset is empty")
        # The value that picks the best epoch: the monitor when this run reports it (early stopping and plateau
        # monitors were checked against the task), else the validation loss, else the training loss.
        reported = _reported(self.task) if val is not None else {"train_loss"}
        self.monitor = c.monitor if c.monitor in reported else ("val_loss" if val is not None else "train_loss")
        if self.monitor != c.monitor and (c.early_stopping or c.schedule == "plateau"):
            raise TrainingError(f"training setting 'monitor' is {c.monitor!r} but there are no validation data: "
                                "monitor train_loss or give the dataset a validation part")
        optimizer = optim.make_optimizer(self.model, c, self.device)
        scheduler = optim.make_scheduler(optimizer, c)
        loss_fn = self.compiled.loss_fn()
        l1_weights = optim.penalised_weights(self.model) if c.l1 > 0 else []
        amp = self._autocast()
        scaler = torch.amp.GradScaler("cuda") if amp is not None and amp[1] == torch.float16 else None
        steps_per_epoch = math.ceil(n / c.batch_size)
        telemetry = self._telemetry(x_tr, y_tr)
        # Where this run starts: nothing done, or the position of the state it continues.
        epoch0, step0, elapsed0 = 0, 0, 0.0
        best_value, best_epoch, best_state, best_snapshot, bad_epochs = None, None, None, None, 0
        if r is not None:
            _resume.restore(r, self.model, optimizer, scheduler, scaler, gen, c, self.device)
            epoch0, step0, elapsed0 = r.epoch, r.step, r.elapsed_s
            if r.monitor == self.monitor and r.best_value is not None:
                best_value, best_epoch, bad_epochs = r.best_value, r.best_epoch, r.bad_epochs
                if r.best_epoch == r.epoch:  # the weights it starts from are the best so far: kept if none beats them
                    best_state = self._weights()
                    best_snapshot = r
        last_epoch = epoch0 + c.epochs
        total = step0 + steps_per_epoch * c.epochs
        emit(self.callbacks, "on_start", {"device": str(self.device), "steps_per_epoch": steps_per_epoch,
                                          "total_steps": total, "train_samples": n,
                                          "val_samples": 0 if val is None else val.n,
                                          "first_epoch": epoch0 + 1, "first_step": step0 + 1})
        last_details: dict[str, Any] | None = None  # the validation of the weights as they are now
        best_details: dict[str, Any] | None = None  # and of the best weights so far
        epochs: list[dict[str, Any]] = []
        trace = StepLossTrace()
        stop_reason, step = "completed", step0
        rng_at_start = _resume.rng_states(gen, self.device)
        start = last_report = time.perf_counter()

        def position(epoch_done: int, **best: Any) -> dict[str, Any]:
            values = {"best_value": best_value, "best_epoch": best_epoch, "bad_epochs": bad_epochs, **best}
            return {"epoch": epoch_done, "step": step, "elapsed_s": elapsed0 + time.perf_counter() - start,
                    "monitor": self.monitor, **values}

        for epoch in range(epoch0 + 1, last_epoch + 1):
            self.model.train()
            rng_at_start = _resume.rng_states(gen, self.device)  # for a stop before this epoch's first step
            perm = torch.randperm(n, generator=gen)
            batches = train_feed.train_batches(perm, c.batch_size)
            loss_sum = 0.0
            correct = torch.zeros((), device=self.device, dtype=torch.long)
            seen = 0
            for b in range(steps_per_epoch):
                if self.token.paused:
                    paused_at = time.perf_counter()
                    self.token.wait_while_paused()
                    paused_for = time.perf_counter() - paused_at
                    start += paused_for  # a pause does not count as training time
                    if telemetry is not None:
                        telemetry.started += paused_for  # nor towards telemetry's share of it
                if self.token.stopped:
                    stop_reason = "stopped"
                    break
                xb, yb = next(batches)
                xb = self.prep.train(xb)
                step += 1
                probe = telemetry is not None and telemetry.wants_layers(step, c.telemetry_every)
                try:
                    out, loss = self._step(xb, yb, loss_fn, optimizer, scaler, amp, l1_weights, probe and telemetry)
                except (MemoryError, RuntimeError) as exc:
                    if not out_of_memory(exc):
                        raise
                    _free(self.device)
                    raise TrainingError(f"out of memory on {self.device} at step {step} with batch size "
                                        f"{c.batch_size}: lower the batch size or use the CPU") from None
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise TrainingError(f"the loss became {value} at step {step} (epoch {epoch}, batch {b + 1}): "
                                        "lower the learning rate, turn on gradient clipping or check the data")
                trace.add(step, epoch - 1 + (b + 1) / steps_per_epoch, value)
                loss_sum += value * len(yb)  # the step's loss is already a float: no extra tensor op
                seen += len(yb)
                if self.task != "regression":
                    correct += _correct(self._scores(out.detach()), yb, self.task)
                if probe:
                    telemetry.after_step(step)
                elif telemetry is not None:
                    telemetry.maybe_probe(step)
                now = time.perf_counter()
                if now - last_report >= STEP_REPORT_INTERVAL_S or b == steps_per_epoch - 1:
                    last_report = now
                    elapsed = now - start
                    done = step - step0
                    emit(self.callbacks, "on_step", StepReport(
                        epoch, last_epoch, step, total, value, optim.current_lr(optimizer),
                        done * c.batch_size / elapsed if elapsed > 0 else 0.0, elapsed0 + elapsed,
                        elapsed / done * (total - step),
                        float(correct) / seen if self.task != "regression" and seen else None))
            if stop_reason == "stopped" and seen == 0:
                break
            row = {"epoch": epoch, "train_loss": loss_sum / max(seen, 1), "lr": optim.current_lr(optimizer)}
            if self.task != "regression":
                row["train_accuracy"] = float(correct) / max(seen, 1)
            details = {}
            if val is not None:
                details = last_details = self.evaluate(val, loss_fn)
                row.update({f"val_{k}": v for k, v in details.items() if isinstance(v, float)})
            row["time_s"] = elapsed0 + time.perf_counter() - start
            epochs.append(row)
            monitored = row[self.monitor]
            improved = best_value is None or self._better(monitored, best_value)
            if improved:
                best_value, best_epoch, bad_epochs = monitored, epoch, 0
            else:
                bad_epochs += 1
            emit(self.callbacks, "on_epoch", EpochReport(epoch, last_epoch, dict(row), details.get("confusion"),
                                                         details.get("per_class"), improved))
            if telemetry is not None:
                telemetry.maybe_probe(step)
            # The schedule steps even when the run stops here: the state taken next is the one the next epoch
            # would have started from.
            if scheduler is not None:
                scheduler.step(monitored) if c.schedule == "plateau" else scheduler.step()
            if improved:  # the weights, what continuing from them needs and how they validated
                best_state, best_details = self._weights(), details
                best_snapshot = _resume.capture(self.model, optimizer, scheduler, scaler, c,
                                               _resume.rng_states(gen, self.device), **position(epoch))
            if stop_reason == "stopped":
                break
            if c.early_stopping and bad_epochs > c.patience:
                stop_reason = "early_stopping"
                break
        restored = best_state is not None and (c.restore_best or stop_reason == "stopped")
        if restored:
            self.model.load_state_dict(best_state)
            state = best_snapshot
        else:  # the last epoch's weights; an epoch stopped before its first step did not happen
            rng = rng_at_start if stop_reason == "stopped" and (not epochs or epochs[-1]["epoch"] != epoch) \
                else _resume.rng_states(gen, self.device)
            state = _resume.capture(self.model, optimizer, scheduler, scaler, c, rng,
                                   **position(epoch0 + len(epochs)))
        if telemetry is not None:
            telemetry.maybe_probe(step, final=True)  # show the weights that are kept
        final, details = {}, {}
        if val is not None and epochs:
            # The kept weights were validated already, as the best epoch or as the last: no second pass (which
            # for streamed data would keep a person who pressed Stop waiting for all the images again)
            details = (best_details if restored else last_details) or self.evaluate(val, loss_fn)
            final = {f"val_{k}": v for k, v in details.items() if isinstance(v, float)}
        weights = self._weights()
        history = {"epochs": epochs, "best_epoch": best_epoch, "stop_reason": stop_reason, "final": final,
                   "device": str(self.device), "steps": step, "config": c.to_dict()}
        if train_feed.streamed:
            history["storage"] = "stream"
        if self.prep.stats is not None:  # what feeding the trained network other images needs (transforms.normalize)
            history["normalize"] = self.prep.stats
        history.update(self._dashboard(telemetry, trace, details, x_tr, y_tr, loss_fn, step))
        result = TrainResult(history, weights, stop_reason, best_epoch, final, str(self.device), step,
                             training_state=state, resumed_from=None if r is None else (r.epoch, r.step))
        emit(self.callbacks, "on_end", result)
        return result

    def _weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def _dashboard(self, telemetry, trace: StepLossTrace, details: dict[str, Any], x_tr, y_tr, loss_fn,
                   step: int) -> dict[str, Any]:
        """The history keys that redraw the dashboard (training.history describes them)."""
        out: dict[str, Any] = {"task": self.task}
        classes = [clip(str(name), MAX_NAME) for name in self.split.train.classes]
        if self.task != "regression" and 0 < len(classes) <= MAX_CLASSES:
            out["classes"] = classes
        out["step_loss"] = trace.points()
        confusion = details.get("confusion")
        if confusion is not None and len(confusion) <= MAX_CONFUSION:
            out["confusion"] = confusion
            if details.get("per_class") is not None:
                out["per_class"] = details["per_class"]
        layers = telemetry.last_layers if telemetry is not None else None
        activations = telemetry.last_activations if telemetry is not None else None
        if layers is None or activations is None:
            try:
                final_layers, final_activations = final_reports(self.compiled, self.model, x_tr, y_tr, loss_fn, step)
            except (MemoryError, RuntimeError) as exc:  # the run is done: its statistics are what is lost
                if not out_of_memory(exc):
                    raise
                _free(self.device)
            else:
                layers, activations = layers or final_layers, activations or final_activations
        for key, value in (("layers", layers_json(layers)), ("activations", activations_json(activations))):
            if value is not None:
                out[key] = value
        return out

    def _better(self, value: float, best: float) -> bool:
        delta = self.config.min_delta
        if higher_is_better(self.monitor):
            return value > best + delta
        return value < best - delta

    def _autocast(self) -> tuple[str, torch.dtype] | None:
        if not self.config.mixed_precision or self.device.type != "cuda":
            return None
        return ("cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)

    def _step(self, xb, yb, loss_fn, optimizer, scaler, amp, l1_weights, telemetry):
        optimizer.zero_grad(set_to_none=True)
        ctx = torch.autocast(device_type=amp[0], dtype=amp[1]) if amp else nullcontext()
        with ctx:
            out = self.model(xb)
            loss = loss_fn(out.float() if amp else out, yb)
        if l1_weights:
            loss = loss + self.config.l1 * optim.l1_penalty(l1_weights)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if telemetry:
            telemetry.before_update()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return out, loss

    def evaluate(self, feed: MemoryFeed | StreamFeed, loss_fn) -> dict[str, Any]:
        """Loss and metrics of the current weights on a part, in eval mode and in batches of EVAL_BATCH; when
        those do not fit in memory, in batches of the training batch size (which fit with gradients too).
        Streamed data go in training-sized batches from the start: their point is bounded memory."""
        sizes = (self.config.batch_size,) if feed.streamed else (EVAL_BATCH, self.config.batch_size)
        for batch in dict.fromkeys(sizes):
            try:
                return self._evaluate(feed, loss_fn, batch)
            except (MemoryError, RuntimeError) as exc:
                if not out_of_memory(exc):
                    raise
                _free(self.device)
        raise TrainingError(f"out of memory on {self.device} while validating in batches of "
                            f"{self.config.batch_size}: lower the batch size or use the CPU") from None

    def _evaluate(self, feed: MemoryFeed | StreamFeed, loss_fn, batch: int) -> dict[str, Any]:
        was_training = self.model.training
        self.model.eval()
        acc = MetricAccumulator(self.task, self.num_classes)
        total = 0.0
        try:
            with torch.no_grad():
                for xb, yb in feed.eval_batches(batch):
                    out = self.model(self.prep.eval(xb))
                    total += float(loss_fn(out.float(), yb)) * yb.shape[0]
                    acc.update(self._scores(out.float()), _class_targets(yb, self.task))
        finally:
            self.model.train(was_training)
        result = {"loss": total / max(feed.n, 1)}
        result.update(acc.compute())
        return result

    def _scores(self, out: torch.Tensor) -> torch.Tensor:
        """Outputs as the metrics read them: logits, decided at 0 (binary) or by argmax. A binary Output trained
        without binary cross-entropy gives probabilities or 0/1 values, decided at 0.5."""
        if self.task == "binary" and self.compiled.output_activation is None:
            return out - 0.5
        return out

    def _telemetry(self, x_tr: torch.Tensor, y_tr: torch.Tensor):
        from nnstudio.core.training.telemetry import Telemetry

        wanted = [cb for cb in self.callbacks if _wants_telemetry(cb)]
        return Telemetry(self.compiled, self.model, x_tr, y_tr, wanted) if wanted else None


def _wants_telemetry(cb: Callback) -> bool:
    """Whether a callback listens to layer statistics or probes (otherwise they are not measured at all)."""
    return any(getattr(type(cb), name) is not getattr(Callback, name)
               for name in ("on_layers", "on_activations", "on_boundary"))


def _reported(task: str) -> set[str]:
    """The values an epoch row of this task holds that a monitor may name (with validation data)."""
    from nnstudio.core.training.metrics import METRIC_NAMES

    return {"val_loss", "train_loss"} | {f"val_{m}" for m in METRIC_NAMES[task]}


def _num_classes(compiled: CompiledModel) -> int:
    if compiled.task == "binary":
        return 2
    if compiled.task == "multiclass":
        return int(compiled.output_info.shape[-1])
    return 0


def _correct(out: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    if task == "binary":
        return ((out.reshape(-1) > 0).long() == _class_targets(y, task)).sum()
    return (out.argmax(dim=-1) == _class_targets(y, task)).sum()


def _class_targets(y: torch.Tensor, task: str) -> torch.Tensor:
    """Class indices from prepared targets: 0/1 floats (binary), indices, or one-hot rows (a multi-class
    Output trained with a loss other than cross-entropy)."""
    if task == "binary":
        return y.reshape(-1).long()
    return y.argmax(dim=-1) if task == "multiclass" and y.dim() > 1 else y


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()

