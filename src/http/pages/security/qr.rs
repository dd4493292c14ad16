//! The QR code of a TOTP enrolment's `otpauth://` URI, drawn on the server
//! as SVG (the `qrcode` crate) and handed to the page as a `data:` URI: the
//! pages' policy already allows `img-src data:`, and no script runs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `data:image/svg+xml;base64,...` of the QR code of `text`, or `None` when
/// the text is too long for a QR code (an otpauth URI never is).
pub fn data_uri(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(image.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_otpauth_uri_becomes_an_svg_data_uri() {
        let uri = "otpauth://totp/authd:a%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authd";
        let data = data_uri(uri).unwrap();
        let svg = STANDARD
            .decode(data.strip_prefix("data:image/svg+xml;base64,").unwrap())
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
    }
}
