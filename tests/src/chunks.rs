//! Cutting a byte stream into chunks, for "results do not depend on how the input is split"
//! checks. Depends on nothing (the fuzz targets include this file by path).

/// Splits `input` at `points` (each taken modulo `input.len() + 1`, then sorted): one more
/// chunk than points, some possibly empty.
#[must_use]
pub fn split_at_points<'a>(input: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        chunks.push(input.get(start..cut).unwrap_or_default());
        start = cut;
    }
    chunks.push(input.get(start..).unwrap_or_default());
    chunks
}
