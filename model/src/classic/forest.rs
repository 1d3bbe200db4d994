//! Random forest, fitted by smartcore (bootstrap samples, √d features tried per split,
//! Gini). Inference walks each tree here: smartcore keeps the trees private, but
//! serialises their nodes, and the walk is a few lines (`x[feature] ≤ threshold` goes to
//! the "true" child). The distribution is the trees' vote shares. `tests` checks the
//! walk against smartcore's own `predict`.
//!
//! Tensors, one entry per node of all trees in order: `feature`, `threshold`,
//! `true_child` and `false_child` (indices within the tree, −1 at a leaf) and `genre` (a
//! leaf's vote); the card lists the trees' node counts. Indices are stored as floats:
//! exact below 2²⁴.

use super::{FitOutput, Predict};
use crate::features::SUMMARY_LEN;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestConfig {
    pub trees: u16,
    /// Nodes of each fitted tree.
    pub nodes: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Node {
    feature: usize,
    threshold: f32,
    /// `None` at a leaf.
    children: Option<(usize, usize)>,
    genre: usize,
}

pub(super) struct Forest {
    nodes: Vec<usize>,
    /// One tensor per entry of [`NAMES`].
    columns: Vec<Tensor>,
}

const NAMES: [&str; 5] = ["feature", "threshold", "true_child", "false_child", "genre"];

impl Forest {
    pub fn new(cfg: &ForestConfig, vb: VarBuilder) -> Result<Self> {
        let n: usize = cfg.nodes.iter().sum();
        Ok(Self {
            nodes: cfg.nodes.clone(),
            columns: NAMES
                .iter()
                .map(|name| vb.get(n, name))
                .collect::<Result<_>>()?,
        })
    }

    /// Each tree's nodes, root first, checked: every index in range.
    fn trees(&self, n_labels: usize) -> Result<Vec<Vec<Node>>> {
        let cols = self
            .columns
            .iter()
            .map(|c| c.to_vec1::<f32>())
            .collect::<Result<Vec<_>>>()?;
        let mut trees = Vec::with_capacity(self.nodes.len());
        let mut at = 0;
        for &len in &self.nodes {
            let node = |i: usize| -> Result<Node> {
                let children = if cols[2][i] < 0.0 {
                    None
                } else {
                    Some((
                        super::label_index(cols[2][i], len, "forest child")?,
                        super::label_index(cols[3][i], len, "forest child")?,
                    ))
                };
                Ok(Node {
                    feature: super::label_index(cols[0][i], SUMMARY_LEN, "forest feature")?,
                    threshold: cols[1][i],
                    children,
                    genre: super::label_index(cols[4][i], n_labels, "forest genre")?,
                })
            };
            let tree = (at..at + len).map(node).collect::<Result<Vec<_>>>()?;
            trees.push(tree);
            at += len;
        }
        Ok(trees)
    }
}

impl Predict for Forest {
    fn probs(&self, xs: &[Vec<f32>], n_labels: usize) -> Result<Vec<Vec<f32>>> {
        let trees = self.trees(n_labels)?;
        Ok(xs
            .iter()
            .map(|x| {
                let mut p = vec![0.0f32; n_labels];
                for tree in &trees {
                    let mut node = tree[0];
                    // A fitted tree's children come after their parent, so the walk ends;
                    // the bound only keeps a corrupted file from looping.
                    for _ in 0..tree.len() {
                        match node.children {
                            None => break,
                            Some((t, f)) => {
                                node = tree[if x[node.feature] <= node.threshold {
                                    t
                                } else {
                                    f
                                }]
                            }
                        }
                    }
                    p[node.genre] += 1.0 / trees.len() as f32;
                }
                p
            })
            .collect())
    }
}

/// What smartcore serialises of a fitted tree's node.
#[derive(Deserialize)]
struct FittedNode {
    output: usize,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

#[derive(Deserialize)]
struct FittedTree {
    nodes: Vec<FittedNode>,
}

#[derive(Deserialize)]
struct FittedForest {
    trees: Vec<FittedTree>,
    classes: Vec<i32>,
}

/// The largest `f32` not above `t`: for any `f32` x, `x ≤ t` exactly when `x ≤` it, so
/// the stored threshold splits `f32` summaries as smartcore's `f64` one did.
fn f32_at_most(t: f64) -> f32 {
    let r = t as f32;
    if r as f64 > t {
        r.next_down()
    } else {
        r
    }
}

pub(super) fn fit(
    cfg: &ForestConfig,
    x: &[Vec<f64>],
    y: &[i32],
    seed: u64,
) -> crate::Result<FitOutput> {
    let xm = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(super::fit::failed)?;
    let params = RandomForestClassifierParameters::default()
        .with_n_trees(cfg.trees)
        .with_seed(seed);
    let rf = RandomForestClassifier::fit(&xm, &y.to_vec(), params).map_err(super::fit::failed)?;
    let f: FittedForest = super::fit::read_fitted(&rf)?;
    let mut cols: [Vec<f32>; 5] = Default::default();
    let mut nodes = Vec::with_capacity(f.trees.len());
    for tree in &f.trees {
        nodes.push(tree.nodes.len());
        for n in &tree.nodes {
            let leaf = n.true_child.is_none() || n.false_child.is_none();
            cols[0].push(if leaf { 0.0 } else { n.split_feature as f32 });
            cols[1].push(f32_at_most(n.split_value.unwrap_or(0.0)));
            cols[2].push(if leaf {
                -1.0
            } else {
                n.true_child.unwrap_or(0) as f32
            });
            cols[3].push(if leaf {
                -1.0
            } else {
                n.false_child.unwrap_or(0) as f32
            });
            cols[4].push(f.classes[n.output] as f32);
        }
    }
    let total = cols[0].len();
    Ok(FitOutput {
        classifier: super::Classifier::Forest(ForestConfig {
            nodes,
            ..cfg.clone()
        }),
        tensors: NAMES
            .iter()
            .zip(cols)
            .map(|(name, col)| (format!("forest.{name}"), vec![total], col))
            .collect(),
    })
}
