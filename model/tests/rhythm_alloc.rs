//! `Rhythm::push`, `tempo` and `key` allocate nothing once warm: the plugin's worker
//! calls them for every block it takes from the ring. Everything is sized in
//! `Rhythm::new`; the first pushes may grow the sample buffers to the block size.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use model::rhythm::{KeyProfile, Rhythm};

#[test]
fn warm_pushes_and_estimates_allocate_nothing() {
    for rate in [44_100u32, 48_000] {
        // A beat with a chord: both estimators do their full work on every update.
        let x: Vec<f32> = (0..rate as usize * 20)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let beat = (-(t % 0.5) / 0.01).exp() * (t * 6283.0).sin();
                let chord = [261.6f32, 329.6, 392.0]
                    .iter()
                    .map(|f| (t * f * std::f32::consts::TAU).sin())
                    .sum::<f32>();
                0.3 * beat + 0.1 * chord
            })
            .collect();
        let mut r = Rhythm::new(rate).unwrap();
        let block = 441 * 3;
        // Warm: the tempo window fills (10 s) and every buffer meets the block size.
        let (warm, rest) = x.split_at(rate as usize * 11);
        for chunk in warm.chunks(block) {
            r.push(chunk).unwrap();
        }
        let before = allocations();
        let mut shown = 0;
        for chunk in rest.chunks(block) {
            r.push(chunk).unwrap();
            shown += usize::from(r.tempo().is_some());
            for p in KeyProfile::ALL {
                shown += usize::from(r.key_with(p).is_some());
            }
        }
        let during = allocations() - before;
        assert!(shown > 0, "{rate} Hz: nothing estimated");
        assert_eq!(during, 0, "{rate} Hz: {during} allocations while pushing");
    }
}
