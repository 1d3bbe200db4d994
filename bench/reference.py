"""The Python reference side of `cargo xtask bench`: librosa and PyTorch doing what the
project does, timed the same way, in one long-lived process.

`cargo xtask bench` starts this once and sends it one JSON command per line on stdin; each
reply is one JSON line on the original stdout (everything else the libraries print goes to
stderr). Timing happens in here with `time.perf_counter` around the operation alone, with
the garbage collector paused, so neither Python's start-up and imports nor the pipe's round
trip is part of any figure; the Rust side times its own operation the same way and asks
for one sample at a time, alternating with its own, so machine noise hits both.

Threads: the parent sets OMP/MKL/OpenBLAS/Numba thread counts in the environment (and
removes OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which pin OpenBLAS to a slow kernel on some
machines); here torch.set_num_threads and threadpoolctl enforce the same count.

Run by hand for the musicnn or EfficientAT parity check alone:
    target/bench-venv/bin/python bench/reference.py check-musicnn ../shared/models/musicnn
    target/bench-venv/bin/python bench/reference.py check-efficientat model/weights/efficientat/mn04_as.safetensors ../shared/models/efficientat
"""

import gc
import glob
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from json_safe import json_safe  # noqa: E402 (beside this file, on the path above)


def _threads():
    return int(os.environ.get("BENCH_THREADS", "1"))


def _timed(fn, iters):
    """Seconds per call of `fn`, over `iters` calls."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) / iters
    finally:
        gc.enable()


def musicnn_patches(ref):
    """The reference files label `input_batch` [n, 187, 96] but hold each patch's bytes
    mel-major ([96][187]); TensorFlow was fed the right patches. -> [n, 187 frames, 96 mels]."""
    x = ref["input_batch"]
    return x.reshape(x.shape[0], 96, 187).transpose(1, 2).contiguous()


def check_musicnn(root):
    """max |logit - TF| over every reference patch, for MSD and MTT, for models.py's temporal
    branch and for the 'average over frequency first' reading of it."""
    import torch
    from safetensors.torch import load_file
    from torch_models import Musicnn

    refs = sorted(glob.glob(os.path.join(root, "reference", "*.ref.safetensors")))
    if not refs:
        return {"error": f"no reference files in {root}/reference"}
    out = {"patches": 0}
    for variant in ("MSD", "MTT"):
        weights = os.path.join(root, f"{variant}_musicnn.safetensors")
        for mean_freq in (False, True):
            m = Musicnn(weights, temporal_mean_freq=mean_freq)
            worst, n = 0.0, 0
            for f in refs:
                r = load_file(f)
                with torch.inference_mode():
                    y = m(musicnn_patches(r))
                worst = max(worst, (y - r[f"{variant}_musicnn_logits"]).abs().max().item())
                n += y.shape[0]
            out["patches"] = n
            out[f"{variant}_{'mean_over_freq' if mean_freq else 'models_py'}"] = worst
    return out


def check_efficientat(weights, root):
    """max |ours - EfficientAT's own PyTorch outputs| over every reference file (3 s and
    10 s): this module's front end (mel) and network (logits, embedding)."""
    import torch
    from safetensors.torch import load_file
    from torch_models import EfficientAt, EfficientAtMel

    refs = sorted(glob.glob(os.path.join(root, "reference", "*.ref.safetensors")))
    if not refs:
        return {"error": f"no reference files in {root}/reference"}
    net, front = EfficientAt(weights), EfficientAtMel()
    out = {"inputs": 0, "mel": 0.0, "logits": 0.0, "embedding": 0.0}
    for f in refs:
        r = load_file(f)
        for secs in ("3s", "10s"):
            with torch.inference_mode():
                mel = front(r[f"waveform_{secs}"])
                logits, emb = net(r[f"mel_{secs}"])
            for k, a, b in (("mel", mel, r[f"mel_{secs}"]), ("logits", logits, r[f"logits_{secs}"]),
                            ("embedding", emb, r[f"features_{secs}"])):
                out[k] = max(out[k], (a - b).abs().max().item())
            out["inputs"] += 1
    return out


class Server:
    def __init__(self):
        threads = _threads()
        import numpy as np
        import threadpoolctl

        self.pool_limits = threadpoolctl.threadpool_limits(threads)
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        import librosa
        import soundfile  # noqa: F401  (librosa.load's reader; fail early if missing)

        self.np, self.torch, self.librosa, self.threadpoolctl = np, torch, librosa, threadpoolctl
        self.state = {}

    def hello(self, _):
        import numpy, scipy, torch, librosa, threadpoolctl

        return {
            "python": sys.version.split()[0],
            "versions": {
                "librosa": librosa.__version__,
                "numpy": numpy.__version__,
                "scipy": scipy.__version__,
                "torch": torch.__version__,
            },
            "torch_threads": torch.get_num_threads(),
            "torch_mkldnn": bool(torch.backends.mkldnn.is_available()),
            "threadpools": [
                {k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "architecture", "threading_layer")}
                for p in threadpoolctl.threadpool_info()
            ],
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        }

    # --- mel front end -------------------------------------------------------------
    def _mel(self, y):
        S = self.librosa.feature.melspectrogram(y=y, sr=22050, n_fft=2048, hop_length=512, n_mels=128)
        return self.librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)

    def mel_setup(self, c):
        y = self.np.fromfile(c["samples"], dtype=self.np.float32)
        self.state["mel_y"] = y
        D = self._mel(y).astype(self.np.float32)  # [n_mels, frames]
        self.np.ascontiguousarray(D.T).tofile(c["out"])  # frame-major, like ours
        return {"frames": int(D.shape[1]), "n_mels": int(D.shape[0])}

    def mel(self, c):
        y = self.state["mel_y"]
        return {"seconds": _timed(lambda: self._mel(y), c["iters"])}

    # --- seed CNN ------------------------------------------------------------------
    def cnn_setup(self, c):
        from torch_models import SeedCnn

        torch = self.torch
        self.state["cnn"] = SeedCnn(c["weights"])
        n_mels, frames = c["n_mels"], c["frames"]
        x = torch.from_numpy(self.np.fromfile(c["input"], dtype=self.np.float32).reshape(-1, n_mels, frames))
        with torch.inference_mode():
            logits = self.state["cnn"](x)
        g = torch.Generator().manual_seed(0)
        self.state["cnn_x"] = {b: torch.randn(b, n_mels, frames, generator=g) for b in c["batches"]}
        return {"logits": logits.tolist()}

    def cnn(self, c):
        torch, net, x = self.torch, self.state["cnn"], self.state["cnn_x"][c["batch"]]

        def run():
            with torch.inference_mode():
                net(x)

        return {"seconds": _timed(run, c["iters"])}

    # --- end to end: librosa.load (resampling) -> mel -> windows -> torch ------------
    def _tag(self, path, seconds, hop_frames, window_frames, batch):
        np, torch = self.np, self.torch
        y, sr = self.librosa.load(path, sr=22050, mono=True, duration=seconds)  # soxr_hq
        D = self._mel(y)
        starts = range(0, D.shape[1] - window_frames + 1, hop_frames)
        W = np.stack([D[:, s : s + window_frames] for s in starts]).astype(np.float32)
        W = (W - W.mean(axis=(1, 2), keepdims=True)) / W.std(axis=(1, 2), keepdims=True)
        probs = []
        with torch.inference_mode():
            for i in range(0, len(W), batch):
                probs.append(torch.softmax(self.state["cnn"](torch.from_numpy(W[i : i + batch])), -1))
        return torch.cat(probs).mean(0), len(W)

    def tag(self, c):
        args = (c["path"], c["seconds"], c["hop_frames"], c["window_frames"], c["batch"])
        if c.get("check"):
            dist, n = self._tag(*args)
            return {"distribution": dist.tolist(), "windows": n}
        return {"seconds": _timed(lambda: self._tag(*args), c["iters"])}

    # --- musicnn -------------------------------------------------------------------
    def musicnn_setup(self, c):
        from torch_models import Musicnn

        torch, np = self.torch, self.np
        self.state["musicnn"] = Musicnn(c["weights"])
        # The parent's patches are mel-major [B, 96, 187] (its layout); ours is TF's [B, 187, 96].
        x = torch.from_numpy(np.fromfile(c["input"], dtype=np.float32).reshape(-1, 96, 187)).transpose(1, 2).contiguous()
        with torch.inference_mode():
            logits = self.state["musicnn"](x)
        g = torch.Generator().manual_seed(0)
        self.state["musicnn_x"] = {b: torch.rand(b, 187, 96, generator=g) * 3 for b in c["batches"]}
        out = {"logits": logits.tolist()}
        if c.get("reference_root") and os.path.isdir(os.path.join(c["reference_root"], "reference")):
            out["parity"] = check_musicnn(c["reference_root"])
        return out

    def musicnn(self, c):
        torch, net, x = self.torch, self.state["musicnn"], self.state["musicnn_x"][c["batch"]]

        def run():
            with torch.inference_mode():
                net(x)

        return {"seconds": _timed(run, c["iters"])}


    # --- EfficientAT ---------------------------------------------------------------------
    def efficientat_setup(self, c):
        """The network and front end; logits for the parent's windows ([B, 128, 300]) and its
        3-s waveform's mel, for the agreement checks; inputs for timing."""
        from torch_models import EfficientAt, EfficientAtMel

        torch, np = self.torch, self.np
        net, front = EfficientAt(c["weights"]), EfficientAtMel()
        x = torch.from_numpy(np.fromfile(c["windows"], dtype=np.float32).reshape(-1, 128, c["frames"]))
        wave = torch.from_numpy(np.fromfile(c["waveform"], dtype=np.float32))[None, :]
        with torch.inference_mode():
            logits, _ = net(x)
            mel = front(wave)
        self.state["efficientat"] = (net, front, wave)
        self.state["efficientat_x"] = {b: x[:1].repeat(b, 1, 1).contiguous() for b in c["batches"]}
        out = {"logits": logits.tolist(), "mel": mel[0].T.reshape(-1).tolist()}
        if c.get("reference_root") and os.path.isdir(os.path.join(c["reference_root"], "reference")):
            out["parity"] = check_efficientat(c["weights"], c["reference_root"])
        return out

    def efficientat_mel(self, c):
        torch, (_, front, wave) = self.torch, self.state["efficientat"]

        def run():
            with torch.inference_mode():
                front(wave)

        return {"seconds": _timed(run, c["iters"])}

    def efficientat(self, c):
        torch, (net, _, _) = self.torch, self.state["efficientat"]
        x = self.state["efficientat_x"][c["batch"]]

        def run():
            with torch.inference_mode():
                net(x)

        return {"seconds": _timed(run, c["iters"])}


def serve():
    # The protocol owns the original stdout; anything printed by libraries (C or Python)
    # goes to stderr instead.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        server = Server()
    except Exception as e:  # a missing package: tell the parent, which explains how to install
        proto.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        return 1
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        c = json.loads(line)
        try:
            reply = getattr(server, c["cmd"])(c)
        except Exception as e:
            reply = {"error": f"{c.get('cmd')}: {type(e).__name__}: {e}"}
        proto.write(json.dumps(json_safe(reply)) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check-musicnn":
        print(json.dumps(check_musicnn(sys.argv[2]), indent=1))
        sys.exit(0)
    if len(sys.argv) >= 4 and sys.argv[1] == "check-efficientat":
        print(json.dumps(check_efficientat(sys.argv[2], sys.argv[3]), indent=1))
        sys.exit(0)
    sys.exit(serve())
