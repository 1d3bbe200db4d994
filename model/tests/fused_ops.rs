//! The fused ops' CPU twins (`model::fused_ops`) against candle's own ops doing the same
//! arithmetic step by step — grouped `conv2d`, broadcast adds, activations — and their
//! refusals of what they cannot compute. (`fused_ops_kernels.rs` holds the CUDA kernels'
//! source to these twins.)

mod support;

use candle_core::{DType, Device, Tensor};
use model::fused_ops::{bias_act, bias_residual, depthwise_bias_act, Act};
use model::nets::efficientat::hard_swish;
use support::max_abs_diff as max_diff;

/// candle's grouped convolution, bias and activation, op by op: the reference.
fn reference(x: &Tensor, w: &Tensor, bias: &Tensor, stride: usize, act: Act) -> Tensor {
    let (c_in, c_out, k) = (x.dim(1).unwrap(), w.dim(0).unwrap(), w.dim(2).unwrap());
    let y = x
        .conv2d(
            &w.reshape((c_out, 1, k, k)).unwrap(),
            (k - 1) / 2,
            stride,
            1,
            c_in,
        )
        .unwrap()
        .broadcast_add(&bias.reshape((1, c_out, 1, 1)).unwrap())
        .unwrap();
    match act {
        Act::Identity => y,
        Act::Relu => y.relu().unwrap(),
        Act::HardSwish => hard_swish(&y).unwrap(),
    }
}

#[test]
fn depthwise_equals_candles_grouped_conv_for_depthwise_and_one_channel_stems() {
    let dev = Device::Cpu;
    // (c_in, c_out, k, stride, h, w): depthwise at both strides and kernel sizes,
    // odd and even sizes, and a stem widening one channel to eight.
    for (c_in, c_out, k, stride, h, w) in [
        (6, 6, 3, 1, 9, 12),
        (6, 6, 3, 2, 9, 12),
        (5, 5, 5, 2, 16, 15),
        (4, 4, 5, 1, 7, 8),
        (1, 8, 3, 2, 12, 17),
        (3, 3, 3, 2, 2, 2),
    ] {
        let x = Tensor::randn(0f32, 1.0, (2, c_in, h, w), &dev).unwrap();
        let wt = Tensor::randn(0f32, 1.0, (c_out, k, k), &dev).unwrap();
        let bias = Tensor::randn(0f32, 1.0, c_out, &dev).unwrap();
        for act in [Act::Identity, Act::Relu, Act::HardSwish] {
            let got = depthwise_bias_act(&x, &wt, &bias, stride, act).unwrap();
            let want = reference(&x, &wt, &bias, stride, act);
            assert_eq!(
                got.dims(),
                want.dims(),
                "{c_in}→{c_out} k{k}/{stride} {h}×{w}"
            );
            let d = max_diff(&got, &want);
            assert!(
                d < 1e-5,
                "{c_in}→{c_out} k{k}/{stride} {h}×{w} {act:?}: {d}"
            );
        }
    }
}

#[test]
fn depthwise_refuses_what_it_cannot_compute_by_name() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 4, 8, 8), DType::F32, &dev).unwrap();
    let bias = Tensor::zeros(4, DType::F32, &dev).unwrap();
    let even = Tensor::zeros((4, 2, 2), DType::F32, &dev).unwrap();
    let e = depthwise_bias_act(&x, &even, &bias, 1, Act::Relu).unwrap_err();
    assert!(e.to_string().contains("k odd"), "{e}");
    let w = Tensor::zeros((6, 3, 3), DType::F32, &dev).unwrap();
    let e = depthwise_bias_act(&x, &w, &bias, 1, Act::Relu).unwrap_err();
    assert!(e.to_string().contains("6 output channels over 4"), "{e}");
    let w = Tensor::zeros((4, 3, 3), DType::F32, &dev).unwrap();
    let e =
        depthwise_bias_act(&x.to_dtype(DType::F64).unwrap(), &w, &bias, 1, Act::Relu).unwrap_err();
    assert!(e.to_string().contains("must be f32"), "{e}");
}

#[test]
fn bias_act_and_bias_residual_equal_candles_ops() {
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 2.0, (3, 5, 4, 7), &dev).unwrap();
    let r = Tensor::randn(0f32, 1.0, (3, 5, 4, 7), &dev).unwrap();
    let bias = Tensor::randn(0f32, 1.0, 5, &dev).unwrap();
    let shifted = x
        .broadcast_add(&bias.reshape((1, 5, 1, 1)).unwrap())
        .unwrap();
    for (act, want) in [
        (Act::Identity, shifted.clone()),
        (Act::Relu, shifted.relu().unwrap()),
        (Act::HardSwish, hard_swish(&shifted).unwrap()),
    ] {
        let d = max_diff(&bias_act(&x, &bias, act).unwrap(), &want);
        assert!(d < 1e-6, "{act:?}: {d}");
    }
    let d = max_diff(
        &bias_residual(&x, &bias, &r).unwrap(),
        &(shifted + &r).unwrap(),
    );
    assert!(d < 1e-6, "residual: {d}");
    // A strided view is made contiguous first, not read as if it were.
    let xt = x.transpose(2, 3).unwrap();
    let want = xt
        .broadcast_add(&bias.reshape((1, 5, 1, 1)).unwrap())
        .unwrap();
    let d = max_diff(&bias_act(&xt, &bias, Act::Identity).unwrap(), &want);
    assert!(d < 1e-6, "transposed: {d}");
}

#[test]
fn misshapen_biases_and_residuals_are_refused() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((2, 5, 3), DType::F32, &dev).unwrap();
    let bad = Tensor::zeros(4, DType::F32, &dev).unwrap();
    let e = bias_act(&x, &bad, Act::Relu).unwrap_err();
    assert!(e.to_string().contains("bias [4] must be [channels]"), "{e}");
    let bias = Tensor::zeros(5, DType::F32, &dev).unwrap();
    let r = Tensor::zeros((2, 5, 4), DType::F32, &dev).unwrap();
    let e = bias_residual(&x, &bias, &r).unwrap_err();
    assert!(e.to_string().contains("residual [2, 5, 4]"), "{e}");
}
