use huashen_api::state::Settings;
use huashen_tests::{Backend, TestApp, both_backends, id};
use huashen_worker::FrontendUrl;

both_backends!(posters_scan_to_the_front_end,);

/// The URL a PNG QR code holds, read back as a phone's camera would.
fn decode(png_bytes: &[u8]) -> (u32, String) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("one frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (width, height) = (info.width as usize, info.height as usize);
    assert_eq!(width, height, "square");
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one code");
    let (_, content) = grids[0].decode().expect("a readable code");
    (info.width, content)
}

async fn posters_scan_to_the_front_end(backend: Backend) {
    let settings = Settings {
        frontend: FrontendUrl::new("https://hsm.example.cn/#/{path}"),
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let shift = id(&app.shift(&station, 48, 3).await);
    let event = id(&app.event(&hsm, 72).await);
    app.post(
        &format!("/v1/events/{event}/publish"),
        admin,
        serde_json::json!({}),
    )
    .await
    .expect(200);

    for (path, page) in [
        (
            format!("/v1/events/{event}/qr.svg"),
            format!("events/{event}"),
        ),
        (
            format!("/v1/shifts/{shift}/qr.svg"),
            format!("shifts/{shift}"),
        ),
        (
            format!("/v1/stations/{station}/qr.svg"),
            format!("stations/{station}"),
        ),
    ] {
        // Public things need no key.
        let png = app
            .client
            .get(app.url(&format!("{path}?size=300")))
            .header("accept", "image/png")
            .send()
            .await
            .expect("a response");
        assert_eq!(png.status(), 200, "{path}");
        assert_eq!(png.headers()["content-type"], "image/png");
        let bytes = png.bytes().await.expect("a body");
        assert_eq!(
            decode(&bytes),
            (300, format!("https://hsm.example.cn/#/{page}"))
        );

        let svg = app.get(&path, None).await.expect(200);
        assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
        assert!(
            svg.text.starts_with(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"512\" height=\"512\""
            ),
            "{}",
            svg.text
        );
        assert!(
            svg.text.contains("<path d=\"M4 4h1v1h-1z"),
            "a finder pattern at the quiet zone's edge"
        );

        for size in ["127", "4097", "big"] {
            app.get(&format!("{path}?size={size}"), None)
                .await
                .expect_problem(400);
        }
    }

    // A draft event is not public: no code without a key of its community.
    let draft = id(&app.event(&hsm, 96).await);
    let path = format!("/v1/events/{draft}/qr.svg");
    app.get(&path, None).await.expect_problem(404);
    app.get(&path, admin).await.expect(200);
    app.get(
        &format!("/v1/stations/{}/qr.svg", uuid::Uuid::now_v7()),
        None,
    )
    .await
    .expect_problem(404);
    app.stop().await;
}
