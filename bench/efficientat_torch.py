"""PyTorch reference timing for EfficientAT mn04 (`mn04_as`), built by the authors' own code.

What it is: a stand-alone timer for the network forward pass of EfficientAT's mn04 (Schmid,
Koutini & Widmer, ICASSP 2023; MIT, see LICENSE-EfficientAT.md beside the upstream code) on
`[batch, 1, 128, frames]` log-mel input, in fp32 (eager) and bf16 (`torch.autocast`), under
`torch.inference_mode()`. It is the PyTorch side that the project's own EfficientAT numbers
are compared with; nothing in the build or tests imports it.

Why upstream code: the network is built by EfficientAT's `mn_model.get_model` (with its
`mn_block_types.py` and `mn_utils.py`), not by this project's port in `torch_models.py`, so
the figure is what the authors' implementation costs on the same PyTorch, with its own
module structure (e.g. `ConcurrentSEBlock` stacking one SE output and taking a max over it)
rather than our rewrite of it. `--check-port` confirms on the CPU that the two compute the
same function (fp32 logits within 1e-4), so the timings compare like with like.

How the GPU check calls it (the upstream .py files copied next to the binary, no shared/
folder, no network):
    python bench/efficientat_torch.py --device cuda \
        --upstream DIR_WITH_mn_model.py --weights model/weights/efficientat/mn04_as.safetensors \
        [--batches 1,64,256,1024] [--reps 20] [--channels-last] [--json out.json]
It prints one JSON object on stdout (or writes it to --json) and a short table on stderr:
    {"tool": "pytorch", "torch": ..., "cuda": ..., "device": ..., "frames": 300, ...,
     "rows": [{"batch", "mode", "median_ms", "min_ms", "windows_per_s", "reps", ...}
              or {"batch", "mode", "error"}, ...],
     "bf16_max_abs_logit_diff": ..., ...}
Exit status: 0 done (rows may still carry errors); 1 `--check-port` disagreed; 2 a setup
problem (CUDA asked for but unavailable, upstream code or weights missing or not loading).

Only torch is required: torchvision (upstream imports its ConvNormActivation) and the
safetensors package are used where they import, and otherwise replaced by small stand-ins
in this file (the JSON's "conv_norm_activation" and "safetensors_reader" say which ran).

The run is sized for well under 60 s on an H200 with the defaults: each row's repetitions
are cut to fit `--row-seconds` (never below 3), and once `--max-seconds` of timing is
spent the remaining rows are skipped with an error saying so. An error at one batch size
(out of memory, anything else) is recorded in that row and the run goes on.

Rehearsal on a CPU (the venv described in bench/requirements.txt):
    target/bench-venv/bin/python bench/efficientat_torch.py --device cpu --batches 1,4 \
        --reps 3 --upstream ../shared/models/efficientat/upstream \
        --weights model/weights/efficientat/mn04_as.safetensors --check-port
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import types
import warnings

from json_safe import json_safe

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------
# Loading the upstream code.
#
# Upstream lays its code out as src/models/mn/{model,block_types,utils,attention_pooling}.py
# and imports it as `models.mn.*` (plus `helpers.utils.NAME_TO_WIDTH`, which model.py
# imports but never uses). The project keeps only the four model files, flattened as
# mn_model.py, mn_block_types.py, mn_utils.py, mn_attention_pooling.py. `--upstream` may
# point at either layout: a checkout root with models/mn/ goes on sys.path as is; the
# flattened folder also goes on sys.path, and each file is registered under the module name
# upstream's imports use (the files themselves are executed unmodified).


def _shim_conv_norm_activation():
    """torchvision.ops.misc.ConvNormActivation, as torchvision (0.12-0.2x) defines it.

    Shimmed only where torchvision does not import (it is often absent beside a plain torch,
    or built for another torch): upstream uses nothing else from torchvision. Same module
    tree and defaults, so the checkpoint's names (`features.0.0.weight`, `.1.running_mean`,
    ...) load strictly: conv `.0` (bias only without a norm layer, padding
    (k - 1) // 2 * dilation), norm `.1`, activation `.2` (inplace=True)."""
    import torch

    class ConvNormActivation(torch.nn.Sequential):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                     groups=1, norm_layer=torch.nn.BatchNorm2d, activation_layer=torch.nn.ReLU,
                     dilation=1, inplace=True, bias=None, conv_layer=torch.nn.Conv2d):
            if padding is None:
                padding = (kernel_size - 1) // 2 * dilation
            if bias is None:
                bias = norm_layer is None
            layers = [conv_layer(in_channels, out_channels, kernel_size, stride, padding,
                                 dilation=dilation, groups=groups, bias=bias)]
            if norm_layer is not None:
                layers.append(norm_layer(out_channels))
            if activation_layer is not None:
                params = {} if inplace is None else {"inplace": inplace}
                layers.append(activation_layer(**params))
            super().__init__(*layers)
            self.out_channels = out_channels

    return ConvNormActivation


def _ensure_conv_norm_activation(force_shim):
    """Use torchvision's ConvNormActivation where it imports; otherwise register the shim as
    `torchvision.ops.misc` (only that module: nothing else of torchvision is provided)."""
    if not force_shim:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import torchvision
                from torchvision.ops.misc import ConvNormActivation  # noqa: F401
            return f"torchvision {torchvision.__version__}"
        except Exception as e:  # absent, or built for another torch
            reason = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    else:
        reason = "--shim-torchvision"
    for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc"):
        sys.modules.pop(name, None)
    tv, ops, misc = (types.ModuleType(n) for n in ("torchvision", "torchvision.ops", "torchvision.ops.misc"))
    tv.__path__, ops.__path__ = [], []  # packages, so the dotted import resolves
    misc.ConvNormActivation = _shim_conv_norm_activation()
    tv.ops, ops.misc = ops, misc
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.misc": misc})
    return f"shim ({reason})"


def _name_to_width(name):
    """helpers.utils.NAME_TO_WIDTH (imported by mn_model.py, unused by get_model): 'mn04' -> 0.4."""
    return {"mn01": 0.1, "mn02": 0.2, "mn04": 0.4, "mn05": 0.5, "mn06": 0.6, "mn10": 1.0,
            "mn20": 2.0, "mn30": 3.0, "mn40": 4.0}.get(name[:4])


def _package(name):
    if name in sys.modules:
        return sys.modules[name]
    m = types.ModuleType(name)
    m.__path__ = []
    sys.modules[name] = m
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(_package(parent), child, m)
    return m


def _load_as(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    setattr(_package(parent), child, mod)
    spec.loader.exec_module(mod)
    return mod


def load_upstream(upstream, force_shim=False):
    """-> (get_model, how ConvNormActivation was provided, which layout was found)."""
    upstream = os.path.abspath(upstream)
    cna = _ensure_conv_norm_activation(force_shim)
    try:
        import helpers.utils  # noqa: F401  (an upstream checkout on the path may have it)
    except Exception:
        for n in ("helpers", "helpers.utils"):
            sys.modules.pop(n, None)
        _package("helpers")
        hu = types.ModuleType("helpers.utils")
        hu.NAME_TO_WIDTH = _name_to_width
        sys.modules["helpers.utils"] = hu
        sys.modules["helpers"].utils = hu
    sys.path.insert(0, upstream)
    if os.path.isfile(os.path.join(upstream, "models", "mn", "model.py")):
        from models.mn.model import get_model

        return get_model, cna, "models/mn/model.py"
    flat = {"models.mn.utils": "mn_utils.py", "models.mn.attention_pooling": "mn_attention_pooling.py",
            "models.mn.block_types": "mn_block_types.py", "models.mn.model": "mn_model.py"}
    missing = [f for f in flat.values() if not os.path.isfile(os.path.join(upstream, f))]
    if missing:
        raise FileNotFoundError(f"{upstream}: no models/mn/model.py and missing {', '.join(missing)}")
    for n in ("models", "models.mn"):
        sys.modules.pop(n, None)  # a foreign `models` package on the path must not shadow these
    _package("models.mn")
    mods = {name: _load_as(name, os.path.join(upstream, f)) for name, f in flat.items()}  # dependency order
    return mods["models.mn.model"].get_model, cna, "mn_model.py (flattened)"


def _read_safetensors(path):
    """The safetensors format read with torch alone (8-byte little-endian header length, a
    JSON header of name -> dtype, shape, data_offsets, then the raw little-endian bytes).
    Used only where the `safetensors` package does not import: the GPU machine comes with
    torch preinstalled and no network, and may lack it."""
    import torch

    dtypes = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
              "U8": torch.uint8, "BOOL": torch.bool}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        t = torch.frombuffer(data, dtype=dtypes[info["dtype"]], count=(e - b) // dtypes[info["dtype"]].itemsize,
                             offset=b) if e > b else torch.empty(0, dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def _ensure_safetensors():
    """-> how safetensors files are read: the package where it imports; otherwise the reader
    above, registered as `safetensors.torch` (load_file only) so that torch_models.py, which
    --check-port imports, finds it too."""
    try:
        import safetensors
        from safetensors.torch import load_file  # noqa: F401

        return f"safetensors {getattr(safetensors, '__version__', '?')}"
    except Exception as e:
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    for n in ("safetensors", "safetensors.torch"):
        sys.modules.pop(n, None)
    st = _package("safetensors")
    stt = types.ModuleType("safetensors.torch")
    stt.load_file = lambda path, device="cpu": {k: v.to(device) for k, v in _read_safetensors(path).items()}
    sys.modules["safetensors.torch"] = stt
    st.torch = stt
    return f"built-in reader ({reason})"


def build_model(get_model, weights, input_dim_t):
    """get_model as EfficientAT's mn04_as was trained and as make_reference.py built it, then
    the safetensors weights under the checkpoint's own names, strictly.

    The safetensors file drops BatchNorm's `num_batches_tracked` counters (no effect outside
    training with momentum=None); those keys alone are filled from the fresh model's own
    zeros so that `strict=True` still rejects any other missing or unexpected name."""
    import torch
    from safetensors.torch import load_file

    model = get_model(num_classes=527, pretrained_name=None, width_mult=0.4, strides=[2, 2, 2, 2],
                      head_type="mlp", input_dim_f=128, input_dim_t=input_dim_t, se_dims="c",
                      se_agg="max", se_r=4)
    sd = load_file(weights)
    own = model.state_dict()
    filled = [k for k in own if k.endswith("num_batches_tracked") and k not in sd]
    for k in filled:
        sd[k] = own[k].clone()
    model.load_state_dict(sd, strict=True)
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    return model, {"tensors": len(sd) - len(filled), "num_batches_tracked_filled": len(filled), "params": n_params}


# ---------------------------------------------------------------------------------------


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _tf32_state(torch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                "float32_matmul_precision": torch.get_float32_matmul_precision()}


def make_input(torch, batch, frames, seed, device, channels_last):
    """Seeded standard-normal 'log-mel' [batch, 1, 128, frames], made on the CPU so every
    device and batch size sees the same numbers (row i is the same for every batch)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 128, frames, generator=g).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def forward_fn(torch, model, device, mode):
    if mode == "fp32":
        return lambda x: model(x)
    if mode == "bf16":
        def run(x):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                return model(x)
        return run
    raise ValueError(mode)


def time_row(torch, model, device, mode, x, args, row_budget_s):
    """Warm-up, then timed repetitions; -> dict with median/min ms and windows/s."""
    cuda = device.type == "cuda"
    run = forward_fn(torch, model, device, mode)

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(max(1, args.warmup)):
        run(x)
    sync()
    # One more call, timed, to size the repetitions to the row's budget.
    t0 = time.perf_counter()
    run(x)
    sync()
    probe = time.perf_counter() - t0
    reps = min(args.reps, max(3, int(row_budget_s / max(probe, 1e-6))))
    times = []
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(reps):
        sync()
        if cuda:
            start.record()
            run(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            run(x)
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    row = {"median_ms": med, "min_ms": min(times), "windows_per_s": x.shape[0] / (med / 1e3), "reps": reps}
    if cuda:
        row["peak_mem_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return row


def check_port(torch, model, weights, frames, seed):
    """fp32 on the CPU: upstream-built model vs torch_models.EfficientAt on the same input."""
    sys.path.insert(0, HERE)
    from torch_models import EfficientAt

    port = EfficientAt(weights)
    x = make_input(torch, 2, frames, seed, torch.device("cpu"), False)
    with torch.inference_mode():
        lu, eu = model(x)
        lp, ep = port(x[:, 0])
    return {"batch": 2, "max_abs_logit_diff": (lu - lp).abs().max().item(),
            "max_abs_embedding_diff": (eu - ep).abs().max().item(), "max_abs_logit": lp.abs().max().item()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True,
                   help="folder with EfficientAT's mn_model.py, mn_block_types.py, mn_utils.py, "
                        "mn_attention_pooling.py (or an upstream src/ with models/mn/)")
    p.add_argument("--weights", required=True, help="mn04_as.safetensors (the checkpoint's own names)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--batches", default="1,64,256,1024", help="comma-separated batch sizes")
    p.add_argument("--modes", default="fp32,bf16", help="comma-separated, of fp32 and bf16")
    p.add_argument("--frames", type=int, default=300, help="time frames per window (300 = 3 s at a 10 ms hop)")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions per row (at most; see --row-seconds)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before each row")
    p.add_argument("--row-seconds", type=float, default=3.0,
                   help="time budget per row: repetitions are cut to fit it, never below 3")
    p.add_argument("--max-seconds", type=float, default=40.0,
                   help="budget for all rows; rows after it is spent are skipped with an error")
    p.add_argument("--channels-last", action="store_true", help="model and input in channels_last")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--no-tf32", action="store_true",
                   help="fp32 on CUDA without TF32 (PyTorch's default lets cuDNN convs use TF32)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shim-torchvision", action="store_true",
                   help="use the built-in ConvNormActivation even where torchvision imports")
    p.add_argument("--check-port", action="store_true",
                   help="also compare fp32 logits with bench/torch_models.py's EfficientAt on the CPU "
                        "(exit 1 if they differ by 1e-4 or more)")
    p.add_argument("--json", default=None, help="write the JSON here instead of stdout")
    args = p.parse_args(argv)

    # stdout carries the JSON only: anything the libraries print goes to stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def fail(msg, code=2):
        print(f"efficientat_torch: {msg}", file=sys.stderr)
        return code

    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    except ValueError:
        return fail(f"bad --batches {args.batches!r}")
    if not batches or any(b < 1 for b in batches) or not modes or any(m not in ("fp32", "bf16") for m in modes):
        return fail("--batches needs positive integers and --modes fp32 and/or bf16")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        return fail(f"--device cuda but torch.cuda.is_available() is False (torch {torch.__version__}, "
                    f"built for CUDA {torch.version.cuda}); not falling back to the CPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    for what, path in (("--upstream", args.upstream), ("--weights", args.weights)):
        if not os.path.exists(path):
            return fail(f"{what} {path}: not found")

    t_setup = time.perf_counter()
    try:
        st_reader = _ensure_safetensors()
        get_model, cna, layout = load_upstream(args.upstream, args.shim_torchvision)
        model, loaded = build_model(get_model, args.weights, args.frames)
    except Exception as e:
        return fail(f"building the upstream model: {type(e).__name__}: {e}")

    result = {
        "tool": "pytorch",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else _cpu_name(),
        "model": "EfficientAT mn04_as via upstream get_model(width_mult=0.4, strides=[2,2,2,2], head_type='mlp', se_dims='c', se_agg='max', se_r=4, num_classes=527)",
        "upstream": os.path.abspath(args.upstream),
        "upstream_layout": layout,
        "conv_norm_activation": cna,
        "weights": args.weights,
        "safetensors_reader": st_reader,
        "loaded": loaded,
        "input": "seeded randn [batch, 1, 128, frames]",
        "frames": args.frames,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "channels_last": args.channels_last,
        "cudnn_benchmark": args.cudnn_benchmark,
        "warmup": args.warmup,
        "reps_max": args.reps,
        "row_seconds": args.row_seconds,
        "max_seconds": args.max_seconds,
        "rows": [],
    }

    exit_code = 0
    if args.check_port:
        try:
            result["port_check"] = check_port(torch, model, args.weights, args.frames, args.seed)
            result["port_check"]["ok"] = result["port_check"]["max_abs_logit_diff"] < 1e-4
            if not result["port_check"]["ok"]:
                exit_code = 1
        except Exception as e:
            result["port_check"] = {"error": f"{type(e).__name__}: {e}", "ok": False}
            exit_code = 1

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        if args.no_tf32:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.backends.cudnn.allow_tf32 = False
                torch.backends.cuda.matmul.allow_tf32 = False
        result["tf32"] = _tf32_state(torch)
        with torch.inference_mode():
            cpu_logits, _ = model(make_input(torch, 1, args.frames, args.seed, torch.device("cpu"), False))
    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)

    # bf16's error, and (on CUDA) fp32-on-device's, at batch 1.
    try:
        x1 = make_input(torch, 1, args.frames, args.seed, device, args.channels_last)
        with torch.inference_mode():
            ref = forward_fn(torch, model, device, "fp32")(x1)[0].float()
            bf = forward_fn(torch, model, device, "bf16")(x1)[0].float()
        result["fp32_max_abs_logit"] = ref.abs().max().item()
        result["bf16_max_abs_logit_diff"] = (bf - ref).abs().max().item()
        if device.type == "cuda":
            result["fp32_vs_cpu_max_abs_logit_diff"] = (ref.cpu() - cpu_logits).abs().max().item()
    except Exception as e:
        result["bf16_max_abs_logit_diff"] = None
        result["bf16_diff_error"] = f"{type(e).__name__}: {e}"
    result["setup_s"] = time.perf_counter() - t_setup

    t_rows = time.perf_counter()
    for b in batches:
        x = None
        for mode in modes:
            row = {"batch": b, "mode": mode}
            spent = time.perf_counter() - t_rows
            if spent >= args.max_seconds:
                row["error"] = f"skipped: --max-seconds {args.max_seconds:g} spent"
            else:
                try:
                    if x is None:
                        x = make_input(torch, b, args.frames, args.seed, device, args.channels_last)
                    with torch.inference_mode():
                        row.update(time_row(torch, model, device, mode, x, args,
                                            min(args.row_seconds, args.max_seconds - spent)))
                except Exception as e:  # out of memory, or anything else at this size: go on
                    row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:500]
                    x = None
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
            result["rows"].append(row)
            line = (f"{b:>6} {mode:>5}  " + (f"{row['median_ms']:9.3f} {row['min_ms']:9.3f} "
                                             f"{row['windows_per_s']:11.1f} {row['reps']:4d}"
                                             if "error" not in row else row["error"]))
            if len(result["rows"]) == 1:
                print(f"{'batch':>6} {'mode':>5}  {'median_ms':>9} {'min_ms':>9} {'windows/s':>11} {'reps':>4}",
                      file=sys.stderr)
            print(line, file=sys.stderr, flush=True)
        del x
        if device.type == "cuda":
            torch.cuda.empty_cache()
    result["rows_s"] = time.perf_counter() - t_rows

    summary = [f"device: {result['device']}; torch {result['torch']}; ConvNormActivation: {cna}",
               f"bf16 vs fp32 max |logit diff| (batch 1): {result.get('bf16_max_abs_logit_diff')}"
               f" (fp32 max |logit| {result.get('fp32_max_abs_logit')})"]
    if "fp32_vs_cpu_max_abs_logit_diff" in result:
        summary.append(f"fp32 on device vs CPU max |logit diff|: {result['fp32_vs_cpu_max_abs_logit_diff']}")
    if "port_check" in result:
        summary.append(f"port check (upstream vs torch_models.EfficientAt, fp32 CPU): {result['port_check']}")
    print("\n".join(summary), file=sys.stderr)

    text = json.dumps(json_safe(result), indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        with os.fdopen(out_fd, "w") as f:
            f.write(text + "\n")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
