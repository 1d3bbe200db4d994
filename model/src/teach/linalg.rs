//! The one linear solve the taught decision needs: a symmetric positive-definite system
//! `A X = B` (the kernel matrix plus the ridge penalty) by Cholesky, in f64 so a wide
//! kernel's near-singular Gram matrix stays solvable at small penalties.

/// Solves `a x = b` in place of `b` for symmetric positive-definite `a` (`n × n`,
/// row-major, overwritten by its Cholesky factor); `b` is `n × m`, row-major. `None` when
/// `a` is not positive definite.
pub fn cholesky_solve(a: &mut [f64], n: usize, b: &mut [f64], m: usize) -> Option<()> {
    debug_assert_eq!(a.len(), n * n);
    debug_assert_eq!(b.len(), n * m);
    // Lower factor, row by row: a[i][j] = (a[i][j] − L[i][..j]·L[j][..j]) / L[j][j].
    for i in 0..n {
        for j in 0..=i {
            let (head, tail) = a.split_at_mut(i * n);
            let row_i = &tail[..n];
            let row_j = if j == i {
                row_i
            } else {
                &head[j * n..j * n + n]
            };
            let dot: f64 = row_i[..j].iter().zip(&row_j[..j]).map(|(x, y)| x * y).sum();
            let v = tail[j] - dot;
            if j == i {
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                tail[i] = v.sqrt();
            } else {
                tail[j] = v / head[j * n + j];
            }
        }
    }
    // Forward: L y = b.
    for i in 0..n {
        for j in 0..i {
            let l = a[i * n + j];
            if l != 0.0 {
                let (done, rest) = b.split_at_mut(i * m);
                for (x, y) in rest[..m].iter_mut().zip(&done[j * m..j * m + m]) {
                    *x -= l * y;
                }
            }
        }
        let d = a[i * n + i];
        b[i * m..i * m + m].iter_mut().for_each(|x| *x /= d);
    }
    // Back: Lᵀ x = y.
    for i in (0..n).rev() {
        let d = a[i * n + i];
        b[i * m..i * m + m].iter_mut().for_each(|x| *x /= d);
        for j in 0..i {
            let l = a[i * n + j];
            if l != 0.0 {
                let (head, rest) = b.split_at_mut(i * m);
                for (x, y) in head[j * m..j * m + m].iter_mut().zip(&rest[..m]) {
                    *x -= l * y;
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_known_system_and_refuses_an_indefinite_one() {
        // A = M Mᵀ + I for a fixed M; x known, b = A x.
        let n = 5;
        let m_: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m_[i * n + k] * m_[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x: Vec<f64> = (0..n * 2).map(|i| i as f64 - 3.5).collect();
        let mut b = vec![0.0; n * 2];
        for i in 0..n {
            for c in 0..2 {
                b[i * 2 + c] = (0..n).map(|k| a[i * n + k] * x[k * 2 + c]).sum();
            }
        }
        cholesky_solve(&mut a, n, &mut b, 2).unwrap();
        for (got, want) in b.iter().zip(&x) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        let mut bad = vec![1.0, 2.0, 2.0, 1.0];
        assert!(cholesky_solve(&mut bad, 2, &mut [1.0, 1.0], 1).is_none());
    }
}
