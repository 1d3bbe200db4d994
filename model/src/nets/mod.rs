//! The networks. Every one maps a batch of normalised log-mel windows
//! `[batch, n_mels, frames]` to genre logits `[batch, labels]` (each implements
//! [`GenreNet`](crate::net::GenreNet)); some also give logits of a wider, multi-label
//! style vocabulary (the card's `styles`).

mod conv_same;
mod crnn;
mod dropout;
pub mod efficientat;
mod linear_head;
pub mod musicnn;
mod seed_128chunk;
mod seed_2block;
mod seed_4block;
mod seed_cnn;
mod seed_cnn_fused;

pub use conv_same::ConvSame;
pub use crnn::{Crnn, CrnnConfig};
pub use dropout::SeededDropout;
pub use linear_head::LinearHead;
pub use seed_128chunk::{Seed128Chunk, Seed128ChunkConfig};
pub use seed_2block::{Seed2Block, Seed2BlockConfig};
pub use seed_4block::{Seed4Block, Seed4BlockConfig};
pub use seed_cnn::{SeedCnn, SeedCnnConfig};
