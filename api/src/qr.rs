//! QR codes for posters: the front-end page of an event, shift, station or survey, as
//! SVG (sharp at any print size) or PNG, `size` pixels square with the quiet zone of
//! four modules that scanners need.

use std::fmt::Write as _;

use poem::IntoResponse;
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Binary, Payload};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use qrcode::{Color, QrCode};

use crate::error::ApiError;

/// Pixels square unless `?size=` says otherwise (128–4096, bounds each route declares).
pub const DEFAULT_SIZE: u32 = 512;
const QUIET_MODULES: usize = 4;

pub const SVG: &str = "image/svg+xml";
pub const PNG: &str = "image/png";

/// A QR code image, in the media type the client asked for.
pub enum QrImage {
    Svg(String),
    Png(Vec<u8>),
}

impl QrImage {
    /// The code of the front-end's page at `path` (say `events/{id}`).
    pub fn of_page(
        frontend: &huashen_worker::FrontendUrl,
        path: &str,
        size: Option<u32>,
        accept: Option<&str>,
    ) -> Result<Self, ApiError> {
        Self::of(&frontend.page(path), size.unwrap_or(DEFAULT_SIZE), accept)
    }

    /// The code of `url`, as PNG when `accept` asks for it, else as SVG.
    pub fn of(url: &str, size: u32, accept: Option<&str>) -> Result<Self, ApiError> {
        let modules = Modules::of(url)?;
        Ok(
            if accept.is_some_and(|a| a.to_ascii_lowercase().contains(PNG)) {
                Self::Png(modules.png(size)?)
            } else {
                Self::Svg(modules.svg(size))
            },
        )
    }
}

impl IntoResponse for QrImage {
    fn into_response(self) -> poem::Response {
        let (content_type, body) = match self {
            Self::Svg(text) => (SVG, text.into_bytes()),
            Self::Png(bytes) => (PNG, bytes),
        };
        poem::Response::builder()
            .content_type(content_type)
            .header("Cache-Control", "public, max-age=3600")
            .body(body)
    }
}

/// One `200` response with two media types.
impl ApiResponse for QrImage {
    fn meta() -> MetaResponses {
        let schema = <Binary<Vec<u8>> as Payload>::schema_ref();
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The QR code as SVG, or with `Accept: image/png` as PNG.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: SVG,
                        schema: schema.clone(),
                    },
                    MetaMediaType {
                        content_type: PNG,
                        schema,
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// The dark and light modules of a code, quiet zone included.
struct Modules {
    dark: Vec<bool>,
    width: usize,
}

impl Modules {
    fn of(url: &str) -> Result<Self, ApiError> {
        let code = QrCode::new(url.as_bytes())
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("QR code of {url}: {e}")))?;
        let inner = code.width();
        let width = inner + 2 * QUIET_MODULES;
        let colors = code.to_colors();
        let mut dark = vec![false; width * width];
        for y in 0..inner {
            for x in 0..inner {
                dark[(y + QUIET_MODULES) * width + x + QUIET_MODULES] =
                    colors[y * inner + x] == Color::Dark;
            }
        }
        Ok(Self { dark, width })
    }

    fn svg(&self, size: u32) -> String {
        let n = self.width;
        let mut path = String::new();
        for (i, _) in self.dark.iter().enumerate().filter(|(_, dark)| **dark) {
            let _ = write!(path, "M{} {}h1v1h-1z", i % n, i / n);
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
             viewBox=\"0 0 {n} {n}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/>\
             <path d=\"{path}\" fill=\"#000\"/></svg>"
        )
    }

    /// A greyscale PNG; each pixel takes the module it falls in.
    fn png(&self, size: u32) -> Result<Vec<u8>, ApiError> {
        let n = self.width;
        let side = size as usize;
        let module = |px: usize| px * n / side;
        let mut pixels = Vec::with_capacity(side * side);
        for y in 0..side {
            let row = module(y) * n;
            pixels.extend((0..side).map(|x| if self.dark[row + module(x)] { 0 } else { 255 }));
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&pixels))
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("encoding a PNG: {e}")))?;
        Ok(out)
    }
}
