//! The classifiers against smartcore's own predictions, and each fitted on separable data.

use super::*;
use candle_core::{DType, Device};
use smartcore::linalg::basic::matrix::DenseMatrix;

const GENRES: [usize; 3] = [0, 3, 7];
const N_LABELS: usize = 10;

/// Three overlapping Gaussian blobs in summary space, one per genre of [`GENRES`].
fn blobs(per_genre: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut rng = crate::rng::seeded(seed, 7);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (k, &g) in GENRES.iter().enumerate() {
        for _ in 0..per_genre {
            x.push(
                (0..SUMMARY_LEN)
                    .map(|j| {
                        let centre = if j % 3 == k { 1.5 } else { 0.0 };
                        centre + crate::rng::normal(&mut rng) + 100.0 * (j % 5) as f32
                    })
                    .collect(),
            );
            y.push(g);
        }
    }
    (x, y)
}

/// `fitted`'s classifier built as a model file would build it.
fn build(fitted: Fitted) -> (HandFeaturesConfig, Box<dyn Predict>, Vec<f32>, Vec<f32>) {
    let tensors: std::collections::HashMap<String, Tensor> = fitted
        .tensors
        .iter()
        .map(|(name, shape, values)| {
            let t = Tensor::from_vec(values.clone(), shape.as_slice(), &Device::Cpu).unwrap();
            (name.clone(), t)
        })
        .collect();
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let classifier: Box<dyn Predict> = match &fitted.config.classifier {
        Classifier::Svm(c) => Box::new(svm::Svm::new(c, vb.pp("svm")).unwrap()),
        Classifier::Logistic(_) => {
            Box::new(logistic::Logistic::new(N_LABELS, vb.pp("logistic")).unwrap())
        }
        Classifier::Knn(c) => Box::new(knn::Knn::new(c, vb.pp("knn")).unwrap()),
        Classifier::Forest(c) => Box::new(forest::Forest::new(c, vb.pp("forest")).unwrap()),
    };
    let get = |n: &str| fitted.tensors.iter().find(|t| t.0 == n).unwrap().2.clone();
    (
        fitted.config.clone(),
        classifier,
        get("scaler.mean"),
        get("scaler.std"),
    )
}

fn standardised(x: &[Vec<f32>], mean: &[f32], std: &[f32]) -> Vec<Vec<f32>> {
    x.iter()
        .map(|r| {
            let mut r = r.clone();
            standardise(&mut r, mean, std);
            r
        })
        .collect()
}

#[test]
fn every_classifier_separates_blobs_it_was_not_fitted_on() {
    let (x, y) = blobs(70, 1);
    let (tx, ty) = blobs(20, 2);
    for classifier in [
        Classifier::svm(),
        Classifier::logistic(),
        Classifier::knn(),
        Classifier::forest(),
    ] {
        let cfg = HandFeaturesConfig { classifier };
        let (_, c, mean, std) = build(fit(&cfg, &x, &y, N_LABELS, 3).unwrap());
        let probs = c.probs(&standardised(&tx, &mean, &std), N_LABELS).unwrap();
        let right = probs
            .iter()
            .zip(&ty)
            .filter(|(p, &g)| crate::distribution::argmax(p) == g)
            .count();
        assert!(
            right as f32 >= 0.9 * ty.len() as f32,
            "{cfg:?}: {right} of {}",
            ty.len()
        );
        for p in &probs {
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{cfg:?}: {p:?}");
            let absent: f32 = (0..N_LABELS)
                .filter(|g| !GENRES.contains(g))
                .map(|g| p[g])
                .sum();
            assert!(absent < 1e-3, "{cfg:?} gives genres it never saw {absent}");
        }
    }
}

#[test]
fn svm_decisions_are_smartcores() {
    let (x, y) = blobs(70, 4);
    let cfg = HandFeaturesConfig {
        classifier: Classifier::svm(),
    };
    let fitted = fit(&cfg, &x, &y, N_LABELS, 5).unwrap();
    let (config, _, mean, std) = build(fitted);
    let Classifier::Svm(svm_cfg) = &config.classifier else {
        unreachable!()
    };
    let xs: Vec<Vec<f64>> = standardised(&x, &mean, &std)
        .into_iter()
        .map(|r| r.into_iter().map(f64::from).collect())
        .collect();
    // Refit the first pair directly with smartcore: the same seed gives the same fit.
    let (a, b, n) = svm_cfg.pairs[0];
    let rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == a || y[r] == b).collect();
    let xp: Vec<Vec<f64>> = rows.iter().map(|&r| xs[r].clone()).collect();
    let yp: Vec<i32> = rows.iter().map(|&r| y[r] as i32).collect();
    let xm = DenseMatrix::from_2d_vec(&xp).unwrap();
    let params = svm::parameters(svm_cfg, 5);
    let reference = smartcore::svm::svc::SVC::fit(&xm, &yp, &params).unwrap();
    let want = reference.decision_function(&xm).unwrap();
    let fitted = fit(&cfg, &x, &y, N_LABELS, 5).unwrap();
    let t = |name: &str| {
        fitted
            .tensors
            .iter()
            .find(|t| t.0 == name)
            .unwrap()
            .2
            .clone()
    };
    let (support, weight, bias) = (t("svm.support"), t("svm.weight"), t("svm.bias"));
    for (row, want) in xp.iter().zip(want) {
        let x32: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        let sv = support.chunks(SUMMARY_LEN).zip(&weight).take(n);
        let got = svm::decision(sv, bias[0], svm_cfg.gamma, &x32);
        assert!(
            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{got} vs smartcore {want}"
        );
    }
}

#[test]
fn forest_votes_are_smartcores() {
    let (x, y) = blobs(30, 6);
    let cfg = HandFeaturesConfig {
        classifier: Classifier::forest(),
    };
    let (_, forest, mean, std) = build(fit(&cfg, &x, &y, N_LABELS, 9).unwrap());
    let xs = standardised(&x, &mean, &std);
    let x64: Vec<Vec<f64>> = xs
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let params =
        smartcore::ensemble::random_forest_classifier::RandomForestClassifierParameters::default()
            .with_n_trees(100)
            .with_seed(9);
    let y32: Vec<i32> = y.iter().map(|&g| g as i32).collect();
    let xm = DenseMatrix::from_2d_vec(&x64).unwrap();
    let rf = smartcore::ensemble::random_forest_classifier::RandomForestClassifier::fit(
        &xm, &y32, params,
    )
    .unwrap();
    let want = rf.predict(&xm).unwrap();
    let got = forest.probs(&xs, N_LABELS).unwrap();
    for (p, w) in got.iter().zip(want) {
        assert_eq!(crate::distribution::argmax(p) as i32, w);
    }
}

fn msg_of(r: crate::Result<Fitted>) -> String {
    r.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn bad_training_data_is_refused_with_a_reason() {
    let cfg = HandFeaturesConfig {
        classifier: Classifier::svm(),
    };
    let (x, y) = blobs(5, 1);
    assert!(msg_of(fit(&cfg, &x, &y, N_LABELS, 0)).contains("at least 127 windows"));
    let msg = msg_of;
    assert!(msg(fit(&cfg, &x, &y[..3], N_LABELS, 0)).contains("as many genres as windows"));
    assert!(msg(fit(&cfg, &[vec![0.0; 3]], &[0], N_LABELS, 0)).contains("3 values"));
    assert!(msg(fit(&cfg, &x, &vec![11; x.len()], N_LABELS, 0)).contains("genre 11"));
    let mut nan = x.clone();
    nan[2][5] = f32::NAN;
    assert!(msg(fit(&cfg, &nan, &y, N_LABELS, 0)).contains("not finite"));
}
