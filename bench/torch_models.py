"""PyTorch versions of the project's networks, loading the very same weight files.

Used by `bench/reference.py` (the reference side of `cargo xtask bench`); nothing in the
project's build or tests imports this.

- `SeedCnn`: this project's seed CNN (`model/weights/seed_cnn.safetensors`, the first
  default, kept for comparison; written by candle with candle's names and
  `[out, in, kh, kw]` layouts, which are PyTorch's too). The embedded default is
  EfficientAT mn04 with a zero-shot genre decision, timed through `EfficientAt` below.
- `Musicnn`: musicnn (Pons & Serra) as `upstream/models.py` builds it, from the TF1
  checkpoint converted to safetensors (`../shared/models/musicnn/*_musicnn.safetensors`,
  TF names and layouts: conv kernels `[kh, kw, in, out]`, dense kernels `[in, out]`).
- `EfficientAt`, `EfficientAtMel`: EfficientAT's mn04 and its `AugmentMelSTFT` front end,
  loading `model/weights/efficientat/mn04_as.safetensors`.
"""

import torch
import torch.nn.functional as F
from safetensors.torch import load_file


class SeedCnn(torch.nn.Module):
    """conv3x3 (same) -> batch norm -> ReLU -> 2x2 max-pool, per block; global mean and
    max pooling, concatenated as [mean, max]; linear head. Dropout is off in eval."""

    def __init__(self, path):
        super().__init__()
        t = load_file(path)
        n_blocks = len({k.split(".")[1] for k in t if k.startswith("blocks.")})
        self.convs = torch.nn.ModuleList()
        self.bns = torch.nn.ModuleList()
        for i in range(n_blocks):
            w = t[f"blocks.{i}.conv.weight"]
            conv = torch.nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(t[f"blocks.{i}.conv.bias"])
            bn = torch.nn.BatchNorm2d(w.shape[0], eps=1e-5)
            bn.weight.data.copy_(t[f"blocks.{i}.bn.weight"])
            bn.bias.data.copy_(t[f"blocks.{i}.bn.bias"])
            bn.running_mean.copy_(t[f"blocks.{i}.bn.running_mean"])
            bn.running_var.copy_(t[f"blocks.{i}.bn.running_var"])
            self.convs.append(conv)
            self.bns.append(bn)
        hw = t["head.weight"]
        self.head = torch.nn.Linear(hw.shape[1], hw.shape[0])
        self.head.weight.data.copy_(hw)
        self.head.bias.data.copy_(t["head.bias"])
        self.eval()

    def forward(self, x):  # x: [B, n_mels, frames]
        x = x.unsqueeze(1)
        for conv, bn in zip(self.convs, self.bns):
            x = F.max_pool2d(F.relu(bn(conv(x))), 2)
        x = x.flatten(2)
        return self.head(torch.cat([x.mean(2), x.amax(2)], 1))


def _tf_bn(t, name, eps=1e-3):
    """TF1 batch norm (inference) as (scale, shift): y = x * scale + shift."""
    gamma, beta = t[f"{name}/gamma"], t[f"{name}/beta"]
    mean, var = t[f"{name}/moving_mean"], t[f"{name}/moving_variance"]
    scale = gamma / torch.sqrt(var + eps)
    return scale, beta - mean * scale


def _conv_w(t, name):
    """TF `[kh, kw, in, out]` -> PyTorch `[out, in, kh, kw]`."""
    return t[f"{name}/kernel"].permute(3, 2, 0, 1).contiguous(), t[f"{name}/bias"]


class Musicnn(torch.nn.Module):
    """musicnn as `build_musicnn` in upstream/models.py ('7774timbraltemporal', 64 mid-end
    filters, 200 back-end units), inference mode (dropout off, batch norms use their moving
    statistics, epsilon 0.001). Layers are numbered in TF's creation order:

    batch_normalization     input (one channel)
    conv2d   / bn_1         timbral [7, 38] x 204, valid, on the input padded 3+3 in time
    conv2d_1 / bn_2         timbral [7, 67] x 204, likewise
    conv2d_2 / bn_3         temporal [128, 1] x 51, 'same'
    conv2d_3 / bn_4         temporal [64, 1] x 51, 'same'
    conv2d_4 / bn_5         temporal [32, 1] x 51, 'same'
    conv2d_5..7 / bn_6..8   mid end [7, C] x 64, time padded 3+3; 2nd and 3rd residual
    bn_9                    on the 1506 pooled features
    dense / bn_10           200 units, ReLU then BN (the "penultimate" embedding)
    dense_1                 50 logits

    Each block is conv -> ReLU -> BN (BN after the activation), then max over frequency.

    `temporal_mean_freq`: models.py feeds the temporal convolutions the (normalised) input
    itself, a [k, 1] kernel sliding along time in every mel band, and only then takes the
    max over frequency. Some descriptions of musicnn average over frequency first; setting
    this builds that variant instead. TensorFlow's reference logits decide for models.py:
    as written it reproduces them to ~4e-6, the frequency-average variant is off by 7-11
    (`python bench/reference.py check-musicnn ../shared/models/musicnn`).
    """

    def __init__(self, path, temporal_mean_freq=False):
        super().__init__()
        t = load_file(path)
        self.temporal_mean_freq = temporal_mean_freq
        self.bn_in = _tf_bn(t, "batch_normalization")
        self.timbral = [(_conv_w(t, f"conv2d{s}"), _tf_bn(t, f"batch_normalization_{b}")) for s, b in [("", 1), ("_1", 2)]]
        self.temporal = [(_conv_w(t, f"conv2d_{c}"), _tf_bn(t, f"batch_normalization_{c + 1}")) for c in (2, 3, 4)]
        self.mid = [(_conv_w(t, f"conv2d_{c}"), _tf_bn(t, f"batch_normalization_{c + 1}")) for c in (5, 6, 7)]
        self.bn_pool = _tf_bn(t, "batch_normalization_9")
        self.dense = (t["dense/kernel"].t().contiguous(), t["dense/bias"])
        self.bn_dense = _tf_bn(t, "batch_normalization_10")
        self.out = (t["dense_1/kernel"].t().contiguous(), t["dense_1/bias"])
        self.eval()

    @staticmethod
    def _bn(x, sb, dim):
        s, b = sb
        shape = [1] * x.dim()
        shape[dim] = -1
        return x * s.view(shape) + b.view(shape)

    def forward(self, x):  # x: [B, 187 frames, 96 mels] (TF's NHWC with H = time, W = mel)
        x = x.unsqueeze(1)  # NCHW: [B, 1, T, F]
        x = self._bn(x, self.bn_in, 1)
        feats = []
        # Timbral: pad time by 3 each side, valid conv over [7, k_f], max over frequency.
        xp = F.pad(x, (0, 0, 3, 3))
        for (w, b), bn in self.timbral:
            y = self._bn(F.relu(F.conv2d(xp, w, b)), bn, 1)  # [B, 204, T, F']
            feats.append(y.amax(3))  # [B, 204, T]
        # Temporal: TF 'same' with an even kernel k pads (k/2 - 1) before and k/2 after.
        xt = x.mean(3, keepdim=True) if self.temporal_mean_freq else x
        for (w, b), bn in self.temporal:
            k = w.shape[2]
            y = F.conv2d(F.pad(xt, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2)), w, b)
            feats.append(self._bn(F.relu(y), bn, 1).amax(3))  # [B, 51, T]
        front = torch.cat(feats, 1)  # [B, 561, T]
        # Mid end: [7, C] convs over (time, all channels) == conv1d with kernel 7, pad 3.
        outs = [front]
        prev = None
        for i, ((w, b), bn) in enumerate(self.mid):
            inp = front if i == 0 else prev
            y = F.conv1d(inp, w.squeeze(1).permute(0, 2, 1), b, padding=3)  # w: [out, 1, 7, C] -> [out, C, 7]
            y = self._bn(F.relu(y), bn, 1)
            if i > 0:
                y = y + prev
            outs.append(y)
            prev = y
        feat = torch.cat(outs, 1)  # [B, 753, T]
        # Back end: TF concatenates [max, mean] on a new last axis and flattens, so the
        # 1506 features interleave per channel: c0_max, c0_mean, c1_max, c1_mean, ...
        pooled = torch.stack([feat.amax(2), feat.mean(2)], 2).flatten(1)
        pooled = self._bn(pooled, self.bn_pool, 1)
        h = self._bn(F.relu(F.linear(pooled, *self.dense)), self.bn_dense, 1)
        return F.linear(h, *self.out)


# --- EfficientAT ---------------------------------------------------------------------------
# `EfficientAt` and `EfficientAtMel` rebuild EfficientAT's mn04_as and its front end (MIT,
# Schmid, Koutini & Widmer, ICASSP 2023) without torchvision or torchaudio (neither installs
# beside this torch): the module tree uses the checkpoint's own names, so
# `model/weights/efficientat/mn04_as.safetensors` loads strictly, and the Kaldi mel banks
# are computed as torchaudio's `get_mel_banks` computes them (f32 tensors).


def _make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _conv_bn_act(c_in, c_out, k, stride=1, groups=1, act=torch.nn.Hardswish):
    """torchvision's ConvNormActivation: conv (no bias) `.0`, batch norm `.1`, activation."""
    layers = [
        torch.nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, groups=groups, bias=False),
        torch.nn.BatchNorm2d(c_out, eps=0.001, momentum=0.01),
    ]
    if act is not None:
        layers.append(act())
    return torch.nn.Sequential(*layers)


class _SqueezeExcitation(torch.nn.Module):
    """EfficientAT's channel SE: mean over (f, t), fc1, ReLU, fc2, sigmoid."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = torch.nn.Linear(c, squeeze)
        self.fc2 = torch.nn.Linear(squeeze, c)

    def forward(self, x):
        s = x.mean((2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s[:, :, None, None]


class _ConcurrentSE(torch.nn.Module):
    """`ConcurrentSEBlock` with channel SE only: max over one tensor is that tensor."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.conc_se_layers = torch.nn.ModuleList([_SqueezeExcitation(c, squeeze)])

    def forward(self, x):
        return self.conc_se_layers[0](x)


class _InvertedResidual(torch.nn.Module):
    def __init__(self, c_in, k, c_exp, c_out, se, act, stride):
        super().__init__()
        layers = []
        if c_exp != c_in:
            layers.append(_conv_bn_act(c_in, c_exp, 1, act=act))
        layers.append(_conv_bn_act(c_exp, c_exp, k, stride, groups=c_exp, act=act))
        if se:
            layers.append(_ConcurrentSE(c_exp, _make_divisible(c_exp // 4)))
        layers.append(_conv_bn_act(c_exp, c_out, 1, act=None))
        self.block = torch.nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.block(x)
        return y + x if self.residual else y


class EfficientAt(torch.nn.Module):
    """`get_model(width_mult=0.4, strides=[2, 2, 2, 2], head_type="mlp", se_dims="c",
    se_agg="max", se_r=4)`, eval mode. forward: `[B, 128, frames]` -> (logits, embedding)."""

    # input, kernel, expanded, output, SE, activation, stride (MobileNetV3-Large)
    TABLE = [
        (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
        (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
        (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
        (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
        (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
        (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
        (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
        (160, 5, 960, 160, True, "HS", 1),
    ]

    def __init__(self, path, width=0.4, n_classes=527):
        super().__init__()
        ch = lambda c: _make_divisible(c * width)  # noqa: E731
        layers = [_conv_bn_act(1, ch(16), 3, 2)]
        for i, k, e, o, se, act, stride in self.TABLE:
            a = torch.nn.Hardswish if act == "HS" else torch.nn.ReLU
            layers.append(_InvertedResidual(ch(i), k, ch(e), ch(o), se, a, stride))
        layers.append(_conv_bn_act(ch(160), 6 * ch(160), 1))
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(1),
            torch.nn.Linear(6 * ch(160), ch(1280)),
            torch.nn.Hardswish(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(ch(1280), n_classes),
        )
        self.load_state_dict(load_file(path), strict=False)
        missing = set(self.state_dict()) - set(load_file(path)) - {
            k for k in self.state_dict() if k.endswith("num_batches_tracked")
        }
        if missing:
            raise ValueError(f"{path}: missing {sorted(missing)[:5]}")
        self.eval()

    def forward(self, x):
        x = self.features(x.unsqueeze(1))
        return self.classifier(x), x.mean((2, 3))


def kaldi_mel_banks(n_mels, n_fft, sr, fmin, fmax):
    """torchaudio.compliance.kaldi.get_mel_banks (no VTLN) plus EfficientAT's zero column
    for the Nyquist bin: [n_mels, n_fft // 2 + 1], in f32 as torchaudio computes it."""
    import math

    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    lo, hi = mel(fmin), mel(fmax)
    delta = (hi - lo) / (n_mels + 1)
    b = torch.arange(n_mels).unsqueeze(1)
    left, center, right = lo + b * delta, lo + (b + 1.0) * delta, lo + (b + 2.0) * delta
    m = (1127.0 * (1.0 + (sr / n_fft) * torch.arange(n_fft / 2) / 700.0).log()).unsqueeze(0)
    up, down = (m - left) / (center - left), (right - m) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return F.pad(banks, (0, 1))


class EfficientAtMel(torch.nn.Module):
    """`AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320)` in eval mode:
    pre-emphasis, torch.stft (n_fft 1024, symmetric Hann 800, centred, reflect), power,
    Kaldi banks (0-15 000 Hz), ln(S + 1e-5), (x + 4.5) / 5. The banks are computed once
    here (EfficientAT recomputes them per call; that is not the work being compared)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(800, periodic=False), persistent=False)
        self.register_buffer("pre", torch.as_tensor([[[-0.97, 1.0]]]), persistent=False)
        self.register_buffer("banks", kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0), persistent=False)

    def forward(self, x):  # x: [B, samples] at 32 kHz -> [B, 128, frames]
        x = F.conv1d(x.unsqueeze(1), self.pre).squeeze(1)
        x = torch.stft(x, 1024, hop_length=320, win_length=800, center=True, normalized=False,
                       window=self.window, return_complex=True)
        x = x.real ** 2 + x.imag ** 2
        return ((self.banks @ x + 1e-5).log() + 4.5) / 5.0
