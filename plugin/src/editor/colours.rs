//! One colour per label, taken from the label's name (not its position), so a genre keeps
//! its colour whatever model, label order or label count is loaded: well-known genres get
//! hand-picked colours that stay apart on a dark background, any other label a hue hashed
//! from its name.

use egui::Color32;

/// Hand-picked colours for common genre names (lower case, without a trailing " music").
const KNOWN: [(&str, Color32); 16] = [
    ("blues", Color32::from_rgb(0x4e, 0x79, 0xa7)),
    ("classical", Color32::from_rgb(0xf2, 0xe8, 0xcf)),
    ("country", Color32::from_rgb(0xe1, 0x8f, 0x3c)),
    ("disco", Color32::from_rgb(0xd6, 0x4f, 0xc8)),
    ("hiphop", Color32::from_rgb(0x59, 0xa1, 0x4f)),
    ("jazz", Color32::from_rgb(0xed, 0xc9, 0x48)),
    ("metal", Color32::from_rgb(0xe1, 0x45, 0x45)),
    ("pop", Color32::from_rgb(0xff, 0x9d, 0xa7)),
    ("reggae", Color32::from_rgb(0x2c, 0xc2, 0xa6)),
    ("rock", Color32::from_rgb(0x9c, 0x75, 0x5f)),
    ("electronic", Color32::from_rgb(0x76, 0xb7, 0xff)),
    ("folk", Color32::from_rgb(0xb8, 0xd6, 0x6a)),
    ("funk", Color32::from_rgb(0xff, 0xb0, 0x3b)),
    ("soul", Color32::from_rgb(0xa0, 0x7c, 0xd8)),
    ("latin", Color32::from_rgb(0xff, 0x70, 0x43)),
    ("house", Color32::from_rgb(0x4d, 0xd0, 0xe1)),
];

/// "Hip hop music" → "hiphop", "Rock" → "rock".
fn normalise(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let stem = lower.strip_suffix(" music").unwrap_or(&lower);
    stem.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// FNV-1a: a stable hash (std's is randomised per process, so colours would move).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

pub fn label_colour(name: &str) -> Color32 {
    let key = normalise(name);
    if let Some((_, c)) = KNOWN.iter().find(|(k, _)| *k == key) {
        return *c;
    }
    let hue = (fnv1a(&key) % 360) as f32 / 360.0;
    egui::ecolor::Hsva::new(hue, 0.55, 0.9, 1.0).into()
}

/// Grey for silence and "no genre yet".
pub const NONE: Color32 = Color32::from_gray(70);
