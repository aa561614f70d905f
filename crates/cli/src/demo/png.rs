//! The diagram as PNG: the SVG rendered by resvg with the very font the layout assumed
//! (DejaVu Sans Mono, regular and bold, embedded in the binary; no system font is read).

use std::sync::Arc;

use resvg::tiny_skia;
use resvg::usvg;

use super::diagram::FONT;
use crate::CliError;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono-Bold.ttf");

fn failed(what: &str, why: impl std::fmt::Display) -> CliError {
    CliError::InvalidArgument(format!("cannot render the diagram as PNG: {what}: {why}"))
}

/// Renders `svg` to PNG bytes.
pub(crate) fn render(svg: &str) -> Result<Vec<u8>, CliError> {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(REGULAR.to_vec());
    db.load_font_data(BOLD.to_vec());
    let options = usvg::Options {
        font_family: FONT.to_owned(),
        fontdb: Arc::new(db),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| failed("the SVG", e))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| failed("the size", format!("{}×{}", size.width(), size.height())))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| failed("PNG encoding", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of a TrueType file: (offset, length).
    fn table(font: &[u8], tag: &[u8; 4]) -> (usize, usize) {
        let u16_at = |o: usize| usize::from(u16::from_be_bytes([font[o], font[o + 1]]));
        let u32_at = |o: usize| {
            u32::from_be_bytes([font[o], font[o + 1], font[o + 2], font[o + 3]]) as usize
        };
        (0..u16_at(4))
            .map(|i| 12 + 16 * i)
            .find(|r| &font[*r..*r + 4] == tag)
            .map(|r| (u32_at(r + 8), u32_at(r + 12)))
            .expect("table")
    }

    #[test]
    fn every_glyph_advances_by_what_the_layout_assumes() {
        for font in [REGULAR, BOLD] {
            let u16_at = |o: usize| u16::from_be_bytes([font[o], font[o + 1]]);
            let (head, _) = table(font, b"head");
            let (hhea, _) = table(font, b"hhea");
            let (hmtx, _) = table(font, b"hmtx");
            let units = f64::from(u16_at(head + 18));
            let metrics = usize::from(u16_at(hhea + 34));
            assert!(metrics > 0);
            for g in 1..metrics {
                let advance = f64::from(u16_at(hmtx + 4 * g));
                if advance > 0.0 {
                    let px = advance / units * super::super::diagram::FONT_SIZE;
                    assert!(
                        (px - super::super::diagram::ADVANCE).abs() < 1e-9,
                        "glyph {g}: {px}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_embedded_font_is_dejavu_sans_mono() {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(REGULAR.to_vec());
        db.load_font_data(BOLD.to_vec());
        let faces: Vec<_> = db.faces().collect();
        assert_eq!(faces.len(), 2);
        assert!(
            faces
                .iter()
                .all(|f| f.families.iter().any(|(n, _)| n == FONT))
        );
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"20\"><text x=\"2\" y=\"14\" font-family=\"DejaVu Sans Mono\" font-size=\"12\">ab</text></svg>";
        let png = render(svg).expect("render");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
