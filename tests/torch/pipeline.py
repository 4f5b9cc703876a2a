"""The PyTorch pipeline's model and checkpoints, rebuilt from the data contract
(../shared/docs/DATA_CONTRACT.md, "The pipeline's model"), for tests that compare the toolkit
with real PyTorch. Nothing here is a committed fixture: every .pt is made at test time.

Usage: python pipeline.py <command> [args], JSON on stdin, JSON on stdout.
  make DIR      train a tiny model a few steps, save DIR/last.pt and DIR/best.pt as the
                pipeline's train_lstm.py does; print the data, probabilities and states
                (a list of specs: DIR/0, DIR/1, ...)
  check FILE [--trusted]
                torch.load(FILE, weights_only=True; False with --trusted), rebuild the model, optimizer and
                scheduler from it with their own load_state_dict (strict), predict, then
                resume one training step; print the results
  dump FILE [--mmap]
                torch.load(FILE, weights_only=True) and print a typed description (--mmap:
                with mmap=True and storage offsets computed from the zip layout)
  zoo FILE      torch.save a dict of every supported value type to FILE; print its description
  simple FILE   torch.save a small dict of tensors (one of them empty) to FILE
  layout FILE.. the zip layout of each file (record order, flags, alignment, descriptors)
  rng SEED...   per seed: torch.manual_seed(SEED); torch.get_rng_state()
  safetensors FILE  load a safetensors state dict (read with numpy) into LSTMClassifier,
                strict; print its probabilities for the input
  run DIR       the pipeline's train_lstm.py loop on data it writes to DIR (train.npz,
                val.npz, an identity feature_stats.json): `epochs` epochs over the given
                batch orders, last.pt every epoch and best.pt on a better val macro-F1
                (in DIR, as the pipeline); then torch's own resume from last.pt for one
                epoch; print the losses, the resumed epoch's loss and lr, best.pt's val
                probabilities
  load FILE...  per file: torch.load(FILE, weights_only=True), the model (strict), AdamW and
                StepLR rebuilt from it; print epoch, lr, steps
  resume FILE   torch.load(FILE, weights_only=True), rebuild model (strict), AdamW and StepLR
                from it as the pipeline's resume does, train one epoch over the given batch
                order on DIR's train.npz; print its train loss and the lr after the step
"""

import argparse
import json
import math
import pathlib
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn


# --- the pipeline's model (src/models/lstm_classifier.py, as the contract describes it) ---
class LSTMClassifierConfig:
    def __init__(self, input_size, hidden_size=128, num_layers=2, bidirectional=True,
                 dropout=0.1, num_classes=5, pooling="last"):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.num_classes = num_classes
        self.pooling = pooling


class LSTMClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(cfg.input_size, cfg.hidden_size, cfg.num_layers, batch_first=True,
                            bidirectional=cfg.bidirectional,
                            dropout=cfg.dropout if cfg.num_layers > 1 else 0)
        d = 2 if cfg.bidirectional else 1
        self.classifier = nn.Sequential(
            nn.Linear(d * cfg.hidden_size, 128), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(128, 64), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(64, cfg.num_classes))

    def forward(self, x, seq_lengths=None):
        lstm_out, _ = self.lstm(x)  # the whole pre-padded window, padding included
        if self.cfg.pooling == "last":
            pooled = lstm_out[:, -1, :]
        else:
            t = torch.arange(x.shape[1]).unsqueeze(0)
            valid = (t >= x.shape[1] - seq_lengths.unsqueeze(1)).unsqueeze(2).float()
            pooled = (lstm_out * valid).sum(1) / seq_lengths.unsqueeze(1).clamp(min=1).float()
        return self.classifier(pooled)


def pipeline_args(**overrides):
    """vars() of train_lstm.py's argparse.Namespace: its flags and defaults (data contract)."""
    ns = argparse.Namespace(
        train_npz="data/train_sequences.npz", val_npz="data/val_sequences.npz",
        feature_stats="artifacts/feature_stats.json", hidden_size=128, num_layers=2,
        bidirectional=True, dropout=0.1, pooling="last", batch_size=64, epochs=20, lr=1e-3,
        weight_decay=1e-4, step_lr_step_size=10, step_lr_gamma=0.5, weighted_loss=False,
        weighted_sampler=False, focal_loss=False, grad_clip=None, device=None,
        output_dir="artifacts", resume_from=None, log_interval=100, mlflow=False,
        mlflow_tracking_uri=None, mlflow_experiment="component-x-lstm", mlflow_run_name=None)
    for k, v in overrides.items():
        setattr(ns, k, v)
    return ns


def model_from_args(args, input_size, num_classes=5):
    return LSTMClassifier(LSTMClassifierConfig(
        input_size, args.hidden_size, args.num_layers, args.bidirectional, args.dropout,
        num_classes, args.pooling))


def data(spec, seed):
    g = torch.Generator().manual_seed(seed)
    n, steps, f = spec["batch"], spec["steps"], spec["input_size"]
    lengths = torch.randint(1, steps + 1, (n,), generator=g)
    lengths[0] = steps  # one full window
    x = torch.randn(n, steps, f, generator=g)
    x[torch.arange(steps).unsqueeze(0) < (steps - lengths).unsqueeze(1)] = 0  # pre-padding
    labels = torch.randint(0, spec.get("num_classes", 5), (n,), generator=g)
    return x, lengths, labels


def flat(t):
    return t.detach().reshape(-1).tolist()


def train_step(model, opt, x, lengths, labels, grad_clip=None):
    model.train()
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x, lengths), labels)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    return loss.item()


def probabilities(model, x, lengths):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(x, lengths), dim=1).reshape(-1).tolist()


def cmd_make(out_dir, spec):
    pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(spec.get("seed", 0))
    extra = {"output_dir": pathlib.Path(out_dir)} if spec.get("path_arg") else {}
    args = pipeline_args(hidden_size=spec["hidden_size"], num_layers=spec["num_layers"],
                         bidirectional=spec["bidirectional"], dropout=spec["dropout"],
                         pooling=spec["pooling"], step_lr_step_size=spec.get("step_size", 1),
                         step_lr_gamma=spec.get("gamma", 0.5), **extra)
    model = model_from_args(args, spec["input_size"], spec.get("num_classes", 5))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, args.step_lr_step_size, args.step_lr_gamma)
    x, lengths, labels = data(spec, spec.get("seed", 0) + 1)
    best = -1.0
    for epoch in range(spec.get("epochs", 2)):
        for _ in range(spec.get("steps_per_epoch", 2)):
            train_step(model, opt, x, lengths, labels)
        sched.step()
        f1 = 0.25 + 0.1 * epoch
        ckpt = {"epoch": epoch, "model_state": model.state_dict(),
                "optimizer_state": opt.state_dict(), "scheduler_state": sched.state_dict(),
                "best_val_f1": max(best, f1), "args": vars(args),
                "torch_rng_state": torch.get_rng_state()}
        if spec.get("numpy_f1"):
            ckpt["best_val_f1"] = np.float64(ckpt["best_val_f1"])
        torch.save(ckpt, f"{out_dir}/last.pt")
        if f1 > best:
            best = f1
            torch.save(ckpt, f"{out_dir}/best.pt")
    return {
        "x": x.tolist(), "lengths": lengths.tolist(), "labels": labels.tolist(),
        "probs": probabilities(model, x, lengths),
        "model_state": {k: {"shape": list(v.shape), "values": flat(v)}
                        for k, v in model.state_dict().items()},
        "optimizer": {str(i): {"step": s["step"].item(), "exp_avg": flat(s["exp_avg"]),
                               "exp_avg_sq": flat(s["exp_avg_sq"])}
                      for i, s in opt.state_dict()["state"].items()},
        "param_groups": [{k: v for k, v in g.items()} for g in opt.state_dict()["param_groups"]],
        "scheduler": sched.state_dict(),
        "rng": torch.get_rng_state().tolist(),
        "args": {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(args).items()},
    }


def cmd_check(path, inp, trusted=False):
    # The pipeline's own files may hold pathlib paths, which weights_only=True refuses:
    # "--trusted" loads those (our fixtures) as the pipeline did; ours must load restricted.
    ckpt = torch.load(path, weights_only=not trusted)
    args = argparse.Namespace(**ckpt["args"])
    ms = ckpt["model_state"]
    model = model_from_args(args, ms["lstm.weight_ih_l0"].shape[1],
                            ms["classifier.6.weight"].shape[0])
    model.load_state_dict(ms)  # strict
    x = torch.tensor(inp["x"], dtype=torch.float32)
    lengths = torch.tensor(inp["lengths"])
    out = {"keys": sorted(ckpt.keys()), "epoch": ckpt["epoch"],
           "best_val_f1": ckpt["best_val_f1"], "probs": probabilities(model, x, lengths),
           "model_state_type": type(ms).__name__,
           "has_metadata": getattr(ms, "_metadata", None) is not None}
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if ckpt.get("optimizer_state") is not None:
        opt.load_state_dict(ckpt["optimizer_state"])
    sched = torch.optim.lr_scheduler.StepLR(opt, args.step_lr_step_size, args.step_lr_gamma)
    if ckpt.get("scheduler_state") is not None:
        sched.load_state_dict(ckpt["scheduler_state"])
    torch.set_rng_state(ckpt["torch_rng_state"])
    out["lr_before"] = opt.param_groups[0]["lr"]
    out["step_before"] = [s["step"].item() for s in opt.state.values()]
    # Resume: one more training step (dropout draws from the restored RNG), then the epoch's
    # scheduler step, exactly as the pipeline's loop continues.
    labels = torch.tensor(inp["labels"])
    out["loss"] = train_step(model, opt, x, lengths, labels)
    sched.step()
    out["last_lr"] = sched.get_last_lr()
    out["params_after"] = {k: flat(v) for k, v in model.state_dict().items()}
    return out


def write_split(path, x, lengths, labels):
    np.savez_compressed(path, sequences=x.numpy().astype(np.float32), labels=labels.numpy().astype(np.int64),
                        seq_lengths=lengths.numpy().astype(np.int64),
                        vehicle_ids=np.arange(len(labels), dtype=np.int64) + 1000)


def read_split(path):
    z = np.load(path)
    return (torch.from_numpy(z["sequences"]), torch.from_numpy(z["seq_lengths"]),
            torch.from_numpy(z["labels"]))


def epoch_loop(model, opt, sched, data, order, grad_clip):
    """One epoch of the pipeline's loop over `order` (lists of row indices): the mean
    training loss weighted by batch size, then the scheduler's step."""
    x, lengths, labels = data
    total, seen = 0.0, 0
    for rows in order:
        idx = torch.tensor(rows, dtype=torch.long)
        loss = train_step(model, opt, x[idx], lengths[idx], labels[idx], grad_clip)
        total += loss * len(rows)
        seen += len(rows)
    sched.step()
    return total / seen


def macro_f1(y, pred, k=5):
    f1s = []
    for c in range(k):
        tp = int(((pred == c) & (y == c)).sum())
        fp = int(((pred == c) & (y != c)).sum())
        fn = int(((pred != c) & (y == c)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / k


def restore(path, input_size):
    """The pipeline's resume: model, AdamW and StepLR rebuilt from the checkpoint."""
    ckpt = torch.load(path, weights_only=True)
    args = argparse.Namespace(**ckpt["args"])
    model = model_from_args(args, input_size, ckpt["model_state"]["classifier.6.weight"].shape[0])
    model.load_state_dict(ckpt["model_state"])  # strict
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    opt.load_state_dict(ckpt["optimizer_state"])
    sched = torch.optim.lr_scheduler.StepLR(opt, args.step_lr_step_size, args.step_lr_gamma)
    sched.load_state_dict(ckpt["scheduler_state"])
    torch.set_rng_state(ckpt["torch_rng_state"])
    return ckpt, args, model, opt, sched


def cmd_run(out_dir, spec):
    d = pathlib.Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(spec.get("seed", 0))
    f = spec["input_size"]
    train = data({**spec, "batch": spec["n_train"]}, 1)
    val = data({**spec, "batch": spec["n_val"]}, 2)
    # A signal the model can learn: the label shifts the first feature of the valid steps.
    for x, lengths, labels in (train, val):
        valid = torch.arange(spec["steps"]).unsqueeze(0) >= (spec["steps"] - lengths).unsqueeze(1)
        x[:, :, 0] += valid.float() * labels.unsqueeze(1).float()
    write_split(d / "train.npz", *train)
    write_split(d / "val.npz", *val)
    names = [f"f{i}" for i in range(f)]
    json.dump({"feature_order": names, "counters": [], "histograms": names,
               "per_feature": {n: {"transform": "znorm", "mean": 0.0, "std": 1.0} for n in names}},
              open(d / "feature_stats.json", "w"))
    args = pipeline_args(
        train_npz=str(d / "train.npz"), val_npz=str(d / "val.npz"),
        feature_stats=str(d / "feature_stats.json"), output_dir=str(d),
        hidden_size=spec["hidden_size"], num_layers=spec["num_layers"],
        bidirectional=spec["bidirectional"], dropout=0.0, pooling=spec["pooling"],
        batch_size=spec["batch_size"], epochs=spec["planned_epochs"], lr=spec["lr"],
        step_lr_step_size=spec["step_size"], step_lr_gamma=spec["gamma"],
        grad_clip=spec.get("grad_clip"))
    model = model_from_args(args, f)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, args.step_lr_step_size, args.step_lr_gamma)
    best, losses = -1.0, []
    for epoch in range(spec["epochs"]):
        losses.append(epoch_loop(model, opt, sched, train, spec["orders"][epoch], args.grad_clip))
        model.eval()
        with torch.no_grad():
            pred = model(val[0], val[1]).argmax(1)
        f1 = macro_f1(val[2], pred)
        ckpt = {"epoch": epoch, "model_state": model.state_dict(),
                "optimizer_state": opt.state_dict(), "scheduler_state": sched.state_dict(),
                "best_val_f1": max(best, f1), "args": vars(args),
                "torch_rng_state": torch.get_rng_state()}
        torch.save(ckpt, d / "last.pt")
        if f1 > best:
            best = f1
            torch.save(ckpt, d / "best.pt")
    _, _, best_model, _, _ = restore(d / "best.pt", f)
    out = {"losses": losses, "best_probs": probabilities(best_model, val[0], val[1])}
    _, _, model, opt, sched = restore(d / "last.pt", f)
    out["resume_loss"] = epoch_loop(model, opt, sched, train, spec["orders"][spec["epochs"]],
                                    args.grad_clip)
    out["resume_lr"] = sched.get_last_lr()[0]
    return out


def cmd_resume(path, spec):
    train = read_split(spec["train_npz"])
    ckpt, args, model, opt, sched = restore(path, train[0].shape[2])
    loss = epoch_loop(model, opt, sched, train, spec["order"], args.grad_clip)
    return {"loss": loss, "lr": sched.get_last_lr()[0], "epoch": ckpt["epoch"],
            "best_val_f1": ckpt["best_val_f1"], "args": {k: v for k, v in ckpt["args"].items()},
            "keys": sorted(ckpt.keys()), "model_state_type": type(ckpt["model_state"]).__name__}


def f64hex(v):
    return struct.pack(">d", v).hex()


def describe(v):
    """A JSON description that tells Python's types apart (ints vs floats, tuple vs list)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": f64hex(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": bytes(v).hex()}
    if isinstance(v, torch.Tensor):
        c = v.detach().contiguous().reshape(-1)
        return {"tensor": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                "requires_grad": v.requires_grad,
                "hex": c.view(torch.uint8).numpy().tobytes().hex() if c.numel() else ""}
    if isinstance(v, torch.Size):
        return {"tuple": [describe(x) for x in v]}
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, tuple):
        return {"tuple": [describe(x) for x in v]}
    if isinstance(v, list):
        return [describe(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"set": sorted((describe(x) for x in v), key=json.dumps)}
    if isinstance(v, dict):
        kind = "ordered" if isinstance(v, OrderedDict) else "dict"
        return {kind: [[describe(k), describe(x)] for k, x in v.items()]}
    raise TypeError(f"cannot describe {type(v)}")


def zip_layout(path):
    """Per record: name (without the archive folder), local header flags and method, data
    offset mod 64, whether a data descriptor follows, the padding extra field's id."""
    import zipfile
    raw = open(path, "rb").read()
    out = []
    for info in zipfile.ZipFile(path).infolist():
        o = info.header_offset
        flags, method = struct.unpack("<HH", raw[o + 6:o + 10])
        name_len, extra_len = struct.unpack("<HH", raw[o + 26:o + 30])
        data = o + 30 + name_len + extra_len
        end = data + info.file_size
        out.append({"record": info.filename.split("/", 1)[1], "flags": flags, "method": method,
                    "align": data % 64, "descriptor": raw[end:end + 4] == b"PK\x07\x08",
                    "extra": raw[o + 30 + name_len:o + 32 + name_len].decode("latin1"),
                    "central_flags": info.flag_bits, "archive": info.filename.split("/")[0]})
    return out


def zoo():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7,
        "transposed": base.t(),
        "sliced": base[1:3, ::2],
        "expanded": torch.tensor([1.5, -2.5]).unsqueeze(0).expand(3, 2),
        "shared_view": base[2],
        "base": base,
        "f64": torch.tensor([math.pi, -1e300, 0.0], dtype=torch.float64),
        "f16": torch.tensor([1.0, -0.333, 65504.0, 6e-8], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -0.333, 3e38], dtype=torch.bfloat16),
        "i64": torch.tensor([0, -1, 2**62, -(2**63)], dtype=torch.int64),
        "i32": torch.tensor([7, -(2**31)], dtype=torch.int32),
        "i16": torch.tensor([-3, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(3.25),
        "param": nn.Parameter(torch.ones(2)),
        "ints": [0, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**31, 2**63, -(2**70)],
        "floats": [0.0, -0.0, 1.5, 1e-300, float("inf"), float("-inf")],
        "strs": ["", "héllo", "日本語", "a\nb"],
        "bytes": b"\x00\xff\x80ab", "bytearray": bytearray(b"xy"),
        "tuple": (1, "a", (2.5,), ()), "big_tuple": (1, 2, 3, 4, 5), "set": {3, 1, 2},
        "none": None, "bools": [True, False],
        "od": OrderedDict([("b", 1), ("a", 2)]), "int_keys": {0: "x", 7: "y"},
        "size": torch.Size([2, 3]), "device": torch.device("cuda", 1),
        "nested": {"list": [[1, [2.0]], {"k": (None,)}]},
        "path": pathlib.PurePosixPath("/data") / "x.npz",
    }


def main():
    cmd, rest = sys.argv[1], sys.argv[2:]
    inp = json.load(sys.stdin)
    if cmd == "make":
        # One spec, or a list of specs saved to DIR/0, DIR/1, ... (one torch start for all).
        if isinstance(inp, list):
            out = [cmd_make(f"{rest[0]}/{i}", spec) for i, spec in enumerate(inp)]
        else:
            out = cmd_make(rest[0], inp)
    elif cmd == "run":
        out = cmd_run(rest[0], inp)
    elif cmd == "resume":
        out = cmd_resume(rest[0], inp)
    elif cmd == "load":
        # Each file as the pipeline's resume and evaluate.py load it: weights_only=True,
        # the model strict, AdamW and StepLR from their states.
        out = []
        for path in rest:
            ckpt, args, model, opt, sched = restore(path, inp["input_size"])
            out.append({"epoch": ckpt["epoch"], "best_val_f1": ckpt["best_val_f1"],
                        "lr": opt.param_groups[0]["lr"], "last_epoch": sched.last_epoch,
                        "steps": sorted({s["step"].item() for s in opt.state.values()}),
                        "pooling": args.pooling, "n_params": len(list(model.parameters()))})
    elif cmd == "check":
        out = cmd_check(rest[0], inp, trusted="--trusted" in rest)
    elif cmd == "dump":
        if "--mmap" in rest:
            # torch's loader that computes storage offsets from the zip layout it expects
            # (miniz's), with its debug check that each computed offset is the real one.
            from torch.utils.serialization import config
            config.load.calculate_storage_offsets = True
        value = torch.load(rest[0], weights_only=True, mmap="--mmap" in rest)
        out = describe(value)
    elif cmd == "zoo":
        value = zoo()
        torch.save(value, rest[0], **({"pickle_protocol": inp["protocol"]} if "protocol" in inp else {}))
        value["path"] = str(value["path"])  # read back as a string
        out = describe(value)
    elif cmd == "simple":
        torch.save({"a": torch.tensor([1.0, 2.0, 3.0]), "empty": torch.zeros(0),
                    "b": torch.tensor([5, 6])}, rest[0])
        out = {}
    elif cmd == "layout":
        out = {path: zip_layout(path) for path in rest}
    elif cmd == "rng":
        out = []
        for seed in rest:
            torch.manual_seed(int(seed))
            out.append(torch.get_rng_state().tolist())
    elif cmd == "safetensors":
        buf = open(rest[0], "rb").read()
        (n,) = struct.unpack("<Q", buf[:8])
        header = json.loads(buf[8:8 + n])
        cfg = json.loads(header.pop("__metadata__")["model_config"])
        sd = OrderedDict()
        for k, info in header.items():
            b, e = info["data_offsets"]
            arr = np.frombuffer(buf[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
            sd[k] = torch.from_numpy(arr.copy())
        pooling = {"last-unmasked": "last", "mean-unmasked": "mean"}.get(cfg["pooling"], "last")
        model = LSTMClassifier(LSTMClassifierConfig(
            cfg["inputSize"], cfg["hiddenSize"], cfg["numLayers"], cfg["bidirectional"],
            cfg["dropout"], cfg["numClasses"], pooling))
        result = model.load_state_dict(sd, strict=True)
        out = {"missing": result.missing_keys, "unexpected": result.unexpected_keys,
               "probs": probabilities(model, torch.tensor(inp["x"], dtype=torch.float32),
                                      torch.tensor(inp["lengths"]))}
    else:
        raise SystemExit(f"unknown command {cmd}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
