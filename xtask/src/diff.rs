//! How far apart two outputs are: the largest absolute difference, the one figure every
//! agreement check in xtask (bench, parity) reports and holds to a tolerance.

use candle_core::Tensor;

/// max |a − b| over the pairs of `a` and `b` (0 for none). A NaN pair is passed over, as
/// `f32::max` does; checks that must fail on NaN test the inputs.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    max_abs_diff_of(a.iter().zip(b))
}

/// max |a − b| over the given pairs.
pub fn max_abs_diff_of<'a>(pairs: impl IntoIterator<Item = (&'a f32, &'a f32)>) -> f32 {
    pairs
        .into_iter()
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// max |a − b| over two tensors of one shape.
pub fn max_abs_diff_tensors(a: &Tensor, b: &Tensor) -> candle_core::Result<f32> {
    (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_gap_either_way() {
        assert_eq!(max_abs_diff(&[1.0, 2.0, 3.0], &[1.5, 0.0, 3.0]), 2.0);
        assert_eq!(max_abs_diff(&[], &[]), 0.0);
        let within: Vec<(&f32, &f32)> = [(&1.0, &4.0), (&2.0, &2.5)].into();
        assert_eq!(max_abs_diff_of(within.into_iter().skip(1)), 0.5);
        let dev = candle_core::Device::Cpu;
        let a = Tensor::new(&[[1f32, -2.0], [0.0, 5.0]], &dev).unwrap();
        let b = Tensor::new(&[[1f32, 1.0], [0.5, 5.0]], &dev).unwrap();
        assert_eq!(max_abs_diff_tensors(&a, &b).unwrap(), 3.0);
    }
}
