//! The network's shape: MobileNetV3-Large's block table (`_mobilenet_v3_conf` in
//! `mn_model.py`) at a width multiplier, channels rounded as `make_divisible` rounds them.

use serde::{Deserialize, Serialize};

/// What `get_model(width_mult, strides=[2, 2, 2, 2], head_type="mlp", se_dims="c",
/// se_agg="max", se_r)` builds. Only channel squeeze-excitation is ported (the published
/// AudioSet models use it; frequency/time SE would tie the net to one input size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MnConfig {
    pub width_mult: f32,
    pub num_classes: usize,
    /// Squeeze-excitation bottleneck: `make_divisible(channels / se_r, 8)`.
    pub se_r: usize,
}

impl MnConfig {
    /// `mn04_as`: width 0.4, AudioSet's 527 classes.
    pub fn mn04_as() -> Self {
        Self {
            width_mult: 0.4,
            num_classes: 527,
            se_r: 4,
        }
    }

    /// The 15 inverted-residual blocks, in order.
    pub fn blocks(&self) -> Vec<BlockConfig> {
        use Activation::{HardSwish as HS, Relu as RE};
        // (input, kernel, expanded, output, squeeze-excitation, activation, stride), as in
        // MobileNetV3-Large (Howard et al. 2019, table 1) before the width multiplier.
        #[rustfmt::skip]
        let table = [
            (16, 3, 16, 16, false, RE, 1),
            (16, 3, 64, 24, false, RE, 2),
            (24, 3, 72, 24, false, RE, 1),
            (24, 5, 72, 40, true, RE, 2),
            (40, 5, 120, 40, true, RE, 1),
            (40, 5, 120, 40, true, RE, 1),
            (40, 3, 240, 80, false, HS, 2),
            (80, 3, 200, 80, false, HS, 1),
            (80, 3, 184, 80, false, HS, 1),
            (80, 3, 184, 80, false, HS, 1),
            (80, 3, 480, 112, true, HS, 1),
            (112, 3, 672, 112, true, HS, 1),
            (112, 5, 672, 160, true, HS, 2),
            (160, 5, 960, 160, true, HS, 1),
            (160, 5, 960, 160, true, HS, 1),
        ];
        table
            .iter()
            .map(|&(i, k, e, o, se, act, stride)| BlockConfig {
                input: self.channels(i),
                kernel: k,
                expanded: self.channels(e),
                output: self.channels(o),
                se: se.then(|| make_divisible((self.channels(e) / self.se_r) as f32, 8)),
                activation: act,
                stride,
            })
            .collect()
    }

    /// The first conv's output channels (the first block's input).
    pub fn stem_channels(&self) -> usize {
        self.channels(16)
    }

    /// The last 1×1 conv's output: the pooled embedding's size (6× the last block's).
    pub fn embedding_dim(&self) -> usize {
        6 * self.channels(160)
    }

    /// The classifier's hidden layer (`last_channel`).
    pub fn hidden_dim(&self) -> usize {
        self.channels(1280)
    }

    fn channels(&self, c: usize) -> usize {
        make_divisible(c as f32 * self.width_mult, 8)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    HardSwish,
}

/// One inverted-residual block (`InvertedResidualConfig`), channels already scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockConfig {
    pub input: usize,
    pub kernel: usize,
    pub expanded: usize,
    pub output: usize,
    /// The squeeze-excitation bottleneck width, where the block has one.
    pub se: Option<usize>,
    pub activation: Activation,
    pub stride: usize,
}

impl BlockConfig {
    /// `use_res_connect`.
    pub fn residual(&self) -> bool {
        self.stride == 1 && self.input == self.output
    }
    /// The 1×1 expansion exists only where it changes the width.
    pub fn expands(&self) -> bool {
        self.expanded != self.input
    }
}

/// TF's `make_divisible`: the nearest multiple of `divisor`, at least `divisor`, never
/// more than 10 % below `v`.
pub fn make_divisible(v: f32, divisor: usize) -> usize {
    let d = divisor as f32;
    let mut new_v = divisor.max(((v + d / 2.0) as usize) / divisor * divisor);
    if (new_v as f32) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mn04_widths_are_the_checkpoints() {
        let c = MnConfig::mn04_as();
        let b = c.blocks();
        assert_eq!(c.stem_channels(), 8);
        assert_eq!((b[1].expanded, b[1].output), (24, 16));
        assert_eq!((b[3].expanded, b[3].se), (32, Some(8)));
        assert_eq!((b[11].expanded, b[11].se), (272, Some(72)));
        assert_eq!(b[14].output, 64);
        assert_eq!((c.embedding_dim(), c.hidden_dim()), (384, 512));
        assert!(!b[0].expands() && b[0].residual() && !b[1].residual());
    }
}
