//! Markdown that organizers write, as HTML that is safe to mail: raw HTML in the source
//! is shown as text, and links and images keep only web, mail and phone addresses.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// Schemes a link may use; a link without a scheme is relative and harmless.
const SAFE_SCHEMES: [&str; 4] = ["http", "https", "mailto", "tel"];

fn is_safe(url: &str) -> bool {
    let url = url.trim();
    match url.find(':') {
        Some(colon) if !url[..colon].contains(['/', '?', '#']) => SAFE_SCHEMES
            .iter()
            .any(|scheme| url[..colon].eq_ignore_ascii_case(scheme)),
        _ => true,
    }
}

fn defuse(url: CowStr<'_>) -> CowStr<'_> {
    if is_safe(&url) { url } else { "#".into() }
}

/// `markdown` as an HTML fragment.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: defuse(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: defuse(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn formats_and_links() {
        let html =
            to_html("**停水** on *Friday*\n\n- one\n- [two](https://hsm.example.cn/x?a=1&b=2)");
        assert!(html.contains("<strong>停水</strong>"), "{html}");
        assert!(html.contains("<em>Friday</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(
            html.contains("href=\"https://hsm.example.cn/x?a=1&amp;b=2\""),
            "{html}"
        );
    }

    #[test]
    fn raw_html_and_scripts_are_text() {
        let html = to_html(
            "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> \
             [x](javascript:alert(1)) [y](JAVASCRIPT:alert(1)) ![i](data:text/html,x)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
    }
}
