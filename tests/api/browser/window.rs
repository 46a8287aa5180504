//! The window's size, and pictures of the page.

use std::path::Path;

use super::Browser;
use crate::helpers::TestApp;

/// A phone's width in CSS pixels, and a desktop's.
pub const PHONE: u32 = 390;
pub const DESKTOP: u32 = 1280;

impl Browser {
    /// A browser whose window is `width` CSS pixels wide inside.
    pub async fn open_at(app: &TestApp, width: u32) -> Self {
        let browser = Self::open(app).await;
        browser.set_width(width).await;
        browser
    }

    /// Resizes the window so that the page gets `width` CSS pixels, whatever the
    /// browser's frame takes.
    pub async fn set_width(&self, width: u32) {
        let (_, height) = self.inner_size().await;
        self.set_inner_size(width, height).await;
    }

    /// Saves a PNG of the whole page, as tall as its content, to `file`.
    pub async fn save_screenshot(&self, file: &Path) {
        let (width, height) = self.inner_size().await;
        let content = self.client.execute("return document.documentElement.scrollHeight;", vec![]).await;
        let content = content.unwrap().as_u64().unwrap() as u32;
        self.set_inner_size(width, content.max(height)).await;
        let png = self.client.screenshot().await.expect("a screenshot");
        self.set_inner_size(width, height).await;
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, png).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }

    /// The page's width and height in CSS pixels.
    pub(super) async fn inner_size(&self) -> (u32, u32) {
        let size = self.client.execute("return [window.innerWidth, window.innerHeight];", vec![]).await;
        let size: (u32, u32) = serde_json::from_value(size.expect("the window answers")).unwrap();
        size
    }

    /// Sizes the window by the page's size asked plus what the frame takes, as often as it
    /// takes: a window narrower than its least width still gives the page the width asked,
    /// so the frame seems wider until the window grows again.
    async fn set_inner_size(&self, width: u32, height: u32) {
        for _ in 0..4 {
            let inner = self.inner_size().await;
            if inner == (width, height) {
                return;
            }
            let outer = self.client.get_window_size().await.unwrap();
            let outer_width = (outer.0 + u64::from(width)).saturating_sub(inner.0.into());
            let outer_height = (outer.1 + u64::from(height)).saturating_sub(inner.1.into());
            let (outer_width, outer_height) =
                (outer_width.try_into().unwrap(), outer_height.try_into().unwrap());
            self.client.set_window_size(outer_width, outer_height).await.expect("the window resizes");
        }
        let size = self.inner_size().await;
        assert_eq!(size, (width, height), "the window would not take the page size asked");
    }
}
