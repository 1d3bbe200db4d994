//! AudioSet's 527 class names in the network's output order (the AudioSet ontology,
//! Gemmeke et al. 2017, CC BY-SA 4.0), and which of them this project reads.

use std::ops::Range;

/// `index,mid,display_name` per class, as AudioSet publishes it.
const CSV: &str = include_str!("../../../weights/efficientat/audioset_class_labels_indices.csv");

/// The AudioSet class carrying each GTZAN genre's name, in [`crate::GENRES`] order:
/// Blues, Classical music, Country, Disco, Hip hop music, Jazz, Heavy metal, Pop music,
/// Reggae, Rock music.
pub const GTZAN_CLASSES: [usize; 10] = [251, 237, 229, 236, 217, 235, 220, 216, 228, 219];

/// The ontology's music-genre classes, "Pop music" (216) to "Independent music" (265):
/// the style vocabulary beyond the ten.
pub const STYLE_CLASSES: Range<usize> = 216..266;

/// The 527 display names, index order.
pub fn audioset_labels() -> Vec<String> {
    CSV.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // The name is the third field and may itself contain commas (quoted).
            let name = l.splitn(3, ',').nth(2).unwrap_or_default();
            name.trim().trim_matches('"').to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_genre_classes_carry_the_genre_names() {
        let names = audioset_labels();
        assert_eq!(names.len(), 527);
        assert_eq!(names[1], "Male speech, man speaking");
        for (genre, &i) in crate::GENRES.iter().zip(&GTZAN_CLASSES) {
            let n = names[i].to_lowercase().replace(' ', "");
            let g = if *genre == "metal" {
                "heavymetal"
            } else {
                genre
            };
            assert!(n.starts_with(g), "{genre} -> {}", names[i]);
        }
        assert_eq!(names[STYLE_CLASSES.start], "Pop music");
        assert_eq!(names[STYLE_CLASSES.end - 1], "Independent music");
    }
}
