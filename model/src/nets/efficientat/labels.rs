//! AudioSet's 527 class names in the network's output order (the AudioSet ontology,
//! Gemmeke et al. 2017, CC BY-SA 4.0), and which of them this project reads.

use std::ops::Range;

/// `index,mid,display_name` per class, as AudioSet publishes it.
const CSV: &str = include_str!("../../../weights/efficientat/audioset_class_labels_indices.csv");

/// The AudioSet class carrying each GTZAN genre's name, in [`crate::GENRES`] order:
/// Blues, Classical music, Country, Disco, Hip hop music, Jazz, Heavy metal, Pop music,
/// Reggae, Rock music.
pub const GTZAN_CLASSES: [usize; 10] = [251, 237, 229, 236, 217, 235, 220, 216, 228, 219];

/// Each GTZAN genre's AudioSet class and that class's ontology children among the 527, in
/// [`crate::GENRES`] order, the class itself first. Not members: Heavy metal (a child of
/// Rock music, but GTZAN's metal), Beatboxing (the ontology's child of Hip hop music, a
/// vocal technique rather than a style) and Ska (the ontology's own top-level genre, not
/// Reggae's). Swing music is filed under Country in the ontology; it is jazz's here, the
/// style it is.
pub const GTZAN_GROUPS: [&[usize]; 10] = [
    &[251],                          // blues: Blues
    &[237, 238],                     // classical: Classical music, Opera
    &[229, 231],                     // country: Country, Bluegrass
    &[236],                          // disco: Disco
    &[217],                          // hiphop: Hip hop music
    &[235, 230],                     // jazz: Jazz, Swing music
    &[220],                          // metal: Heavy metal
    &[216],                          // pop: Pop music
    &[228],                          // reggae: Reggae
    &[219, 221, 222, 223, 224, 225], // rock: Rock music, Punk, Grunge, Progressive, Rock and roll, Psychedelic
];

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
        for (group, &class) in GTZAN_GROUPS.iter().zip(&GTZAN_CLASSES) {
            assert_eq!(group[0], class, "a group starts with its genre's class");
        }
        let members: Vec<&str> = GTZAN_GROUPS
            .iter()
            .flat_map(|g| &g[1..])
            .map(|&i| names[i].as_str())
            .collect();
        assert_eq!(
            members,
            [
                "Opera",
                "Bluegrass",
                "Swing music",
                "Punk rock",
                "Grunge",
                "Progressive rock",
                "Rock and roll",
                "Psychedelic rock"
            ]
        );
        assert_eq!(names[STYLE_CLASSES.start], "Pop music");
        assert_eq!(names[STYLE_CLASSES.end - 1], "Independent music");
    }
}
